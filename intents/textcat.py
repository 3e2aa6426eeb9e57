"""One way to train a small text classifier, shared by the NLU and the safety check's second opinion.

spaCy's ``TextCatBOW`` (unigrams and bigrams, exclusive classes) over texts already reduced to word keys,
with a fixed seed so that the same data always gives the same model.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


def labelled(path: Path, field: str, labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(text, label) pairs from a JSON Lines file of written examples, the label in `field`; a label
    outside `labels` is an error naming the file and line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row[field] not in labels:
                raise ValueError(f"{path.name}:{number}: unknown {field} {row[field]!r}")
            out.append((row["text"], row[field]))
    return out


def train_bow(
    pairs: list[tuple[str, str]],
    labels: tuple[str, ...],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    length: int = 262144,
):
    """A blank Dutch spaCy pipeline with one text classifier trained on (text, label) pairs."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    rng = random.Random(seed)
    nlp = spacy.blank("nl")
    textcat = nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": 2,
                "no_output_layer": False,
                "length": length,
            }
        },
    )
    for label in labels:
        textcat.add_label(label)
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": {x: float(x == label) for x in labels}}) for text, label in pairs
    ]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        rng.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, sgd=optimizer, drop=0.1)
    return nlp


SHARED_TOKENIZER = "wijkbot.shared_dutch_tokenizer.v1"


@cache
def _dutch_tokenizer():
    import spacy

    return spacy.blank("nl").tokenizer


# What every classifier here reads: word keys (intents.language) separated by single spaces, or "_".
_KEYED = re.compile(r"[a-z0-9_]+(?: [a-z0-9_]+)*")
_PLAIN_CASE = re.compile(r"[a-z0-9_]+")


class KeyTokenizer:
    """spaCy's Dutch tokenizer for texts of word keys, made in milliseconds instead of a second.

    Dutch's tokenizer is its affix rules (prefixes, suffixes, infixes, URLs) plus about 4,700 special cases.
    A special case applies to a piece of text that equals it, or to tokens that the affix rules make of it;
    a text of keys holds only lower-case letters, digits and '_' between single spaces, so only the special
    cases made of those characters can apply (five, each one token, kept here), and the affix rules are
    the same. Any other text goes to the full tokenizer. Checked on every written example and the word
    lists of the safety check, keyed: 0 differences in tokens (tests/test_cold_start.py)."""

    def __init__(self, vocab):
        from spacy import util
        from spacy.lang.nl import Dutch
        from spacy.tokenizer import Tokenizer

        d = Dutch.Defaults
        self.fast = Tokenizer(
            vocab,
            rules={k: v for k, v in d.tokenizer_exceptions.items() if _PLAIN_CASE.fullmatch(k)},
            prefix_search=util.compile_prefix_regex(d.prefixes).search,
            suffix_search=util.compile_suffix_regex(d.suffixes).search,
            infix_finditer=util.compile_infix_regex(d.infixes).finditer,
            token_match=d.token_match,
            url_match=d.url_match,
        )

    def __call__(self, text: str):
        return self.fast(text) if _KEYED.fullmatch(text) else _dutch_tokenizer()(text)


def _register_shared_tokenizer() -> None:
    """Every cached classifier is a blank Dutch pipeline reading word keys: each gets a KeyTokenizer, and
    a text that is not keys goes to one Dutch tokenizer shared by all, made at its first use (spaCy's
    Dutch one, about 4,700 rules, takes a second to make)."""
    import spacy

    if SHARED_TOKENIZER not in spacy.registry.tokenizers:
        spacy.registry.tokenizers.register(SHARED_TOKENIZER, func=lambda: lambda nlp: KeyTokenizer(nlp.vocab))


def _load(path: Path):
    import spacy

    _register_shared_tokenizer()
    return spacy.load(path, config={"nlp": {"tokenizer": {"@tokenizers": SHARED_TOKENIZER}}}, exclude=["tokenizer"])


