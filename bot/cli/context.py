"""What the commands of every group share: the database of one invocation, JSON output, and reading or
writing a PATH that may be '-' (stdin or stdout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.app import open_database
from bot.floor.config import Settings
from bot.floor.db import Database
from bot.floor.errors import WijkbotError


def database(ctx: click.Context) -> Database:
    """The invocation's database, opened (and migrated) once and disposed of when the command ends."""
    if "database" not in ctx.meta:
        ctx.meta["database"] = open_database(ctx.find_object(Settings))
        ctx.call_on_close(ctx.meta["database"].dispose)
    return ctx.meta["database"]


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def read_input(path: Path) -> bytes:
    """The bytes of PATH, or of stdin when PATH is '-'."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise WijkbotError(f"cannot read {path}: {exc.strerror}") from None


def write_output(path: Path, data: bytes, *, done: str) -> None:
    """Write DATA to PATH whole or not at all, then say DONE on stderr; to stdout, saying nothing, for '-'."""
    if str(path) == "-":
        click.echo(data, nl=False)
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise WijkbotError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(done, err=True)
