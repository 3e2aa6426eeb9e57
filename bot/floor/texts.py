"""User-facing sentences as data, so wording can be reviewed (B1 Dutch) without reading Python.

``bot/floor/data/texts.nl.yaml`` holds every sentence the chat, the reminders and the announcements
show, in sections (``agenda:``, ``reminders:``, ...); ``texts.en.yaml`` the English fallback for the
keys that have one. A key is ``section.name``; ``{name}`` is a placeholder filled by the code.
Lists (day and month names) are read with ``words``.

Checked at load (an English text must translate a Dutch one, with the same placeholders) and by
tests/test_texts.py (every key the code uses exists, every key in the files is used, and the values a
call passes are exactly the text's placeholders).
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("data")
LANGUAGES = ("nl", "en")
_FORMATTER = string.Formatter()


class TextError(KeyError):
    """A missing key or a placeholder the caller did not fill: a defect in the code or the files."""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name}


def _flatten(data: dict, prefix: str = "") -> dict[str, str | list[str]]:
    flat: dict[str, str | list[str]] = {}
    for key, value in (data or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            flat[name] = value
        else:
            raise ValueError(f"{name}: a text is a string or a list of strings")
    return flat


class Catalogue:
    def __init__(self, texts: dict[str, dict[str, str | list[str]]]):
        self.texts = texts
        problems = self.problems()
        if problems:
            raise ValueError("texts: " + "; ".join(problems))

    @classmethod
    def load(cls, directory: Path = DATA) -> Catalogue:
        texts = {}
        for lang in LANGUAGES:
            path = directory / f"texts.{lang}.yaml"
            texts[lang] = _flatten(yaml.safe_load(path.read_text(encoding="utf-8"))) if path.exists() else {}
        return cls(texts)

    def problems(self) -> list[str]:
        """Every English text translates a Dutch one of the same kind with the same placeholders."""
        dutch = self.texts["nl"]
        found = []
        for key, text in self.texts.get("en", {}).items():
            if key not in dutch:
                found.append(f"{key} (en) has no Dutch text")
            elif type(text) is not type(dutch[key]):
                found.append(f"{key} (en) is not of the same kind as the Dutch text")
            elif isinstance(text, str) and placeholders(text) != placeholders(dutch[key]):
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
        return text.format(**values) if wanted else text

    def words(self, key: str, lang: str = "nl") -> list[str]:
        found = self.raw(key, lang)
        if not isinstance(found, list):
            raise TextError(f"{key!r} is a text: use say()")
        return found


@cache
def catalogue() -> Catalogue:
    return Catalogue.load()


def say(key: str, lang: str = "nl", /, **values: object) -> str:
    """The sentence `key` in `lang` (Dutch where there is no translation), its placeholders filled."""
    return catalogue().say(key, lang, **values)


def words(key: str, lang: str = "nl") -> list[str]:
    """A list of words, e.g. ``calendar.days`` (maandag ... zondag)."""
    return catalogue().words(key, lang)


