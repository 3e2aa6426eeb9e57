"""The agenda: meeting series in local time across DST, holidays, exceptions, deadlines."""

from __future__ import annotations

import json

from tests.test_cli import out, wijkbot


def upcoming(tmp_path, start: str, days: int) -> list[dict]:
    return json.loads(out(wijkbot(tmp_path, "agenda", "upcoming", "--from", start, "--days", str(days), "--json")))


def test_a_monthly_mdo_stays_at_14_00_local_on_both_sides_of_dst(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "series",
            "add",
            "--title",
            "MDO ouderen",
            "--rrule",
            "FREQ=MONTHLY;BYDAY=2TU",
            "--start",
            "2027-01-12T14:00",
            "--duration",
            "90m",
            "--location",
            "Gezondheidscentrum",
            "--audience",
            "professionals",
            "--remind",
            "7d,1d,2h",
        )
    )
    items = upcoming(tmp_path, "2027-03-01", 60)
    assert [(i["kind"], i["title"], i["start"]) for i in items] == [
        ("meeting", "MDO ouderen", "2027-03-09T14:00:00+01:00"),
        ("meeting", "MDO ouderen", "2027-04-13T14:00:00+02:00"),
    ]
    assert items[0]["end"] == "2027-03-09T15:30:00+01:00"


def test_weekly_series_across_the_autumn_change_and_holidays(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "series",
            "add",
            "--title",
            "Netwerk",
            "--rrule",
            "FREQ=WEEKLY;BYDAY=MO",
            "--start",
            "2027-03-01T14:00",
            "--skip-holidays",
        )
    )
    spring = [i["start"] for i in upcoming(tmp_path, "2027-03-22", 15)]
    assert spring == ["2027-03-22T14:00:00+01:00", "2027-04-05T14:00:00+02:00"]  # 29 March is Easter Monday
    autumn = [i["start"] for i in upcoming(tmp_path, "2027-10-25", 8)]
    assert autumn == ["2027-10-25T14:00:00+02:00", "2027-11-01T14:00:00+01:00"]


def test_cancel_and_move_one_occurrence(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "series",
            "add",
            "--title",
            "MDO jeugd",
            "--rrule",
            "FREQ=WEEKLY;BYDAY=TU",
            "--start",
            "2027-01-05T10:00",
        )
    )
    out(wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-01-12"))
    out(wijkbot(tmp_path, "agenda", "series", "move", "1", "--date", "2027-01-19", "--to", "2027-01-20T15:30"))
    items = upcoming(tmp_path, "2027-01-05", 21)
    assert [(i["start"], i["moved"]) for i in items] == [
        ("2027-01-05T10:00:00+01:00", False),
        ("2027-01-20T15:30:00+01:00", True),
    ]
    bad = wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-01-13")
    assert bad.returncode == 1 and "no occurrence" in bad.stderr.decode()


def test_deadlines_and_done(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "deadline",
            "add",
            "--title",
            "Wijkplan 2027 indienen",
            "--due",
            "2027-09-15",
            "--remind",
            "30d,14d,7d,1d",
            "--owners",
            "coördinator",
        )
    )
    items = upcoming(tmp_path, "2027-09-01", 30)
    assert [(i["kind"], i["title"], i["start"]) for i in items] == [
        ("deadline", "Wijkplan 2027 indienen", "2027-09-15T00:00:00+02:00")
    ]
    out(wijkbot(tmp_path, "agenda", "deadline", "move", "1", "--due", "2027-09-22"))
    assert [i["start"] for i in upcoming(tmp_path, "2027-09-01", 30)] == ["2027-09-22T00:00:00+02:00"]
    out(wijkbot(tmp_path, "agenda", "deadline", "done", "1"))
    assert upcoming(tmp_path, "2027-09-01", 30) == []
    bad = wijkbot(tmp_path, "agenda", "deadline", "cancel", "1")
    assert bad.returncode == 1 and "done already" in bad.stderr.decode()
    out(wijkbot(tmp_path, "agenda", "deadline", "add", "--title", "Subsidie", "--due", "2027-11-01"))
    assert "cancelled" in out(wijkbot(tmp_path, "agenda", "deadline", "cancel", "2"))
    assert upcoming(tmp_path, "2027-10-01", 60) == []


def test_bad_agenda_input_is_one_clear_line(tmp_path):
    for args in (
        ["--rrule", "FREQ=SOMETIMES", "--start", "2027-01-12T14:00"],
        ["--rrule", "FREQ=WEEKLY", "--start", "morgen"],
        ["--rrule", "FREQ=WEEKLY", "--start", "2027-01-12T14:00", "--remind", "soon"],
        ["--rrule", "FREQ=WEEKLY", "--start", "2027-01-12T14:00", "--timezone", "Mars/Olympus"],
    ):
        result = wijkbot(tmp_path, "agenda", "series", "add", "--title", "x", *args)
        assert result.returncode == 1 and result.stderr.decode().startswith("error:"), result.stderr
        assert "Traceback" not in result.stderr.decode()


