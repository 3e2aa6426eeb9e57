"""The search index's material: the map's words per service, and the BM25 arrays made from them.

A **corpus** holds, per service, its *bag* (which word occurs how often in which field) and, per word of
the map, its *expansion* (its key and the keys of its compound parts). Everything search needs is made
from a corpus by :func:`finalize` with array operations only, so that

- a full build (tokenize every service, then finalize),
- an update of a few services (tokenize only those, re-expand the words whose compound split can change,
  then finalize) and
- a load from disk (read the finalized arrays)

give the same postings, bit for bit. The corpus and its arrays are saved as one ``.npz`` file (numpy
arrays and JSON text as bytes; no pickle) written aside and renamed; a file that fails any check is not
used (see ``docs/search.md``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from intents.language import Dutch, dutch, language_fingerprint, words

# How much a word in each field counts, relative to the description.
FIELD_WEIGHTS = {
    "name": 3.0,
    "alternate_name": 2.0,
    "taxonomy": 2.0,
    "organization": 1.5,
    "contact": 1.5,
    "description": 1.0,
    "eligibility": 0.7,
    "languages": 0.7,
    "organization_description": 0.4,
    "location": 0.4,
    "schedule": 0.4,
    "fees": 0.3,
    "area": 0.3,
}
FIELDS = tuple(FIELD_WEIGHTS)
_WEIGHT_OF_FIELD = np.array([FIELD_WEIGHTS[f] for f in FIELDS], dtype=np.float64)
_AREA = FIELDS.index("area")
_NAMING = np.array([FIELDS.index(f) for f in ("name", "alternate_name", "taxonomy")], dtype=np.uint8)
PART_WEIGHT = 0.5  # a part of a compound word, in the index and in the query
K1, B = 1.2, 0.5
FORMAT = 1  # of the saved file: raise it whenever what is saved, or how it is made, changes


class CorruptIndex(ValueError):
    """A saved index that is partial, damaged, of another format or of another map: rebuilt, never used."""


def _blob(texts: Iterable[str]) -> np.ndarray:
    return np.frombuffer("\n".join(texts).encode("utf-8"), dtype=np.uint8)


def _unblob(blob: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    out = blob.tobytes().decode("utf-8").split("\n")
    if len(out) != count:
        raise CorruptIndex("word table does not match its count")
    return out


def _segments(offsets: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Positions of the entries of the segments `order` of a CSR layout, segment after segment."""
    starts, lengths = offsets[order], offsets[order + 1] - offsets[order]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + shift


@dataclass
class Bags:
    """Per document: (word, field, count) in field order, each word at its first occurrence; the keys of
    the words of its contact persons' names (searchable by professionals only, not in the postings)."""

    offsets: np.ndarray  # int64, n + 1
    word: np.ndarray  # int32 into the word table
    field: np.ndarray  # uint8 into FIELDS
    count: np.ndarray  # int32
    contact_offsets: np.ndarray  # int64, n + 1
    contact_key: np.ndarray  # int32 into the key table


@dataclass
class Corpus:
    ids: list[str]
    positions: np.ndarray  # int64: the service's place in the map (the map's order is position, then id)
    docs: np.ndarray  # uint8: one JSON object per document, see `docs_json`
    doc_offsets: np.ndarray  # int64, n + 1
    words: list[str]  # every word of the map's texts (stop words too)
    exp_offsets: np.ndarray  # int64, len(words) + 1
    exp_key: np.ndarray  # int32: the word's key first, then its compound parts' keys
    exp_weight: np.ndarray  # float64: 1.0 for the key, PART_WEIGHT for a part
    keys: list[str]  # sorted
    bags: Bags

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass
class Finalized:
    """What a query reads: postings per key (CSR over the sorted keys that have any), and the sets and
    tables made from the whole map."""

    post_keys: list[str]
    post_offsets: np.ndarray
    post_ids: np.ndarray  # int32, sorted within a key
    post_weights: np.ndarray  # float32
    place_words: list[str]
    service_words: list[str]
    contact_keys: list[str]
    contact_offsets: np.ndarray
    contact_ids: np.ndarray
    extra: dict = field(default_factory=dict)  # JSON-ready facts the caller adds (coordinates, affinities ...)


