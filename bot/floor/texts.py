"""User-facing sentences as data, so wording can be reviewed (B1 Dutch) without reading Python.

The files ``bot/floor/data/*.nl.yaml`` hold every sentence the chat, the reminders and the
announcements show, in sections (``agenda:``, ``reminders:``, ...), one file per subject; the
``*.en.yaml`` files the English fallback for the keys that have one. A key is ``section.name``;
``{name}`` is a placeholder filled by the code. Lists (day and month names) are read with ``words``;
the names of a fixed set of choices (an audience, an RSVP answer) with ``labels``.

Checked when first used (every text a valid template with named placeholders; an English text must
translate a Dutch one, with the same placeholders): a broken file is a ``CatalogueError``, which
``wijkbot run`` and ``wijkbot chat`` raise at start. tests/test_texts.py checks the code against the
files (every key the code uses exists, every key in the files is used, and the values a call passes
are exactly the text's placeholders).
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from bot.floor import yamlfile
from bot.floor.errors import ConfigError

DATA = Path(__file__).with_name("data")
LANGUAGES = ("nl", "en")
_FORMATTER = string.Formatter()


class TextError(KeyError):
    """A missing key or a placeholder the caller did not fill: a defect in the code or the files."""


class CatalogueError(ConfigError):
    """texts.*.yaml cannot be used: unreadable, or a text that is no valid template or translation."""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name}


def _template_problem(text: str) -> str | None:
    """Why `text` is no template `say` can fill ({name} placeholders only), or None."""
    try:
        fields = [name for _, name, _, _ in _FORMATTER.parse(text) if name is not None]
    except ValueError as exc:  # a lone { or }
        return str(exc)
    if any(not name.isidentifier() for name in fields):
        return "a placeholder is {name}: no {}, {0} or {a.b}"
    return None


def _flatten(data: dict, prefix: str = "") -> dict[str, str | list[str]]:
    flat: dict[str, str | list[str]] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}{key}"
        if not isinstance(key, str):  # yes, no, on, off unquoted are YAML booleans
            raise CatalogueError(f"texts: {name}: a key is a word (quote yes, no, on and off)")
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            flat[name] = value
        else:
            raise CatalogueError(f"texts: {name}: a text is a string or a list of strings")
    return flat


class Catalogue:
    def __init__(self, texts: dict[str, dict[str, str | list[str]]]):
        self.texts = texts
        problems = self.problems()
        if problems:
            raise CatalogueError("texts: " + "; ".join(problems))

    @classmethod
    def load(cls, directory: Path | None = None) -> Catalogue:
        texts: dict[str, dict[str, str | list[str]]] = {}
        for lang in LANGUAGES:
            texts[lang] = {}
            for path in sorted((directory or DATA).glob(f"*.{lang}.yaml")):
                try:
                    data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                    raise CatalogueError(f"texts: {path.name} cannot be read: {str(exc)[:200]}") from None
                if data is not None and not isinstance(data, dict):
                    raise CatalogueError(f"texts: {path.name} is not a mapping of sections")
                found = _flatten(data or {})
                twice = sorted(set(found) & set(texts[lang]))
                if twice:
                    raise CatalogueError(f"texts: {path.name}: {', '.join(twice)} defined twice")
                texts[lang].update(found)
        return cls(texts)

    def problems(self) -> list[str]:
        """Every text is a template with named placeholders; every English text translates a Dutch one
        of the same kind with the same placeholders."""
        dutch = self.texts["nl"]
        found = [
            f"{key} ({lang}): {problem}"
            for lang, texts in self.texts.items()
            for key, text in texts.items()
            if isinstance(text, str) and (problem := _template_problem(text))
        ]
        if found:
            return found
        for key, text in self.texts.get("en", {}).items():
            if key not in dutch:
                found.append(f"{key} (en) has no Dutch text")
            elif type(text) is not type(dutch[key]):
                found.append(f"{key} (en) is not of the same kind as the Dutch text")
            elif isinstance(text, str) and placeholders(text) != placeholders(str(dutch[key])):
                found.append(f"{key} (en): placeholders differ from the Dutch text")
        return found

    def keys(self) -> set[str]:
        return set(self.texts["nl"])

    def raw(self, key: str, lang: str = "nl") -> str | list[str]:
        local = self.texts.get(lang, {})
        if key in local:
            return local[key]
        if key in self.texts["nl"]:
            return self.texts["nl"][key]
        raise TextError(f"no text {key!r}")

    def say(self, key: str, lang: str = "nl", /, **values: object) -> str:
        text = self.raw(key, lang)
        if not isinstance(text, str):
            raise TextError(f"{key!r} is a list: use words()")
        wanted = placeholders(text)
        if wanted != set(values):
            raise TextError(f"{key!r} takes {sorted(wanted)}, got {sorted(values)}")
        return text.format(**values)

    def words(self, key: str, lang: str = "nl") -> list[str]:
        found = self.raw(key, lang)
        if not isinstance(found, list):
            raise TextError(f"{key!r} is a text: use say()")
        return list(found)


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded and checked on first use."""
    return Catalogue.load()


def say(key: str, lang: str = "nl", /, **values: object) -> str:
    """The sentence `key` in `lang` (Dutch where there is no translation), its placeholders filled."""
    return catalogue().say(key, lang, **values)


def words(key: str, lang: str = "nl") -> list[str]:
    """A list of words, e.g. ``calendar.days`` (maandag ... zondag)."""
    return catalogue().words(key, lang)


def long_date(day: date, lang: str = "nl") -> str:
    """3 december 2026 (3 December 2026 in English)."""
    return f"{day.day} {words('calendar.months', lang)[day.month - 1]} {day.year}"


class Labels(Mapping[str, str]):
    """Choice -> its name in Dutch, read from the catalogue when it is looked up (not at import)."""

    def __init__(self, keys: dict[str, str]):
        self._keys = keys

    def __getitem__(self, choice: str) -> str:
        return say(self._keys[choice])

    def __contains__(self, choice: object) -> bool:
        return choice in self._keys

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def labels(**keys: str) -> Labels:
    """The names of a fixed set of choices, e.g. ``labels(yes="rsvp.yes", no="rsvp.no")``."""
    return Labels(keys)
