"""Search over the social map: BM25 over Dutch word keys, with synonyms, typos and compounds.

How a query is read (see ``docs/search.md``):
1. words are folded, lemmatised and stemmed (``intents.language``); stop words name no need;
2. each remaining word becomes a *slot* whose members are its key, the parts of a compound,
   and, for a word the map does not know, its closest spellings (rapidfuzz) and completions;
3. the concept lexicon adds one slot per triggered concept (synonyms and related words);
4. a service's score is the sum over slots of the best-scoring member (BM25 with field weights),
   so that saying the same thing twice does not count twice;
5. filters (free, language, open now) mask services; a postcode makes nearby services rank first.

The index is built in memory from the database and rebuilt when the map's revision changes.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import takewhile

import numpy as np
from rapidfuzz import fuzz, process

from bot.floor.clock import LOCAL_TZ
from intents.language import Dutch, dutch, find_postcode, fold, words
from socialekaart.hours import Opening, open_at, opening
from socialekaart.lexicon import Lexicon, default_lexicon
from socialekaart.needs import NeedModel

# How much a word in each field counts, relative to the description.
READ_CACHE = 2048  # queries whose reading is kept per index
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
PART_WEIGHT = 0.5  # a part of a compound word, in the index and in the query
CONCEPT_TERM_WEIGHT = 0.8
CONCEPT_RELATED_WEIGHT = 0.3
COMPLETION_WEIGHT = 0.8
CUE_STRENGTH = 0.7
WHO_WEIGHT = 0.3
WHEN_WEIGHT = 0.5
RELATIVE_MIN = 9  # keys this long or longer have relatives sharing 75% of their start
RELATIVE_WEIGHT = 0.85
K1, B = 1.2, 0.5
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


@dataclass
class SearchIndex:
    docs: list[ServiceDoc]
    postings: dict[str, _Postings]
    surface_by_length: dict[int, list[str]]
    key_of_surface: dict[str, str]
    sorted_keys: list[str]
    lexicon: Lexicon
    coords: np.ndarray  # (n, 2) with NaN where unknown
    free: np.ndarray
    postcode_coords: dict[str, tuple[float, float]] = field(default_factory=dict)
    place_words: frozenset[str] = frozenset()  # words of the service areas' names (the wijk, the city)
    service_words: frozenset[str] = frozenset()  # keys of the services' names and taxonomy terms
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # service id -> taxonomy codes
    contact_names: dict[str, np.ndarray] = field(default_factory=dict)  # key -> services whose contact has it
    by_id: dict[str, ServiceDoc] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # service id -> its position in docs
    nl: Dutch | None = field(default=None, repr=False, compare=False)  # the normaliser that knows this map's words
    # queries read already: a conversation asks the same need twice (the stream vote, then the answer)
    _read: dict[str, list[_Slot]] = field(default_factory=dict, repr=False, compare=False)
    needs: NeedModel | None = field(default=None, repr=False, compare=False)  # words -> kinds of service
    _affinity: dict | None = field(default=None, repr=False, compare=False)  # kind -> this map's services
    _kinds: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False, compare=False)

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
        return self.by_id.get(service_id)

    # --- building -------------------------------------------------------------------------------

    @classmethod
    def build(  # noqa: C901 - builds every index array in one pass over the map
        cls,
        docs: list[ServiceDoc],
        lexicon: Lexicon | None = None,
        needs: NeedModel | None = None,
    ) -> SearchIndex:
        nl = dutch()
        lexicon = lexicon or default_lexicon()
        vocabulary: set[str] = set()
        tokenized: list[list[tuple[list[str], float]]] = []
        for doc in docs:
            per_field = []
            for name, text in doc.fields.items():
                if text:
                    toks = words(text)
                    vocabulary.update(toks)
                    per_field.append((toks, FIELD_WEIGHTS[name]))
            tokenized.append(per_field)
        nl = nl.with_words(vocabulary | lexicon.surface_words)  # this map's words, for this index only
        expansions: dict[str, tuple[tuple[str, float], ...]] = {}

        def expand(word: str) -> tuple[tuple[str, float], ...]:
            found = expansions.get(word)
            if found is None:
                items = [(nl.key(word), 1.0)]
                items += [(nl.key(p), PART_WEIGHT) for p in nl.compound_parts(word) if not nl.is_stop(p)]
                found = expansions[word] = tuple(items)
            return found

        term_docs: dict[str, list[int]] = defaultdict(list)
        term_tf: dict[str, list[float]] = defaultdict(list)
        lengths = np.zeros(len(docs), dtype=np.float32)
        stop = nl.stop_words
        for i, per_field in enumerate(tokenized):
            tf: dict[str, float] = {}
            length = 0.0
            for toks, weight in per_field:
                for tok in toks:
                    if tok in stop:
                        continue
                    length += weight
                    for key, part in expansions.get(tok) or expand(tok):
                        tf[key] = tf.get(key, 0.0) + weight * part
            lengths[i] = length
            for key, value in tf.items():
                term_docs[key].append(i)
                term_tf[key].append(value)
        n = max(len(docs), 1)
        avg = float(lengths.mean()) if len(docs) else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        postings = {}
        for key, ids in term_docs.items():
            ids_arr = np.asarray(ids, dtype=np.int32)
            tf_arr = np.asarray(term_tf[key], dtype=np.float32)
            idf = math.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5))
            postings[key] = _Postings(ids_arr, (idf * tf_arr * (K1 + 1) / (tf_arr + norm[ids_arr])).astype(np.float32))
        surface = {w for w in vocabulary | lexicon.surface_words if len(w) >= 4 and w.isalpha()}
        by_length: dict[int, list[str]] = defaultdict(list)
        for w in sorted(surface):
            by_length[len(w)].append(w)
        coords = np.array([d.coords if d.coords else (np.nan, np.nan) for d in docs], dtype=np.float64).reshape(-1, 2)
        index = cls(
            docs=docs,
            postings=postings,
            surface_by_length=dict(by_length),
            key_of_surface={w: nl.key(w) for w in surface},
            sorted_keys=sorted(postings),
            lexicon=lexicon,
            coords=coords,
            free=np.array([d.free for d in docs], dtype=bool),
            nl=nl,
        )
        index.postcode_coords = _postcode_table(docs)
        index.place_words = frozenset(w for d in docs for w in words(d.fields["area"]) if not nl.is_stop(w))
        index.codes = {d.id: d.codes for d in docs}
        index.service_words = frozenset(
            key
            for d in docs
            for name in ("name", "alternate_name", "taxonomy")
            for w in words(d.fields[name])
            for key, _ in expand(w)
        )
        index.by_id = {d.id: d for d in docs}
        names: dict[str, set[int]] = defaultdict(set)
        for i, doc in enumerate(docs):  # apart from the postings: a resident's words never reach them
            for w in words(doc.contact_names):
                if not nl.is_stop(w):
                    names[nl.key(w)].add(i)
        index.contact_names = {k: np.array(sorted(v), dtype=np.int64) for k, v in names.items()}
        index.positions = {d.id: i for i, d in enumerate(docs)}
        index.needs = needs
        return index

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
        if self.needs is None or service_id is None or service_id not in self.by_id:
            return None
        if self._affinity is None:
            self._affinity = self.needs.affinities(self)
        position = self.positions[service_id]
        best, kind = 0.0, None
        for name, (ids, weights) in self._affinity.items():
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
        if self._affinity is None:
            self._affinity = self.needs.affinities(self)
        out = np.zeros(len(self.docs), dtype=np.float32)
        for kind, probability in kinds:
            ids, weights = self._affinity.get(kind, (None, None))
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
            mask &= np.fromiter((lang in d.languages for d in self.docs), dtype=bool, count=n)
        candidates = np.flatnonzero(mask)
        if filters.open_now:
            local = (now or datetime.now(LOCAL_TZ)).astimezone(LOCAL_TZ)
            candidates = np.array([i for i in candidates if open_at(self.docs[i].openings, local)], dtype=np.int64)
        if len(candidates) == 0:
            return []
        final = scores[candidates].astype(np.float64)
        if prior:
            final *= np.fromiter(
                (prior.get(self.docs[i].id, 1.0) for i in candidates), dtype=np.float64, count=len(candidates)
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


def _postcode_table(docs: Iterable[ServiceDoc]) -> dict[str, tuple[float, float]]:
    """Mean coordinates per full postcode (1234AB) and per number part (1234) seen in the map."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for d in docs:
        if not d.coords:
            continue
        for pc in d.postcodes:
            for k in {pc, pc[:4]}:
                s = sums[k]
                s[0] += d.coords[0]
                s[1] += d.coords[1]
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


