"""``wijkbot invite``, ``broadcast`` and ``user``: the wijk's network of people: roles by invite code or set
directly, and announcements to those who subscribed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from sqlalchemy import select

from bot.broadcasts import broadcast_status, create_broadcast
from bot.cli.context import database, print_json
from bot.floor.clock import parse_duration
from bot.floor.models import AUDIENCES, ROLES, TOPICS, User
from bot.floor.network import create_invite
from jobs.participants import UnknownParticipants, resolve
from socialekaart.providers import same_named

INVITE_ROLES = ROLES[1:]  # every role above resident, as bot.floor.network.create_invite accepts


@click.group()
def invite() -> None:
    """One-time codes that make a user a professional, coordinator or admin (/aanmelden CODE)."""


@invite.command("create")
@click.option("--role", type=click.Choice(INVITE_ROLES), required=True)
@click.option("--organization", help="The organisation the person works for.")
@click.option("--expires", default="7d", show_default=True, help="How long the code works: 90m, 12h, 7d, 2w.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def invite_create(ctx: click.Context, role: str, organization: str | None, expires: str, as_json: bool) -> None:
    """Print a one-time invite code."""
    try:
        valid_for = parse_duration(expires)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    now = datetime.now(UTC)
    with database(ctx).session() as session:
        code = create_invite(session, role, organization=organization, valid_for=valid_for, now=now)
        session.commit()
        try:
            resolve(session, [organization] if organization else [])
        except UnknownParticipants as exc:  # still a valid invite: the organisation may join the map later
            near = exc.problems[0][2]
            click.echo(
                f"note: {organization!r} is not an organisation of the social map, so meetings for an "
                "organisation will not reach this person" + (f"; did you mean: {', '.join(near)}?" if near else ""),
                err=True,
            )
        else:
            several = same_named(session, organization) if organization else []
            if len(several) > 1:
                click.echo(
                    f"note: {organization!r} names {len(several)} organisations of the social map "
                    f"({', '.join(several)}); need cards and the providers' check reach this person only "
                    "with an invite for one organisation id",
                    err=True,
                )
    if as_json:
        print_json({"code": code, "role": role, "expires_at": (now + valid_for).isoformat()})
    else:
        click.echo(code)


@click.group()
def broadcast() -> None:
    """Announcements to opted-in users on every channel, through the persistent outbox."""


@broadcast.command("create")
@click.option("--audience", type=click.Choice(AUDIENCES), required=True)
@click.option("--topic", type=click.Choice(TOPICS), default="events", show_default=True)
@click.option("--text", required=True, help="The announcement; '-' reads it from stdin.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def broadcast_create(ctx: click.Context, audience: str, topic: str, text: str, as_json: bool) -> None:
    """Queue an announcement for everyone in AUDIENCE who subscribed to TOPIC."""
    if text == "-":
        text = sys.stdin.read()
    with database(ctx).session() as session:
        created = create_broadcast(session, text, audience, topic, created_by=None, now=datetime.now(UTC))
        session.commit()
        status = broadcast_status(session, created.id)
    if as_json:
        print_json(status.as_json())
    else:
        click.echo(f"broadcast {created.id}: {status.queued} recipients queued")


@broadcast.command("status")
@click.argument("broadcast_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def broadcast_status_command(ctx: click.Context, broadcast_id: int, as_json: bool) -> None:
    """Queued, sent, failed and blocked counts of one broadcast."""
    with database(ctx).session() as session:
        status = broadcast_status(session, broadcast_id)
    if as_json:
        print_json(status.as_json())
    else:
        click.echo(
            f"broadcast {status.id}: {status.sent} sent, {status.queued} queued, {status.failed} failed, "
            f"{status.blocked} blocked"
        )


@click.group()
def user() -> None:
    """Users and roles."""


@user.command("role")
@click.argument("channel")
@click.argument("user_id")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
def user_role(ctx: click.Context, channel: str, user_id: str, role: str) -> None:
    """Set the role of the user USER_ID on CHANNEL (e.g. console, telegram, matrix)."""
    with database(ctx).session() as session:
        found = session.scalar(select(User).where(User.channel == channel, User.channel_user_id == user_id))
        now = datetime.now(UTC)
        if found is None:
            found = User(channel=channel, channel_user_id=user_id, created_at=now, last_seen_at=now)
            session.add(found)
        found.role = role
        session.commit()
    click.echo(f"{channel}:{user_id} is now {role}")
