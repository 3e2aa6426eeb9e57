"""``wijkbot agenda``: meeting series (MDO, netwerkbijeenkomst) and deadlines, in local time, and the agenda
as an .ics file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import select

from bot.cli.context import database, print_json, read_input, write_output
from bot.floor.clock import LOCAL_TZ, parse_duration
from bot.floor.errors import WijkbotError
from bot.floor.models import AUDIENCES
from jobs.agenda import exceptions_by_series, occurrence_on, series_occurrences, upcoming, zone
from jobs.calendar import export_calendar, import_calendar
from jobs.changes import (
    add_deadline,
    add_series,
    cancel_deadline,
    cancel_occurrence,
    move_deadline,
    move_occurrence,
    series_or_error,
    set_participants,
)
from jobs.changes import deadline_done as mark_done
from jobs.models import MeetingSeries
from jobs.participants import describe, participants_of, reach, split_entries
from jobs.rsvp import tally


@click.group()
def agenda() -> None:
    """Meeting series (MDO, netwerkbijeenkomst) and deadlines, in local time."""


@agenda.group()
def series() -> None:
    """Recurring meetings."""


def _leads(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _day(text: str, *, example: str, param_hint: str) -> date:
    """An option's YYYY-MM-DD, or click's usage error naming the option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date such as {example}", param_hint=param_hint) from None


def _participant_entries(values: tuple[str, ...]) -> list[str]:
    return [entry for value in values for entry in split_entries(value)]


def _report_reach(session, participants) -> None:
    """Tell the coordinator who will hear nothing: not subscribed, or an organisation without users."""
    if not participants:
        return
    found = reach(session, participants)
    click.echo(f"participants reach {found.subscribed} subscribed user(s)", err=True)
    if found.not_subscribed:
        click.echo(
            f"note: {found.not_subscribed} participant(s) get no reminders until they send /abonneren meetings",
            err=True,
        )
    for name in found.empty_organizations:
        click.echo(
            f"note: nobody of {name} uses Wijkbot yet (invite them: wijkbot invite create "
            f'--role professional --organization "{name}")',
            err=True,
        )


def _told(told: int) -> str:
    return f"; {told} people are told" if told else ""


