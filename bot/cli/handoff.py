"""``wijkbot handoff``: the warm handoffs for operators, without anything personal (jobs/handoffs.py).

`list` shows each handoff's status, service, organisation, kind of need and times (never a name, phone
number or need line); `counts` the anonymous counts per service and kind of need."""

from __future__ import annotations

import click

from bot.cli.context import database, print_json
from jobs.handoffs import STATUSES, counts, listing


@click.group("handoff")
def handoff() -> None:
    """Warm handoffs: need cards sent to organisations, and what came of them."""


@handoff.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only handoffs with this status.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def handoff_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Handoffs, newest first: status, service, organisation, kind of need and times."""
    with database(ctx).session() as session:
        rows = listing(session, status, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no handoffs" + (f" with status {status}" if status else ""))
    for r in rows:
        outcome = f" ({r['outcome']})" if r["outcome"] else ""
        click.echo(
            f"#{r['id']:<5} {r['status']:<10}{outcome:<13} {r['created_at'][:16]}  {r['need']:<20} "
            f"{r['service']} ({r['organization']})"
        )


@handoff.command("counts")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def handoff_counts(ctx: click.Context, as_json: bool) -> None:
    """Anonymous counts per service and kind of need: sent, claimed, declined, unanswered, helped, busy, not helped."""
    with database(ctx).session() as session:
        rows = counts(session)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['need']:<20} {r['service_id'][:36]:<36} sent {r['sent']} claimed {r['claimed']} "
            f"declined {r['declined']} unanswered {r['unanswered']} helped {r['helped']} busy {r['busy']} "
            f"not helped {r['not_helped']}"
        )
