"""The coordinators' CSV template and the opening-hours notation."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.floor.clock import LOCAL_TZ
from bot.floor.errors import ImportProblem
from socialekaart.csvmap import parse_csv
from socialekaart.hours import opening, parse_notation
from socialekaart.hsds import apply_records, export_records
from tests.conftest import ROOT

TEMPLATE = ROOT / "docs" / "kaart-template.csv"


def import_csv(database, data: bytes) -> None:
    with database.session() as session:
        apply_records(session, parse_csv(data))
        session.commit()


def test_the_documented_template_imports(database):
    import_csv(database, TEMPLATE.read_bytes())
    with database.session() as session:
        services = {s["name"]: s for s in export_records(session)}
    assert set(services) == {"Koffieochtend De Linde", "Budgetcoach aan huis", "Seniorengym Het Baken"}
    koffie = services["Koffieochtend De Linde"]
    assert koffie["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] == "7543AB"
    assert koffie["schedules"][0]["byday"] == "TU" and koffie["schedules"][0]["opens_at"] == "10:00"
    assert [a["taxonomy_term"]["code"] for a in koffie["attributes"]] == ["welzijn.ontmoeting", "welzijn.eenzaamheid"]
    assert koffie["cost_options"][0]["amount"] == 0
    assert koffie["contacts"][0]["title"] == "opbouwwerker"
    gym = services["Seniorengym Het Baken"]
    assert gym["cost_options"][0]["amount"] == 2.5
    assert [s["byday"] for s in gym["schedules"]] == ["MO,TH", "-1SA"]
    assert {x["code"] for x in services["Budgetcoach aan huis"]["languages"]} == {"nl", "ar", "tr"}


def test_importing_the_same_csv_twice_updates_instead_of_duplicating(database):
    import_csv(database, TEMPLATE.read_bytes())
    edited = TEMPLATE.read_text(encoding="utf-8").replace("Elke dinsdag koffie", "Elke dinsdag verse koffie")
    import_csv(database, edited.encode())
    with database.session() as session:
        services = export_records(session)
    assert len(services) == 3
    assert any("verse koffie" in (s["description"] or "") for s in services)


def test_csv_problems_name_the_line_and_column():
    header = TEMPLATE.read_text(encoding="utf-8").splitlines()[0]
    rows = [
        header,
        "Goede regel,Org,Tekst,,,,,,,,,,,,,,,",
        ",Org zonder naam,Tekst,,,,,,,,,,,,,,,",
        "Rare postcode,Org,Tekst,Straat 1,12345,,,,,,,,,,,,,",
        "Rare tijden,Org,Tekst,,,,,,,elke dag open,,,,,,,,",
        "Rare categorie,Org,Tekst,,,,,,,,koffie,,,,,,,",
        "Rare kosten,Org,Tekst,,,,,,,,,,veel,,,,,",
        "Rare mail,Org,Tekst,,,,,geen-mail,,,,,,,,,,",
    ]
    with pytest.raises(ImportProblem) as info:
        parse_csv("\n".join(rows).encode())
    text = "\n".join(info.value.problems)
    assert "line 3: name: is empty" in text
    assert "line 4: postcode:" in text
    assert "line 5: opening_hours:" in text
    assert "line 6: categories:" in text
    assert "line 7: cost:" in text
    assert "line 8: email:" in text
    assert "line 2" not in text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"naam,adres\nx,y\n", "line 1: missing column(s): name, organization"),
        (b"name,organization,colour\nA,B,red\n", "unknown column(s): colour"),
        (b"name,organization\n", "no rows after the header"),
        (b"name,organization\nA,B,C,D\n", "line 2: more values than columns"),
        (b"name,organization\n\xff\xfe,x\n", "not UTF-8"),
    ],
)
def test_malformed_csv_files(data, expected):
    with pytest.raises(ImportProblem) as info:
        parse_csv(data)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_semicolon_separated_csv_from_a_dutch_spreadsheet():
    records = parse_csv("name;organization;cost\nTaalcafé;Bibliotheek;€ 1,50 per keer\n".encode())
    assert records[0].name == "Taalcafé" and records[0].cost_options[0].amount == 1.5


def test_opening_hours_notation():
    assert parse_notation("ma-vr 09:00-17:00; za 10:00-12:30") == [
        {
            "freq": "WEEKLY",
            "byday": "MO,TU,WE,TH,FR",
            "opens_at": "09:00",
            "closes_at": "17:00",
            "description": "ma-vr 09:00-17:00",
        },
        {"freq": "WEEKLY", "byday": "SA", "opens_at": "10:00", "closes_at": "12:30", "description": "za 10:00-12:30"},
    ]
    assert parse_notation("2e di 14-16")[0]["byday"] == "2TU"
    assert parse_notation("laatste za 10-12")[0]["byday"] == "-1SA"
    assert parse_notation("vr-ma 9-10")[0]["byday"] == "FR,SA,SU,MO"
    for bad in ("elke dag", "ma 25:00-26:00", "xx 9-10", "5e di 9-10"):
        with pytest.raises(ValueError):
            parse_notation(bad)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def test_schedules_in_local_time_monthly_and_past_midnight():
    last_saturday = opening("MONTHLY", "-1SA", "10:00", "12:00")
    assert last_saturday.is_open(local(2026, 11, 28, 11, 0))
    assert not last_saturday.is_open(local(2026, 11, 21, 11, 0))
    second_tuesday = opening("MONTHLY", "2TU", "14:00", "16:00")
    assert second_tuesday.is_open(local(2026, 12, 8, 15, 0))
    assert not second_tuesday.is_open(local(2026, 12, 1, 15, 0))
    nights = opening("WEEKLY", "FR", "17:00", "08:00")
    assert nights.is_open(local(2026, 11, 27, 23, 0))
    assert nights.is_open(local(2026, 11, 28, 7, 59))  # Saturday morning belongs to Friday night
    assert not nights.is_open(local(2026, 11, 28, 8, 0))
    assert not nights.is_open(local(2026, 11, 27, 16, 59))
    # across the switch to summer time the wall clock still decides
    weekday = opening("WEEKLY", "SU", "01:00", "04:00")
    assert weekday.is_open(local(2027, 3, 28, 3, 30))
