"""The click groups of ``wijkbot``: errors a user can cause as one line, and a top group whose command groups
are imported only when they run."""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

import click

from bot.floor.errors import ImportProblem, WijkbotError


class OneLineErrors(click.Group):
    """Shows errors a user can cause as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ImportProblem as exc:
            for line in exc.problems:
                click.echo(line, err=True)
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except WijkbotError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


class Lazy(NamedTuple):
    """A command known by name before it is imported: where it is, and the summary ``--help`` lists."""

    target: str  # "module:attribute"
    summary: str  # the first sentence of the command's own help (tests/test_cli.py keeps them equal)


class LazyGroup(OneLineErrors):
    """A group that imports a command's module only when that command is invoked (or its help asked for).

    ``wijkbot --help`` lists the commands from their summaries, so it imports none of them: no spaCy,
    SQLAlchemy models or APScheduler. A command module may then import what it needs at its top.
    """

    def __init__(self, *args, lazy: dict[str, Lazy], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(self._load(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, name: str) -> click.Command:
        module, _, attribute = self.lazy[name].target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[name].target} is not a click command")
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:  # click suggests from the loaded commands; suggest from every name
            raise click.NoSuchCommand(exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's listing, but from the summaries of the commands not imported yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:  # a stand-in command shortens the summary exactly as click shortens a help text
                rows.append((name, click.Command(name, help=self.lazy[name].summary).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
