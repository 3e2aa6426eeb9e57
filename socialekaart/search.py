"""Search over the social map: BM25 over Dutch word keys, with synonyms, typos and compounds.

How a query is read (see ``docs/search.md``):
1. words are folded, lemmatised and stemmed (``intents.language``); stop words name no need;
2. each remaining word becomes a *slot* whose members are its key, the parts of a compound,
   and, for a word the map does not know, its closest spellings (rapidfuzz) and completions;
3. the concept lexicon adds one slot per triggered concept (synonyms and related words);
4. a service's score is the sum over slots of the best-scoring member (BM25 with field weights),
   so that saying the same thing twice does not count twice;
5. filters (free, language, open now) mask services; a postcode makes nearby services rank first.

The index is made from the database (plain Core selects, socialekaart/mapread.py), kept in the data dir
(socialekaart/corpus.py) so that the next process loads it instead of building it, and brought up to date
from the change log (socialekaart/changelog.py) when only a few services changed; a running bot answers
from the old index while the new one is made (MapSearch, docs/search.md).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from itertools import takewhile
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from bot.floor.clock import LOCAL_TZ
from intents.language import Dutch, dutch, find_postcode, fold, words
from socialekaart.corpus import (
    PART_WEIGHT,
    Corpus,
    CorruptIndex,
    Finalized,
    build_corpus,
    doc_json,
    finalize,
    index_fingerprint,
    update_corpus,
)
from socialekaart.corpus import load as load_index
from socialekaart.corpus import save as save_index
from socialekaart.hours import Opening, open_at, opening
from socialekaart.lexicon import CONCEPTS, Lexicon, default_lexicon
from socialekaart.needs import NeedModel

log = logging.getLogger(__name__)
READ_CACHE = 2048  # queries whose reading is kept per index
CONCEPT_TERM_WEIGHT = 0.8
CONCEPT_RELATED_WEIGHT = 0.3
COMPLETION_WEIGHT = 0.8
CUE_STRENGTH = 0.7
WHO_WEIGHT = 0.3
WHEN_WEIGHT = 0.5
RELATIVE_MIN = 9  # keys this long or longer have relatives sharing 75% of their start
RELATIVE_WEIGHT = 0.85
TYPO_CUTOFF = 82.0
PROXIMITY_BOOST = 0.6  # at distance 0 a service scores 1.6x; the boost halves about every 1.2 km
MIN_RELATIVE_SCORE = 0.12
SPECIFIC_SHARE = 0.05  # a word used by at most this share of services says what is needed
PROXIMITY_AREAS = 12  # postcode areas tried, at most, to see whether a postcode would change the answer
NEED_WEIGHT = 1.5  # the need model's share, relative to the query's best word score
UNKNOWN_KIND = "onbekend"  # the kind of need of a question the need model cannot place
CONTACT_NAME_WEIGHT = 0.8  # a contact person's name in a professional's query, relative to the best word score
NEED_FLOOR = 1.0  # the scale when no word of the query matched the map
_FREE_WORDS = re.compile(r"\b(gratis|kosteloos|geen kosten|free of charge)\b", re.IGNORECASE)


@dataclass
class ServiceDoc:
    """What search needs to know of one active service."""

    id: str
    name: str
    organization: str
    fields: dict[str, str]
    postcodes: list[str]
    coords: tuple[float, float] | None
    languages: frozenset[str]
    free: bool
    openings: list[Opening]
    codes: tuple[str, ...] = ()
    reach: dict = field(default_factory=dict)  # phone, url, email, address: how a resident gets there
    contacts: list[dict] = field(default_factory=list)  # contact persons, for professionals only
    contact_names: str = ""  # their names and e-mail addresses: searchable by professionals only

    @classmethod
    def from_record(cls, rec: dict) -> ServiceDoc:
        """From an HSDS compiled service record (as exported or imported)."""
        org = rec.get("organization") or {}
        locations = [sal["location"] for sal in rec.get("service_at_locations") or []]
        addresses = [a for loc in locations for a in loc.get("addresses") or []]
        coords = next(
            (
                (loc["latitude"], loc["longitude"])
                for loc in locations
                if loc.get("latitude") is not None and loc.get("longitude") is not None
            ),
            None,
        )
        contacts = rec.get("contacts") or []
        terms = [a["taxonomy_term"] for a in rec.get("attributes") or []]
        schedules = rec.get("schedules") or []
        costs = rec.get("cost_options") or []
        fees = rec.get("fees_description") or ""
        free = (any(c.get("amount") == 0 for c in costs) and not any((c.get("amount") or 0) > 0 for c in costs)) or (
            not costs and bool(_FREE_WORDS.search(fees))
        )
        fields = {
            "name": rec.get("name") or "",
            "alternate_name": rec.get("alternate_name") or "",
            "taxonomy": " ".join(f"{t.get('name') or ''} {(t.get('code') or '').replace('.', ' ')}" for t in terms),
            "organization": f"{org.get('name') or ''} {org.get('alternate_name') or ''}",
            "contact": " ".join(f"{c.get('title') or ''} {c.get('department') or ''}" for c in contacts),
            "description": rec.get("description") or "",
            "eligibility": rec.get("eligibility_description") or "",
            "languages": " ".join(x.get("name") or "" for x in rec.get("languages") or []),
            "organization_description": org.get("description") or "",
            "location": " ".join(f"{loc.get('name') or ''}" for loc in locations)
            + " "
            + " ".join(f"{a.get('address_1') or ''} {a.get('city') or ''}" for a in addresses),
            "schedule": " ".join(s.get("description") or "" for s in schedules),
            "fees": fees,
            "area": " ".join(a.get("name") or "" for a in rec.get("service_areas") or []),
        }
        return cls(
            id=rec["id"],
            name=rec.get("name") or "",
            organization=org.get("name") or "",
            fields=fields,
            postcodes=[a["postal_code"].replace(" ", "").upper() for a in addresses if a.get("postal_code")],
            coords=coords,
            languages=frozenset((x.get("code") or "").lower() for x in rec.get("languages") or []),
            free=free,
            openings=[
                o
                for s in schedules
                if (o := opening(s.get("freq"), s.get("byday"), s.get("opens_at"), s.get("closes_at")))
            ],
            codes=tuple(t.get("code") or "" for t in terms),
            reach={
                "phone": next((p.get("number") for p in rec.get("phones") or []), None),
                "url": rec.get("url") or org.get("website"),
                "email": rec.get("email"),
                "address": next(
                    (
                        f"{a.get('address_1') or ''}, {a.get('city') or ''}".strip(", ")
                        for a in addresses
                        if a.get("address_1")
                    ),
                    None,
                ),
            },
            contacts=[
                {
                    "name": c.get("name"),
                    "title": c.get("title"),
                    "email": c.get("email"),
                    "phone": next((p.get("number") for p in c.get("phones") or []), None),
                }
                for c in contacts
            ],
            contact_names=" ".join(f"{c.get('name') or ''} {c.get('email') or ''}" for c in contacts),
        )


@dataclass
class Filters:
    postcode: str | None = None
    free: bool = False
    language: str | None = None
    open_now: bool = False


@dataclass
class Hit:
    id: str
    name: str
    organization: str
    score: float
    distance_km: float | None = None
    said: tuple[str, ...] = ()  # the query's own words that matched this service
    concepts: tuple[str, ...] = ()  # the lexicon's concepts that matched it

    def describe(
        self, said: str | None = None, topic: str | None = None, distance: str | None = None, decimal: str = ","
    ) -> str:
        """Why it was found, worded by templates with {words}, {topics} and {km} (the chat passes the
        resident's language from the dialogue; the default, for the command line, is the dialogue's Dutch)."""
        if None in (said, topic, distance):
            from intents.triage import dialogue

            dutch = dialogue().texts
            said, topic = said or dutch["why_said"], topic or dutch["why_topic"]
            distance = distance or dutch["why_distance"]
        parts = []
        if self.said:
            parts.append(said.format(words=", ".join(self.said)))
        if self.concepts:
            parts.append(topic.format(topics=", ".join(self.concepts)))
        if self.distance_km is not None:
            parts.append(distance.format(km=f"{self.distance_km:.1f}".replace(".", decimal)))
        return "; ".join(parts)

    @property
    def why(self) -> str:
        return self.describe()

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "organization": self.organization,
            "score": round(self.score, 4),
            "why": self.why,
        }


@dataclass
class _Slot:
    label: str  # what the user wrote, or the concept's name
    members: dict[str, float]  # key -> weight
    concept: bool = False


@dataclass
class _Postings:
    ids: np.ndarray
    weights: np.ndarray


class _Docs(Sequence):
    """The services of an index, each read from its JSON text when first asked for (a loaded index does not
    make 50,000 objects to answer a question about three)."""

    def __init__(self, corpus: Corpus, built: Sequence[ServiceDoc] | None = None):
        self._corpus = corpus
        self._made: dict[int, ServiceDoc] = dict(enumerate(built)) if built is not None else {}

    def __len__(self) -> int:
        return self._corpus.size

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        doc = self._made.get(i)
        if doc is None:
            doc = self._made[i] = _doc_from_json(doc_json(self._corpus, i))
        return doc


class _PostingMap(Mapping):
    """key -> _Postings, as views into one array of ids and one of weights."""

    def __init__(self, final: Finalized):
        self._at = {k: i for i, k in enumerate(final.post_keys)}
        self._offsets = final.post_offsets
        self._ids = final.post_ids
        self._weights = final.post_weights

    def __getitem__(self, key: str) -> _Postings:
        i = self._at[key]
        a, b = self._offsets[i], self._offsets[i + 1]
        return _Postings(self._ids[a:b], self._weights[a:b])

    def __contains__(self, key) -> bool:
        return key in self._at

    def __iter__(self):
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)


class _ById(Mapping):
    """service id -> one of its facts, read through the index's positions."""

    def __init__(self, positions: dict[str, int], get: Callable[[int], object]):
        self._positions, self._get = positions, get

    def __getitem__(self, service_id: str):
        return self._get(self._positions[service_id])

    def __contains__(self, service_id) -> bool:
        return service_id in self._positions

    def __iter__(self):
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


