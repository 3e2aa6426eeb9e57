"""Dutch language handling shared by search and NLU.

Pipeline per word: fold (lower case, no accents) -> irregular forms -> spaCy's lookup lemmatizer
(spacy-lookups-data's Dutch lemma table) -> Snowball Dutch stemmer. The result is a *key*:
two words with the same key count as the same word. Compounds ("wandelgroepen",
"schuldhulpverlening") are split into known parts so that "wandelen" finds "wandelgroep".
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import tempfile
import threading
import unicodedata
from contextlib import contextmanager
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

from bot.floor import yamlfile

DATA = Path(__file__).with_name("data")
_TOKEN = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
# Parts a compound may not be split into: suffixes and fragments that are dictionary words by accident.
_NOT_A_PART = frozenset({"heid", "lijk", "schap", "baar", "ling", "isch", "tje", "tjes", "ende", "ster"})
_MIN_PART = 4


_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([a-zA-Z]{2})\b")


def find_postcode(text: str) -> str | None:
    """The first Dutch postcode written in a text, normalised ('7543 ab' -> '7543AB')."""
    m = _POSTCODE.search(text)
    return (m.group(1) + m.group(2)).upper() if m else None


def fold(text: str) -> str:
    """Lower-case, strip accents and unify apostrophes: 'Cliënt’s' -> "client's"."""
    text = text.lower()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_APOSTROPHES)))


def words(text: str) -> list[str]:
    """Folded word tokens; punctuation, emoji and markup characters separate words."""
    if text.isascii():
        return _TOKEN.findall(text.lower())
    out: list[str] = []
    for raw in _WORD.findall(text.lower()):
        out.extend(_fold_word(raw))
    return out


@lru_cache(maxsize=100_000)
def _fold_word(raw: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(raw)))


class Dutch:
    """Dutch word normalisation. One instance per process (see :func:`dutch`); every method is cached."""

    def __init__(self) -> None:
        import snowballstemmer

        nl_stop, en_stop = _spacy_stop_words("nl"), _spacy_stop_words("en")
        data = yamlfile.safe_load((DATA / "language.yaml").read_text(encoding="utf-8"))
        self.irregular: dict[str, str] = {fold(k): fold(v) for k, v in data["irregular"].items()}
        keep = {fold(w) for w in data["keep"]}
        self.who: dict[str, str] = {fold(w): role for role, ws in data["who"].items() for w in ws}
        self.when = frozenset(fold(w) for w in data["when"])
        self.stop_words = frozenset(
            ({fold(w) for w in nl_stop} | {fold(w) for w in en_stop} | {fold(w) for w in data["stop"]}) - keep
        )
        # spaCy's lookup lemmatizer is this one table of spacy-lookups-data: read as it is, without making
        # a spaCy pipeline for it (a second and a half at every start). The values (lemmas) double as the
        # dictionary of known Dutch words for compound splitting.
        # the lemma table and the lexicon (a third of a second) are read at their first use: a greeting
        # needs neither, and a warm-up thread reads them before a resident's first message (`load_tables`)
        self._tables_lock = threading.Lock()
        self._table: dict[str, str] | None = None
        self._lexicon: frozenset[str] | None = None
        # The classic Porter variant: the newer Kraaij-Pohlmann "dutch" strips ge- ("gemeente" -> "meen").
        self._stemmer = snowballstemmer.stemmer("dutch_porter")

    def load_tables(self) -> None:
        if self._table is None:
            with self._tables_lock:
                if self._table is None:
                    self._table, self._lexicon = _tables()

    @property
    def _lemma_table(self) -> dict[str, str]:
        if self._table is None:
            self.load_tables()
        return self._table  # type: ignore[return-value]

    @property
    def lexicon(self) -> frozenset[str]:
        if self._lexicon is None:
            self.load_tables()
        return self._lexicon  # type: ignore[return-value]

    @lexicon.setter
    def lexicon(self, value: frozenset[str]) -> None:
        self.load_tables()
        self._lexicon = value

    def lemma(self, word: str) -> str:
        if word in self.irregular:
            return self.irregular[word]
        lemma = self._lemma_table.get(word)
        return fold(lemma) if isinstance(lemma, str) else word

    def is_dutch_word(self, word: str) -> bool:
        """Known to the lemmatizer's dictionary: a real word, not to be 'corrected' as a typo."""
        return word in self.irregular or word in self.lexicon or self._lemma_table.get(word) is not None

    def key(self, word: str) -> str:
        """The comparison key of a folded word: 'schulden' and 'schuld' share one. It does not depend
        on the words a copy learned (`with_words`), so every copy shares the process-wide cache."""
        return _key(word)

    def is_stop(self, word: str) -> bool:
        return word in self.stop_words or self.irregular.get(word) in self.stop_words

    @lru_cache(maxsize=200_000)  # noqa: B019
    def compound_parts(self, word: str) -> tuple[str, ...]:
        """Known parts of a compound word (folded forms), or () when it is not one.

        'schuldhulpverlening' -> ('schuld', 'hulp', 'verlening'); a linking 's' or 'e' between
        parts is allowed ('vrijwilligerswerk' -> ('vrijwilliger', 'werk')).
        """
        if word in self.irregular:
            return ()
        split = self._split(word)
        return split if len(split) > 1 else ()

    def with_words(self, new_words: set[str]) -> Dutch:
        """A copy that also knows these words (a social map's own vocabulary) for splitting compounds; the
        process-wide normaliser stays as it is, so what the safety check and the NLU read never depends on
        which map was loaded."""
        self.load_tables()  # read once, shared by the copy
        other = copy.copy(self)
        other.add_words(new_words)
        return other

    def add_words(self, new_words: set[str]) -> None:
        """Teach the compound splitter words it did not know."""
        extra = {w for w in new_words if len(w) >= _MIN_PART and w.isalpha()} - self.lexicon
        if extra:
            self.lexicon = self.lexicon | extra
            self.compound_parts.cache_clear()

    def _known(self, part: str) -> bool:
        """A dictionary word, or a verb stem used in compounds ('wandel' in 'wandelgroep')."""
        return part not in _NOT_A_PART and (part in self.lexicon or part + "en" in self.lexicon)

    def _split(self, word: str) -> tuple[str, ...]:
        best: tuple[str, ...] = (word,)
        best_score = -1
        n = len(word)
        if n < 2 * _MIN_PART:
            return best
        for i in range(_MIN_PART, n - _MIN_PART + 1):
            left = word[:i]
            if not self._known(left):
                continue
            for link in ("", "s", "e", "en"):
                if link and not word.startswith(link, i):
                    continue
                right = word[i + len(link) :]
                if len(right) < _MIN_PART:
                    continue
                if self._known(right) or self.lemma(right) in self.lexicon:
                    parts = (left, *(self._split(right) if len(right) >= 2 * _MIN_PART else (right,)))
                else:
                    sub = self._split(right) if len(right) >= 2 * _MIN_PART else (right,)
                    if len(sub) == 1:
                        continue
                    parts = (left, *sub)
                score = min(len(p) for p in parts) * 10 - len(parts)  # balanced, few parts
                if score > best_score:
                    best, best_score = parts, score
        return best


