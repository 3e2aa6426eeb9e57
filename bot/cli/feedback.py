"""``wijkbot feedback``: what residents answered to "Heeft u hier iets aan?", per kind of need.

Its own module, not conversation's: a report on the database needs neither the language models nor the
scheduler that chat and triage load."""

from __future__ import annotations

import click

from bot.cli.context import database, print_json
from bot.feedback import report


@click.command("feedback")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def feedback_command(ctx: click.Context, as_json: bool) -> None:
    """Anonymous answers to the follow-up question per kind of need, most "no" first."""
    with database(ctx).session() as session:
        rows = report(session)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        click.echo(
            f"{r['need']:<24} {r['helped']:>5} helped {r['not_helped']:>5} not helped {r['not_fitting']:>5} "
            f"not fitting   ({r['share_no']:.0%} no)"
        )