def test_ics_round_trip_and_bad_files(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "series",
            "add",
            "--title",
            "MDO ouderen",
            "--rrule",
            "FREQ=MONTHLY;BYDAY=2TU",
            "--start",
            "2027-01-12T14:00",
            "--duration",
            "90m",
            "--location",
            "Gezondheidscentrum",
            "--remind",
            "7d,1d,2h",
            "--skip-holidays",
        )
    )
    out(wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-02-09"))
    out(wijkbot(tmp_path, "agenda", "series", "move", "1", "--date", "2027-03-09", "--to", "2027-03-10T15:00"))
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "deadline",
            "add",
            "--title",
            "Wijkplan 2027 indienen",
            "--due",
            "2027-09-15",
            "--remind",
            "30d,7d",
        )
    )
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
    bad.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:x\nSUMMARY:Zonder tijd\n"
        "DTSTART:20270112T140000\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    result = wijkbot(other, "agenda", "import", str(bad))
    assert result.returncode == 1 and "event 1 (UID x): DTSTART" in result.stderr.decode()
    assert upcoming(other, "2027-01-01", 280) == before  # nothing changed
    garbage = tmp_path / "garbage.ics"
    garbage.write_bytes(b"\x00\x01 not a calendar")
    result = wijkbot(other, "agenda", "import", str(garbage))
    assert result.returncode == 1 and "Traceback" not in result.stderr.decode()


def test_an_occurrence_moved_far_is_found_where_it_went_and_can_then_be_cancelled(tmp_path):
    out(
        wijkbot(
            tmp_path,
            "agenda",
            "series",
            "add",
            "--title",
            "MDO jeugd",
            "--rrule",
            "FREQ=MONTHLY;BYDAY=1TU",
            "--start",
            "2027-01-05T10:00",
        )
    )
    out(wijkbot(tmp_path, "agenda", "series", "move", "1", "--date", "2027-02-02", "--to", "2027-02-16T15:30"))
    assert [i["start"] for i in upcoming(tmp_path, "2027-02-10", 10)] == ["2027-02-16T15:30:00+01:00"]
    bad = wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-02-02")
    assert bad.returncode == 1 and "cancelled or moved already" in bad.stderr.decode()
    out(wijkbot(tmp_path, "agenda", "series", "cancel", "1", "--date", "2027-02-16"))  # where it was moved to
    assert [i["start"] for i in upcoming(tmp_path, "2027-01-01", 70)] == [
        "2027-01-05T10:00:00+01:00",
        "2027-03-02T10:00:00+01:00",
    ]


def test_participants_from_the_social_map_with_suggestions_and_rsvp_tallies(tmp_path):
    bad = wijkbot(
        tmp_path,
        "agenda",
        "series",
        "add",
        "--title",
        "MDO",
        "--rrule",
        "FREQ=WEEKLY;BYDAY=TU",
        "--start",
        "2027-01-05T10:00",
        "--participant",
        "Huisartspraktijk Vlinderhof",
    )
    assert bad.returncode == 1 and "did you mean: Huisartsenpraktijk De Vlinderhof" in bad.stderr.decode()
    assert upcoming(tmp_path, "2027-01-01", 30) == []  # nothing was added
    out(wijkbot(tmp_path, "user", "role", "telegram", "501", "professional"))
    added = wijkbot(
        tmp_path,
        "agenda",
        "series",
        "add",
        "--title",
        "MDO",
        "--rrule",
        "FREQ=WEEKLY;BYDAY=TU",
        "--start",
        "2027-01-05T10:00",
        "--participant",
        "Huisartsenpraktijk De Vlinderhof; telegram:501",
        "--remind",
        "1d",
    )
    assert added.returncode == 0
    notes = added.stderr.decode()
    assert "1 participant(s) get no reminders until they send /abonneren meetings" in notes
    assert "nobody of Huisartsenpraktijk De Vlinderhof uses Wijkbot yet" in notes
    shown = json.loads(out(wijkbot(tmp_path, "agenda", "series", "show", "1", "--days", "3660", "--json")))
    assert shown["participants"] == ["Huisartsenpraktijk De Vlinderhof", "telegram:501"]
    out(wijkbot(tmp_path, "agenda", "series", "participants", "1", "--remove", "telegram:501"))
    shown = json.loads(out(wijkbot(tmp_path, "agenda", "series", "show", "1", "--json")))
    assert shown["participants"] == ["Huisartsenpraktijk De Vlinderhof"]
    items = upcoming(tmp_path, "2027-01-01", 10)
    assert items[0]["rsvp"] == {"yes": 0, "no": 0, "maybe": 0, "asked": 0}
    # participants travel in the .ics file
    ics = tmp_path / "agenda.ics"
    out(wijkbot(tmp_path, "agenda", "export", str(ics)))
    other = tmp_path / "other"
    other.mkdir()
    out(wijkbot(other, "agenda", "import", str(ics)))  # the same demo map: the organisation is found by id
    shown = json.loads(out(wijkbot(other, "agenda", "series", "show", "1", "--json")))
    assert shown["participants"] == ["Huisartsenpraktijk De Vlinderhof"]


def test_migrations_and_models_agree(database):
    """A column added to a model without a migration would break a real upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.floor.db import Base

    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
