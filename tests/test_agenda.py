"""The agenda: meeting series in local time across DST, holidays, exceptions, deadlines."""

from __future__ import annotations

import json

from tests.test_cli import out, wijkbot


def upcoming(tmp_path, start: str, days: int) -> list[dict]:
    return json.loads(out(wijkbot(tmp_path, "agenda", "upcoming", "--from", start, "--days", str(days), "--json")))


def test_a_monthly_mdo_stays_at_14_00_local_on_both_sides_of_dst(tmp_path):
    out(wijkbot(tmp_path, "agenda", "series", "add", "--title", "MDO ouderen", "--rrule", "FREQ=MONTHLY;BYDAY=2TU",
                "--start", "2027-01-12T14:00", "--duration", "90m", "--location", "Gezondheidscentrum",
                "--audience", "professionals", "--remind", "7d,1d,2h"))
    items = upcoming(tmp_path, "2027-03-01", 60)
    assert [(i["kind"], i["title"], i["start"]) for i in items] == [
        ("meeting", "MDO ouderen", "2027-03-09T14:00:00+01:00"),
        ("meeting", "MDO ouderen", "2027-04-13T14:00:00+02:00"),
    ]
    assert items[0]["end"] == "2027-03-09T15:30:00+01:00"


def test_weekly_series_across_the_autumn_change_and_holidays(tmp_path):
    out(wijkbot(tmp_path, "agenda", "series", "add", "--title", "Netwerk", "--rrule", "FREQ=WEEKLY;BYDAY=MO",
                "--start", "2027-03-01T14:00", "--skip-holidays"))
    spring = [i["start"] for i in upcoming(tmp_path, "2027-03-22", 15)]
    assert spring == ["2027-03-22T14:00:00+01:00", "2027-04-05T14:00:00+02:00"]  # 29 March is Easter Monday
    autumn = [i["start"] for i in upcoming(tmp_path, "2027-10-25", 8)]
    assert autumn == ["2027-10-25T14:00:00+02:00", "2027-11-01T14:00:00+01:00"]


def test_cancel_and_move_one_occurrence(tmp_path):
    out(wijkbot(tmp_path, "agenda", "series", "add", "--title", "MDO jeugd", "--rrule", "FREQ=WEEKLY;BYDAY=TU",
                "--start", "2027-01-05T10:00"))
    out(wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-01-12"))
    out(wijkbot(tmp_path, "agenda", "series", "move", "1", "--date", "2027-01-19", "--to", "2027-01-20T15:30"))
    items = upcoming(tmp_path, "2027-01-05", 21)
    assert [(i["start"], i["moved"]) for i in items] == [
        ("2027-01-05T10:00:00+01:00", False), ("2027-01-20T15:30:00+01:00", True)]
    bad = wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-01-13")
    assert bad.returncode == 1 and "no occurrence" in bad.stderr.decode()


def test_deadlines_and_done(tmp_path):
    out(wijkbot(tmp_path, "agenda", "deadline", "add", "--title", "Wijkplan 2027 indienen", "--due", "2027-09-15",
                "--remind", "30d,14d,7d,1d", "--owners", "coördinator"))
    items = upcoming(tmp_path, "2027-09-01", 30)
    assert [(i["kind"], i["title"], i["start"]) for i in items] == [
        ("deadline", "Wijkplan 2027 indienen", "2027-09-15T00:00:00+02:00")]
    out(wijkbot(tmp_path, "agenda", "deadline", "done", "1"))
    assert upcoming(tmp_path, "2027-09-01", 30) == []


def test_bad_agenda_input_is_one_clear_line(tmp_path):
    for args in (["--rrule", "FREQ=SOMETIMES", "--start", "2027-01-12T14:00"],
                 ["--rrule", "FREQ=WEEKLY", "--start", "morgen"],
                 ["--rrule", "FREQ=WEEKLY", "--start", "2027-01-12T14:00", "--remind", "soon"],
                 ["--rrule", "FREQ=WEEKLY", "--start", "2027-01-12T14:00", "--timezone", "Mars/Olympus"]):
        result = wijkbot(tmp_path, "agenda", "series", "add", "--title", "x", *args)
        assert result.returncode == 1 and result.stderr.decode().startswith("error:"), result.stderr
        assert "Traceback" not in result.stderr.decode()


def test_ics_round_trip_and_bad_files(tmp_path):
    out(wijkbot(tmp_path, "agenda", "series", "add", "--title", "MDO ouderen", "--rrule", "FREQ=MONTHLY;BYDAY=2TU",
                "--start", "2027-01-12T14:00", "--duration", "90m", "--location", "Gezondheidscentrum",
                "--remind", "7d,1d,2h", "--skip-holidays"))
    out(wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-02-09"))
    out(wijkbot(tmp_path, "agenda", "series", "move", "1", "--date", "2027-03-09", "--to", "2027-03-10T15:00"))
    out(wijkbot(tmp_path, "agenda", "deadline", "add", "--title", "Wijkplan 2027 indienen", "--due", "2027-09-15",
                "--remind", "30d,7d"))
    ics = tmp_path / "agenda.ics"
    out(wijkbot(tmp_path, "agenda", "export", str(ics)))
    text = ics.read_text()
    assert "BEGIN:VTIMEZONE" in text and "RRULE:FREQ=MONTHLY;BYDAY=2TU" in text and "EXDATE" in text
    assert "RECURRENCE-ID" in text
    before = upcoming(tmp_path, "2027-01-01", 280)
    other = tmp_path / "other"
    other.mkdir()
    assert "imported 1 series and 1 deadlines" in out(wijkbot(other, "agenda", "import", str(ics)))
    assert upcoming(other, "2027-01-01", 280) == before
    bad = tmp_path / "bad.ics"
    bad.write_text("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nSUMMARY:Zonder tijd\n"
                   "DTSTART:20270112T140000\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n")
    result = wijkbot(other, "agenda", "import", str(bad))
    assert result.returncode == 1 and "event 1 (UID x): DTSTART" in result.stderr.decode()
    assert upcoming(other, "2027-01-01", 280) == before  # nothing changed
    garbage = tmp_path / "garbage.ics"
    garbage.write_bytes(b"\x00\x01 not a calendar")
    result = wijkbot(other, "agenda", "import", str(garbage))
    assert result.returncode == 1 and "Traceback" not in result.stderr.decode()
