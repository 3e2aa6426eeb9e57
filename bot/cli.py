"""The ``wijkbot`` command."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from bot.floor.config import Settings
from bot.floor.errors import ImportProblem, WijkbotError


def _json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


class _Group(click.Group):
    """Shows errors a user can cause as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ImportProblem as exc:
            for line in exc.problems:
                click.echo(line, err=True)
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except WijkbotError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="wijkbot")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Wijkbot: the chat-first front door of a wijk's care, health and wellbeing services."""
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = settings


def _database(ctx: click.Context):
    from bot.app import open_database

    if "database" not in ctx.meta:
        ctx.meta["database"] = open_database(ctx.find_object(Settings))
        ctx.call_on_close(ctx.meta["database"].dispose)
    return ctx.meta["database"]


# --- kaart: the social map -----------------------------------------------------------------------

@main.group(cls=_Group)
def kaart() -> None:
    """The social map: import, export, statistics, duplicates and search."""


@kaart.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the whole map instead of updating services by id.")
@click.option("--format", "fmt", type=click.Choice(["auto", "json", "csv"]), default="auto", show_default=True)
@click.pass_context
def kaart_import(ctx: click.Context, path: Path, replace: bool, fmt: str) -> None:
    """Import HSDS 3.0 JSON or the CSV template, all or nothing."""
    from sqlalchemy import select

    from socialekaart.csvmap import parse_csv
    from socialekaart.hsds import apply_records, parse_json
    from socialekaart.models import TaxonomyTerm

    if str(path) == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WijkbotError(f"cannot read {path}: {exc.strerror}") from None
    if fmt == "auto":
        fmt = "csv" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "json"
    database = _database(ctx)
    with database.session() as session:
        if fmt == "csv":
            known = {t.code: (t.id, t.name) for t in session.scalars(select(TaxonomyTerm)) if t.code}
            records = parse_csv(data, known_terms=known, what=path.name)
        else:
            records = parse_json(data, what=path.name)
        try:
            if sys.stderr.isatty() and len(records) >= 200:
                with click.progressbar(length=len(records), label="importing", file=sys.stderr) as bar:
                    result = apply_records(session, records, replace=replace, progress=bar.update)
            else:
                result = apply_records(session, records, replace=replace)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    click.echo(f"imported {result.total} services: {result.created} new, {result.updated} updated"
               + (" (map replaced)" if replace else ""))


@kaart.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def kaart_export(ctx: click.Context, path: Path) -> None:
    """Write the whole map as HSDS 3.0 JSON (an array of compiled service records)."""
    from socialekaart.hsds import export_records

    with _database(ctx).session() as session:
        records = export_records(session)
    text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise WijkbotError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"exported {len(records)} services to {path}", err=True)


@kaart.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_stats(ctx: click.Context, as_json: bool) -> None:
    """Count services, organisations and more."""
    from socialekaart.hsds import stats

    with _database(ctx).session() as session:
        data = stats(session)
    if as_json:
        _json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:<16}{value}")


@kaart.command("duplicates")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_duplicates(ctx: click.Context, as_json: bool) -> None:
    """List probable duplicate services (alike name and organisation plus a shared fact)."""
    from socialekaart.duplicates import find_duplicates
    from socialekaart.hsds import export_records

    with _database(ctx).session() as session:
        pairs = find_duplicates(export_records(session))
    if as_json:
        _json([p.as_json() for p in pairs])
        return
    if not pairs:
        click.echo("no probable duplicates")
    for p in pairs:
        click.echo(f"{p.score:.2f}  {p.a_name} [{p.a}]  ~  {p.b_name} [{p.b}]")
        click.echo(f"      {'; '.join(p.evidence)}")