class _Words:
    """A growing word table, with each new word's expansion read by a normaliser."""

    def __init__(self, words_: list[str], keys: list[str]):
        self.words = list(words_)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.keys = list(keys)
        self.key_index = {k: i for i, k in enumerate(self.keys)}

    def word_id(self, word: str) -> int:
        found = self.index.get(word)
        if found is None:
            found = self.index[word] = len(self.words)
            self.words.append(word)
        return found

    def key_id(self, key: str) -> int:
        found = self.key_index.get(key)
        if found is None:
            found = self.key_index[key] = len(self.keys)
            self.keys.append(key)
        return found

    def expansion(self, nl: Dutch, word: str) -> list[tuple[int, float]]:
        items = [(self.key_id(nl.key(word)), 1.0)]
        items += [(self.key_id(nl.key(p)), PART_WEIGHT) for p in nl.compound_parts(word) if not nl.is_stop(p)]
        return items


def tokenize(docs: Sequence, table: _Words) -> tuple[list[list[tuple[int, int, int]]], list[list[str]]]:
    """Per document its bag (word id, field, count) and the keys of its contact persons' names."""
    nl = dutch()
    bags, contacts = [], []
    for doc in docs:
        bag: list[tuple[int, int, int]] = []
        for f, name in enumerate(FIELDS):
            text = doc.fields.get(name) or ""
            if not text:
                continue
            counts: dict[str, int] = {}
            for tok in words(text):
                counts[tok] = counts.get(tok, 0) + 1
            bag.extend((table.word_id(w), f, c) for w, c in counts.items())
        bags.append(bag)
        contacts.append(sorted({nl.key(w) for w in words(doc.contact_names) if not nl.is_stop(w)}))
    return bags, contacts


def _pack_bags(bags: list[list[tuple[int, int, int]]], contacts: list[list[int]]) -> Bags:
    sizes = np.fromiter((len(b) for b in bags), dtype=np.int64, count=len(bags))
    flat = np.array([e for b in bags for e in b], dtype=np.int64).reshape(-1, 3)
    csizes = np.fromiter((len(c) for c in contacts), dtype=np.int64, count=len(contacts))
    return Bags(
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        word=flat[:, 0].astype(np.int32),
        field=flat[:, 1].astype(np.uint8),
        count=flat[:, 2].astype(np.int32),
        contact_offsets=np.concatenate(([0], np.cumsum(csizes))).astype(np.int64),
        contact_key=np.array([k for c in contacts for k in c], dtype=np.int32),
    )


def splitter_words(vocabulary: Iterable[str], surface_words: set[str]) -> frozenset[str]:
    """The words a map teaches the compound splitter (those it did not know)."""
    base = dutch().lexicon
    return frozenset(w for w in {*vocabulary, *surface_words} if len(w) >= 4 and w.isalpha()) - base


def _may_split_differently(vocabulary: Iterable[str], changed: frozenset[str], nl: Dutch) -> list[str]:
    """Words whose compound split can differ when the splitter's words change by `changed`: every check of
    the splitter is on a piece of the word, that piece + 'en', or the piece's lemma (itself, an irregular
    form's lemma, or a dictionary word, which never is in `changed`); so a word none of whose pieces is a
    changed word, one without 'en', or an irregular form of one, splits as before."""
    if not changed:
        return []
    pieces = set(changed) | {d[:-2] for d in changed if d.endswith("en")}
    pieces |= {form for form, lemma in nl.irregular.items() if lemma in changed}
    return [w for w in vocabulary if any(p in w for p in pieces)]


def _expansions(table: _Words, nl: Dutch, todo: Iterable[int], known: dict[int, list[tuple[int, float]]]):
    for wid in todo:
        known[wid] = table.expansion(nl, table.words[wid])


def build_corpus(docs: Sequence, positions: Sequence[int], docs_json: list[str], surface_words: set[str]) -> Corpus:
    """Tokenize every document; expand every word with a normaliser that knows the map's words."""
    table = _Words([], [])
    bags, contacts = tokenize(docs, table)
    nl = dutch().with_words(set(table.words) | surface_words)
    known: dict[int, list[tuple[int, float]]] = {}
    _expansions(table, nl, range(len(table.words)), known)
    contact_ids = [[table.key_id(k) for k in c] for c in contacts]
    return _assemble(table, known, _pack_bags(bags, contact_ids), list(d.id for d in docs), positions, docs_json)


