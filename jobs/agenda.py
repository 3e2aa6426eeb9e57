"""The agenda: occurrences of meeting series and deadlines, in local time (store UTC, show local).

Recurrence is expanded with python-dateutil over the series' wall-clock time, then each occurrence
is placed in its IANA time zone, so a 14:00 meeting is at 14:00 on both sides of a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor import memory
from bot.floor.clock import dutch_holidays, parse_duration
from bot.floor.errors import WijkbotError
from jobs.models import Deadline, MeetingSeries, SeriesException

MAX_OCCURRENCES = 2000
# The bounds of a series, so that expanding one (here, in the scheduler, in reminders) stays cheap and
# every date computed from it exists: meetings are daily at most, between these years, and a rule has
# an occurrence and at most MAX_PER_YEAR of them in a year.
FIRST_YEAR, LAST_YEAR = 1970, 2199
MAX_PER_YEAR = 1000
MAX_INTERVAL = 1000
MAX_RULE = 500  # MeetingSeries.rrule is a String(500)
MAX_LEADS = 20
_CYCLE = 400  # years: the Gregorian calendar repeats itself exactly after 146097 days
CLI_NAMES = {"rrule": "--rrule", "start": "--start", "timezone": "--timezone", "remind": "--remind"}


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
        return {
            "kind": self.kind,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "location": self.location,
            "series_id": self.series_id,
            "deadline_id": self.deadline_id,
            "moved": self.moved,
        }

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
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        raise WijkbotError(f"unknown time zone {name[:60]!r} (use an IANA name such as Europe/Amsterdam)") from None


def check_year(when: date, what: str) -> None:
    """A date of the agenda lies between FIRST_YEAR and LAST_YEAR (so that every date computed from it,
    a week or a year away, exists)."""
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise WijkbotError(f"{what}: {when.isoformat()} is not between {FIRST_YEAR} and {LAST_YEAR}")


def validate_series(  # noqa: C901 - one flat check per RFC 5545 part of a series
    rrule_text: str,
    start_local: str,
    tz: str,
    remind: list[str],
    names: dict[str, str] = CLI_NAMES,
) -> None:
    """A series the agenda can expand; WijkbotError naming the first thing wrong. `names` are the names
    of the fields in the messages (the CLI's options, or the properties of an .ics file)."""
    try:
        zone(tz)
    except WijkbotError as exc:
        raise WijkbotError(f"{names['timezone']}: {exc}") from None
    try:
        first = datetime.fromisoformat(start_local)
    except ValueError:
        raise WijkbotError(
            f"{names['start']} {start_local[:40]!r} is not a local date and time such as 2027-01-12T14:00"
        ) from None
    if first.tzinfo is not None:
        raise WijkbotError(
            f"{names['start']} is a local wall-clock time without offset; the time zone is {names['timezone']}"
        )
    check_year(first, names["start"])
    what = f"{names['rrule']} {rrule_text[:80]!r}"
    if len(rrule_text) > MAX_RULE:
        raise WijkbotError(f"{what}: longer than {MAX_RULE} characters")
    if "FREQ=" not in rrule_text.upper():
        raise WijkbotError(f"{what} is not an RFC 5545 rule: FREQ is missing (FREQ=WEEKLY;BYDAY=TU ...)")
    try:
        rule = rrulestr(rrule_text, dtstart=first)
    except (ValueError, OverflowError) as exc:
        raise WijkbotError(f"{what} is not an RFC 5545 rule: {str(exc)[:100]}") from None
    except TypeError:  # dateutil building the rule from parts that do not make one
        raise WijkbotError(f"{what} is not an RFC 5545 rule") from None
    if not isinstance(rule, rrule):
        raise WijkbotError(f"{what}: one RRULE only (no RDATE or EXDATE in it)")
    if rule._freq > DAILY:  # HOURLY, MINUTELY, SECONDLY
        raise WijkbotError(f"{what}: a meeting repeats daily at most (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)")
    if rule._interval > MAX_INTERVAL:
        raise WijkbotError(f"{what}: INTERVAL is at most {MAX_INTERVAL}")
    try:
        _check_occurrences(rule, first)
    except (ValueError, OverflowError) as exc:  # dateutil computing a date that does not exist
        raise WijkbotError(f"{what} cannot be expanded: {str(exc)[:100]}") from None
    except WijkbotError as exc:
        raise WijkbotError(f"{what}: {exc}") from None
    validate_leads(remind, names["remind"])


def _check_occurrences(rule: rrule, first: datetime) -> None:
    """The rule has an occurrence, and at most MAX_PER_YEAR in its first year; in bounded time.

    dateutil looks for the next occurrence until the year 9999, so a rule with none (FREQ=DAILY;
    BYMONTH=2;BYMONTHDAY=30) would take seconds here and in every expansion. Whether it has any is asked
    of the same rule moved by whole 400-year cycles (the calendar is the same) to between 400 and 800
    years before 9999, without COUNT and UNTIL: that search ends at 9999 however it goes."""
    shift = -(-(MAXYEAR - 2 * _CYCLE + 1 - first.year) // _CYCLE) * _CYCLE
    moved = rule.replace(dtstart=first.replace(year=first.year + shift), count=None, until=None)
    if next(iter(moved), None) is None:
        raise WijkbotError("has no occurrence at all (its BY... parts exclude each other)")
    year_later = first + timedelta(days=366)
    n = -1
    for n, when in enumerate(rule):
        if when >= year_later:
            break
        if n >= MAX_PER_YEAR:
            raise WijkbotError(f"more than {MAX_PER_YEAR} occurrences in a year")
    if n < 0:
        raise WijkbotError("has no occurrence (COUNT=0, or UNTIL before the start)")


def validate_leads(remind: list[str], name: str = "--remind") -> None:
    """Lead times such as 7d, 1d, 2h; one clear line for the first that is not."""
    if len(remind) > MAX_LEADS:
        raise WijkbotError(f"{name}: at most {MAX_LEADS} lead times")
    for lead in remind:
        try:
            parse_duration(lead)
        except (ValueError, OverflowError) as exc:
            raise WijkbotError(f"{name}: {exc}") from None


@lru_cache(maxsize=100_000)
def parsed_rule(rrule: str, start_local: str):
    """The parsed rule, cached: parsing is the expensive part, and dateutil caches what it expands."""
    return rrulestr(rrule, dtstart=datetime.fromisoformat(start_local), cache=True)


def series_occurrences(
    series: MeetingSeries, exceptions: list[SeriesException], start: datetime, end: datetime
) -> list[Occurrence]:
    """Occurrences of one series that start in [start, end) (aware datetimes), moved ones where they
    were moved to (however far), cancelled ones left out."""
    tz = zone(series.timezone)
    changed = {e.original_start: e for e in exceptions}
    duration = timedelta(minutes=series.duration_minutes)
    out = []
    for original in _rule_starts(series, start, end):
        if original.astimezone(UTC) not in changed and start <= original < end:
            out.append(
                Occurrence(
                    "meeting",
                    series.title,
                    original,
                    original + duration,
                    series.location,
                    series_id=series.id,
                    original_start=original.astimezone(UTC),
                )
            )
    for e in exceptions:
        if e.new_start is not None and start <= e.new_start < end:
            when = e.new_start.astimezone(tz)
            out.append(
                Occurrence(
                    "meeting",
                    series.title,
                    when,
                    when + duration,
                    series.location,
                    series_id=series.id,
                    moved=True,
                    original_start=e.original_start,
                    changed_at=e.changed_at,
                )
            )
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


REVISION = "agenda.revision"


def revision(session: Session) -> int:
    """A counter bumped by every change to the agenda: the scheduler resyncs its jobs when it moved."""
    return int(memory.get(session, REVISION, 0))


def bump_revision(session: Session) -> None:
    session.info["agenda_changed"] = True  # the chat's caller tells the scheduler after the commit
    memory.put(session, REVISION, revision(session) + 1)


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
