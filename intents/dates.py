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
from zoneinfo import ZoneInfo

WEEKDAYS = {"maandag": 0, "ma": 0, "dinsdag": 1, "di": 1, "woensdag": 2, "wo": 2, "donderdag": 3, "do": 3,
            "vrijdag": 4, "vr": 4, "zaterdag": 5, "za": 5, "zondag": 6, "zo": 6}
MONTHS = {"januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "mar": 3, "april": 4, "apr": 4,
          "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8, "september": 9, "sep": 9,
          "sept": 9, "oktober": 10, "okt": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12}
RELATIVE = {"vandaag": 0, "morgen": 1, "overmorgen": 2}
FILLER = {"om", "op", "de", "het", "van", "uur", "u", "vanaf", "begint", "start", "aanvang", "tijd", "datum"}
DAY_NAMES = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:t|\b)")
_NUMERIC_YEAR = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})\b")
_WORD_DATE = re.compile(r"\b(\d{1,2})\s+([a-z]+)\.?(?:\s+(\d{4}))?\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[-/](\d{1,2})\b")  # no '.': 14.00 is a time
_TIME = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b|\b([01]?\d|2[0-3])\s*(?:uur|u|h)\b")
MONTH_NAMES = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
               "november", "december")


class DateNotUnderstood(ValueError):
    """The text is not a date (and time) this parser is sure about; the message says why, in Dutch."""


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace(",", " ").split())


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateNotUnderstood(f"{day} {_month(month)} {year} bestaat niet.") from None


def _without_year(month: int, day: int, today: date) -> date:
    """The first such day from today on (this year or next)."""
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 29 February
        if candidate >= today:
            return candidate
    raise DateNotUnderstood(f"{day} {_month(month)} bestaat niet.")


def _month(month: int) -> str:
    return MONTH_NAMES[month - 1] if 1 <= month <= 12 else f"maand {month}"


def _take(text: str, m: re.Match) -> str:
    return text[:m.start()] + " " + text[m.end():]


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
            month = MONTHS.get(m.group(2))
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
        if w in WEEKDAYS and weekday is None:
            weekday = WEEKDAYS[w]
        elif w in RELATIVE and found is None:
            found = today + timedelta(days=RELATIVE[w])
        else:
            rest.append(word)
    if found is None and weekday is not None:
        ahead = (weekday - today.weekday()) % 7 or 7  # "dinsdag" on a Tuesday: next week's
        found = today + timedelta(days=ahead)
    if found is None:
        raise DateNotUnderstood("Ik zie geen datum.")
    if weekday is not None and found.weekday() != weekday:
        raise DateNotUnderstood(f"{found.day} {MONTH_NAMES[found.month - 1]} {found.year} is een "
                                f"{DAY_NAMES[found.weekday()]}, geen {DAY_NAMES[weekday]}.")
    return found, " ".join(rest)


def parse_date(text: str, today: date) -> date:
    """A date only (a deadline): "15 september 2027", "15-9", "2027-09-15"."""
    day, rest = parse_day(text, today)
    leftover = [w for w in rest.split() if w not in FILLER]
    if leftover:
        raise DateNotUnderstood(f"Ik begrijp \"{' '.join(leftover)}\" niet.")
    return day


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A local date and time (a meeting): aware, in `tz`. The time is required."""
    today = now.astimezone(tz).date()
    day, rest = parse_day(text, today)
    m = _TIME.search(rest)
    if not m:
        raise DateNotUnderstood("Ik zie geen tijd. Typ de tijd zo: 14:00.")
    hour, minute = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(3)), 0)
    rest = rest[:m.start()] + " " + rest[m.end():]
    leftover = [w for w in rest.split() if w not in FILLER]
    if leftover:
        raise DateNotUnderstood(f"Ik begrijp \"{' '.join(leftover)}\" niet.")
    return wall_clock(day, time(hour, minute), tz)


def wall_clock(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in `tz`. A time that does not exist (the hour skipped in spring) moves forward."""
    local = datetime.combine(day, at, tzinfo=tz)
    round_trip = local.astimezone(ZoneInfo("UTC")).astimezone(tz)
    return round_trip if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None) else local
