"""The agenda: occurrences of meeting series and deadlines, in local time (store UTC, show local).

Recurrence is expanded with python-dateutil over the series' wall-clock time, then each occurrence
is placed in its IANA time zone, so a 14:00 meeting is at 14:00 on both sides of a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import parse_duration
from bot.errors import WijkbotError
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

    def as_json(self) -> dict:
        return {"kind": self.kind, "title": self.title, "start": self.start.isoformat(),
                "end": self.end.isoformat() if self.end else None, "location": self.location,
                "series_id": self.series_id, "deadline_id": self.deadline_id, "moved": self.moved}


@cache
def dutch_holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("NL", years=year))


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
    """Occurrences of one series that start in [start, end) (aware datetimes)."""
    tz = zone(series.timezone)
    rule = parsed_rule(series.rrule, series.start_local)
    skip = {e.original_start: e for e in exceptions}
    duration = timedelta(minutes=series.duration_minutes)
    out = []
    window_start_local = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    window_end_local = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    for n, local in enumerate(rule.xafter(window_start_local, inc=True)):
        if local > window_end_local or n > MAX_OCCURRENCES:
            break
        when = local.replace(tzinfo=tz)  # wall-clock time in the zone: DST-proof
        if series.skip_holidays and local.date() in dutch_holidays(local.year):
            continue
        exception = skip.get(when.astimezone(UTC))
        moved = False
        if exception is not None:
            if exception.new_start is None:
                continue
            when, moved = exception.new_start.astimezone(tz), True
        if start <= when < end:
            out.append(Occurrence("meeting", series.title, when, when + duration, series.location,
                                  series_id=series.id, moved=moved))
    return out


def upcoming(session: Session, start: datetime, days: int) -> list[Occurrence]:
    end = start + timedelta(days=days)
    items: list[Occurrence] = []
    exceptions: dict[int, list[SeriesException]] = {}
    for e in session.scalars(select(SeriesException)):
        exceptions.setdefault(e.series_id, []).append(e)
    for series in session.scalars(select(MeetingSeries)):
        items.extend(series_occurrences(series, exceptions.get(series.id, []), start, end))
    for deadline in session.scalars(select(Deadline).where(Deadline.done_at.is_(None))):
        due = datetime.combine(deadline.due, time(0, 0), tzinfo=zone("Europe/Amsterdam"))
        if start.astimezone(due.tzinfo).date() <= deadline.due < end.astimezone(due.tzinfo).date() + timedelta(days=1):
            items.append(Occurrence("deadline", deadline.title, due, None, None, deadline_id=deadline.id))
    items.sort(key=lambda o: (o.start.astimezone(UTC), o.kind, o.title))
    return items
