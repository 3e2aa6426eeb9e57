"""The concept/synonym lexicon (``data/concepts.yaml``): lay words, jargon and English, grouped.

A query that contains any *term* of a group gets every term of that group added (at a lower
weight), and the group's *related* words at a lower weight still. Related words never trigger.
*Cues* (ambiguous hints such as "alleen"), *ages* (a number in a range: "mijn moeder is 79") and
*together* rules (word groups that all occur within a few words, in any order: "zorg ... voor mijn
man") trigger a group at reduced strength (CUE_STRENGTH in search.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.floor import yamlfile
from intents.language import dutch, fold, words

CONCEPTS = Path(__file__).with_name("data") / "concepts.yaml"


@dataclass(frozen=True)
class Concept:
    name: str
    terms: tuple[tuple[str, ...], ...]  # each term as a tuple of word keys
    related: tuple[tuple[str, ...], ...]
    surface: tuple[str, ...]  # the single-word terms as folded words (for typo matching)
    ages: tuple[int, int] | None = None


@dataclass(frozen=True)
class Lexicon:
    concepts: tuple[Concept, ...]
    by_key: dict[str, tuple[int, ...]]  # single-word term key -> concept indexes
    phrases: tuple[tuple[tuple[str, ...], int, float], ...]  # multi-word keys -> concept index, strength
    cues: dict[str, tuple[int, ...]]  # single-word cue, as written (folded) -> concept indexes
    by_first: dict[str, tuple[tuple[tuple[str, ...], int, float], ...]]  # phrases indexed by their first key
    together: tuple[tuple[int, int, tuple[tuple[str, ...], ...]], ...] = ()  # (concept, within, word groups)

    def together_at(self, folded: list[str]):
        """Concepts whose `together` rule matches: every group has a word within `within` of the others."""
        for concept, within, groups in self.together:
            positions = [[i for i, w in enumerate(folded) if _word_in(w, group)] for group in groups]
            if all(positions) and any(
                all(any(abs(q - p) <= within for q in other) for other in positions[1:]) for p in positions[0]
            ):
                yield concept

    def phrases_at(self, keys: list[str]):
        """(concept index, strength) of every multi-word term or cue that occurs in a key sequence."""
        for i, key in enumerate(keys):
            for phrase, concept, strength in self.by_first.get(key, ()):
                if tuple(keys[i : i + len(phrase)]) == phrase:
                    yield concept, strength

    @property
    def surface_words(self) -> set[str]:
        return {w for c in self.concepts for w in c.surface}


def _word_in(word: str, group: tuple[str, ...]) -> bool:
    """A folded word matches a group entry exactly, by prefix ('sport*') or by suffix ('*avond')."""
    return any(
        word.startswith(e[:-1]) if e.endswith("*") else word.endswith(e[1:]) if e.startswith("*") else word == e
        for e in group
    )


def _keys(term: str) -> tuple[str, ...]:
    nl = dutch()
    return tuple(nl.key(w) for w in words(term))


def load_lexicon(path: Path = CONCEPTS) -> Lexicon:
    raw = yamlfile.safe_load(path.read_text(encoding="utf-8")) or []
    concepts: list[Concept] = []
    by_key: dict[str, list[int]] = {}
    cues: dict[str, list[int]] = {}
    phrases: list[tuple[tuple[str, ...], int, float]] = []
    for index, group in enumerate(raw):
        terms = tuple(k for k in (_keys(t) for t in group.get("terms", [])) if k)
        related = tuple(k for k in (_keys(t) for t in group.get("related", []) or []) if k)
        surface = tuple(w for t in group.get("terms", []) for w in [words(t)] if len(w) == 1 for w in w)
        ages = tuple(group["ages"]) if group.get("ages") else None
        concepts.append(Concept(group.get("concept", f"concept {index}"), terms, related, surface, ages))
        for term in terms:
            if len(term) == 1:
                by_key.setdefault(term[0], []).append(index)
            else:
                phrases.append((term, index, 1.0))
        # Cues are ambiguous by nature: a single-word cue matches only as written, not by its stem
        # ('langs' hints at a home visit, 'lang' does not).
        for cue in group.get("cues", []) or []:
            folded = words(cue)
            if len(folded) == 1:
                cues.setdefault(folded[0], []).append(index)
            elif folded:
                phrases.append((_keys(cue), index, 0.5))
    together = []
    for index, group in enumerate(raw):
        for rule in group.get("together", []) or []:
            within, groups = (rule.get("within", 4), rule["all"]) if isinstance(rule, dict) else (4, rule)
            together.append((index, int(within), tuple(tuple(fold(str(w)) for w in g) for g in groups)))
    by_first: dict[str, list] = {}
    for entry in phrases:
        by_first.setdefault(entry[0][0], []).append(entry)
    return Lexicon(
        tuple(concepts),
        {k: tuple(v) for k, v in by_key.items()},
        tuple(phrases),
        {k: tuple(v) for k, v in cues.items()},
        {k: tuple(v) for k, v in by_first.items()},
        tuple(together),
    )


@cache
def default_lexicon() -> Lexicon:
    from intents.language import shipped_keys

    with shipped_keys("lexicon"):
        return load_lexicon()