def _assemble(table: _Words, known: dict, bags: Bags, ids, positions, docs_json) -> Corpus:
    """A corpus with only the words its bags use and its keys sorted (so that two ways to the same map
    give the same tables)."""
    live = np.unique(bags.word) if len(bags.word) else np.zeros(0, dtype=np.int64)
    words_ = [table.words[i] for i in live]
    word_map = np.full(len(table.words), -1, dtype=np.int64)
    word_map[live] = np.arange(len(live))
    exps = [known[int(i)] for i in live]
    used_keys = sorted({table.keys[k] for e in exps for k, _ in e} | {table.keys[int(k)] for k in bags.contact_key})
    key_map = {k: i for i, k in enumerate(used_keys)}
    remap = np.array([key_map.get(k, -1) for k in table.keys], dtype=np.int64)
    sizes = np.fromiter((len(e) for e in exps), dtype=np.int64, count=len(exps))
    docs_bytes = [d.encode("utf-8") for d in docs_json]
    doc_sizes = np.fromiter((len(d) for d in docs_bytes), dtype=np.int64, count=len(docs_bytes))
    return Corpus(
        ids=list(ids),
        positions=np.asarray(positions, dtype=np.int64),
        docs=np.frombuffer(b"".join(docs_bytes), dtype=np.uint8),
        doc_offsets=np.concatenate(([0], np.cumsum(doc_sizes))).astype(np.int64),
        words=words_,
        exp_offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        exp_key=np.array([remap[k] for e in exps for k, _ in e], dtype=np.int32),
        exp_weight=np.array([w for e in exps for _, w in e], dtype=np.float64),
        keys=used_keys,
        bags=Bags(
            offsets=bags.offsets,
            word=word_map[bags.word].astype(np.int32),
            field=bags.field,
            count=bags.count,
            contact_offsets=bags.contact_offsets,
            contact_key=remap[bags.contact_key].astype(np.int32),
        ),
    )


def doc_json(corpus: Corpus, i: int) -> str:
    return corpus.docs[corpus.doc_offsets[i] : corpus.doc_offsets[i + 1]].tobytes().decode("utf-8")


def update_corpus(
    old: Corpus, docs: Sequence, positions: dict[str, int], docs_json: list[str], changed: set[str], surface_words
) -> tuple[Corpus, list[tuple]]:
    """The corpus after the services `changed` were changed: `docs` are their new versions (absent ones were
    removed or made inactive); only those are tokenized, and only the words whose compound split can
    change are expanded again. Also returns where each document came from: (position, id, 0 for the old
    corpus or 1 for `docs`, its index there), in the new corpus's order."""
    table = _Words(old.words, old.keys)
    known = {
        i: list(zip(old.exp_key[a:b].tolist(), old.exp_weight[a:b].tolist(), strict=True))
        for i, (a, b) in enumerate(zip(old.exp_offsets[:-1].tolist(), old.exp_offsets[1:].tolist(), strict=True))
    }
    bags, contacts = tokenize(docs, table)
    contact_ids = [[table.key_id(k) for k in c] for c in contacts]
    fresh = _pack_bags(bags, contact_ids)
    kept = [i for i, sid in enumerate(old.ids) if sid not in changed]
    # every document of the new map: (position, id, source, index in its source)
    entries = [(int(old.positions[i]), old.ids[i], 0, i) for i in kept]
    entries += [(positions[d.id], d.id, 1, j) for j, d in enumerate(docs)]
    entries.sort(key=lambda e: (e[0], e[1]))
    merged = _merge_bags(old.bags, fresh, entries)
    live_words = {table.words[int(i)] for i in np.unique(merged.word)}
    old_live = set(old.words)
    changed_words = splitter_words(old_live, surface_words) ^ splitter_words(live_words, surface_words)
    nl = dutch().with_words(live_words | surface_words)
    redo = {table.index[w] for w in _may_split_differently(old_live & live_words, changed_words, nl)}
    redo |= {i for i in range(len(old.words), len(table.words))}
    _expansions(table, nl, sorted(redo), known)
    docs_text = [doc_json(old, i) if src == 0 else docs_json[i] for _, _, src, i in entries]
    return _assemble(table, known, merged, [e[1] for e in entries], [e[0] for e in entries], docs_text), entries


