"""``wijkbot kaart freshness`` and ``wijkbot kaart provider``: how current the providers keep their listings,
and whether an organisation's changes need a coordinator's approval (issue 14). Registered on the kaart group."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bot.cli.context import database, print_json
from bot.floor.config import Settings
from bot.floor.errors import WijkbotError
from socialekaart.listing import direct_changes, find_organization, freshness, set_direct_changes
from socialekaart.providers import members, membership

COLUMNS = (
    ("services", "services"),
    ("confirmed", "confirmed"),
    ("changes_pending", "pending"),
    ("checks_asked", "asked"),
    ("checks_unanswered", "unanswered"),
    ("reports_open", "reports"),
    ("members", "members"),
)


@click.command("freshness")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per organisation, in a list.")
@click.pass_context
def kaart_freshness(ctx: click.Context, as_json: bool) -> None:
    """Per organisation: active services, confirmed by the provider within freshness_months (6), changes
    pending, checks asked and unanswered, open reports of residents, linked professionals. Least fresh first."""
    settings = ctx.find_object(Settings)
    with database(ctx).session() as session:
        people = {org_id: len(users) for org_id, users in membership(session).items()}
        rows = freshness(session, datetime.now(UTC), settings.freshness_months, people)
    if as_json:
        print_json({"months": settings.freshness_months, "organizations": rows})
        return
    click.echo(f"confirmed: by the provider within {settings.freshness_months} months")
    click.echo(f"{'organization':<40}" + "".join(f"{title:>11}" for _, title in COLUMNS) + "  changes")
    for row in rows:
        click.echo(
            f"{row['organization'][:39]:<40}" + "".join(f"{row[key]:>11}" for key, _ in COLUMNS) + f"  {row['changes']}"
        )


@click.command("provider")
@click.argument("organization")
@click.option(
    "--direct/--approval",
    default=None,
    help="Changes of this organisation go straight onto the map (--direct) or wait for a coordinator "
    "(--approval, the default). Without either: show the setting.",
)
@click.pass_context
def kaart_provider(ctx: click.Context, organization: str, direct: bool | None) -> None:
    """Show or set whether an organisation's changes (typed in chat with /aanbod) need a coordinator's approval."""
    with database(ctx).session() as session:
        org = find_organization(session, organization)
        if org is None:
            raise WijkbotError(f"no organisation {organization!r} on the map (give its id or name)")
        if direct is not None:
            set_direct_changes(session, org.id, direct)
            session.commit()
        mode = "direct" if direct_changes(session, org.id) else "approval"
        click.echo(f"{org.name} ({org.id}): changes {mode}, {len(members(session, org))} linked professionals")
