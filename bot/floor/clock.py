"""An injectable clock: all times are aware; stored in UTC, shown in Europe/Amsterdam."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time as an aware datetime in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests that only moves when told to (time travel, DST included)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def to_local(when: datetime) -> datetime:
    return when.astimezone(LOCAL_TZ)


def local_date(when: datetime) -> date:
    """The day it is in the wijk (Europe/Amsterdam) at this moment."""
    return when.astimezone(LOCAL_TZ).date()


@cache
def dutch_holidays(year: int) -> frozenset[date]:
    """The Dutch public holidays of a year (the `holidays` package)."""
    import holidays

    return frozenset(holidays.country_holidays("NL", years=year))


def office_hours(when: datetime) -> bool:
    """Whether GP practices are open: a working day (Monday to Friday, not a public holiday), 08:00-17:00
    in Europe/Amsterdam. Outside these hours urgent care is the huisartsenpost."""
    local = when.astimezone(LOCAL_TZ)
    return local.weekday() < 5 and 8 <= local.hour < 17 and local.date() not in dutch_holidays(local.year)


_DURATION = re.compile(r"^\s*([0-9]+)\s*(m|min|h|u|d|w)\s*$", re.IGNORECASE)
MAX_DURATION = timedelta(days=365)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "u": "hours", "d": "days", "w": "weeks"}


@lru_cache(maxsize=1024)
def parse_duration(text: str, most: timedelta = MAX_DURATION) -> timedelta:
    """'90m', '2h', '7d', '2w' -> timedelta, at most `most` (a year: lead times, invites, meetings);
    ValueError for anything else, also for a number too big for a date."""
    m = _DURATION.match(text)
    if not m or len(m.group(1)) > 7 or int(m.group(1)) == 0:
        raise ValueError(f"'{text[:40]}' is not a duration such as 90m, 2h, 7d or 2w")
    found = timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    if found > most:
        raise ValueError(f"'{text[:40]}' is longer than {most.days} days")
    return found
