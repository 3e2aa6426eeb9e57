"""``wijkbot api``: tokens for the Open Referral API (``wijkbot serve``): with one, a professional's system
sees contact persons. Imports no web framework."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bot.api.tokens import create_token, list_tokens, revoke_token
from bot.cli.context import database, print_json


@click.group()
def api() -> None:
    """Tokens for the Open Referral API (wijkbot serve): who may see contact persons."""


@api.group()
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses the token, e.g. 'gemeente website'.")
@click.pass_context
def token_create(ctx: click.Context, name: str) -> None:
    """Print a new token, once: only a hash of it is kept."""
    with database(ctx).session() as session:
        secret, info = create_token(session, name, now=datetime.now(UTC))
        session.commit()
    click.echo(secret)
    click.echo(
        f"token {info.id} ({info.name}): send it as 'Authorization: Bearer <token>'; it is not shown again", err=True
    )


@token.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """List tokens (never the tokens themselves): id, name, created, revoked."""
    with database(ctx).session() as session:
        tokens = list_tokens(session)
    if as_json:
        print_json([t.as_json() for t in tokens])
        return
    if not tokens:
        click.echo("no tokens")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC" if t.revoked_at else "working"
        click.echo(f"{t.id:>4}  {t.name}  created {t.created_at:%Y-%m-%d %H:%M} UTC  {state}")


@token.command("revoke")
@click.argument("which")
@click.pass_context
def token_revoke(ctx: click.Context, which: str) -> None:
    """Revoke the working token named WHICH, or the token with id WHICH; it stops working at once."""
    with database(ctx).session() as session:
        info = revoke_token(session, which, now=datetime.now(UTC))
        session.commit()
    click.echo(f"revoked token {info.id} ({info.name})")
