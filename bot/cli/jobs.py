"""``wijkbot jobs``: the scheduler that queues meeting and deadline reminders into the outbox."""

from __future__ import annotations

import asyncio
import signal

import click
from sqlalchemy import select

from bot.cli.context import database, print_json
from bot.floor.config import Settings
from bot.floor.models import OutboxMessage
from jobs.scheduler import ReminderScheduler


@click.group()
def jobs() -> None:
    """The scheduler: meeting and deadline reminders into the outbox."""


def _run_once(scheduler: ReminderScheduler) -> None:
    """Record what is due now, follow up safety questions and apply retention, saying what was done."""
    queued, dropped = scheduler.run_due()
    click.echo(f"{queued} reminders queued, {dropped} dropped (meeting already begun)")
    followed = scheduler.follow_up_safety()
    if followed:
        click.echo(f"{followed} unanswered safety questions followed up")
    handed = scheduler.handoffs()
    if handed["unanswered"] or handed["followups"]:
        click.echo(f"handoffs: {handed['unanswered']} unanswered to the coordinators, {handed['followups']} follow-ups")
    asked = scheduler.ask_providers()
    if asked:
        click.echo(f"{asked} provider check messages queued")
    kept = scheduler.maintenance()
    click.echo("retention: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in kept.items()))


async def _run_until_stopped(scheduler: ReminderScheduler) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    click.echo("scheduler running; stop with Ctrl+C")
    await stop.wait()
    scheduler.shutdown()


@jobs.command("run")
@click.option("--once", is_flag=True, help="Record what is due now (catching up on downtime) and exit.")
@click.pass_context
def jobs_run(ctx, once: bool):
    """Run the reminder scheduler alone (`wijkbot run` also runs it). Delivery is by `wijkbot run`."""
    scheduler = ReminderScheduler(database(ctx), settings=ctx.find_object(Settings))
    if once:
        _run_once(scheduler)
    else:
        asyncio.run(_run_until_stopped(scheduler))


@jobs.command("outbox")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_outbox(ctx, as_json: bool):
    """Reminders in the outbox (queued, sent, dropped), newest first."""
    with database(ctx).session() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like("reminder:%"))
            .order_by(OutboxMessage.id.desc())
            .limit(200)
        ).all()
        data = [
            {"key": r.idempotency_key, "status": r.status, "channel": r.channel, "chat_id": r.chat_id, "text": r.text}
            for r in rows
        ]
    if as_json:
        print_json(data)
    else:
        for row in data:
            click.echo(f"{row['status']:<8} {row['channel']}:{row['chat_id']}  {row['text']}")