# Indexes built in this process, by (map revision, lexicon, need model, needs on): a revision names one
# state of one map (a counter and the microsecond of the change), so two handles on the same map (the
# chat and the scheduler, or copies of one database file) build it once. The oldest goes first.
_BUILT: dict[tuple, SearchIndex] = {}
_BUILT_MAX = 2


class MapSearch:
    """Search over the map in a database: the index is built at first use and rebuilt on change.

    The map's revision is read at most once per ``recheck_seconds``, so that a busy chat does not pay
    a database round trip per query; an import is seen within that time.
    """

    def __init__(
        self,
        database,
        lexicon: Lexicon | None = None,
        *,
        recheck_seconds: float = 1.0,
        needs: NeedModel | None = None,
        use_needs: bool = True,
    ):
        self.database = database
        self.lexicon = lexicon
        self.needs = needs
        self.use_needs = use_needs
        self.recheck_seconds = recheck_seconds
        self._index: SearchIndex | None = None
        self._revision: str | None = None
        self._checked = float("-inf")

    def index(self) -> SearchIndex:
        import time

        from socialekaart.hsds import load_services, revision, service_dict

        if self._index is not None and time.monotonic() - self._checked < self.recheck_seconds:
            return self._index
        with self.database.session() as session:
            current = revision(session)
            if self._index is None or current != self._revision:
                if self.use_needs and self.needs is None:
                    from socialekaart.needs import default_needs

                    self.needs = default_needs()
                key = (current, id(self.lexicon), id(self.needs), self.use_needs)
                built = _BUILT.get(key)
                if built is None:
                    docs = [ServiceDoc.from_record(service_dict(s)) for s in load_services(session, active_only=True)]
                    built = SearchIndex.build(docs, self.lexicon, self.needs if self.use_needs else None)
                    _BUILT[key] = built
                    while len(_BUILT) > _BUILT_MAX:
                        _BUILT.pop(next(iter(_BUILT)))
                self._index, self._revision = built, current
        self._checked = time.monotonic()
        return self._index

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