@kaart.command("search")
@click.argument("query")
@click.option("--postcode", help="Rank services near this postcode first.")
@click.option("--free", is_flag=True, help="Only free services.")
@click.option("--language", metavar="CODE", help="Only services in this language (ISO 639-1, e.g. ar).")
@click.option("--open-now", is_flag=True, help="Only services open now (Europe/Amsterdam).")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def kaart_search(ctx: click.Context, query: str, postcode: str | None, free: bool, language: str | None,
                 open_now: bool, limit: int, as_json: bool) -> None:
    """Search the map. QUERY '-' reads one query per line from stdin and writes JSON lines."""
    from socialekaart.search import Filters

    search = _search(ctx)
    filters = Filters(postcode=postcode, free=free, language=language, open_now=open_now)
    if query == "-":
        for line in sys.stdin:
            text = line.rstrip("\r\n")
            hits = search.search(text, filters, limit=limit)
            _json({"query": text, "hits": [h.as_json() for h in hits]})
            sys.stdout.flush()
        return
    hits = search.search(query, filters, limit=limit)
    if as_json:
        _json({"query": query, "hits": [h.as_json() for h in hits]})
        return
    if not hits:
        click.echo("Niets gevonden. Probeer andere woorden.")
    for n, h in enumerate(hits, 1):
        click.echo(f"{n}. {h.name} ({h.organization}) - {h.why}")


# --- chat ------------------------------------------------------------------------------------------

def _bot(ctx: click.Context):
    from bot.core import Wijkbot

    return Wijkbot(_database(ctx), settings=ctx.find_object(Settings))


@main.command()
@click.option("--user", "user", help="Chat as this console user (default: your login name), e.g. one given a "
                                     "role with `wijkbot user role console NAME ...`.")
@click.pass_context
def chat(ctx: click.Context, user: str | None) -> None:
    """Chat with Wijkbot in the console (the embedded default). Numbers answer the buttons; reminders
    and announcements for this user are shown between turns."""
    from bot.console import run_console
    from jobs.scheduler import ReminderScheduler

    bot = _bot(ctx)
    ReminderScheduler(bot.database, clock=bot.clock, settings=bot.settings).maintenance()  # retention at start-up
    run_console(bot, user=user)


