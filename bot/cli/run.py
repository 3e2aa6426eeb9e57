"""``wijkbot run``: every configured channel and the outbox senders in one process."""

from __future__ import annotations

import asyncio
import sys

import click

from bot import runner
from bot.floor.config import Settings


@click.command("run")
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Run every configured channel (Telegram, Matrix) and the outbox senders until SIGTERM/SIGINT."""
    sys.exit(asyncio.run(runner.run(ctx.find_object(Settings))))
