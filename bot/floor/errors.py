"""Errors a user can cause. They are shown as one clear line; tracebacks are for bugs."""

from __future__ import annotations


class WijkbotError(Exception):
    """Base class for every error caused by input or configuration, not by a bug."""


class ConfigError(WijkbotError):
    """The configuration cannot work (bad URL, unwritable data directory, ...)."""


class ImportProblem(WijkbotError):
    """An import file was rejected; nothing was changed.

    ``problems`` holds one human-readable line per problem, each naming the record
    index or CSV line and the field.
    """

    MAX_LINE = 300  # a problem quotes the file; a huge cell or line must not make the message huge

    def __init__(self, problems: list[str]):
        self.problems = [p if len(p) <= self.MAX_LINE else p[: self.MAX_LINE - 1] + "…" for p in problems]
        super().__init__(f"{len(problems)} problem(s) in the import file; nothing was changed")


def shown(value: object, limit: int = 60) -> str:
    """A value from an input file, quoted and clipped, for a problem line."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
