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

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the import file; nothing was changed")