def cached(cache_dir: Path | None, name: str, fingerprint: str, train: Callable, *, retrain: bool = False):
    """The model `name` trained on data with this fingerprint, as a classifier (text of keys -> label
    probabilities): loaded from `cache_dir` when it is there, else (or when `retrain`) trained and stored
    there. A model is written aside and then renamed, so processes training at once never read a half-written
    one; models of earlier data are removed, as they are never used again. A stored model is read with numpy
    (`Bow`); spaCy is imported only to save its weights the first time, or for a text its tokenizer must read."""
    path = cache_dir / f"{name}-{fingerprint}" if cache_dir else None
    if path and path.exists() and not retrain:
        bow = read_bow(path, lambda: _load(path))
        if bow is not None:
            return bow
        nlp = _load(path)
        with contextlib.suppress(OSError):  # a read-only cache: spaCy reads every text
            export_bow(nlp, path)
        return read_bow(path, lambda: nlp) or Pipeline(nlp)
    log.info("training the %s model", name)
    nlp = train()
    if not path:
        return Pipeline(nlp)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        nlp.to_disk(Path(tmp) / "model")
        export_bow(nlp, Path(tmp) / "model")
        if retrain:
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process got there first: the same model
            os.replace(Path(tmp) / "model", path)
    for old in path.parent.glob(f"{name}-*"):
        if old != path:
            shutil.rmtree(old, ignore_errors=True)
    return read_bow(path, lambda: nlp) or Pipeline(nlp)


class Pipeline:
    """A classifier read by spaCy alone (one that `Bow` cannot read)."""

    def __init__(self, nlp):
        self.nlp = nlp

    def __call__(self, text: str) -> dict[str, float]:
        return dict(self.nlp(text).cats)


# --- reading a trained classifier without spaCy ---------------------------------------------------------------
# A TextCatBOW.v3 classifier (exclusive classes, unigrams and bigrams of ORTH) is a hash table of weights:
# each distinct unigram and bigram of a text, counted, adds the weights of two hashed slots per class, then a
# softmax. The weights are saved next to the spaCy model (numpy, memory-mapped) and read here in the very
# order and float32 arithmetic of thinc's SparseLinear, so spaCy (a second or two to import) is loaded only
# for a text whose tokens spaCy's tokenizer might split (anything but letters, digits 0-9 or "_" between
# single spaces). tests/test_start.py compares both on every written example, keyed: the same floats.
_M64 = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1
_MASK32 = 0xFFFFFFFF
_WEIGHTS = "bow-weights.npy"
_BOW = "bow.json"
BOW_VERSION = "1"


def murmurhash64a(data: bytes, seed: int) -> int:
    """MurmurHash64A, as murmurhash's hash64 (spaCy's string hashes, thinc's n-gram hashes)."""
    length = len(data)
    h = (seed ^ (length * _M64)) & _MASK64
    end = length - length % 8
    for i in range(0, end, 8):
        k = (int.from_bytes(data[i : i + 8], "little") * _M64) & _MASK64
        k ^= k >> 47
        h ^= (k * _M64) & _MASK64
        h = (h * _M64) & _MASK64
    if length % 8:
        h ^= int.from_bytes(data[end:], "little")
        h = (h * _M64) & _MASK64
    h ^= h >> 47
    h = (h * _M64) & _MASK64
    return h ^ (h >> 47)


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK32


def murmurhash3_32_uint64(key: int, seed: int) -> int:
    """thinc's MurmurHash3_x86_32_uint64: the slot of a feature in SparseLinear's table."""
    h = seed
    for k in (key & _MASK32, key >> 32):
        k = (k * 0xCC9E2D51) & _MASK32
        k = (_rotl32(k, 15) * 0x1B873593) & _MASK32
        h = _rotl32(h ^ k, 13)
        h = (h * 5 + 0xE6546B64) & _MASK32
    h ^= 8
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & _MASK32
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & _MASK32
    return h ^ (h >> 16)


@lru_cache(maxsize=100_000)
def _orth(word: str) -> int:
    return murmurhash64a(word.encode("utf-8"), 1)  # spaCy's StringStore hash


@lru_cache(maxsize=200_000)
def _slots(key: int, length: int) -> tuple[int, int]:
    return murmurhash3_32_uint64(key, 0) % length, murmurhash3_32_uint64(key, 1) % length


_SIMPLE = re.compile(r"(?:[^\W\d_]+|[0-9]+|_)(?: (?:[^\W\d_]+|[0-9]+|_))*")


def simple_tokens(text: str) -> list[str] | None:
    """The tokens spaCy's tokenizer makes of a text of letters, digits 0-9 and '_' in pieces between single
    spaces (each piece of one kind: its own token); None for any other text."""
    return text.split(" ") if _SIMPLE.fullmatch(text) else None