@main.command("run")
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Run every configured channel (Telegram, Matrix) and the outbox senders until SIGTERM/SIGINT."""
    import asyncio

    from bot.runner import run

    sys.exit(asyncio.run(run(ctx.find_object(Settings))))


@main.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always JSON lines with TEXT '-').")
@click.option("--at", "at", default=None, metavar="TIME",
              help="When the message was sent, e.g. 2026-12-05T22:30 (Europe/Amsterdam); default: now. "
                   "Outside GP office hours urgent problems go to the huisartsenpost.")
@click.pass_context
def triage(ctx: click.Context, text: str, as_json: bool, at: str | None) -> None:
    """Classify a message: stream, escalation or safety question, intent, entities and the first
    clarifying question.

    TEXT '-' reads one message per line from stdin and writes one JSON object per line, in order."""
    from bot.floor.clock import LOCAL_TZ, SystemClock
    from intents.triage import triage_message

    try:
        when = datetime.fromisoformat(at) if at else SystemClock().now()
    except ValueError:
        raise WijkbotError(f"--at {at!r} is not a time such as 2026-12-05T22:30") from None
    when = when if when.tzinfo else when.replace(tzinfo=LOCAL_TZ)
    index = _search(ctx).index()
    if text == "-":
        for line in sys.stdin:
            _json(triage_message(line.rstrip("\r\n"), index, now=when))
            sys.stdout.flush()
        return
    result = triage_message(text, index, now=when)
    if as_json:
        _json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:<14}{value}")


def _search(ctx: click.Context):
    from socialekaart.search import MapSearch

    return MapSearch(_database(ctx))


@main.command("feedback")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def feedback_command(ctx: click.Context, as_json: bool) -> None:
    """Anonymous answers to "Heeft u hier iets aan?" per kind of need, most "nee" first."""
    from bot.feedback import report

    with _database(ctx).session() as session:
        rows = report(session)
    if as_json:
        _json(rows)
        return
    for r in rows:
        click.echo(f"{r['need']:<24} {r['helped']:>5} ja {r['not_helped']:>5} nee {r['not_fitting']:>5} klopt niet"
                   f"   ({r['share_no']:.0%} nee)")


@main.group(cls=_Group)
def nlu() -> None:
    """The text classifiers for stream and intent."""


@nlu.command("train")
@click.pass_context
def nlu_train(ctx: click.Context) -> None:
    """Retrain the classifiers from intents/data/ (fixed seed) and cache them in the cache directory."""
    from intents.nlu import NLU

    NLU(ctx.find_object(Settings).cache_dir, retrain=True)
    click.echo("trained the stream and intent classifiers")


@main.group(cls=_Group)
def invite() -> None:
    """One-time codes that make a user a professional, coordinator or admin (/aanmelden CODE)."""


@invite.command("create")
@click.option("--role", type=click.Choice(["professional", "coordinator", "admin"]), required=True)
@click.option("--organization", help="The organisation the person works for.")
@click.option("--expires", default="7d", show_default=True, help="How long the code works: 90m, 12h, 7d, 2w.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def invite_create(ctx: click.Context, role: str, organization: str | None, expires: str, as_json: bool) -> None:
    """Print a one-time invite code."""
    from datetime import UTC, datetime

    from bot.floor.clock import parse_duration
    from bot.floor.network import create_invite

    try:
        valid_for = parse_duration(expires)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    now = datetime.now(UTC)
    from jobs.participants import UnknownParticipants, resolve

    with _database(ctx).session() as session:
        code = create_invite(session, role, organization=organization, valid_for=valid_for, now=now)
        session.commit()
        try:
            resolve(session, [organization] if organization else [])
        except UnknownParticipants as exc:  # still a valid invite: the organisation may join the map later
            near = exc.problems[0][2]
            click.echo(f"note: {organization!r} is not an organisation of the social map, so meetings for an "
                       "organisation will not reach this person" + (f"; did you mean: {', '.join(near)}?" if near
                                                                    else ""), err=True)
    if as_json:
        _json({"code": code, "role": role, "expires_at": (now + valid_for).isoformat()})
    else:
        click.echo(code)


@main.group(cls=_Group)
def broadcast() -> None:
    """Announcements to opted-in users on every channel, through the persistent outbox."""


@broadcast.command("create")
@click.option("--audience", type=click.Choice(["residents", "professionals", "all"]), required=True)
@click.option("--topic", type=click.Choice(["events", "wijknieuws", "meetings"]), default="events", show_default=True)
@click.option("--text", required=True, help="The announcement; '-' reads it from stdin.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def broadcast_create(ctx: click.Context, audience: str, topic: str, text: str, as_json: bool) -> None:
    """Queue an announcement for everyone in AUDIENCE who subscribed to TOPIC."""
    from datetime import UTC, datetime

    from bot.broadcasts import broadcast_status, create_broadcast

    if text == "-":
        text = sys.stdin.read()
    with _database(ctx).session() as session:
        created = create_broadcast(session, text, audience, topic, created_by=None, now=datetime.now(UTC))
        session.commit()
        status = broadcast_status(session, created.id)
    if as_json:
        _json(status.as_json())
    else:
        click.echo(f"broadcast {created.id}: {status.queued} recipients queued")


@broadcast.command("status")
@click.argument("broadcast_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def broadcast_status_command(ctx: click.Context, broadcast_id: int, as_json: bool) -> None:
    """Queued, sent, failed and blocked counts of one broadcast."""
    from bot.broadcasts import broadcast_status

    with _database(ctx).session() as session:
        status = broadcast_status(session, broadcast_id)
    if as_json:
        _json(status.as_json())
    else:
        click.echo(f"broadcast {status.id}: {status.sent} sent, {status.queued} queued, {status.failed} failed, "
                   f"{status.blocked} blocked")


@main.group(cls=_Group)
def agenda() -> None:
    """Meeting series (MDO, netwerkbijeenkomst) and deadlines, in local time."""


@agenda.group(cls=_Group)
def series() -> None:
    """Recurring meetings."""


def _leads(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _participant_entries(values: tuple[str, ...]) -> list[str]:
    from jobs.participants import split_entries

    return [entry for value in values for entry in split_entries(value)]


def _report_reach(session, participants) -> None:
    """Tell the coordinator who will hear nothing: not subscribed, or an organisation without users."""
    from jobs.participants import reach

    if not participants:
        return
    found = reach(session, participants)
    click.echo(f"participants reach {found.subscribed} subscribed user(s)", err=True)
    if found.not_subscribed:
        click.echo(f"note: {found.not_subscribed} participant(s) get no reminders until they send "
                   "/abonneren meetings", err=True)
    for name in found.empty_organizations:
        click.echo(f"note: nobody of {name} uses Wijkbot yet (invite them: wijkbot invite create "
                   f"--role professional --organization \"{name}\")", err=True)


@series.command("add")
@click.option("--title", required=True)
@click.option("--rrule", required=True, help='RFC 5545, e.g. "FREQ=MONTHLY;BYDAY=2TU".')
@click.option("--start", "start_local", required=True, help="First occurrence, local time: 2027-01-12T14:00.")
@click.option("--duration", default="60m", show_default=True, help="90m, 2h ...")
@click.option("--location")
@click.option("--audience", type=click.Choice(["residents", "professionals", "all"]), default="professionals",
              show_default=True)
@click.option("--remind", default="", help="Lead times, e.g. 7d,1d,2h.")
@click.option("--timezone", "tz", default="Europe/Amsterdam", show_default=True, help="IANA time zone.")
@click.option("--skip-holidays", is_flag=True, help="Skip occurrences on Dutch public holidays.")
@click.option("--participant", "participants", multiple=True,
              help="A user (telegram:ID, matrix:@user:server, console:NAME) or an organisation of the social map; "
                   "repeat or separate with ';'. Default: the whole audience.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_add(ctx, title, rrule, start_local, duration, location, audience, remind, tz, skip_holidays, participants,
               as_json):
    """Add a meeting series."""
    from datetime import UTC, datetime

    from bot.floor.clock import parse_duration
    from jobs.changes import add_series
    from jobs.participants import participants_of

    try:
        minutes = int(parse_duration(duration).total_seconds() // 60)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None
    with _database(ctx).session() as session:
        item = add_series(session, title=title, rrule=rrule, start_local=start_local, duration_minutes=minutes,
                          location=location, audience=audience, remind=_leads(remind), timezone=tz,
                          skip_holidays=skip_holidays, participants=_participant_entries(participants),
                          now=datetime.now(UTC))
        session.commit()
        _report_reach(session, participants_of(session, item.id))
        _json({"id": item.id, "title": item.title}) if as_json else click.echo(f"series {item.id}: {item.title}")


@series.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_list(ctx, as_json: bool):
    """Every meeting series."""
    from sqlalchemy import select

    from jobs.models import MeetingSeries

    with _database(ctx).session() as session:
        rows = [{"id": s.id, "title": s.title, "rrule": s.rrule, "start": s.start_local, "timezone": s.timezone,
                 "audience": s.audience, "remind": s.remind} for s in
                session.scalars(select(MeetingSeries).order_by(MeetingSeries.id))]
    if as_json:
        _json(rows)
        return
    if not rows:
        click.echo("no series")
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['title']}  ({row['rrule']} from {row['start']}, {row['audience']})")


@series.command("show")
@click.argument("series_id", type=int)
@click.option("--days", type=click.IntRange(1, 3660), default=90, show_default=True,
              help="How far ahead to list occurrences.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def series_show(ctx, series_id: int, days: int, as_json: bool):
    """One series: participants and the coming occurrences with their RSVP tallies."""
    from datetime import UTC, datetime, timedelta

    from jobs.agenda import exceptions_by_series, series_occurrences
    from jobs.changes import series_or_error
    from jobs.participants import describe, participants_of
    from jobs.rsvp import tally

    now = datetime.now(UTC)
    with _database(ctx).session() as session:
        item = series_or_error(session, series_id)
        occurrences = series_occurrences(item, exceptions_by_series(session, [item.id]).get(item.id, []), now,
                                         now + timedelta(days=days))
        data = {"id": item.id, "title": item.title, "rrule": item.rrule, "start": item.start_local,
                "timezone": item.timezone, "location": item.location, "audience": item.audience,
                "remind": item.remind,
                "participants": [describe(session, p) for p in participants_of(session, item.id)],
                "occurrences": [{**o.as_json(), "rsvp": tally(session, o).as_json()} for o in occurrences]}
    if as_json:
        _json(data)
        return
    click.echo(f"series {data['id']}: {data['title']} ({data['rrule']}, {data['audience']})")
    click.echo("participants: " + ("; ".join(data["participants"]) or f"everyone in {data['audience']}"))
    for o in data["occurrences"]:
        r = o["rsvp"]
        click.echo(f"  {o['start']}{' (moved)' if o['moved'] else ''}  yes {r['yes']}, no {r['no']}, "
                   f"maybe {r['maybe']} of {r['asked']} reminded")


@series.command("participants")
@click.argument("series_id", type=int)
@click.option("--add", "add", multiple=True, help="A user or organisation to add (repeat, or separate with ';').")
@click.option("--remove", "remove", multiple=True, help="A user or organisation to remove.")
@click.pass_context
def series_participants(ctx, series_id: int, add: tuple[str, ...], remove: tuple[str, ...]):
    """Show, add or remove the participants of a series."""
    from jobs.changes import series_or_error, set_participants
    from jobs.participants import describe, participants_of

    with _database(ctx).session() as session:
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
    from datetime import date

    from jobs.agenda import occurrence_on
    from jobs.changes import series_or_error

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
    from datetime import UTC, datetime

    from jobs.changes import cancel_occurrence

    with _database(ctx).session() as session:
        item, occurrence = _occurrence(session, series_id, day)
        told = cancel_occurrence(session, item, occurrence, datetime.now(UTC))
        session.commit()
    click.echo(f"cancelled {occurrence.start.isoformat()}" + (f"; {told} people are told" if told else ""))


@series.command("move")
@click.argument("series_id", type=int)
@click.option("--date", "day", required=True, help="The occurrence's local date, YYYY-MM-DD.")
@click.option("--to", "to_local", required=True, help="New local start, e.g. 2027-03-10T15:00.")
@click.pass_context
def series_move(ctx, series_id: int, day: str, to_local: str):
    """Move one occurrence to another local date and time; whoever had a reminder for it is told."""
    from datetime import UTC, datetime

    from jobs.agenda import zone
    from jobs.changes import move_occurrence

    with _database(ctx).session() as session:
        item, occurrence = _occurrence(session, series_id, day)
        try:
            new = datetime.fromisoformat(to_local)
        except ValueError:
            raise WijkbotError(f"--to {to_local!r} is not a local date and time such as 2027-03-10T15:00") from None
        if new.tzinfo is None:
            new = new.replace(tzinfo=zone(item.timezone))
        moved, told = move_occurrence(session, item, occurrence, new, datetime.now(UTC))
        session.commit()
    click.echo(f"moved {occurrence.start.isoformat()} to {moved.start.isoformat()}"
               + (f"; {told} people are told" if told else ""))


@agenda.group(cls=_Group)
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
    from datetime import UTC, date, datetime

    from jobs.changes import add_deadline

    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise click.BadParameter(f"{due!r} is not a date such as 2027-09-15", param_hint="--due") from None
    with _database(ctx).session() as session:
        item = add_deadline(session, title=title, due=due_date, remind=_leads(remind), owners=owners,
                            now=datetime.now(UTC))
        session.commit()
        _json({"id": item.id, "title": item.title}) if as_json else click.echo(f"deadline {item.id}: {item.title}")


@deadline.command("done")
@click.argument("deadline_id", type=int)
@click.pass_context
def deadline_done(ctx, deadline_id: int):
    """Mark a deadline done: no further reminders."""
    from datetime import UTC, datetime

    from jobs.changes import deadline_done as mark_done

    with _database(ctx).session() as session:
        mark_done(session, deadline_id, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} is done")


@deadline.command("move")
@click.argument("deadline_id", type=int)
@click.option("--due", required=True, help="The new date, YYYY-MM-DD.")
@click.pass_context
def deadline_move(ctx, deadline_id: int, due: str):
    """Give a deadline another date; its reminders start again; whoever had one is told."""
    from datetime import UTC, date, datetime

    from jobs.changes import move_deadline

    try:
        due_date = date.fromisoformat(due)
    except ValueError:
        raise click.BadParameter(f"{due!r} is not a date such as 2027-10-01", param_hint="--due") from None
    with _database(ctx).session() as session:
        item, told = move_deadline(session, deadline_id, due_date, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} is now on {item.due.isoformat()}" + (f"; {told} people are told" if told
                                                                             else ""))


@deadline.command("cancel")
@click.argument("deadline_id", type=int)
@click.pass_context
def deadline_cancel(ctx, deadline_id: int):
    """Remove a deadline that no longer exists; whoever had a reminder for it is told."""
    from datetime import UTC, datetime

    from jobs.changes import cancel_deadline

    with _database(ctx).session() as session:
        title, told = cancel_deadline(session, deadline_id, datetime.now(UTC))
        session.commit()
    click.echo(f"deadline {deadline_id} ({title}) is cancelled" + (f"; {told} people are told" if told else ""))


@agenda.command("export")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def agenda_export(ctx, path: Path):
    """Write the agenda as an RFC 5545 .ics file (RRULE, EXDATE, VTIMEZONE)."""
    from jobs.calendar import export_calendar

    with _database(ctx).session() as session:
        data = export_calendar(session)
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise WijkbotError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"exported the agenda to {path}", err=True)


@agenda.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.pass_context
def agenda_import(ctx, path: Path):
    """Add the events of an .ics file, all or nothing."""
    from datetime import UTC, datetime

    from jobs.calendar import import_calendar

    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise WijkbotError(f"cannot read {path}: {exc.strerror}") from None
    with _database(ctx).session() as session:
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
    from datetime import date, datetime

    from bot.floor.clock import LOCAL_TZ
    from jobs.agenda import upcoming

    try:
        day = date.fromisoformat(from_day) if from_day else datetime.now(LOCAL_TZ).date()
    except ValueError:
        raise click.BadParameter(f"{from_day!r} is not a date such as 2027-04-01", param_hint="--from") from None
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    from jobs.rsvp import tally

    with _database(ctx).session() as session:
        items = upcoming(session, start, days)
        data = [{**i.as_json(), **({"rsvp": tally(session, i).as_json()} if i.kind == "meeting" else {})}
                for i in items]
    if as_json:
        _json(data)
        return
    if not items:
        click.echo("nothing planned")
    for item in items:
        when = item.start.strftime("%a %d-%m-%Y %H:%M") if item.kind == "meeting" else item.start.strftime(
            "%a %d-%m-%Y (deadline)")
        click.echo(f"{when}  {item.title}" + (f"  @ {item.location}" if item.location else ""))


@main.group(cls=_Group)
def jobs() -> None:
    """The scheduler: meeting and deadline reminders into the outbox."""


@jobs.command("run")
@click.option("--once", is_flag=True, help="Record what is due now (catching up on downtime) and exit.")
@click.pass_context
def jobs_run(ctx, once: bool):
    """Run the reminder scheduler alone (`wijkbot run` also runs it). Delivery is by `wijkbot run`."""
    import asyncio

    from jobs.scheduler import ReminderScheduler

    scheduler = ReminderScheduler(_database(ctx), settings=ctx.find_object(Settings))
    if once:
        queued, dropped = scheduler.run_due()
        click.echo(f"{queued} reminders queued, {dropped} dropped (meeting already begun)")
        followed = scheduler.follow_up_safety()
        if followed:
            click.echo(f"{followed} unanswered safety questions followed up")
        kept = scheduler.maintenance()
        click.echo("retention: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in kept.items()))
        return

    async def forever():
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        scheduler.start()
        click.echo("scheduler running; stop with Ctrl+C")
        await stop.wait()
        scheduler.shutdown()

    asyncio.run(forever())


@jobs.command("outbox")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_outbox(ctx, as_json: bool):
    """Reminders in the outbox (queued, sent, dropped), newest first."""
    from sqlalchemy import select

    from bot.floor.models import OutboxMessage

    with _database(ctx).session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("reminder:%"))
                               .order_by(OutboxMessage.id.desc()).limit(200)).all()
        data = [{"key": r.idempotency_key, "status": r.status, "channel": r.channel, "chat_id": r.chat_id,
                 "text": r.text} for r in rows]
    if as_json:
        _json(data)
    else:
        for row in data:
            click.echo(f"{row['status']:<8} {row['channel']}:{row['chat_id']}  {row['text']}")


@main.group(cls=_Group)
def user() -> None:
    """Users and roles."""


@user.command("role")
@click.argument("channel")
@click.argument("user_id")
@click.argument("role", type=click.Choice(["resident", "professional", "coordinator", "admin"]))
@click.pass_context
def user_role(ctx: click.Context, channel: str, user_id: str, role: str) -> None:
    """Set the role of the user USER_ID on CHANNEL (e.g. console, telegram, matrix)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from bot.floor.models import User

    with _database(ctx).session() as session:
        found = session.scalar(select(User).where(User.channel == channel, User.channel_user_id == user_id))
        now = datetime.now(UTC)
        if found is None:
            found = User(channel=channel, channel_user_id=user_id, created_at=now, last_seen_at=now)
            session.add(found)
        found.role = role
        session.commit()
    click.echo(f"{channel}:{user_id} is now {role}")


if __name__ == "__main__":
    main()