def _lexicon(table: dict) -> frozenset[str]:
    """fold() of each lemma of at least _MIN_PART letters, lower-cased in one go (the same: no lemma holds a
    line break, and lower-casing depends on nothing beyond a word); only the few that are not ASCII go
    through fold() one by one."""
    lowered = "\n".join(v for v in table.values() if isinstance(v, str)).lower().split("\n")
    return frozenset(w for w in (x if x.isascii() else fold(x) for x in lowered) if len(w) >= _MIN_PART and w.isalpha())


def _tables() -> tuple[dict[str, str], frozenset[str]]:
    """The lemma table and the lexicon made of it. Kept in the cache directory as three blocks of lines
    in one JSON file (forms, lemmas, lexicon: a third of the time of parsing the table's own JSON and
    folding every lemma), keyed by the language fingerprint and this code; made from spacy-lookups-data
    when absent or unreadable."""
    from bot.floor.config import Settings

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(language_fingerprint().encode())
    path = Settings().cache_dir / f"dutch-tables-{digest.hexdigest()[:16]}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        forms, lemmas = saved["forms"].split("\n"), saved["lemmas"].split("\n")
        if len(forms) == len(lemmas) == saved["size"]:
            return dict(zip(forms, lemmas, strict=True)), frozenset(saved["lexicon"].split("\n"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    table = _lemma_lookup()
    lexicon = _lexicon(table)
    texts = [*table.keys(), *table.values(), *lexicon]
    if table and all(isinstance(t, str) and "\n" not in t for t in texts):  # else: not kept, made each time
        saved = {
            "size": len(table),
            "forms": "\n".join(table.keys()),
            "lemmas": "\n".join(table.values()),
            "lexicon": "\n".join(sorted(lexicon)),
        }
        _write_json(path, saved)
    return table, lexicon


def _lemma_lookup() -> dict[str, str]:
    """Dutch form -> lemma, the table spaCy's lookup lemmatizer reads (spacy-lookups-data), read as
    spacy.util.load_language_data reads it (the JSON file, or its .gz) without importing spaCy (a second)."""
    import gzip

    import spacy_lookups_data

    path = Path(spacy_lookups_data.nl["lemma_lookup"])
    if path.exists():
        return json.loads(path.read_bytes())
    return json.loads(gzip.decompress(path.with_suffix(path.suffix + ".gz").read_bytes()))


def _spacy_stop_words(lang: str) -> set[str]:
    """spaCy's stop words of a language (spacy/lang/<lang>/stop_words.py), without importing spaCy: the
    module is a plain list with no imports, run here on its own (importing it would load all of spaCy, a
    second or two at every start). tests/test_start.py checks it gives spaCy's own set."""
    from importlib.util import find_spec

    spec = find_spec("spacy")  # a top-level package: found, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("spaCy is not installed")
    source = Path(next(iter(spec.submodule_search_locations))) / "lang" / lang / "stop_words.py"
    namespace: dict = {}
    exec(compile(source.read_text(encoding="utf-8"), str(source), "exec"), namespace)
    return set(namespace["STOP_WORDS"])


# Keys of the words of the shipped data (safety rules, lexicon, articles), kept in the cache directory:
# the Snowball stemmer is pure Python, and those words cost seconds at every start otherwise.
_SHIPPED: dict[str, str] = {}
_learning = threading.local()


@lru_cache(maxsize=200_000)
def _key(word: str) -> str:
    found = _SHIPPED.get(word)
    if found is not None:
        return found
    if word.isdigit():
        return word
    nl = dutch()
    key = nl._stemmer.stemWord(nl.lemma(word))
    learnt = getattr(_learning, "keys", None)
    if learnt is not None:
        learnt[word] = key
    return key


def language_fingerprint() -> str:
    """What a word's key and split depend on: the language data and the versions of the tools that read it."""
    digest = hashlib.sha256((DATA / "language.yaml").read_bytes())
    for package in ("spacy", "spacy-lookups-data", "snowballstemmer"):
        try:
            digest.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=none".encode())
    return digest.hexdigest()[:16]


@contextmanager
def shipped_keys(name: str):
    """Inside, the keys made on this thread are of the shipped data set `name` (never a resident's text:
    they are written to the cache directory), and that data set's keys saved before are known at once."""
    from bot.floor.config import Settings

    if getattr(_learning, "keys", None) is not None:  # nested: the outer one keeps them
        yield
        return
    path = Settings().cache_dir / f"keys-{name}-{language_fingerprint()}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        _SHIPPED.update({k: v for k, v in saved.items() if isinstance(k, str) and isinstance(v, str) and v})
    except (OSError, ValueError, AttributeError):
        saved = None
    _learning.keys = {}
    try:
        yield
    finally:
        learnt, _learning.keys = _learning.keys, None
        if learnt and not (isinstance(saved, dict) and learnt.keys() <= saved.keys()):
            _write_keys(path, {**(saved if isinstance(saved, dict) else {}), **learnt})


def _write_keys(path: Path, keys: dict[str, str]) -> None:
    _write_json(path, keys)


def _write_json(path: Path, keys: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(keys, out, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: made again next time
        pass


@cache
def dutch() -> Dutch:
    """The process-wide Dutch normaliser (loading spaCy takes about a second)."""
    return Dutch()