class Bow:
    """A trained classifier: labels -> probabilities of a text. Weights read with numpy; spaCy's pipeline,
    loaded at the first text that needs its tokenizer (`load_nlp`), for the rest."""

    def __init__(self, labels: tuple[str, ...], weights, bias, symbols: dict[str, int], load_nlp: Callable):
        self.labels = labels
        self.symbols = symbols  # strings spaCy gives a fixed id instead of their hash ("dep", "agent", "_", ...)
        self.weights = weights  # (classes, length) float32: thinc's W, class-major
        self.bias = bias
        self.length = int(weights.shape[1])
        self._load_nlp = load_nlp
        self._nlp = None

    @property
    def nlp(self):
        if self._nlp is None:
            self._nlp = self._load_nlp()
        return self._nlp

    def __call__(self, text: str) -> dict[str, float]:
        tokens = simple_tokens(text)
        if tokens is None:
            return dict(self.nlp(text).cats)
        return self.scores(tokens)

    def scores(self, tokens: list[str]) -> dict[str, float]:
        import numpy as np

        symbols = self.symbols
        unigrams = [symbols[t] if t in symbols else _orth(t) for t in tokens]
        bigrams = [
            murmurhash64a(a.to_bytes(8, "little") + b.to_bytes(8, "little"), 0) for a, b in itertools.pairwise(unigrams)
        ]
        keys, counts = np.unique(np.array(unigrams + bigrams, dtype=np.uint64), return_counts=True)
        scores = np.zeros((1, len(self.labels)), dtype=np.float32)
        scores += self.bias
        row = scores[0]
        for key, count in zip(keys.tolist(), counts.astype(np.float32), strict=True):
            one, two = _slots(key, self.length)
            row += self.weights[:, one] * count
            row += self.weights[:, two] * count
        maxes = np.max(scores, axis=-1, keepdims=True)  # thinc's Ops.softmax
        out = np.exp(scores - maxes)
        out /= out.sum(axis=-1, keepdims=True)
        return {label: float(p) for label, p in zip(self.labels, out[0], strict=True)}


def export_bow(nlp, path: Path) -> bool:
    """Save the weights of a pipeline's TextCatBOW.v3 classifier beside it; False when it is another kind."""
    import numpy as np

    textcat = nlp.get_pipe("textcat")
    layers = {node.name: node for node in textcat.model.walk()}
    linear, ngrams = layers.get("sparse_linear"), layers.get("extract_ngrams")
    config = nlp.config["components"]["textcat"]["model"]
    if (
        linear is None
        or ngrams is None
        or linear.attrs.get("v1_indexing")
        or "softmax_activation" not in layers
        or config.get("@architectures") != "spacy.TextCatBOW.v3"
        or ngrams.attrs.get("ngram_size") != 2
        or nlp.vocab.strings["ORTH"] != ngrams.attrs.get("attr")
    ):
        return False
    n_out, length = linear.get_dim("nO"), linear.get_dim("length")
    weights = np.asarray(linear.get_param("W"), dtype=np.float32).reshape(n_out, length)
    from spacy.symbols import IDS

    meta = {
        "version": BOW_VERSION,
        "labels": list(textcat.labels),
        "bias": linear.get_param("b").tolist(),
        "symbols": {k: int(v) for k, v in IDS.items()},
    }
    # written aside and renamed, the weights first: a reader that finds bow.json finds whole weights
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        np.save(out, weights)
    os.replace(tmp, path / _WEIGHTS)
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as text:
        json.dump(meta, text)
    os.replace(tmp, path / _BOW)
    return True


def read_bow(path: Path, load_nlp: Callable) -> Bow | None:
    """The classifier saved by `export_bow`, memory-mapped; None when there is none (or of another version)."""
    import numpy as np

    try:
        meta = json.loads((path / _BOW).read_text(encoding="utf-8"))
        if meta.get("version") != BOW_VERSION:
            return None
        weights = np.load(path / _WEIGHTS, mmap_mode="r")
    except (OSError, ValueError):
        return None
    bias = np.asarray(meta["bias"], dtype=np.float32)
    return Bow(tuple(meta["labels"]), weights, bias, dict(meta["symbols"]), load_nlp)
