"""Dates and times typed the Dutch way, as coordinators do in chat."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.floor.clock import LOCAL_TZ
from intents.dates import DateNotUnderstood, parse_date, parse_when

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=LOCAL_TZ)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dinsdag 12 januari 14:00", "2027-01-12T14:00:00+01:00"),
        ("Dinsdag, 12 Januari 2027 om 14.00 uur", "2027-01-12T14:00:00+01:00"),
        ("12-1-2027 14:00", "2027-01-12T14:00:00+01:00"),
        ("12/01/27 9:30", "2027-01-12T09:30:00+01:00"),
        ("2027-01-12T14:00", "2027-01-12T14:00:00+01:00"),
        ("di 12 jan 14u", "2027-01-12T14:00:00+01:00"),
        ("morgen 10 uur", "2026-12-03T10:00:00+01:00"),  # a general date library read this as 20:00
        ("dinsdag 14:00", "2026-12-08T14:00:00+01:00"),
        ("woensdag 15:00", "2026-12-09T15:00:00+01:00"),  # today is Wednesday: next week's
        ("1 december 9:00", "2027-12-01T09:00:00+01:00"),  # no year: the first one from today on
        ("13 april 14:00", "2027-04-13T14:00:00+02:00"),  # summer time
        ("28 maart 2027 02:30", "2027-03-28T03:30:00+02:00"),  # 02:30 does not exist that night
    ],
)
def test_dutch_dates_and_times(text, expected):
    assert parse_when(text, NOW, LOCAL_TZ).isoformat() == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("woensdag 3 december 10:00", "3 december 2026 is een donderdag, geen woensdag."),
        ("31 februari 10:00", "31 februari bestaat niet."),
        ("12 januari", "Ik zie geen tijd"),
        ("14 uur", "Ik zie geen datum"),
        ("12 januari 14:00 ergens", 'Ik begrijp "ergens" niet.'),
        ("", "Ik zie geen datum"),
        ("<b>12 jan</b> 14:00", "Ik begrijp"),
    ],
)
def test_what_is_not_understood_says_why(text, reason):
    with pytest.raises(DateNotUnderstood, match=reason):
        parse_when(text, NOW, LOCAL_TZ)


def test_a_date_without_time_for_deadlines():
    assert parse_date("15 september 2027", NOW.date()) == date(2027, 9, 15)
    assert parse_date("15 sept", NOW.date()) == date(2027, 9, 15)
    assert parse_date("vrijdag", NOW.date()) == date(2026, 12, 4)
    with pytest.raises(DateNotUnderstood):
        parse_date("15 september 10:00", NOW.date())
