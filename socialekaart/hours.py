"""Opening hours: HSDS schedules (RFC 5545 style) evaluated in local time, and the CSV notation.

CSV notation (one or more entries separated by ';'):

    ma-vr 09:00-17:00; za 10:00-12:30        every week
    ma,wo,do 9-12                            several days; whole hours may drop ':00'
    2e di 14:00-16:00                        the second Tuesday of the month (1e ... 4e)
    laatste za 10:00-12:00                   the last Saturday of the month
    ma-zo 17:00-08:00                        a closing time before the opening time runs past midnight
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from intents.dates import weekdays as day_numbers

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ORDINALS = {"1e": 1, "eerste": 1, "2e": 2, "tweede": 2, "3e": 3, "derde": 3, "4e": 4, "vierde": 4, "laatste": -1}
_BYDAY = re.compile(r"^([+-]?[1-5])?(MO|TU|WE|TH|FR|SA|SU)$")
_TIME = r"(\d{1,2})(?:[:.](\d{2}))?"
_ENTRY = re.compile(rf"^(?:(?P<ord>\w+)\s+)?(?P<days>[a-z,\s-]+?)\s+{_TIME}\s*-\s*{_TIME}$")


@dataclass(frozen=True)
class Opening:
    """One schedule line: on which days, from when to when (local time)."""

    freq: str
    byday: tuple[tuple[int | None, int], ...]  # (ordinal or None, weekday 0=Monday)
    opens: time
    closes: time

    def _day_matches(self, day: date) -> bool:
        for ordinal, weekday in self.byday:
            if day.weekday() != weekday:
                continue
            if self.freq == "WEEKLY" or ordinal is None:
                return True
            nth = (day.day - 1) // 7 + 1
            last = (day + timedelta(days=7)).month != day.month
            if ordinal == nth or (ordinal == -1 and last):
                return True
        return False

    def is_open(self, local: datetime) -> bool:
        now = local.time().replace(tzinfo=None)
        today = local.date()
        if self.closes > self.opens:
            return self._day_matches(today) and self.opens <= now < self.closes
        # runs past midnight (or round the clock when closes == opens)
        if self._day_matches(today) and now >= self.opens:
            return True
        return self._day_matches(today - timedelta(days=1)) and now < self.closes


def parse_byday(byday: str) -> tuple[tuple[int | None, int], ...]:
    out = []
    for part in byday.split(","):
        m = _BYDAY.match(part.strip())
        if m:
            out.append((int(m.group(1)) if m.group(1) else None, DAYS.index(m.group(2))))
    return tuple(out)


def opening(freq: str | None, byday: str | None, opens_at: str | None, closes_at: str | None) -> Opening | None:
    """An Opening from HSDS schedule fields, or None when the schedule says too little to use."""
    if not (byday and opens_at and closes_at):
        return None
    days = parse_byday(byday)
    if not days:
        return None
    return Opening(freq or "WEEKLY", days, time.fromisoformat(opens_at), time.fromisoformat(closes_at))


def open_at(openings: Iterable[Opening], local: datetime) -> bool:
    return any(o.is_open(local) for o in openings)


def _hhmm(h: str, m: str | None) -> str:
    hour, minute = int(h), int(m or 0)
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        raise ValueError(f"{h}:{m or '00'} is not a time of day")
    return f"{hour % 24:02d}:{minute:02d}"


def parse_notation(text: str) -> list[dict]:
    """Parse the CSV opening-hours notation into HSDS schedule fields; raise ValueError when unclear."""
    schedules = []
    dutch_days = day_numbers()  # maandag, ma, ... (calendar.days and calendar.days_short) -> 0 ... 6
    for raw in text.split(";"):
        entry = " ".join(raw.lower().split())
        if not entry:
            continue
        m = _ENTRY.match(entry)
        if not m:
            raise ValueError(f"'{raw.strip()}' is not like 'ma-vr 09:00-17:00' or '2e di 14:00-16:00'")
        ordinal_word, days_text = m.group("ord"), m.group("days").replace(" ", "")
        if ordinal_word and ordinal_word not in _ORDINALS:
            days_text = f"{ordinal_word},{days_text}"
            if ordinal_word not in dutch_days:
                raise ValueError(f"'{ordinal_word}' is not 1e, 2e, 3e, 4e or laatste")
            ordinal_word = None
        weekdays: list[int] = []
        for chunk in days_text.split(","):
            if "-" in chunk:
                first, _, last = chunk.partition("-")
                if first not in dutch_days or last not in dutch_days:
                    raise ValueError(f"'{chunk}' is not a range of days such as ma-vr")
                a, b = dutch_days[first], dutch_days[last]
                weekdays.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            elif chunk in dutch_days:
                weekdays.append(dutch_days[chunk])
            else:
                raise ValueError(f"'{chunk}' is not a day (ma di wo do vr za zo)")
        opens, closes = _hhmm(m.group(3), m.group(4)), _hhmm(m.group(5), m.group(6))
        ordinal = _ORDINALS.get(ordinal_word) if ordinal_word else None
        prefix = str(ordinal) if ordinal else ""
        schedules.append(
            {
                "freq": "MONTHLY" if ordinal else "WEEKLY",
                "byday": ",".join(prefix + DAYS[d] for d in weekdays),
                "opens_at": opens,
                "closes_at": closes,
                "description": raw.strip(),
            }
        )
    return schedules