def _merge_bags(old: Bags, fresh: Bags, entries: list[tuple]) -> Bags:
    """The bags of the documents in `entries` order, from the old corpus (source 0) or the fresh one (1)."""
    n_old = len(old.offsets) - 1
    offsets = np.concatenate((old.offsets, old.offsets[-1] + fresh.offsets[1:]))
    coffsets = np.concatenate((old.contact_offsets, old.contact_offsets[-1] + fresh.contact_offsets[1:]))
    order = np.array([i if src == 0 else n_old + i for _, _, src, i in entries], dtype=np.int64)
    take = _segments(offsets, order)
    ctake = _segments(coffsets, order)
    sizes = offsets[order + 1] - offsets[order]
    csizes = coffsets[order + 1] - coffsets[order]
    return Bags(
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        word=np.concatenate((old.word, fresh.word))[take].astype(np.int32),
        field=np.concatenate((old.field, fresh.field))[take],
        count=np.concatenate((old.count, fresh.count))[take],
        contact_offsets=np.concatenate(([0], np.cumsum(csizes))).astype(np.int64),
        contact_key=np.concatenate((old.contact_key, fresh.contact_key))[ctake].astype(np.int32),
    )


def finalize(c: Corpus, nl: Dutch) -> Finalized:
    """BM25 postings, with array operations only (the same order of additions on every way to a corpus)."""
    n = c.size
    b = c.bags
    doc_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(b.offsets))
    stop = np.fromiter((w in nl.stop_words for w in c.words), dtype=bool, count=len(c.words))
    counted = ~stop[b.word] if len(b.word) else np.zeros(0, dtype=bool)
    contrib = b.count.astype(np.float64) * _WEIGHT_OF_FIELD[b.field]
    lengths = np.bincount(doc_of[counted], weights=contrib[counted], minlength=n).astype(np.float32)
    word, doc, value = b.word[counted].astype(np.int64), doc_of[counted], contrib[counted]
    at = _segments(c.exp_offsets, word)
    per = (c.exp_offsets[word + 1] - c.exp_offsets[word]) if len(word) else np.zeros(0, dtype=np.int64)
    source = np.repeat(np.arange(len(word), dtype=np.int64), per)
    code = c.exp_key[at].astype(np.int64) * max(n, 1) + doc[source]
    values = value[source] * c.exp_weight[at]
    order = np.argsort(code, kind="stable")
    code, values = code[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1]))) if len(code) else np.zeros(0, np.int64)
    tf = np.add.reduceat(values, starts).astype(np.float32) if len(code) else np.zeros(0, dtype=np.float32)
    key_of, doc_of_posting = code[starts] // max(n, 1), code[starts] % max(n, 1)
    df = np.bincount(key_of, minlength=len(c.keys))
    has = np.flatnonzero(df)
    avg = float(lengths.mean()) if n else 1.0
    norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
    idf = np.log(1 + (max(n, 1) - df + 0.5) / (df + 0.5)).astype(np.float32)
    weights = idf[key_of] * tf * np.float32(K1 + 1) / (tf + norm[doc_of_posting])
    area = b.field == _AREA
    place = {c.words[i] for i in np.unique(b.word[area])}
    naming = np.isin(b.field, _NAMING)
    service_keys = {
        int(k) for i in np.unique(b.word[naming]) for k in c.exp_key[c.exp_offsets[i] : c.exp_offsets[i + 1]]
    }
    cdoc = np.repeat(np.arange(n, dtype=np.int64), np.diff(b.contact_offsets))
    corder = np.lexsort((cdoc, b.contact_key))
    ckeys, cdocs = b.contact_key[corder], cdoc[corder]
    cstarts = np.flatnonzero(np.concatenate(([True], ckeys[1:] != ckeys[:-1]))) if len(ckeys) else np.zeros(0, np.int64)
    return Finalized(
        post_keys=[c.keys[i] for i in has],
        post_offsets=np.concatenate(([0], np.cumsum(df[has]))).astype(np.int64),
        post_ids=doc_of_posting.astype(np.int32),
        post_weights=weights.astype(np.float32),
        place_words=sorted(w for w in place if not nl.is_stop(w)),
        service_words=sorted(c.keys[k] for k in service_keys),
        contact_keys=[c.keys[int(k)] for k in ckeys[cstarts]],
        contact_offsets=np.concatenate((cstarts, [len(ckeys)])).astype(np.int64),
        contact_ids=cdocs.astype(np.int64),
    )


# --- the file ---------------------------------------------------------------------------------------


def index_fingerprint() -> str:
    """What a saved index depends on besides the map: how words are read, and how they are weighed."""
    digest = hashlib.sha256(language_fingerprint().encode())
    digest.update(repr((FORMAT, FIELD_WEIGHTS, PART_WEIGHT, K1, B)).encode())
    return digest.hexdigest()[:16]


