"""RFC 5545 calendars (the icalendar library): export the agenda, import it again all or nothing.

A series is a VEVENT with DTSTART;TZID, RRULE and EXDATE (cancelled occurrences) and a VTIMEZONE;
a moved occurrence is a VEVENT with the same UID and a RECURRENCE-ID; a deadline is an all-day
VEVENT marked X-WIJKBOT-KIND:deadline. Lead times travel as X-WIJKBOT-REMIND.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.errors import ImportProblem, WijkbotError, shown
from bot.floor.models import AUDIENCES
from jobs.agenda import bump_revision, check_year, validate_leads, validate_series, zone
from jobs.models import Deadline, MeetingSeries, SeriesException
from jobs.participants import describe, participants_of, resolve, split_entries

PRODID = "-//Wijkbot//agenda//NL"


def export_calendar(session: Session) -> bytes:  # noqa: C901 - one branch per iCalendar property written
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    zones: set[str] = set()
    events = []
    for series in session.scalars(select(MeetingSeries).order_by(MeetingSeries.id)):
        tz = zone(series.timezone)
        zones.add(series.timezone)
        start = datetime.fromisoformat(series.start_local).replace(tzinfo=tz)
        event = icalendar.Event()
        event.add("uid", f"series-{series.id}@wijkbot")
        event.add("summary", series.title)
        event.add("dtstart", start)
        event.add("duration", timedelta(minutes=series.duration_minutes))
        event.add("rrule", icalendar.vRecur.from_ical(series.rrule))
        if series.location:
            event.add("location", series.location)
        event.add("x-wijkbot-audience", series.audience)
        event.add("x-wijkbot-remind", ",".join(series.remind or []))
        if series.skip_holidays:
            event.add("x-wijkbot-skip-holidays", "TRUE")
        participants = [
            p.organization_id if p.user_id is None else describe(session, p)
            for p in participants_of(session, series.id)
        ]
        if participants:
            event.add("x-wijkbot-participants", "; ".join(participants))
        moved = []
        for exception in session.scalars(select(SeriesException).where(SeriesException.series_id == series.id)):
            original = exception.original_start.astimezone(tz)
            if exception.new_start is None:
                event.add("exdate", original)
            else:
                moved.append((original, exception.new_start.astimezone(tz)))
        events.append(event)
        for original, new in moved:
            change = icalendar.Event()
            change.add("uid", f"series-{series.id}@wijkbot")
            change.add("summary", series.title)
            change.add("recurrence-id", original)
            change.add("dtstart", new)
            change.add("duration", timedelta(minutes=series.duration_minutes))
            events.append(change)
    for deadline in session.scalars(select(Deadline).order_by(Deadline.id)):
        event = icalendar.Event()
        event.add("uid", f"deadline-{deadline.id}@wijkbot")
        event.add("summary", deadline.title)
        event.add("dtstart", deadline.due)
        event.add("x-wijkbot-kind", "deadline")
        event.add("x-wijkbot-remind", ",".join(deadline.remind or []))
        if deadline.owners:
            event.add("x-wijkbot-owners", deadline.owners)
        if deadline.done_at:
            event.add("status", "CANCELLED")
        events.append(event)
    for name in sorted(zones):
        cal.add_component(icalendar.Timezone.from_tzid(name))
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


MAX_TITLE = 300  # MeetingSeries.title and Deadline.title are String(300)
MAX_TEXT = 2_000  # LOCATION, X-WIJKBOT-OWNERS, X-WIJKBOT-PARTICIPANTS
MAX_DURATION = timedelta(days=365)
ICS_NAMES = {"rrule": "RRULE", "start": "DTSTART", "timezone": "DTSTART;TZID", "remind": "X-WIJKBOT-REMIND"}
# properties an event has once (RFC 5545), and the ones Wijkbot adds
SINGLE = (
    "UID",
    "SUMMARY",
    "DTSTART",
    "DTEND",
    "DURATION",
    "RRULE",
    "RECURRENCE-ID",
    "LOCATION",
    "STATUS",
    "X-WIJKBOT-KIND",
    "X-WIJKBOT-AUDIENCE",
    "X-WIJKBOT-REMIND",
    "X-WIJKBOT-SKIP-HOLIDAYS",
    "X-WIJKBOT-PARTICIPANTS",
    "X-WIJKBOT-OWNERS",
)


@dataclass
class _Series:
    row: MeetingSeries
    cancelled: list[datetime]  # UTC
    participants: list


@dataclass
class _Move:
    uid: str
    original: datetime  # UTC
    new: datetime  # UTC
    where: str


def import_calendar(session: Session, data: bytes, now: datetime) -> tuple[int, int]:  # noqa: C901 - one branch per iCalendar property read, each with its numbered error
    """Add the series and deadlines of an .ics file; all or nothing. Returns (series, deadlines).

    Raises ImportProblem, one line per problem naming the event (its number and UID) and the property."""
    try:
        cal = icalendar.Calendar.from_ical(data)
        events = cal.walk("VEVENT")
    except ValueError as exc:  # also UnicodeDecodeError
        raise ImportProblem([f"not an iCalendar file: {exc}"]) from None
    except (IndexError, KeyError, TypeError, AttributeError):  # icalendar tripping over what it cannot read,
        # e.g. a VTIMEZONE with two TZIDs or without BEGIN
        raise ImportProblem(["not an iCalendar file: a component or a parameter is malformed"]) from None
    except RecursionError:  # icalendar before 7 walked nested components recursively
        raise ImportProblem(["not an iCalendar file: components nested too deeply"]) from None
    except OSError as exc:  # icalendar looks a TZID up as a file: one too long for a file name
        raise ImportProblem([f"not an iCalendar file: a TZID that is no time zone name ({exc.strerror})"]) from None
    problems: list[str] = []
    series: dict[str, _Series] = {}
    deadlines: list[Deadline] = []
    moves: list[_Move] = []
    masters: dict[str, str] = {}
    for n, event in enumerate(events, start=1):
        uid = event.get("UID")
        uid = str(uid[0] if isinstance(uid, list) and uid else uid or f"#{n}")
        where = f"event {n} (UID {uid if len(uid) <= 60 else uid[:59] + '…'})"
        try:
            item = _event(session, event, uid, where, now)
        except (ValueError, WijkbotError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        if isinstance(item, Deadline):
            deadlines.append(item)
        elif isinstance(item, _Move):
            moves.append(item)
        elif uid in masters:
            problems.append(
                f"{where}: UID: {masters[uid]} has this UID too; a series has one event without RECURRENCE-ID"
            )
        else:
            masters[uid] = f"event {n}"
            series[uid] = item
    moved: set[tuple[str, datetime]] = set()
    for move in moves:
        if move.uid not in series:
            problems.append(f"{move.where}: RECURRENCE-ID: no series with this UID in the file")
        elif (move.uid, move.original) in moved:
            problems.append(f"{move.where}: RECURRENCE-ID: this occurrence is moved twice")
        elif move.original in series[move.uid].cancelled:
            problems.append(f"{move.where}: RECURRENCE-ID: this occurrence is cancelled by an EXDATE too")
        moved.add((move.uid, move.original))
    if problems:
        raise ImportProblem(problems)
    for item in series.values():
        session.add(item.row)
        session.flush()
        for when in item.cancelled:
            session.add(SeriesException(series_id=item.row.id, original_start=when, new_start=None, changed_at=now))
        for participant in item.participants:
            participant.series_id = item.row.id
            session.add(participant)
    for move in moves:
        session.add(
            SeriesException(
                series_id=series[move.uid].row.id, original_start=move.original, new_start=move.new, changed_at=now
            )
        )
    session.add_all(deadlines)
    bump_revision(session)
    return len(series), len(deadlines)


def _event(session: Session, event, uid: str, where: str, now: datetime) -> _Series | _Move | Deadline:
    """One VEVENT as a series, a moved occurrence or a deadline; ValueError or WijkbotError names the
    property that is wrong."""
    if event.errors:  # icalendar keeps a property it cannot read as vBroken, and says why
        raise ValueError("; ".join(f"{name or 'line'}: {str(error)[:100]}" for name, error in event.errors[:3]))
    for name in SINGLE:
        if isinstance(event.get(name), list):
            raise ValueError(f"{name}: appears {len(event.get(name))} times; once is allowed")
    title = _text(event, "SUMMARY", MAX_TITLE, normalise=True)
    if not title:
        raise ValueError("SUMMARY: is empty")
    start = _when(event, "DTSTART")
    remind = [x.strip() for x in (_text(event, "X-WIJKBOT-REMIND", MAX_TEXT) or "").split(",") if x.strip()]
    validate_leads(remind, "X-WIJKBOT-REMIND")
    if event.get("RECURRENCE-ID") is not None:
        original = _when(event, "RECURRENCE-ID", aware=True)
        new = _when(event, "DTSTART", aware=True)
        return _Move(uid, original.astimezone(UTC), new.astimezone(UTC), where)
    if (_text(event, "X-WIJKBOT-KIND", MAX_TEXT) or "").lower() == "deadline" or not isinstance(start, datetime):
        return Deadline(
            title=title,
            due=start.date() if isinstance(start, datetime) else start,
            remind=remind,
            created_at=now,
            owners=_text(event, "X-WIJKBOT-OWNERS", MAX_TEXT),
            done_at=now if (_text(event, "STATUS", MAX_TEXT) or "").upper() == "CANCELLED" else None,
        )
    start = _when(event, "DTSTART", aware=True)
    tzname = str(event["DTSTART"].params.get("TZID") or "Europe/Amsterdam")
    tz = _zone(tzname, "DTSTART")
    start_local = start.astimezone(tz).replace(tzinfo=None).isoformat(timespec="minutes")
    rrule = _rule(event, tz)
    validate_series(rrule, start_local, tzname, remind, ICS_NAMES)
    audience = _text(event, "X-WIJKBOT-AUDIENCE", MAX_TEXT) or "professionals"
    if audience not in AUDIENCES:
        raise ValueError(f"X-WIJKBOT-AUDIENCE: {shown(audience)} is not one of {', '.join(AUDIENCES)}")
    try:
        participants = resolve(session, split_entries(_text(event, "X-WIJKBOT-PARTICIPANTS", MAX_TEXT) or ""))
    except WijkbotError as exc:
        raise ValueError(f"X-WIJKBOT-PARTICIPANTS: {exc}") from None
    cancelled = sorted({when.astimezone(UTC) for when in _exdates(event)})
    row = MeetingSeries(
        title=title,
        rrule=rrule,
        start_local=start_local,
        timezone=tzname,
        duration_minutes=_minutes(event, start),
        location=_text(event, "LOCATION", MAX_TEXT),
        audience=audience,
        remind=remind,
        skip_holidays=(_text(event, "X-WIJKBOT-SKIP-HOLIDAYS", MAX_TEXT) or "").upper() == "TRUE",
        created_at=now,
    )
    return _Series(row, cancelled, participants)


def _text(event, name: str, limit: int, *, normalise: bool = False) -> str | None:
    """A text property, stripped (SUMMARY: its white space made single), or None; bounded and storable."""
    value = event.get(name)
    if value is None:
        return None
    text = " ".join(str(value).split()) if normalise else str(value).strip()
    if len(text) > limit:
        raise ValueError(f"{name}: longer than {limit} characters")
    if "\x00" in text:
        raise ValueError(f"{name}: contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name}: contains an invalid character (a lone surrogate)") from None
    return text or None


def _zone(name: str, prop: str):
    try:
        return zone(name)
    except WijkbotError as exc:
        raise ValueError(f"{prop}: {exc}") from None


def _checked(value, prop: str, params, aware: bool) -> date:
    if not isinstance(value, date):
        raise ValueError(f"{prop}: is not a date or a date and time")
    if aware and not isinstance(value, datetime):
        raise ValueError(f"{prop}: a date and time is needed here, not a date")
    if isinstance(value, datetime) and value.tzinfo is None:
        tzid = params.get("TZID") if params is not None else None
        if tzid:
            raise ValueError(f"{prop}: unknown time zone {shown(tzid)} (use an IANA name such as Europe/Amsterdam)")
        raise ValueError(f"{prop}: needs a TZID or UTC")
    check_year(value, prop)
    return value


def _when(event, name: str, *, aware: bool = False) -> date:
    """A DTSTART, DTEND or RECURRENCE-ID between the agenda's years; with aware=True a date and time
    with a time zone."""
    prop = event.get(name)
    if prop is None:
        raise ValueError(f"{name}: is missing")
    return _checked(getattr(prop, "dt", None), name, getattr(prop, "params", None), aware)


def _exdates(event) -> list[datetime]:
    value = event.get("EXDATE")
    blocks = value if isinstance(value, list) else [value] if value is not None else []
    out = []
    for block in blocks:
        for item in getattr(block, "dts", None) or []:
            out.append(_checked(getattr(item, "dt", None), "EXDATE", getattr(block, "params", None), True))
    return out


def _minutes(event, start: datetime) -> int:
    """The length of the meeting from DURATION or DTEND (an hour without either), at most a year."""
    if event.get("DURATION") is not None and event.get("DTEND") is not None:
        raise ValueError("DTEND and DURATION: an event has one of them, not both")
    if event.get("DURATION") is not None:
        length, what = event["DURATION"].dt, "DURATION"
        if not isinstance(length, timedelta):
            raise ValueError("DURATION: is not a duration such as PT90M")
    elif event.get("DTEND") is not None:
        length, what = _when(event, "DTEND", aware=True) - start, "DTEND"
    else:
        return 60
    if length < timedelta(0):
        raise ValueError(f"{what}: the meeting ends before it starts")
    if length > MAX_DURATION:
        raise ValueError(f"{what}: a meeting lasts at most {MAX_DURATION.days} days")
    return max(1, int(length.total_seconds() // 60))


def _rule(event, tz) -> str:
    """The RRULE as the agenda stores it: UNTIL in the series' wall-clock time (RFC 5545 writes it in UTC
    when DTSTART has a TZID; dateutil wants it like the start, which the agenda keeps without zone)."""
    prop = event.get("RRULE")
    if prop is None:
        return "FREQ=DAILY;COUNT=1"
    if not isinstance(prop, icalendar.vRecur):
        raise ValueError("RRULE: is not a recurrence rule such as FREQ=WEEKLY;BYDAY=TU")
    recur = icalendar.vRecur(dict(prop))
    until = []
    for value in recur.get("UNTIL") or []:
        if isinstance(value, datetime) and value.tzinfo is not None:
            with contextlib.suppress(OverflowError):  # 9999-12-31T23:59Z: forever, give or take the offset
                value = value.astimezone(tz)
            value = value.replace(tzinfo=None)
        until.append(value)
    if until:
        recur["UNTIL"] = until
    return recur.to_ical().decode()
