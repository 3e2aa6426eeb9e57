"""Dates and times as Dutch people type them: "dinsdag 12 januari 14:00", "12-1-2027 14.00", "morgen 10 uur".

A small, strict grammar rather than a general date library: the general ones we tried read
"morgen 10 uur" as 20:00 and "di 12 jan 14u" as the year 2114, and ignore a weekday that contradicts
the date. Here every word must be understood, a weekday must agree with the date, and a date without
a year is the first one from today on. What is not understood raises `DateNotUnderstood` with a B1
Dutch reason, so the chat can ask again; the chat always shows the result in words before saving.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bot.floor.texts import say, words

# the day and month names and their short forms are calendar.* of bot/floor/data/texts.nl.yaml; these
# spellings are read too
OTHER_SPELLINGS = {"mar": 3, "sept": 9, "oct": 10}
RELATIVE = {"vandaag": 0, "morgen": 1, "overmorgen": 2}
FILLER = {"om", "op", "de", "het", "van", "uur", "u", "vanaf", "begint", "start", "aanvang", "tijd", "datum"}

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:t|\b)")
_NUMERIC_YEAR = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\b")
_WORD_DATE = re.compile(r"\b(\d{1,2})\s+([a-z]+)\.?(?:\s+(\d{4}))?\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[-/](\d{1,2})\b")  # no '.': 14.00 is a time
_TIME = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b|\b([01]?\d|2[0-3])\s*(?:uur|u|h)\b")


class DateNotUnderstood(ValueError):
    """The text is not a date (and time) this parser is sure about; the message says why, in Dutch."""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace(",", " ").split())


def _numbered(*lists: list[str], start: int) -> dict[str, int]:
    return {_fold(name): n for names in lists for n, name in enumerate(names, start)}


@cache
def weekdays() -> dict[str, int]:
    """Day names and their short forms, folded -> 0 (Monday) ... 6."""
    return _numbered(words("calendar.days"), words("calendar.days_short"), start=0)


@cache
def months() -> dict[str, int]:
    """Month names, their short forms and OTHER_SPELLINGS, folded -> 1 ... 12."""
    return {**_numbered(words("calendar.months"), words("calendar.months_short"), start=1), **OTHER_SPELLINGS}


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateNotUnderstood(say("dates.no_such_date", day=day, month=_month(month), year=year)) from None


def _without_year(month: int, day: int, today: date) -> date:
    """The first such day from today on (this year or next)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 29 February
        if candidate >= today:
            return candidate
    raise DateNotUnderstood(say("dates.no_such_day", day=day, month=_month(month)))


def _month(month: int) -> str:
    return words("calendar.months")[month - 1] if 1 <= month <= 12 else say("dates.month_number", number=month)


def _take(text: str, m: re.Match) -> str:
    return text[: m.start()] + " " + text[m.end() :]


def parse_day(text: str, today: date) -> tuple[date, str]:
    """The date in `text` and what is left of the text once the date is taken out."""
    folded = _fold(text)
    found: date | None = None
    if m := _ISO.search(folded):
        found, folded = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3))), _take(folded, m)
    elif m := _NUMERIC_YEAR.search(folded):
        year = int(m.group(3))
        found = _make_date(year + 2000 if year < 100 else year, int(m.group(2)), int(m.group(1)))
        folded = _take(folded, m)
    else:
        for m in _WORD_DATE.finditer(folded):
            month = months().get(m.group(2))
            if month is not None:
                day = int(m.group(1))
                found = _make_date(int(m.group(3)), month, day) if m.group(3) else _without_year(month, day, today)
                folded = _take(folded, m)
                break
        else:
            if m := _NUMERIC.search(folded):
                found, folded = _without_year(int(m.group(2)), int(m.group(1)), today), _take(folded, m)
    weekday = None
    rest = []
    for word in folded.split():
        w = word.rstrip(".")
        if w in weekdays() and weekday is None:
            weekday = weekdays()[w]
        elif w in RELATIVE and found is None:
            found = today + timedelta(days=RELATIVE[w])
        else:
            rest.append(word)
    if found is None and weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7  # "dinsdag" on a Tuesday: next week's
        found = today + timedelta(days=ahead)
    if found is None:
        raise DateNotUnderstood(say("dates.no_date"))
    if weekday is not None and found.weekday() != weekday:
        days = words("calendar.days")
        raise DateNotUnderstood(
            say(
                "dates.wrong_weekday",
                day=found.day,
                month=_month(found.month),
                year=found.year,
                weekday=days[found.weekday()],
                typed=days[weekday],
            )
        )
    return found, " ".join(rest)


def parse_date(text: str, today: date) -> date:
    """A date only (a deadline): "15 september 2027", "15-9", "2027-09-15"."""
    day, rest = parse_day(text, today)
    leftover = [w for w in rest.split() if w not in FILLER]
    if leftover:
        raise DateNotUnderstood(say("dates.not_understood", words=" ".join(leftover)))
    return day


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A local date and time (a meeting): aware, in `tz`. The time is required."""
    today = now.astimezone(tz).date()
    day, rest = parse_day(text, today)
    m = _TIME.search(rest)
    if not m:
        raise DateNotUnderstood(say("dates.no_time"))
    hour, minute = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(3)), 0)
    rest = rest[: m.start()] + " " + rest[m.end() :]
    leftover = [w for w in rest.split() if w not in FILLER]
    if leftover:
        raise DateNotUnderstood(say("dates.not_understood", words=" ".join(leftover)))
    return wall_clock(day, time(hour, minute), tz)


def wall_clock(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in `tz`. A time that does not exist (the hour skipped in spring) moves forward."""
    local = datetime.combine(day, at, tzinfo=tz)
    round_trip = local.astimezone(ZoneInfo("UTC")).astimezone(tz)
    return round_trip if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None) else local