_CORPUS_ARRAYS = ("positions", "docs", "doc_offsets", "exp_offsets", "exp_key", "exp_weight")
_BAG_ARRAYS = ("offsets", "word", "field", "count", "contact_offsets", "contact_key")
_FINAL_ARRAYS = ("post_offsets", "post_ids", "post_weights", "contact_offsets", "contact_ids")


def save(path: Path, key: dict, corpus: Corpus, final: Finalized, arrays: dict[str, np.ndarray]) -> int:
    """Write the index to `path`: aside, then renamed over it (a reader sees the old file or the new one,
    never half of one). Returns the file's size in bytes."""
    header = {
        "format": FORMAT,
        "key": key,
        "ids": corpus.ids,
        "n_words": len(corpus.words),
        "n_keys": len(corpus.keys),
        "post_keys": final.post_keys,
        "place_words": final.place_words,
        "service_words": final.service_words,
        "contact_keys": final.contact_keys,
        "extra": final.extra,
    }
    content = {f"c_{name}": getattr(corpus, name) for name in _CORPUS_ARRAYS}
    content |= {f"b_{name}": getattr(corpus.bags, name) for name in _BAG_ARRAYS}
    content |= {f"f_{name}": getattr(final, name) for name in _FINAL_ARRAYS}
    content |= {f"x_{name}": value for name, value in arrays.items()}
    content["words"] = _blob(corpus.words)
    content["keys"] = _blob(corpus.keys)
    content["header"] = np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path.stat().st_size


def load(path: Path, key: dict | None) -> tuple[dict, Corpus, Finalized, dict[str, np.ndarray]]:
    """Read a saved index; CorruptIndex (or OSError) when it is not whole, not of this format, or (when
    `key` is given) not saved under that key."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode("utf-8"))
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise CorruptIndex("another format")
            if key is not None and header.get("key") != key:
                raise CorruptIndex("another map")
            data = {name: z[name] for name in z.files}
        corpus = Corpus(
            ids=list(header["ids"]),
            words=_unblob(data["words"], header["n_words"]),
            keys=_unblob(data["keys"], header["n_keys"]),
            bags=Bags(**{name: data[f"b_{name}"] for name in _BAG_ARRAYS}),
            **{name: data[f"c_{name}"] for name in _CORPUS_ARRAYS},
        )
        final = Finalized(
            post_keys=list(header["post_keys"]),
            place_words=list(header["place_words"]),
            service_words=list(header["service_words"]),
            contact_keys=list(header["contact_keys"]),
            extra=dict(header.get("extra") or {}),
            **{name: data[f"f_{name}"] for name in _FINAL_ARRAYS},
        )
        arrays = {name[2:]: value for name, value in data.items() if name.startswith("x_")}
        check(corpus, final)
    except CorruptIndex:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptIndex(f"unreadable: {type(exc).__name__}") from None
    return header, corpus, final, arrays


def _csr_ok(offsets: np.ndarray, rows: int, entries: int) -> bool:
    return (
        offsets.ndim == 1
        and len(offsets) == rows + 1
        and int(offsets[0]) == 0
        and int(offsets[-1]) == entries
        and bool(np.all(np.diff(offsets) >= 0))
    )


def _within(values: np.ndarray, bound: int) -> bool:
    return len(values) == 0 or (int(values.min()) >= 0 and int(values.max()) < bound)


def check(c: Corpus, f: Finalized) -> None:
    """Every offset, id and reference within bounds: a file that passes cannot make search read past an array."""
    n, b = c.size, c.bags
    ok = (
        len(c.positions) == n
        and _csr_ok(c.doc_offsets, n, len(c.docs))
        and _csr_ok(c.exp_offsets, len(c.words), len(c.exp_key))
        and len(c.exp_weight) == len(c.exp_key)
        and _within(c.exp_key, len(c.keys))
        and _csr_ok(b.offsets, n, len(b.word))
        and len(b.field) == len(b.word) == len(b.count)
        and _within(b.word, len(c.words))
        and _within(b.field, len(FIELDS))
        and _csr_ok(b.contact_offsets, n, len(b.contact_key))
        and _within(b.contact_key, len(c.keys))
        and _csr_ok(f.post_offsets, len(f.post_keys), len(f.post_ids))
        and len(f.post_weights) == len(f.post_ids)
        and _within(f.post_ids, n)
        and bool(np.all(np.isfinite(f.post_weights)))
        and _csr_ok(f.contact_offsets, len(f.contact_keys), len(f.contact_ids))
        and _within(f.contact_ids, n)
    )
    if not ok:
        raise CorruptIndex("arrays out of bounds")