@series.command("add")
@click.option("--title", required=True)
@click.option("--rrule", required=True, help='RFC 5545, e.g. "FREQ=MONTHLY;BYDAY=2TU".')
@click.option("--start", "start_local", required=True, help="First occurrence, local time: 2027-01-12T14:00.")
@click.option("--duration", default="60m", show_default=True, help="90m, 2h ...")
@click.option("--location")
@click.option("--audience", type=click.Choice(AUDIENCES), default="professionals", show_default=True)
@click.option("--remind", default="", help="Lead times, e.g. 7d,1d,2h.")
@click.option("--timezone", "tz", default="Europe/Amsterdam", show_default=True, help="IANA time zone.")
@click.option("--skip-holidays", is_flag=True, help="Skip occurrences on Dutch public holidays.")
@click.option(
    "--participant",
    "participants",
    multiple=True,
    help="A user (telegram:ID, matrix:@user:server, console:NAME) or an organisation of the social map; "
    "repeat or separate with ';'. Default: the whole audience.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_add(
    ctx, title, rrule, start_local, duration, location, audience, remind, tz, skip_holidays, participants, as_json
):
    """Add a meeting series."""
    try:
        minutes = int(parse_duration(duration).total_seconds() // 60)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None
    with database(ctx).session() as session:
        item = add_series(
            session,
            title=title,
            rrule=rrule,
            start_local=start_local,
            duration_minutes=minutes,
            location=location,
            audience=audience,
            remind=_leads(remind),
            timezone=tz,
            skip_holidays=skip_holidays,
            participants=_participant_entries(participants),
            now=datetime.now(UTC),
        )
        session.commit()
        _report_reach(session, participants_of(session, item.id))
        print_json({"id": item.id, "title": item.title}) if as_json else click.echo(f"series {item.id}: {item.title}")


@series.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_list(ctx, as_json: bool):
    """Every meeting series."""
    with database(ctx).session() as session:
        rows = [
            {
                "id": s.id,
                "title": s.title,
                "rrule": s.rrule,
                "start": s.start_local,
                "timezone": s.timezone,
                "audience": s.audience,
                "remind": s.remind,
            }
            for s in session.scalars(select(MeetingSeries).order_by(MeetingSeries.id))
        ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no series")
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['title']}  ({row['rrule']} from {row['start']}, {row['audience']})")


@series.command("show")
@click.argument("series_id", type=int)
@click.option(
    "--days", type=click.IntRange(1, 3660), default=90, show_default=True, help="How far ahead to list occurrences."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_show(ctx, series_id: int, days: int, as_json: bool):
    """One series: participants and the coming occurrences with their RSVP tallies."""
    now = datetime.now(UTC)
    with database(ctx).session() as session:
        item = series_or_error(session, series_id)
        occurrences = series_occurrences(
            item, exceptions_by_series(session, [item.id]).get(item.id, []), now, now + timedelta(days=days)
        )
        data = {
            "id": item.id,
            "title": item.title,
            "rrule": item.rrule,
            "start": item.start_local,
            "timezone": item.timezone,
            "location": item.location,
            "audience": item.audience,
            "remind": item.remind,
            "participants": [describe(session, p) for p in participants_of(session, item.id)],
            "occurrences": [{**o.as_json(), "rsvp": tally(session, o).as_json()} for o in occurrences],
        }
    if as_json:
        print_json(data)
        return
    click.echo(f"series {data['id']}: {data['title']} ({data['rrule']}, {data['audience']})")
    click.echo("participants: " + ("; ".join(data["participants"]) or f"everyone in {data['audience']}"))
    for o in data["occurrences"]:
        r = o["rsvp"]
        click.echo(
            f"  {o['start']}{' (moved)' if o['moved'] else ''}  yes {r['yes']}, no {r['no']}, "
            f"maybe {r['maybe']} of {r['asked']} reminded"
        )


@series.command("participants")
@click.argument("series_id", type=int)
@click.option("--add", "add", multiple=True, help="A user or organisation to add (repeat, or separate with ';').")
@click.option("--remove", "remove", multiple=True, help="A user or organisation to remove.")
@click.pass_context
def series_participants(ctx, series_id: int, add: tuple[str, ...], remove: tuple[str, ...]):
    """Show, add or remove the participants of a series."""
    with database(ctx).session() as session:
        item = series_or_error(session, series_id)
        if add or remove:
            set_participants(session, item, _participant_entries(add), _participant_entries(remove))
            session.commit()
        current = participants_of(session, item.id)
        for p in current:
            click.echo(describe(session, p))
        if not current:
            click.echo(f"no participants: the series is for everyone in {item.audience}")
        _report_reach(session, current)


def _occurrence(session, series_id: int, day: str):
    item = series_or_error(session, series_id)
    try:
        return item, occurrence_on(session, item, date.fromisoformat(day))
    except ValueError:
        raise WijkbotError(f"{day!r} is not a date such as 2027-03-09") from None


@series.command("cancel")
@click.argument("series_id", type=int)
@click.option("--date", "day", required=True, help="The occurrence's local date, YYYY-MM-DD.")
@click.pass_context
def series_cancel(ctx, series_id: int, day: str):
    """Cancel one occurrence; whoever had a reminder for it is told."""
    with database(ctx).session() as session:
        item, occurrence = _occurrence(session, series_id, day)
        told = cancel_occurrence(session, item, occurrence, datetime.now(UTC))
        session.commit()
    click.echo(f"cancelled {occurrence.start.isoformat()}{_told(told)}")


@series.command("move")
@click.argument("series_id", type=int)
@click.option("--date", "day", required=True, help="The occurrence's local date, YYYY-MM-DD.")
@click.option("--to", "to_local", required=True, help="New local start, e.g. 2027-03-10T15:00.")
@click.pass_context
def series_move(ctx, series_id: int, day: str, to_local: str):
    """Move one occurrence to another local date and time; whoever had a reminder for it is told."""
    with database(ctx).session() as session:
        item, occurrence = _occurrence(session, series_id, day)
        try:
            new = datetime.fromisoformat(to_local)
        except ValueError:
            raise WijkbotError(f"--to {to_local!r} is not a local date and time such as 2027-03-10T15:00") from None
        if new.tzinfo is None:
            new = new.replace(tzinfo=zone(item.timezone))
        moved, told = move_occurrence(session, item, occurrence, new, datetime.now(UTC))
        session.commit()
    click.echo(f"moved {occurrence.start.isoformat()} to {moved.start.isoformat()}{_told(told)}")


@agenda.group()
def deadline() -> None:
    """Deadlines with reminders (e.g. the wijkplan)."""


@deadline.command("add")
@click.option("--title", required=True)
@click.option("--due", required=True, help="YYYY-MM-DD")
@click.option("--remind", default="", help="Lead times, e.g. 30d,14d,7d,1d.")
@click.option("--owners", help="Who is responsible (names or organisations).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deadline_add(ctx, title, due, remind, owners, as_json):
    """Add a deadline."""
    due_date = _day(due, example="2027-09-15", param_hint="--due")
    with database(ctx).session() as session:
        item = add_deadline(
            session, title=title, due=due_date, remind=_leads(remind), owners=owners, now=datetime.now(UTC)
        )
        session.commit()
        print_json({"id": item.id, "title": item.title}) if as_json else click.echo(f"deadline {item.id}: {item.title}")


@deadline.command("done")
@click.argument("deadline_id", type=int)
@click.pass_context
def deadline_done(ctx, deadline_id: int):
    """Mark a deadline done: no further reminders."""
    with database(ctx).session() as session:
        mark_done(session, deadline_id, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} is done")


@deadline.command("move")
@click.argument("deadline_id", type=int)
@click.option("--due", required=True, help="The new date, YYYY-MM-DD.")
@click.pass_context
def deadline_move(ctx, deadline_id: int, due: str):
    """Give a deadline another date; its reminders start again; whoever had one is told."""
    due_date = _day(due, example="2027-10-01", param_hint="--due")
    with database(ctx).session() as session:
        item, told = move_deadline(session, deadline_id, due_date, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} is now on {item.due.isoformat()}{_told(told)}")


@deadline.command("cancel")
@click.argument("deadline_id", type=int)
@click.pass_context
def deadline_cancel(ctx, deadline_id: int):
    """Remove a deadline that no longer exists; whoever had a reminder for it is told."""
    with database(ctx).session() as session:
        title, told = cancel_deadline(session, deadline_id, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} ({title}) is cancelled{_told(told)}")


@agenda.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def agenda_export(ctx, path: Path):
    """Write the agenda as an RFC 5545 .ics file (RRULE, EXDATE, VTIMEZONE)."""
    with database(ctx).session() as session:
        data = export_calendar(session)
    write_output(path, data, done=f"exported the agenda to {path}")


@agenda.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def agenda_import(ctx, path: Path):
    """Add the events of an .ics file, all or nothing."""
    data = read_input(path)
    with database(ctx).session() as session:
        try:
            series_count, deadline_count = import_calendar(session, data, datetime.now(UTC))
            session.commit()
        except BaseException:
            session.rollback()
            raise
    click.echo(f"imported {series_count} series and {deadline_count} deadlines")


@agenda.command("upcoming")
@click.option("--from", "from_day", help="YYYY-MM-DD (local); default today.")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def agenda_upcoming(ctx, from_day: str | None, days: int, as_json: bool):
    """Meetings and deadlines coming up, in local time."""
    day = _day(from_day, example="2027-04-01", param_hint="--from") if from_day else datetime.now(LOCAL_TZ).date()
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    with database(ctx).session() as session:
        items = upcoming(session, start, days)
        data = [
            {**i.as_json(), **({"rsvp": tally(session, i).as_json()} if i.kind == "meeting" else {})} for i in items
        ]
    if as_json:
        print_json(data)
        return
    if not items:
        click.echo("nothing planned")
    for item in items:
        when = (
            item.start.strftime("%a %d-%m-%Y %H:%M")
            if item.kind == "meeting"
            else item.start.strftime("%a %d-%m-%Y (deadline)")
        )
        click.echo(f"{when}  {item.title}" + (f"  @ {item.location}" if item.location else ""))
