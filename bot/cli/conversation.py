"""``wijkbot chat`` and ``triage``: a conversation in the console, and one message classified as the chat
would see it."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from bot.cli.context import database, print_json
from bot.console import run_console
from bot.core import Wijkbot
from bot.floor.clock import LOCAL_TZ, SystemClock
from bot.floor.config import Settings
from bot.floor.errors import WijkbotError
from intents.triage import triage_message
from socialekaart.search import MapSearch


@click.command()
@click.option(
    "--user",
    "user",
    help="Chat as this console user (default: your login name), e.g. one given a "
    "role with `wijkbot user role console NAME ...`.",
)
@click.pass_context
def chat(ctx: click.Context, user: str | None) -> None:
    """Chat with Wijkbot in the console (the embedded default). Numbers answer the buttons; reminders
    and announcements for this user are shown between turns."""
    bot = Wijkbot(database(ctx), settings=ctx.find_object(Settings))

    def maintenance() -> None:  # retention at start-up: the first thing after the greeting (0.15 s)
        from jobs.scheduler import ReminderScheduler

        ReminderScheduler(bot.database, clock=bot.clock, settings=bot.settings).maintenance()

    bot.warm_up.add("maintenance", maintenance, first=True)
    run_console(bot, user=user)


def _sent_at(at: str | None) -> datetime:
    """--at as an aware time (Europe/Amsterdam when no offset is given); now without it."""
    try:
        when = datetime.fromisoformat(at) if at else SystemClock().now()
    except ValueError:
        raise WijkbotError(f"--at {at!r} is not a time such as 2026-12-05T22:30") from None
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)


@click.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always JSON lines with TEXT '-').")
@click.option(
    "--at",
    "at",
    default=None,
    metavar="TIME",
    help="When the message was sent, e.g. 2026-12-05T22:30 (Europe/Amsterdam); default: now. "
    "Outside GP office hours urgent problems go to the huisartsenpost.",
)
@click.pass_context
def triage(ctx: click.Context, text: str, as_json: bool, at: str | None) -> None:
    """Classify a message: stream, escalation or safety question, intent, entities and the first
    clarifying question.

    TEXT '-' reads one message per line from stdin and writes one JSON object per line, in order."""
    when = _sent_at(at)
    index = MapSearch(database(ctx)).index()
    if text == "-":
        for line in sys.stdin:
            print_json(triage_message(line.rstrip("\r\n"), index, now=when))
            sys.stdout.flush()
        return
    result = triage_message(text, index, now=when)
    if as_json:
        print_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:<14}{value}")
