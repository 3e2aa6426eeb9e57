"""The agenda: occurrences of meeting series and deadlines, in local time (store UTC, show local).

Recurrence is expanded with python-dateutil over the series' wall-clock time, then each occurrence
is placed in its IANA time zone, so a 14:00 meeting is at 14:00 on both sides of a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import dutch_holidays, parse_duration
from bot.errors import WijkbotError
from bot.models import ChannelState
from jobs.models import Deadline, MeetingSeries, SeriesException

MAX_OCCURRENCES = 2000


@dataclass
class Occurrence:
    kind: str  # "meeting" | "deadline"
    title: str
    start: datetime  # aware, in the item's own time zone
    end: datetime | None
    location: str | None
    series_id: int | None = None
    deadline_id: int | None = None
    moved: bool = False
    original_start: datetime | None = None  # UTC; names the occurrence, also after a move
    changed_at: datetime | None = None  # when it was moved

    def as_json(self) -> dict:
        return {"kind": self.kind, "title": self.title, "start": self.start.isoformat(),
                "end": self.end.isoformat() if self.end else None, "location": self.location,
                "series_id": self.series_id, "deadline_id": self.deadline_id, "moved": self.moved}

    @property
    def ref(self) -> str:
        """The occurrence in a key or a button: series id and original start in UTC."""
        return f"{self.series_id}:{occurrence_stamp(self.original_start)}"


def occurrence_stamp(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y%m%dT%H%MZ}"


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WijkbotError(f"unknown time zone {name!r} (use an IANA name such as Europe/Amsterdam)") from None


def validate_series(rrule: str, start_local: str, tz: str, remind: list[str]) -> None:
    zone(tz)
    try:
        first = datetime.fromisoformat(start_local)
    except ValueError:
        raise WijkbotError(f"--start {start_local!r} is not a local date and time such as 2027-01-12T14:00") from None
    if first.tzinfo is not None:
        raise WijkbotError("--start is a local wall-clock time without offset; the time zone is --timezone")
    try:
        rrulestr(rrule, dtstart=first)
    except (ValueError, TypeError) as exc:
        raise WijkbotError(f"--rrule {rrule!r} is not an RFC 5545 rule: {exc}") from None
    validate_leads(remind)


def validate_leads(remind: list[str]) -> None:
    """Lead times such as 7d, 1d, 2h; one clear line for the first that is not."""
    for lead in remind:
        try:
            parse_duration(lead)
        except ValueError as exc:
            raise WijkbotError(f"--remind: {exc}") from None


@lru_cache(maxsize=100_000)
def parsed_rule(rrule: str, start_local: str):
    """The parsed rule, cached: parsing is the expensive part, and dateutil caches what it expands."""
    return rrulestr(rrule, dtstart=datetime.fromisoformat(start_local), cache=True)


def series_occurrences(series: MeetingSeries, exceptions: list[SeriesException], start: datetime,
                       end: datetime) -> list[Occurrence]:
    """Occurrences of one series that start in [start, end) (aware datetimes), moved ones where they
    were moved to (however far), cancelled ones left out."""
    tz = zone(series.timezone)
    changed = {e.original_start: e for e in exceptions}
    duration = timedelta(minutes=series.duration_minutes)
    out = []
    for original in _rule_starts(series, start, end):
        if original.astimezone(UTC) not in changed and start <= original < end:
            out.append(Occurrence("meeting", series.title, original, original + duration, series.location,
                                  series_id=series.id, original_start=original.astimezone(UTC)))
    for e in exceptions:
        if e.new_start is not None and start <= e.new_start < end:
            when = e.new_start.astimezone(tz)
            out.append(Occurrence("meeting", series.title, when, when + duration, series.location,
                                  series_id=series.id, moved=True, original_start=e.original_start,
                                  changed_at=e.changed_at))
    out.sort(key=lambda o: o.start)
    return out


def _rule_starts(series: MeetingSeries, start: datetime, end: datetime) -> list[datetime]:
    """The rule's own starts in [start, end) as aware local times (holidays skipped when asked)."""
    tz = zone(series.timezone)
    rule = parsed_rule(series.rrule, series.start_local)
    window_start_local = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    window_end_local = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    out = []
    for n, local in enumerate(rule.xafter(window_start_local, inc=True)):
        if local > window_end_local or n > MAX_OCCURRENCES:
            break
        if series.skip_holidays and local.date() in dutch_holidays(local.year):
            continue
        when = local.replace(tzinfo=tz)  # wall-clock time in the zone: DST-proof
        if start <= when < end:
            out.append(when)
    return out


