"""Term matching over chat text in any script: the tokens and the term language of the safety check.

A message becomes a list of :class:`Token`: lower case, accents and Arabic vowel marks removed, a few
letters that Unicode does not decompose mapped ('ł' -> 'l', Turkish dotless 'ı' -> 'i'), Arabic letter
variants unified. Every Latin-script word also gets its Dutch comparison key (lemma + stem, see
``intents.language``), the keys of its compound parts ("borstpijn" -> "borst", "pijn") and, when it is
an unknown word close to a word the terms use, that word instead (a typo). Sentence punctuation and
line breaks are kept as sentence boundaries (commas as clause boundaries, for the context rules).

Terms are written as data (``intents/data/safety/*.yaml``), one phrase per entry, words separated by
spaces:

    word      this word in any inflection (same Dutch key): "adem" matches "ademt", "ademen"
    =word     exactly this word (for words of other languages that Dutch stemming would confuse)
    word*     any word starting so: "ademhal*", "nefes*", "дих*"
    *word     any word ending so: "*avond" matches "zaterdagavond"
    *word*    any word containing it (for Arabic clitics: "*ضرب*" matches "يضربني")
    (a|b c)   one of these alternatives (each may itself be several words)
    (...)?    an optional group
    ~ / ~5    up to 3 (or 5) other words in between

A term never matches across a sentence boundary; it may cross a comma (chat uses commas freely).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from intents.language import dutch

BOUNDARY = "|"
_PIECE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+|[.!?;\n]+|,")
# laughing emoji read as "haha" (a joke marker for the context rules); embarrassed or nervous ones are not
_EXTRA = str.maketrans(
    {
        "ł": "l",
        "ı": "i",
        "ß": "ss",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "đ": "d",
        "ŀ": "l",
        "😂": " haha ",
        "🤣": " haha ",
        "😆": " haha ",
        "😜": " haha ",
        "😁": " haha ",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        "ـ": "",
        "’": "'",
        "ʼ": "'",
    }
)
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
TYPO_MIN = 5  # words shorter than this are never corrected
# English contractions typed without an apostrophe, split as the apostrophe would split them
_CONTRACTIONS = {
    w.replace("|", ""): tuple(w.split("|"))
    for w in (
        "don|t",
        "doesn|t",
        "didn|t",
        "can|t",
        "won|t",
        "isn|t",
        "wasn|t",
        "aren|t",
        "couldn|t",
        "wouldn|t",
        "shouldn|t",
        "haven|t",
        "hasn|t",
        "i|m",
        "i|ve",
        "i|ll",
        "he|s",
        "she|s",
        "it|s",
        "you|re",
        "we|re",
        "they|re",
    )
}
TYPO_CUTOFF = 84


def fold_any(text: str) -> str:
    """Lower case without marks in any script: 'Żona' -> 'zona', 'يَضْرِبُنِي' -> 'يضربني', 'ї' -> 'і'."""
    text = text.lower().translate(_EXTRA).translate(_ARABIC_DIGITS)
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")


def dutch_key(word: str) -> str:
    """The comparison key of a folded word: the Dutch lemma's stem for Latin letters, else the word."""
    if not word.isascii() or word.isdigit():
        return word
    nl = dutch()
    return nl.key(nl.irregular.get(word, word))


@dataclass
class Token:
    word: str  # folded
    keys: frozenset[str]  # its key, its compound parts' keys, a corrected typo's key
    clause: int  # increases at every punctuation mark (comma included)
    sentence: int  # increases at . ! ? ; and line breaks
    typo: str | None = None  # the vocabulary word this one is a misspelling of


@dataclass
class Tokens:
    """A message as tokens, with the clause each token belongs to."""

    items: list[Token]
    text: str = ""

    def __len__(self) -> int:
        return len(self.items)

    def words(self, start: int = 0, end: int | None = None) -> list[str]:
        return [t.word for t in self.items[start:end]]