def _doc_json(doc: ServiceDoc) -> str:
    """A ServiceDoc as JSON text, without its fields' text (that lives in the corpus as words)."""
    return json.dumps(
        {
            "id": doc.id,
            "name": doc.name,
            "organization": doc.organization,
            "postcodes": doc.postcodes,
            "coords": list(doc.coords) if doc.coords else None,
            "languages": sorted(doc.languages),
            "free": doc.free,
            "openings": [
                [o.freq, [list(d) for d in o.byday], o.opens.isoformat(), o.closes.isoformat()] for o in doc.openings
            ],
            "codes": list(doc.codes),
            "reach": doc.reach,
            "contacts": doc.contacts,
            "contact_names": doc.contact_names,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _doc_from_json(text: str) -> ServiceDoc:
    d = json.loads(text)
    return ServiceDoc(
        id=d["id"],
        name=d["name"],
        organization=d["organization"],
        fields={},
        postcodes=list(d["postcodes"]),
        coords=tuple(d["coords"]) if d["coords"] else None,
        languages=frozenset(d["languages"]),
        free=bool(d["free"]),
        openings=[
            Opening(o[0], tuple((a, b) for a, b in o[1]), dtime.fromisoformat(o[2]), dtime.fromisoformat(o[3]))
            for o in d["openings"]
        ],
        codes=tuple(d["codes"]),
        reach=d["reach"],
        contacts=d["contacts"],
        contact_names=d["contact_names"],
    )


@dataclass
class _Side:
    """Per service what filters and places need, in the index's order."""

    coords: np.ndarray  # (n, 2), NaN where unknown
    free: np.ndarray
    languages: list[frozenset[str]]
    postcodes: list[list[str]] | None  # None: still the JSON text it was saved as (read only for an update)
    codes: list[tuple[str, ...]]
    postcodes_json: bytes | None = None

    def postcode_lists(self) -> list[list[str]]:
        if self.postcodes is None:
            self.postcodes = [list(x) for x in json.loads(self.postcodes_json or b"[]")]
        return self.postcodes

    @classmethod
    def of(cls, docs: Sequence[ServiceDoc]) -> _Side:
        return cls(
            coords=np.array([d.coords if d.coords else (np.nan, np.nan) for d in docs], dtype=np.float64).reshape(
                -1, 2
            ),
            free=np.array([d.free for d in docs], dtype=bool),
            languages=[d.languages for d in docs],
            postcodes=[list(d.postcodes) for d in docs],
            codes=[tuple(d.codes) for d in docs],
        )

    def gathered(self, fresh: _Side, entries: list[tuple]) -> _Side:
        """The side facts of the documents in `entries` order: from self (source 0) or `fresh` (source 1)."""
        pick = [(self, i) if src == 0 else (fresh, i) for _, _, src, i in entries]
        self.postcode_lists()
        return _Side(
            coords=np.array([s.coords[i] for s, i in pick], dtype=np.float64).reshape(-1, 2),
            free=np.array([bool(s.free[i]) for s, i in pick], dtype=bool),
            languages=[s.languages[i] for s, i in pick],
            postcodes=[s.postcodes[i] for s, i in pick],
            codes=[s.codes[i] for s, i in pick],
        )


@dataclass
class SearchIndex:
    docs: Sequence[ServiceDoc]
    postings: Mapping[str, _Postings]
    surface_by_length: dict[int, list[str]]
    key_of_surface: dict[str, str]
    sorted_keys: list[str]
    lexicon: Lexicon
    coords: np.ndarray  # (n, 2) with NaN where unknown
    free: np.ndarray
    postcode_coords: dict[str, tuple[float, float]] = field(default_factory=dict)
    place_words: frozenset[str] = frozenset()  # words of the service areas' names (the wijk, the city)
    service_words: frozenset[str] = frozenset()  # keys of the services' names and taxonomy terms
    codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # service id -> taxonomy codes
    contact_names: dict[str, np.ndarray] = field(default_factory=dict)  # key -> services whose contact has it
    positions: dict[str, int] = field(default_factory=dict)  # service id -> its position in docs
    ids: list[str] = field(default_factory=list)
    nl: Dutch | None = field(default=None, repr=False, compare=False)  # the normaliser that knows this map's words
    # queries read already: a conversation asks the same need twice (the stream vote, then the answer)
    _read: dict[str, list[_Slot]] = field(default_factory=dict, repr=False, compare=False)
    needs: NeedModel | None = field(default=None, repr=False, compare=False)  # words -> kinds of service
    _affinity: dict | None = field(default=None, repr=False, compare=False)  # kind -> this map's services
    _kinds: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False, compare=False)
    corpus: Corpus | None = field(default=None, repr=False, compare=False)  # what the index was made of
    side: _Side | None = field(default=None, repr=False, compare=False)
    final: Finalized | None = field(default=None, repr=False, compare=False)

    @property
    def by_id(self) -> Mapping[str, ServiceDoc]:
        return _ById(self.positions, self.docs.__getitem__)

    def knows(self, key: str) -> bool:
        """The key occurs in the map or the concept lexicon."""
        return self._known(key)

    def informative(self, key: str) -> bool:
        """The key names something specific: a concept of the lexicon, or a word of services' names or
        taxonomy terms that only a few services use (at most SPECIFIC_SHARE, at least 2): 'taalhuis' says what
        is needed; 'goed' or 'beetje', however rare in the descriptions, do not."""
        if key in self.lexicon.by_key:
            return True
        postings = self.postings.get(key)
        return (
            key in self.service_words
            and postings is not None
            and len(postings.ids) <= max(2, SPECIFIC_SHARE * len(self.docs))
        )

    def proximity_matters(self, query: str) -> bool:
        """Would a postcode change the first three answers? Tried from every postcode area of the map: on
        a one-wijk map, or when the best services are the same wherever one lives, it would not."""
        areas = sorted(k for k in self.postcode_coords if len(k) == 4)
        if len(areas) < 2:
            return False
        if len(areas) > PROXIMITY_AREAS:  # a regional map: a spread of its areas, so a question stays cheap
            areas = [areas[round(i * (len(areas) - 1) / (PROXIMITY_AREAS - 1))] for i in range(PROXIMITY_AREAS)]
        plain = [h.id for h in self.search(query, limit=3)]
        return any([h.id for h in self.search(query, Filters(postcode=area), limit=3)] != plain for area in areas)

    def doc(self, service_id: str) -> ServiceDoc | None:
        position = self.positions.get(service_id)
        return None if position is None else self.docs[position]

    # --- building, updating, saving and loading -----------------------------------------------------

    @classmethod
    def build(
        cls,
        docs: Sequence[ServiceDoc],
        lexicon: Lexicon | None = None,
        needs: NeedModel | None = None,
        positions: Sequence[int] | None = None,
    ) -> SearchIndex:
        """The index of these services, in this order (`positions`: their places in the map, kept so that
        an update can put a changed service where a full build would)."""
        lexicon = lexicon or default_lexicon()
        docs = list(docs)
        corpus = build_corpus(
            docs,
            positions if positions is not None else range(len(docs)),
            [_doc_json(d) for d in docs],
            lexicon.surface_words,
        )
        return cls._made(corpus, _Side.of(docs), lexicon, needs, built=docs)

    @classmethod
    def _made(
        cls,
        corpus: Corpus,
        side: _Side,
        lexicon: Lexicon,
        needs: NeedModel | None,
        *,
        built: Sequence[ServiceDoc] | None = None,
        final: Finalized | None = None,
    ) -> SearchIndex:
        nl = dutch().with_words(set(corpus.words) | lexicon.surface_words)  # this map's words, for this index only
        final = final or finalize(corpus, nl)
        if final.extra.get("postcodes") is None:
            table = _postcode_table(side.postcode_lists(), side.coords)
            final.extra["postcodes"] = {k: list(v) for k, v in table.items()}
        key_of_word = [corpus.keys[corpus.exp_key[corpus.exp_offsets[i]]] for i in range(len(corpus.words))]
        surface = {w: k for w, k in zip(corpus.words, key_of_word, strict=True) if len(w) >= 4 and w.isalpha()}
        for w in lexicon.surface_words:
            if w not in surface and len(w) >= 4 and w.isalpha():
                surface[w] = nl.key(w)
        by_length: dict[int, list[str]] = defaultdict(list)
        for w in sorted(surface):
            by_length[len(w)].append(w)
        positions = {sid: i for i, sid in enumerate(corpus.ids)}
        docs = _Docs(corpus, built)
        index = cls(
            docs=docs,
            postings=_PostingMap(final),
            surface_by_length=dict(by_length),
            key_of_surface=surface,
            sorted_keys=final.post_keys,
            lexicon=lexicon,
            coords=side.coords,
            free=side.free,
            postcode_coords={k: (v[0], v[1]) for k, v in final.extra["postcodes"].items()},
            place_words=frozenset(final.place_words),
            service_words=frozenset(final.service_words),
            codes=_ById(positions, side.codes.__getitem__),
            contact_names={
                k: final.contact_ids[final.contact_offsets[i] : final.contact_offsets[i + 1]]
                for i, k in enumerate(final.contact_keys)
            },
            positions=positions,
            ids=corpus.ids,
            nl=nl,
            needs=needs,
            corpus=corpus,
            side=side,
            final=final,
        )
        return index

    def updated(self, docs: Sequence[ServiceDoc], positions: dict[str, int], changed: set[str]) -> SearchIndex:
        """A new index of the map after the services `changed` changed (`docs`: their new versions, absent
        ones removed): what a full build would give, made from this one. This one is left as it is."""
        if self.corpus is None or self.side is None:
            raise ValueError("an index without its corpus cannot be updated")
        docs = list(docs)
        corpus, entries = update_corpus(
            self.corpus, docs, positions, [_doc_json(d) for d in docs], changed, self.lexicon.surface_words
        )
        side = self.side.gathered(_Side.of(docs), entries)
        built = {k: docs[j] for k, (_, _, src, j) in enumerate(entries) if src == 1}
        index = SearchIndex._made(corpus, side, self.lexicon, self.needs)
        index.docs._made.update(built)  # type: ignore[attr-defined]
        return index

    def affinity(self) -> dict:
        """Per kind of need (the need model's types), the services of this map of that kind."""
        if self._affinity is None and self.needs is not None:
            self._affinity = self.needs.affinities(self)
        return self._affinity or {}

    def save(self, path: Path, key: dict) -> int:
        """Write this index to `path` (see socialekaart/corpus.py); returns the file's size in bytes."""
        if self.corpus is None or self.final is None or self.side is None:
            raise ValueError("an index without its corpus cannot be saved")
        kinds = sorted(self.affinity())
        aff = [self.affinity()[k] for k in kinds]
        sizes = [len(ids) for ids, _ in aff]
        final = Finalized(**{**self.final.__dict__, "extra": dict(self.final.extra)})
        # the few distinct language and code sets once, and per service which one (50,000 lists cost half a
        # second to read); the postcodes as JSON text, read only when the index is updated
        languages = sorted({tuple(sorted(x)) for x in self.side.languages})
        codes = sorted(set(self.side.codes))
        final.extra["side"] = {"language_sets": languages, "code_sets": codes}
        language_of, code_of = {frozenset(x): i for i, x in enumerate(languages)}, {x: i for i, x in enumerate(codes)}
        final.extra["kinds"] = kinds if self.needs is not None else None
        arrays = {
            "coords": self.side.coords,
            "free": self.side.free,
            "language": np.array([language_of[x] for x in self.side.languages], dtype=np.int32),
            "code": np.array([code_of[x] for x in self.side.codes], dtype=np.int32),
            "postcodes": np.frombuffer(
                self.side.postcodes_json
                if self.side.postcodes is None and self.side.postcodes_json is not None
                else json.dumps(self.side.postcode_lists(), separators=(",", ":")).encode(),
                dtype=np.uint8,
            ),
            "aff_offsets": np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            "aff_ids": np.concatenate([ids for ids, _ in aff]).astype(np.int64) if aff else np.zeros(0, np.int64),
            "aff_weights": np.concatenate([w for _, w in aff]).astype(np.float32) if aff else np.zeros(0, np.float32),
        }
        return save_index(path, key, self.corpus, final, arrays)

    @classmethod
    def load(
        cls, path: Path, key: dict | None, lexicon: Lexicon | None = None, needs: NeedModel | None = None
    ) -> tuple[dict, SearchIndex]:
        """An index saved by `save`; CorruptIndex or OSError when the file cannot be trusted."""
        header, corpus, final, arrays = load_index(path, key)
        n = corpus.size
        try:
            extra = final.extra
            side_raw = extra.pop("side")
            kinds = extra.pop("kinds")
            language_sets = [frozenset(x) for x in side_raw["language_sets"]]
            code_sets = [tuple(x) for x in side_raw["code_sets"]]
            language, code = arrays["language"], arrays["code"]
            if not (len(language) == len(code) == len(arrays["coords"]) == len(arrays["free"]) == n) or not (
                _csr_free_ok(language, len(language_sets)) and _csr_free_ok(code, len(code_sets))
            ):
                raise CorruptIndex("side facts do not match the services")
            side = _Side(
                coords=arrays["coords"].astype(np.float64).reshape(-1, 2),
                free=arrays["free"].astype(bool),
                languages=[language_sets[i] for i in language.tolist()],
                postcodes=None,
                codes=[code_sets[i] for i in code.tolist()],
                postcodes_json=arrays["postcodes"].tobytes(),
            )
            index = cls._made(corpus, side, lexicon or default_lexicon(), needs, final=final)
            if kinds is not None and needs is not None:
                offsets, ids, weights = arrays["aff_offsets"], arrays["aff_ids"], arrays["aff_weights"]
                if len(offsets) != len(kinds) + 1 or (len(ids) and (ids.min() < 0 or ids.max() >= n)):
                    raise CorruptIndex("affinities out of bounds")
                index._affinity = {
                    k: (ids[offsets[i] : offsets[i + 1]], weights[offsets[i] : offsets[i + 1]])
                    for i, k in enumerate(kinds)
                }
        except CorruptIndex:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CorruptIndex(f"unreadable: {type(exc).__name__}") from None
        return header, index

    def kinds(self, query: str) -> list[tuple[str, float]]:
        """The kinds of service (need model types) a query most likely asks for, best first."""
        if self.needs is None:
            return []
        found = self._kinds.get(query)
        if found is None:
            if len(self._kinds) >= READ_CACHE:
                self._kinds.clear()
            found = self._kinds[query] = self.needs.predict(query)
        return found

    def kind_of(self, query: str, service_id: str | None = None) -> str | None:
        """The kind of need a question is about: the need model's best kind, else (a question that names
        the service, 'fysiotherapeut') the kind its best service belongs to most."""
        kinds = self.kinds(query)
        if kinds:
            return kinds[0][0]
        if self.needs is None or service_id is None or service_id not in self.positions:
            return None
        position = self.positions[service_id]
        best, kind = 0.0, None
        for name, (ids, weights) in self.affinity().items():
            at = np.flatnonzero(ids == position)
            if len(at) and weights[at[0]] > best:
                best, kind = float(weights[at[0]]), name
        return kind

    def search_for_need(
        self,
        query: str,
        prior_of: Callable[[str], dict[str, float]],
        filters: Filters | None = None,
        *,
        limit: int = 3,
        now: datetime | None = None,
        contacts: bool = False,
    ) -> tuple[str | None, list[Hit]]:
        """The kind of need of a question and its best services, ranked with `prior_of(kind)` (the
        residents' feedback on that kind). The best service decides the kind only when the need model
        names none, so one search suffices unless it must."""
        kind, hits = self.kind_of(query), None
        if kind is None:
            hits = self.search(query, filters, limit=limit, now=now, contacts=contacts)
            kind = self.kind_of(query, hits[0].id if hits else None)
        prior = prior_of(kind or UNKNOWN_KIND)
        if prior or hits is None:
            hits = self.search(query, filters, limit=limit, now=now, prior=prior, contacts=contacts)
        return kind, hits

    def _need_scores(self, query: str) -> np.ndarray | None:
        """Per service: how well its kind fits the kinds the query asks for (0 when the query names none)."""
        kinds = self.kinds(query)
        if not kinds:
            return None
        affinity = self.affinity()
        out = np.zeros(len(self.docs), dtype=np.float32)
        for kind, probability in kinds:
            ids, weights = affinity.get(kind, (None, None))
            if ids is not None and len(ids):
                out[ids] += probability * weights
        return out

    # --- reading the query ----------------------------------------------------------------------

    def _known(self, key: str) -> bool:
        return key in self.postings or key in self.lexicon.by_key

    def _typos(self, word: str) -> dict[str, float]:
        """Keys of the closest known spellings of an unknown word (rapidfuzz, length-bucketed)."""
        n = len(word)
        pool = [w for k in range(max(4, n - 2), n + 3) for w in self.surface_by_length.get(k, ())]
        cutoff = TYPO_CUTOFF if n >= 6 else 86.0
        found: dict[str, float] = {}
        for match, score, _ in process.extract(word, pool, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3):
            key = self.key_of_surface[match]
            found[key] = max(found.get(key, 0.0), (score / 100.0) ** 2)
        return found

    def _keys_starting(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` known keys that start with `prefix` (a bisect into the sorted keys)."""
        start = bisect.bisect_left(self.sorted_keys, prefix)
        return list(takewhile(lambda k: k.startswith(prefix), self.sorted_keys[start : start + limit]))

    def _completions(self, key: str) -> dict[str, float]:
        """Known keys that start with a short word ('fysio' -> 'fysiotherapie'), at most a few."""
        return {k: COMPLETION_WEIGHT for k in self._keys_starting(key, 12) if k != key}

    def _relatives(self, key: str) -> dict[str, float]:
        """Known keys of the same word family: a long shared start ('fysiotherapeut' ~ 'fysiotherapie')."""
        if len(key) < RELATIVE_MIN:
            return {}
        prefix = key[: max(RELATIVE_MIN - 1, int(len(key) * 0.75))]
        return {
            k: RELATIVE_WEIGHT for k in self._keys_starting(prefix, 20) if k != key and len(prefix) >= 0.75 * len(k)
        }

    def read_query(self, text: str) -> list[_Slot]:  # noqa: C901 - the query reading pipeline (spelling, synonyms, needs, place) in order; measured as a whole
        nl = self.nl or dutch()
        toks = words(text)
        word_slots: list[_Slot | None] = []
        triggered: dict[int, float] = {}
        # concept -> index of the word slot whose word is one of the concept's terms
        merged: dict[int, int] = {}
        primary: list[str] = []
        for tok in toks:
            key = nl.key(tok)
            primary.append(key)
            members = {key: 1.0}
            if not self._known(key) and len(tok) >= 4 and not tok.isdigit() and not nl.is_dutch_word(tok):
                for k, w in self._typos(tok).items():
                    members.setdefault(k, w)
                if len(members) == 1:
                    members.update(self._completions(key))
            for k, w in list(members.items()):
                if w >= 0.7:
                    for rel, rw in self._relatives(k).items():
                        members[rel] = max(members.get(rel, 0.0), rw * w)
            for part in nl.compound_parts(tok):
                if not nl.is_stop(part):
                    members.setdefault(nl.key(part), PART_WEIGHT)
            slot = None
            if not nl.is_stop(tok) and not (tok.isdigit() and len(tok) < 4):
                # for whom and when, not what: 'mijn vrouw' is rarely about a women's group
                # and where: the wijk's own name says where, it does not say what
                modifier = (
                    WHO_WEIGHT if tok in nl.who or tok in self.place_words else WHEN_WEIGHT if tok in nl.when else 1.0
                )
                if modifier < 1.0:
                    members = {k: w * modifier for k, w in members.items()}
                slot = _Slot(tok, members)
            word_slots.append(slot)
            for k, w in members.items():
                for c in self.lexicon.by_key.get(k, ()):
                    triggered[c] = max(triggered.get(c, 0.0), w)
                    if slot is not None and w == 1.0 and c not in merged:
                        merged[c] = len(word_slots) - 1
            for c in self.lexicon.cues.get(tok, ()):
                triggered[c] = max(triggered.get(c, 0.0), CUE_STRENGTH)
            if tok.isdigit() and len(tok) <= 3:
                for c, concept in enumerate(self.lexicon.concepts):
                    if concept.ages and concept.ages[0] <= int(tok) <= concept.ages[1]:
                        triggered[c] = max(triggered.get(c, 0.0), CUE_STRENGTH)
        for c, strength in self.lexicon.phrases_at(primary):
            triggered[c] = max(triggered.get(c, 0.0), strength)
        for c in self.lexicon.together_at(toks):
            triggered[c] = max(triggered.get(c, 0.0), CUE_STRENGTH)
        slots: list[_Slot] = []
        absorbed: set[int] = set()
        for c, strength in triggered.items():
            concept = self.lexicon.concepts[c]
            members: dict[str, float] = {}
            for group, weight in ((concept.related, CONCEPT_RELATED_WEIGHT), (concept.terms, CONCEPT_TERM_WEIGHT)):
                for term in group:
                    share = weight * strength / (1 if len(term) == 1 else 1.5)
                    for k in term:
                        if not nl.is_stop(k):
                            members[k] = max(members.get(k, 0.0), share)
            # The word that named the concept joins it: its literal matches count once, at full weight.
            source = merged.get(c)
            if source is not None and source not in absorbed and word_slots[source] is not None:
                absorbed.add(source)
                for k, w in word_slots[source].members.items():
                    members[k] = max(members.get(k, 0.0), w)
                slots.append(_Slot(word_slots[source].label, members))  # shown as the user's own word
            else:
                slots.append(_Slot(concept.name, members, concept=True))
        return [s for i, s in enumerate(word_slots) if s is not None and i not in absorbed] + slots

    # --- searching ------------------------------------------------------------------------------

    def word_scores(self, query: str) -> tuple[np.ndarray, list[tuple[_Slot, np.ndarray]]]:
        """Per service, the sum over the query's slots of its best member's BM25 weight; and per slot
        that matched, the sorted positions of the services it matched (for saying why)."""
        n = len(self.docs)
        slots = self._read.get(query)
        if slots is None:
            if len(self._read) >= READ_CACHE:
                self._read.clear()
            slots = self._read[query] = self.read_query(query)
        scores = np.zeros(n, dtype=np.float32)
        matched: list[tuple[_Slot, np.ndarray]] = []
        for slot in slots:
            present = [(self.postings[k], w) for k, w in slot.members.items() if k in self.postings]
            if not present:
                continue
            if len(present) == 1:
                p, w = present[0]
                scores[p.ids] += w * p.weights
                matched.append((slot, p.ids))
                continue
            best = np.zeros(n, dtype=np.float32)
            for p, w in present:
                best[p.ids] = np.maximum(best[p.ids], w * p.weights)
            scores += best
            matched.append((slot, np.flatnonzero(best)))
        return scores, matched

    def search(  # noqa: C901 - the ranking pipeline in order; measured as a whole (benchmarks/search_*)
        self,
        query: str,
        filters: Filters | None = None,
        *,
        limit: int = 10,
        now: datetime | None = None,
        needs: bool = True,
        prior: dict[str, float] | None = None,
        contacts: bool = False,
    ) -> list[Hit]:
        """The best services for a query. `prior`: service id -> a factor for its score (the residents'
        feedback on this kind of need, bot/feedback.py; bounded there). `contacts`: the names and e-mail
        addresses of contact persons count too (a verified professional in a private chat only)."""
        filters = filters or Filters()
        n = len(self.docs)
        if n == 0:
            return []
        postcode = filters.postcode or find_postcode(query)
        scores, matched = self.word_scores(query)
        kind_fit = self._need_scores(query) if needs and self.needs is not None else None
        if kind_fit is not None:  # scaled to the words' best score: the words decide among services of a kind
            scores = scores + NEED_WEIGHT * max(float(scores.max()), NEED_FLOOR) * kind_fit
        if contacts and self.contact_names:
            named = [self.contact_names[k] for k in {self.nl.key(w) for w in words(query)} if k in self.contact_names]
            if named:
                scores = scores.copy()
                boost = CONTACT_NAME_WEIGHT * max(float(scores.max()), NEED_FLOOR)
                for ids in named:
                    scores[ids] += boost
        mask = scores > 0
        if filters.free:
            mask &= self.free
        if filters.language:
            lang = filters.language.lower()
            languages = self.side.languages if self.side is not None else [d.languages for d in self.docs]
            mask &= np.fromiter((lang in x for x in languages), dtype=bool, count=n)
        candidates = np.flatnonzero(mask)
        if filters.open_now:
            local = (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)
            candidates = np.array([i for i in candidates if open_at(self.docs[i].openings, local)], dtype=np.int64)
        if len(candidates) == 0:
            return []
        final = scores[candidates].astype(np.float64)
        if prior:
            final *= np.fromiter(
                (prior.get(self.ids[i], 1.0) for i in candidates), dtype=np.float64, count=len(candidates)
            )
        distances = None
        origin = self.postcode_coords.get(postcode) if postcode else None
        if postcode and origin is None:
            origin = _nearest_postcode(self.postcode_coords, postcode)
        if origin is not None:
            distances = _km(self.coords[candidates], origin)
            near = np.where(np.isnan(distances), 0.25, np.exp2(-np.nan_to_num(distances) / 1.2))
            final = final * (1 + PROXIMITY_BOOST * near)
        keep = min(limit, len(candidates))
        top = np.argpartition(-final, keep - 1)[:keep] if len(candidates) > keep else np.arange(len(candidates))
        top = top[np.argsort(-final[top], kind="stable")]
        best_score = float(final[top[0]])
        hits = []
        for j in top:
            if final[j] < MIN_RELATIVE_SCORE * best_score:
                break
            i = int(candidates[j])
            doc = self.docs[i]
            dist = None if distances is None or np.isnan(distances[j]) else float(distances[j])
            said, concepts = self._matched(i, matched)
            hits.append(Hit(doc.id, doc.name, doc.organization, float(final[j]), dist, said, concepts))
        return hits

    @staticmethod
    def _matched(doc: int, matched: list[tuple[_Slot, np.ndarray]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        said, concepts = [], []
        for slot, ids in matched:
            pos = int(np.searchsorted(ids, doc))
            if pos < len(ids) and ids[pos] == doc:
                (concepts if slot.concept else said).append(slot.label)
        return tuple(dict.fromkeys(said)), tuple(dict.fromkeys(concepts))


def _normal_postcode(postcode: str) -> str:
    return fold(postcode).replace(" ", "").upper()


def _csr_free_ok(values: np.ndarray, bound: int) -> bool:
    return len(values) == 0 or (int(values.min()) >= 0 and int(values.max()) < bound)


def _postcode_table(postcodes: Sequence[list[str]], coords: np.ndarray) -> dict[str, tuple[float, float]]:
    """Mean coordinates per full postcode (1234AB) and per number part (1234) seen in the map."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for pcs, (lat, lon) in zip(postcodes, coords.tolist(), strict=True):
        if math.isnan(lat) or math.isnan(lon):
            continue
        for pc in pcs:
            for k in {pc, pc[:4]}:
                s = sums[k]
                s[0] += lat
                s[1] += lon
                s[2] += 1
    return {k: (s[0] / s[2], s[1] / s[2]) for k, s in sums.items()}


def _nearest_postcode(table: dict[str, tuple[float, float]], postcode: str) -> tuple[float, float] | None:
    pc = _normal_postcode(postcode)
    if pc[:4] in table:
        return table[pc[:4]]
    numbers = [k for k in table if len(k) == 4 and k.isdigit()]
    if not pc[:4].isdigit() or not numbers:
        return None
    closest = min(numbers, key=lambda k: abs(int(k) - int(pc[:4])))
    return table[closest] if abs(int(closest) - int(pc[:4])) <= 20 else None


def _km(points: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    lat1, lon1 = np.radians(points[:, 0]), np.radians(points[:, 1])
    lat2, lon2 = math.radians(origin[0]), math.radians(origin[1])
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * math.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * np.arcsin(np.sqrt(a))


# Indexes made in this process, by (map revision, database, lexicon, need model, needs on): a revision names
# one state of one map (a counter and the microsecond of the change), so two handles on the same map (the
# chat and the scheduler) make it once. The oldest goes first.
_BUILT: dict[tuple, SearchIndex] = {}
_BUILT_MAX = 2
INDEX_FILE = "search-index.npz"


def _lexicon_fingerprint() -> str:
    return hashlib.sha256(CONCEPTS.read_bytes()).hexdigest()[:16]


def _database_name(database) -> str:
    return database.engine.url.render_as_string(hide_password=True)


def records_as_docs(rows: list[tuple[int, dict]]) -> tuple[list[ServiceDoc], list[int]]:
    return [ServiceDoc.from_record(r) for _, r in rows], [p for p, _ in rows]


class MapSearch:
    """Search over the map in a database: the index is made at first use and remade on change.

    The map's revision is read at most once per ``recheck_seconds``, so that a busy chat does not pay
    a database round trip per query; an import is seen within that time.

    With a ``data_dir`` the index is kept there (``search-index.npz``) under the map's revision: a new
    process loads it instead of building it, and an index of an older revision is brought up to date
    from the change log when it covers the revisions in between. With ``background`` a changed map is
    indexed in a thread while questions are answered from the index in hand, which is then swapped.
    ``made`` says how the index in hand was made: memory, file, update or build.
    """

    def __init__(
        self,
        database,
        lexicon: Lexicon | None = None,
        *,
        recheck_seconds: float = 1.0,
        needs: NeedModel | None = None,
        use_needs: bool = True,
        data_dir: Path | None = None,
        background: bool = False,
    ):
        self.database = database
        self.lexicon = lexicon
        self.needs = needs
        self.use_needs = use_needs
        self.recheck_seconds = recheck_seconds
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.background = background
        self.made: str | None = None
        self.file_bytes: int | None = None
        self._index: SearchIndex | None = None
        self._revision: str | None = None
        self._checked = float("-inf")
        self._making = threading.Lock()  # one index is made at a time
        self._starting = threading.Lock()  # one background thread at a time
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path | None:
        return self.data_dir / INDEX_FILE if self.data_dir is not None else None

    def index(self) -> SearchIndex:
        """The index of the map: the one in hand while it is recent; a changed map is indexed at once, or
        (``background``, once there is an index) in a thread while this one still answers."""
        from socialekaart.mapread import revision_value

        index = self._index
        if index is not None and time.monotonic() - self._checked < self.recheck_seconds:
            return index
        with self.database.session() as session:
            current = revision_value(session)
        self._checked = time.monotonic()
        if index is not None and current == self._revision:
            return index
        if index is not None and self.background:
            self._start_background()
            return index
        with self._making:
            if self._index is None or self._revision != current:
                self._refresh()
        return self._index  # type: ignore[return-value]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for an index being made in the background; False if it is still being made."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _current(self) -> str:
        from socialekaart.mapread import revision_value

        with self.database.session() as session:
            return revision_value(session)

    def _start_background(self) -> None:
        with self._starting:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._refresh_quietly, name="map-index", daemon=True)
            self._thread.start()

    def _refresh_quietly(self) -> None:
        try:
            with self._making:
                if self._revision != self._current():
                    self._refresh()
        except Exception as exc:  # the old index keeps answering; the next check tries again
            log.error("indexing the map failed: %s", type(exc).__name__)

    def _needs(self) -> NeedModel | None:
        if self.use_needs and self.needs is None:
            from socialekaart.needs import default_needs

            self.needs = default_needs()
        return self.needs if self.use_needs else None

    def key(self, revision: str) -> dict | None:
        """What a saved index must have been made from to be used for this map at `revision`; None when
        this search cannot be keyed (a lexicon or need model made in code, not from the shipped data)."""
        needs = self._needs()
        if self.lexicon is not None or (needs is not None and getattr(needs, "fingerprint", None) is None):
            return None
        return {
            "revision": revision,
            "database": _database_name(self.database),
            "language": index_fingerprint(),
            "lexicon": _lexicon_fingerprint(),
            "needs": needs.fingerprint if needs is not None else None,
        }

    def _refresh(self) -> None:
        """Make the index of the map as it is now (the caller holds `_making`), then swap it in."""
        from socialekaart.mapread import revision_value

        needs = self._needs()
        with self.database.session() as session:
            current = revision_value(session)  # read first: the services read after are at least this new
            memo = (current, _database_name(self.database), id(self.lexicon), id(needs), self.use_needs)
            built = _BUILT.get(memo)
            how = "memory"
            if built is None:
                built, how = self._make(session, current, needs)
                _BUILT[memo] = built
                while len(_BUILT) > _BUILT_MAX:
                    _BUILT.pop(next(iter(_BUILT)))
        self._index, self._revision, self.made = built, current, how
        self._checked = time.monotonic()

    def _make(self, session, current: str, needs: NeedModel | None) -> tuple[SearchIndex, str]:
        from socialekaart.changelog import changed_since
        from socialekaart.mapread import revision_number, service_records

        key = self.key(current) if self.path is not None else None
        base, base_revision = self._index, self._revision
        if key is not None and self.path is not None and self.path.exists():
            try:
                header, saved = SearchIndex.load(self.path, None, self.lexicon, needs)
            except (CorruptIndex, OSError) as exc:
                log.warning("the saved search index is not used (%s): it is rebuilt", exc)
            else:
                if header["key"] == key:
                    self.file_bytes = self.path.stat().st_size
                    return saved, "file"
                if {**header["key"], "revision": current} == key and (
                    base is None or revision_number(header["key"]["revision"]) > revision_number(base_revision or "0")
                ):
                    base, base_revision = saved, header["key"]["revision"]
        index, how = None, "build"
        if base is not None and base.corpus is not None and base_revision is not None:
            changed = changed_since(session, revision_number(base_revision), revision_number(current))
            if changed is not None:
                docs, positions = records_as_docs(service_records(session, changed))
                index, how = (
                    base.updated(docs, {d.id: p for d, p in zip(docs, positions, strict=True)}, changed),
                    "update",
                )
        if index is None:
            docs, positions = records_as_docs(service_records(session))
            index = SearchIndex.build(docs, self.lexicon, needs, positions)
        if key is not None and self.path is not None:
            try:
                self.file_bytes = index.save(self.path, key)
            except OSError as exc:  # a read-only data dir: search works, the next start builds again
                log.warning("the search index could not be saved: %s", type(exc).__name__)
        return index, how

    def search(
        self,
        query: str,
        filters: Filters | None = None,
        *,
        limit: int = 10,
        now: datetime | None = None,
        prior: dict[str, float] | None = None,
        contacts: bool = False,
    ) -> list[Hit]:
        return self.index().search(query, filters, limit=limit, now=now, prior=prior, contacts=contacts)


def warm_index(database, data_dir: Path) -> dict:
    """Make (or bring up to date) the saved search index of the map in `database`, so that the next start
    of Wijkbot loads it: for ``wijkbot kaart import`` after its commit. Returns what it did: how
    (file: already there, update: from the change log, build: in full), seconds and the file's bytes."""
    started = time.perf_counter()
    search = MapSearch(database, data_dir=data_dir, recheck_seconds=0)
    search.index()
    return {"how": search.made, "seconds": round(time.perf_counter() - started, 2), "bytes": search.file_bytes}