def exceptions_by_series(session: Session, series_ids: list[int] | None = None) -> dict[int, list[SeriesException]]:
    """Cancelled and moved occurrences per series (of these series, or all)."""
    query = select(SeriesException)
    if series_ids is not None:
        query = query.where(SeriesException.series_id.in_(series_ids))
    found: dict[int, list[SeriesException]] = {}
    for e in session.scalars(query):
        found.setdefault(e.series_id, []).append(e)
    return found


def occurrence_on(session: Session, series: MeetingSeries, day: date) -> Occurrence:
    """The occurrence of a series held on a local date (also one moved to that date)."""
    start = datetime.combine(day, time(0, 0), tzinfo=zone(series.timezone))
    window = (start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC))
    held = series_occurrences(series, exceptions_by_series(session, [series.id]).get(series.id, []), *window)
    if held:
        return held[0]
    if _rule_starts(series, *window):
        raise WijkbotError(f"the occurrence of series {series.id} on {day} was cancelled or moved already")
    raise WijkbotError(f"series {series.id} has no occurrence on {day}")


def occurrence_at(session: Session, series: MeetingSeries, original_start: datetime) -> Occurrence | None:
    """The occurrence named by its original start; None when cancelled or not in the series."""
    if original_start not in _rule_starts(series, original_start, original_start + timedelta(seconds=1)):
        return None
    exceptions = exceptions_by_series(session, [series.id]).get(series.id, [])
    exception = next((e for e in exceptions if e.original_start == original_start), None)
    if exception is not None and exception.new_start is None:
        return None
    when = exception.new_start if exception is not None else original_start
    found = series_occurrences(series, exceptions, when, when + timedelta(seconds=1))
    return next((o for o in found if o.original_start == original_start), None)


def _revision_row(session: Session) -> ChannelState | None:
    return session.scalar(select(ChannelState).where(ChannelState.channel == "jobs", ChannelState.key == "revision"))


def revision(session: Session) -> int:
    """A counter bumped by every change to the agenda: the scheduler resyncs its jobs when it moved."""
    row = _revision_row(session)
    return int(row.value.get("v", 0)) if row else 0


def bump_revision(session: Session) -> None:
    session.info["agenda_changed"] = True  # the chat's caller tells the scheduler after the commit
    row = _revision_row(session)
    if row is None:
        session.add(ChannelState(channel="jobs", key="revision", value={"v": 1}))
    else:
        row.value = {"v": int(row.value.get("v", 0)) + 1}


def upcoming(session: Session, start: datetime, days: int) -> list[Occurrence]:
    end = start + timedelta(days=days)
    items: list[Occurrence] = []
    exceptions = exceptions_by_series(session)
    for series in session.scalars(select(MeetingSeries)):
        items.extend(series_occurrences(series, exceptions.get(series.id, []), start, end))
    for deadline in session.scalars(select(Deadline).where(Deadline.done_at.is_(None))):
        due = datetime.combine(deadline.due, time(0, 0), tzinfo=zone("Europe/Amsterdam"))
        if start.astimezone(due.tzinfo).date() <= deadline.due < end.astimezone(due.tzinfo).date() + timedelta(days=1):
            items.append(Occurrence("deadline", deadline.title, due, None, None, deadline_id=deadline.id))
    items.sort(key=lambda o: (o.start.astimezone(UTC), o.kind, o.title))
    return items