class Vocabulary:
    """The words the terms use, for typo correction (rapidfuzz against the long ones)."""

    def __init__(self, words: set[str]):
        self.words = sorted(w for w in words if len(w) >= TYPO_MIN and w.isascii() and w.isalpha())
        self._set = frozenset(self.words)
        self.keys = frozenset(dutch_key(w) for w in words)

    @lru_cache(maxsize=50_000)  # noqa: B019 - one long-lived instance per process
    def correct(self, word: str) -> str | None:
        """The vocabulary word an unknown word is a typo of, or None."""
        from rapidfuzz import fuzz, process

        if (
            len(word) < TYPO_MIN
            or not word.isascii()
            or not word.isalpha()
            or word in self._set
            or dutch_key(word) in self.keys
            or dutch().is_dutch_word(word)
        ):
            return None
        best = process.extractOne(word, self.words, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else None


def tokenize(text: str, vocabulary: Vocabulary | None = None, limit: int = 5000) -> Tokens:
    nl = dutch()
    items: list[Token] = []
    clause = sentence = 0
    pieces = _PIECE.findall(fold_any(text[:limit]))
    pieces = [p for piece in pieces for p in _CONTRACTIONS.get(piece, (piece,))]
    for piece in pieces:
        if not piece[0].isalnum() and not piece[0].isdigit():
            clause += 1
            sentence += piece != ","
            continue
        keys = {dutch_key(piece)}
        typo = None
        if piece.isascii() and piece.isalpha():
            parts = nl.compound_parts(piece)
            if not parts or parts[-1] != "vrij":  # "aanvalsvrij", "pijnvrij": without it
                keys.update(dutch_key(p) for p in parts)
            typo = vocabulary.correct(piece) if vocabulary else None
            if typo:
                keys.add(dutch_key(typo))
        items.append(Token(piece, frozenset(keys), clause, sentence, typo))
    return Tokens(items, text)


# --- terms ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    kind: str  # "key" | "exact" | "prefix" | "suffix" | "contains"
    value: str

    def matches(self, token: Token) -> bool:
        if self.kind == "key":
            return self.value in token.keys
        if self.kind == "exact":
            return token.word == self.value or token.typo == self.value
        if self.kind == "prefix":
            return token.word.startswith(self.value) or bool(token.typo and token.typo.startswith(self.value))
        if self.kind == "suffix":
            return token.word.endswith(self.value)
        return self.value in token.word


@dataclass(frozen=True)
class _Slot:
    options: tuple[tuple[_Word, ...], ...] = ()  # alternatives, each a word sequence
    optional: bool = False
    gap: int = 0  # > 0: up to this many other words


@dataclass(frozen=True)
class Term:
    text: str
    slots: tuple[_Slot, ...]

    @property
    def requirements(self) -> tuple[frozenset[str], ...]:
        """For each slot that must match a plain word: the keys or words it may match. A message that
        lacks one of them cannot hold the term (checked before the slower match)."""
        out = []
        for slot in self.slots:
            if slot.gap or slot.optional or any(o[0].kind not in ("key", "exact") for o in slot.options):
                continue
            out.append(frozenset(o[0].value for o in slot.options))
        return tuple(out)

    @property
    def first_words(self) -> tuple[_Word, ...]:
        return tuple(option[0] for option in self.slots[0].options)


def top_level_parts(pattern: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in pattern.strip():
        depth += (char == "(") - (char == ")")
        if char == " " and depth == 0:
            if current:
                parts.append(current)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def _word(raw: str) -> _Word:
    folded = fold_any(raw)
    if folded.startswith("="):
        return _Word("exact", folded[1:])
    if folded.startswith("*") and folded.endswith("*") and len(folded) > 2:
        return _Word("contains", folded[1:-1])
    if folded.endswith("*"):
        return _Word("prefix", folded[:-1])
    if folded.startswith("*"):
        return _Word("suffix", folded[1:])
    return _Word("key", dutch_key(folded))


def compile_term(pattern: str) -> Term:
    slots = []
    for part in top_level_parts(str(pattern)):
        gap = re.fullmatch(r"~(\d*)", part)
        if gap:
            slots.append(_Slot(gap=int(gap.group(1) or 3)))
            continue
        if "(" in part and not part.startswith("("):
            raise ValueError(f"term {pattern!r}: a group must stand apart: {part!r}")
        optional = part.endswith(")?")
        inner = part[1:-2] if optional else part[1:-1] if part.startswith("(") and part.endswith(")") else part
        alternatives = inner.split("|") if part.startswith("(") else [inner]
        if any("~" in a or "(" in a for a in alternatives):
            raise ValueError(f"term {pattern!r}: no gaps or groups inside a group: {part!r}")
        options = tuple(tuple(_word(w) for w in top_level_parts(a.replace("'", " "))) for a in alternatives)
        options = tuple(o for o in options if o)
        if options:
            slots.append(_Slot(options, optional))
    if not slots or slots[0].optional or slots[0].gap:
        raise ValueError(f"term {pattern!r}: must start with a word")
    if re.fullmatch(r"\*\S+ .*\S\*", str(pattern).strip()):
        raise ValueError(f"term {pattern!r}: *...* finds a part of one word; write a phrase without the stars")
    return Term(str(pattern), tuple(slots))


def _match_at(slots: tuple[_Slot, ...], tokens: list[Token], i: int, sentence: int) -> int | None:
    """The end (exclusive) of a match of `slots` starting at token i, or None."""
    if not slots:
        return i
    slot, rest = slots[0], slots[1:]
    if slot.gap:
        for skip in range(slot.gap + 1):
            if i + skip > len(tokens) or (skip and tokens[i + skip - 1].sentence != sentence):
                break
            end = _match_at(rest, tokens, i + skip, sentence)
            if end is not None:
                return end
        return None
    for option in slot.options:
        j = i
        for word in option:
            if j >= len(tokens) or tokens[j].sentence != sentence or not word.matches(tokens[j]):
                break
            j += 1
        else:
            end = _match_at(rest, tokens, j, sentence)
            if end is not None:
                return end
    return _match_at(rest, tokens, i, sentence) if slot.optional else None


@dataclass
class TermSet:
    """Named groups of terms ("classes"), indexed by their first word for fast matching."""

    groups: dict[str, list[Term]] = field(default_factory=dict)
    compile: Callable[[str], Term] = field(default=compile_term, repr=False, compare=False)

    def __post_init__(self) -> None:
        # by id: a Term's hash walks all its slots, and find() looks requirements up per candidate
        self._requirements: dict[int, tuple[frozenset[str], ...]] = {}
        self._by_key: dict[str, list[tuple[str, Term]]] = {}
        self._by_word: dict[str, list[tuple[str, Term]]] = {}
        self._by_prefix: dict[str, list[tuple[str, str, Term]]] = {}
        self._by_suffix: dict[str, list[tuple[str, str, Term]]] = {}
        self._contains: dict[bool, list[tuple[_Word, str, Term]]] = {True: [], False: []}  # by ASCII or not
        for name, terms in self.groups.items():
            for term in terms:
                self._index(name, term)

    def _index(self, name: str, term: Term) -> None:
        self._requirements[id(term)] = term.requirements
        for word in term.first_words:
            if word.kind == "key":
                self._by_key.setdefault(word.value, []).append((name, term))
            elif word.kind == "exact":
                self._by_word.setdefault(word.value, []).append((name, term))
            elif word.kind == "prefix" and len(word.value) >= 2:
                self._by_prefix.setdefault(word.value[:2], []).append((word.value, name, term))
            elif word.kind == "suffix" and len(word.value) >= 2:
                self._by_suffix.setdefault(word.value[-2:], []).append((word.value, name, term))
            else:
                self._contains[word.value.isascii()].append((word, name, term))

    def add(self, name: str, patterns) -> None:
        terms = [self.compile(p) for p in patterns]
        self.groups.setdefault(name, []).extend(terms)
        for term in terms:
            self._index(name, term)

    def words(self) -> set[str]:
        """Every plain word the terms use (for typo correction)."""
        out = set()
        for terms in self.groups.values():
            for term in terms:
                out.update(
                    w.strip("=*")
                    for w in re.findall(r"[=*]?[^\W\d_]+\*?", fold_any(term.text))
                    if w.strip("=*").isalpha() and not w.startswith("*")
                )
        return out

    def find(self, tokens: Tokens) -> dict[str, list[tuple[int, int]]]:
        """Every group that occurs: name -> spans (start, end exclusive), in order."""
        found: dict[str, list[tuple[int, int]]] = {}
        items = tokens.items
        present = {k for t in items for k in t.keys} | {t.word for t in items} | {t.typo for t in items if t.typo}
        requirements = self._requirements
        for i, token in enumerate(items):
            candidates = [c for key in token.keys for c in self._by_key.get(key, ())]
            candidates += self._by_word.get(token.word, [])
            if token.typo:
                candidates += self._by_word.get(token.typo, [])
            candidates += [
                (name, term)
                for prefix, name, term in self._by_prefix.get(token.word[:2], ())
                if token.word.startswith(prefix)
            ]
            candidates += [
                (name, term)
                for suffix, name, term in self._by_suffix.get(token.word[-2:], ())
                if token.word.endswith(suffix)
            ]
            candidates += [
                (name, term) for word, name, term in self._contains[token.word.isascii()] if word.matches(token)
            ]
            for name, term in candidates:
                if not all(r & present for r in requirements[id(term)]):
                    continue
                end = _match_at(term.slots, items, i, token.sentence)
                if end is not None:
                    spans = found.setdefault(name, [])
                    if (i, end) not in spans:
                        spans.append((i, end))
        return found


# --- compiled terms kept between starts ----------------------------------------------------------------


def _encode(term: Term) -> list:
    return [
        [[[w.kind, w.value] for w in option] for option in slot.options] + [slot.optional, slot.gap]
        for slot in term.slots
    ]


def _decode(text: str, raw: list) -> Term:
    slots = []
    for slot in raw:
        *options, optional, gap = slot
        words = tuple(tuple(_Word(str(kind), str(value)) for kind, value in option) for option in options)
        slots.append(_Slot(words, bool(optional), int(gap)))
    return Term(text, tuple(slots))


def terms_fingerprint() -> str:
    """What a compiled term depends on besides its pattern: this code and the Dutch word keys."""
    from intents import language

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(Path(language.__file__).read_bytes())
    digest.update(language.language_fingerprint().encode())
    return digest.hexdigest()[:16]


class CompiledTerms:
    """`compile_term` with a memory in the cache directory: the terms of a shipped data set (thousands of
    patterns, a second to compile at every start) as plain JSON, keyed by this code's and the language data's
    fingerprint. A pattern not in the file is compiled and the file rewritten with what this run used."""

    def __init__(self, path: Path | None):
        self.path = path
        self.saved: dict = {}
        self.used: dict = {}
        self.compiled = 0
        if path is not None:
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self.saved = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.saved = {}

    @classmethod
    def of(cls, cache_dir: Path | None, name: str) -> CompiledTerms:
        return cls(cache_dir / f"terms-{name}-{terms_fingerprint()}.json" if cache_dir else None)

    def __call__(self, pattern) -> Term:
        text = str(pattern)
        raw = self.saved.get(text)
        if raw is not None:
            try:
                term = _decode(text, raw)
                self.used[text] = raw
                return term
            except (TypeError, ValueError):  # a damaged file: compiled again
                pass
        term = compile_term(pattern)
        self.used[text] = _encode(term)
        self.compiled += 1
        return term

    def save(self) -> None:
        """Rewrite the file when a pattern was compiled here (or one saved was not used); a read-only cache
        directory is not an error."""
        if self.path is None or (not self.compiled and self.used.keys() == self.saved.keys()):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.used, out, ensure_ascii=False)
            os.replace(tmp, self.path)
        except OSError:
            pass
