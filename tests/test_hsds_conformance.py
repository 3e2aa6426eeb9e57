"""HSDS 3.0 conformance: every export is a valid compiled service record, and the import reads the shapes the
specification publishes (an array, one service, a paginated list, a tabular data package), dropping a value
that cannot be true with a warning instead of refusing the file.

The examples here are written for these tests in the shapes of the specification's examples; none is copied."""

from __future__ import annotations

import copy
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from bot.floor.errors import ImportProblem
from socialekaart.conformance import check_service
from socialekaart.hsds import apply_records, export_records, parse_json
from socialekaart.tabular import parse_package
from tests.conftest import ROOT
from tests.records import service

EVAL_MAP = ROOT.parent / "shared" / "eval" / "socialmap.json"


def load(database, records) -> None:
    with database.session() as session:
        apply_records(session, records)
        session.commit()


def exported(database) -> list[dict]:
    with database.session() as session:
        return export_records(session)


def edge_cases() -> list[dict]:
    """What a map may hold that the demo does not: nulls, missing required HSDS values, text where HSDS 3.0
    wants a number, fields Wijkbot does not model."""
    bare = {"id": "7d1c0000-0000-4000-8000-000000000001", "name": "Alleen een naam"}
    sparse = service("Inloop", description=None, alternate_name=None, status="temporarily closed")
    sparse["organization"] = {"id": "7d1c0000-0000-4000-8000-0000000000a1", "name": "Zonder beschrijving"}
    sparse["attributes"][0]["taxonomy_term"] = {"id": "7d1c0000-0000-4000-8000-0000000000b1", "name": "Inloop"}
    location = sparse["service_at_locations"][0]["location"]
    location.update(id="7d1c0000-0000-4000-8000-0000000000c1", latitude=None, longitude=None)
    location["addresses"] = [
        {"id": "7d1c0000-0000-4000-8000-0000000000d1", "postal_code": "7543AB", "city": None, "address_type": None}
    ]
    sparse["phones"] = [
        {"id": "7d1c0000-0000-4000-8000-0000000000e1", "number": "053-5550002", "extension": "12"},
        {"id": "7d1c0000-0000-4000-8000-0000000000e2", "number": "053-5550003", "extension": "toestel 3"},
        {"id": "7d1c0000-0000-4000-8000-0000000000e3", "number": "053-5550004", "extension": 7, "type": None},
    ]
    sparse["schedules"] = [
        {"id": "7d1c0000-0000-4000-8000-0000000000f1", "freq": "WEEKLY", "byday": "MO", "timezone": 1},
        {"id": "7d1c0000-0000-4000-8000-0000000000f2", "opens_at": "09:00", "timezone": "Europe/Amsterdam"},
    ]
    sparse["cost_options"] = [{"id": "7d1c0000-0000-4000-8000-0000000000f3", "amount": 0, "currency": "EUR"}]
    sparse["funding"] = [{"id": "7d1c0000-0000-4000-8000-0000000000f4", "source": "gemeente"}]
    sparse["minimum_age"] = 18
    sparse["interpretation_services"] = None
    return [bare, sparse]


def assert_conform(records: list[dict]) -> None:
    assert records
    for record in records:
        assert check_service(record) == [], (record["id"], check_service(record))


def test_every_record_exported_from_the_demo_map_conforms(demo_db_url):
    from bot.floor.db import Database

    demo = Database(demo_db_url)
    assert_conform(exported(demo))
    demo.dispose()


@pytest.mark.skipif(not EVAL_MAP.exists(), reason="../shared/eval is not beside this checkout")
def test_every_record_exported_from_the_evaluation_map_conforms(sqlite_templates, tmp_path):
    from bot.floor.db import Database

    shutil.copy(sqlite_templates["empty"], tmp_path / "eval.sqlite3")
    db = Database(f"sqlite:///{tmp_path / 'eval.sqlite3'}")
    load(db, parse_json(EVAL_MAP.read_bytes()))
    assert_conform(exported(db))
    db.dispose()


def test_a_map_of_edge_cases_exports_conforming_records_that_import_to_the_same_map(database):
    load(database, parse_json(json.dumps(edge_cases())))
    first = exported(database)
    assert_conform(first)
    load(database, parse_json(json.dumps(first)))
    assert exported(database) == first


def test_what_an_export_writes_where_hsds_requires_a_value_wijkbot_lacks(database):
    load(database, parse_json(json.dumps(edge_cases())))
    bare, sparse = sorted(exported(database), key=lambda r: r["name"])
    assert bare == {"id": bare["id"], "name": "Alleen een naam", "status": "active"} | {
        k: [] for k in bare if isinstance(bare[k], list)
    }
    assert "description" not in sparse and "alternate_name" not in sparse and "interpretation_services" not in sparse
    assert sparse["organization"]["description"] == "Zonder beschrijving"  # required: the name
    assert sparse["attributes"][0]["taxonomy_term"]["description"] == "Inloop"
    address = sparse["service_at_locations"][0]["location"]["addresses"][0]
    assert address["postal_code"] == "7543AB" and address["city"] == "" and address["address_type"] == "physical"
    assert "latitude" not in sparse["service_at_locations"][0]["location"]
    phones = {p["number"]: p for p in sparse["phones"]}
    assert phones["053-5550002"]["extension"] == 12
    assert "extension" not in phones["053-5550003"] and phones["053-5550003"]["description"] == "toestel toestel 3"
    assert phones["053-5550004"] == {"id": phones["053-5550004"]["id"], "number": "053-5550004", "extension": 7}
    schedules = sparse["schedules"]
    assert schedules[0]["timezone"] == 1
    assert "timezone" not in schedules[1] and schedules[1]["description"] == "tijdzone Europe/Amsterdam"
    assert sparse["cost_options"][0]["amount"] == 0 and sparse["minimum_age"] == 18


def test_check_service_names_the_field_that_breaks_the_standard():
    record = {"id": "x", "name": "A", "status": "active", "alternate_name": None}
    record["phones"] = [{"id": "p", "number": "1", "extension": "12"}]
    record["attributes"] = [{"id": "a", "taxonomy_term": {"id": "t", "name": "T"}}]
    problems = check_service(record)
    assert "alternate_name: Input should be a valid string" in problems
    assert "phones[0].extension: Input should be a valid number" in problems
    assert "attributes[0].taxonomy_term.description: Field required" in problems
    assert check_service({"id": "x", "name": "A"}) == ["status: Field required"]
    assert check_service([]) != []


# --- the shapes the specification publishes -------------------------------------------------------------


def test_one_service_object_imports():
    one = service("Taalcafé")
    one["phones"][0]["extension"] = 100  # a number in HSDS 3.0
    one["schedules"][0].update(timezone=1, opens_at="10:00:00")
    records = parse_json(json.dumps(one))
    assert [r.id for r in records] == [one["id"]] and records.warnings == []
    assert records[0].phones[0].extension == "100" and records[0].schedules[0].timezone == "1"
    assert records[0].schedules[0].opens_at == "10:00"


def test_a_paginated_list_imports_and_says_when_it_is_one_page_of_more():
    services = [service("Koffieochtend"), service("Wandelclub")]
    page = {"total_items": 2, "total_pages": 1, "page_number": 1, "size": 2, "contents": services}
    assert [r.name for r in parse_json(json.dumps(page))] == ["Koffieochtend", "Wandelclub"]
    first_of_five = parse_json(json.dumps({**page, "total_items": 10, "total_pages": 5}))
    assert len(first_of_five) == 2
    assert first_of_five.warnings == ["file: this is page 1 of a paginated list: the file holds 2 of its 10 services"]


def test_an_impossible_value_is_dropped_with_a_warning_and_the_rest_imports(database):
    odd = service("Buurtkamer")
    location = odd["service_at_locations"][0]["location"]
    location.update(id="7d1c0000-0000-4000-8000-000000000200", latitude=100, longitude=101)
    location["addresses"][0]["id"] = "7d1c0000-0000-4000-8000-000000000202"
    odd["schedules"][0].update(closes_at="25:00", interval=0)
    odd["cost_options"] = [{"id": "7d1c0000-0000-4000-8000-000000000201", "amount": -5, "currency": "EUR"}]
    odd["phones"][0]["extension"] = -1
    fine = service("Wandelclub")
    records = parse_json(json.dumps([fine, odd]))
    assert [r.name for r in records] == ["Wandelclub", "Buurtkamer"]
    where = f"record 2 (id {odd['id']})"
    text = "\n".join(records.warnings)
    assert f"{where}: service_at_locations[0].location.latitude: 100 dropped" in text
    assert f"{where}: service_at_locations[0].location.longitude: 101 dropped: its pair was impossible" in text
    assert f"{where}: schedules[0].closes_at: '25:00' dropped: not a time of day" in text
    assert f"{where}: schedules[0].interval: 0 dropped" in text
    assert f"{where}: cost_options[0].amount: -5 dropped: a cost is 0 or more" in text
    assert f"{where}: phones[0].extension: -1 dropped" in text
    load(database, records)
    kept = {r["name"]: r for r in exported(database)}["Buurtkamer"]
    assert "latitude" not in kept["service_at_locations"][0]["location"]
    assert "closes_at" not in kept["schedules"][0] and kept["schedules"][0]["opens_at"] == "10:00"
    assert "amount" not in kept["cost_options"][0]


def test_the_same_phone_of_service_and_contact_is_kept_once():
    rec = service()
    rec["contacts"][0]["phones"] = [copy.deepcopy(rec["phones"][0])]  # the compiled form repeats it
    records = parse_json(json.dumps(rec))
    assert records[0].contacts[0].phones == [] and [p.id for p in records[0].phones] == [rec["phones"][0]["id"]]
    assert "contacts[0].phones[0]: phone" in records.warnings[0]


# --- the tabular data package ---------------------------------------------------------------------------

S1, S2 = "5a000000-0000-4000-8000-000000000001", "5a000000-0000-4000-8000-000000000002"
ORG, LOC, TERM, CONTACT = (f"5a000000-0000-4000-8000-00000000001{n}" for n in range(4))
TABLES = {
    "organization": (
        "organizations.csv",
        "id,name,description,website\n"
        + f"{ORG},Stichting Buurtwerk,Welzijn in de wijk,https://buurtwerk.example.nl\n",
    ),
    "service": (
        "services.csv",
        "id,organization_id,name,description,status,minimum_age\n"
        + f'{S1},{ORG},Koffieochtend,"Koffie, thee en een praatje",active,\n'
        + f"{S2},{ORG},Wandelclub,Samen wandelen,active,55\n",
    ),
    "location": ("locations.csv", f"id,location_type,name,latitude,longitude\n{LOC},physical,De Linde,52.2,6.9\n"),
    "address": (
        "addresses.csv",
        "id,location_id,address_1,city,state_province,postal_code,country,address_type\n"
        + f"5a000000-0000-4000-8000-000000000020,{LOC},Lindelaan 3,Oosterwaarde,Overijssel,7543AB,NL,physical\n",
    ),
    "service_at_location": (
        "service_at_locations.csv",
        f"id,service_id,location_id\n5a000000-0000-4000-8000-000000000030,{S1},{LOC}\n"
        + f"5a000000-0000-4000-8000-000000000031,{S2},{LOC}\n",
    ),
    "phone": (
        "phones.csv",
        "id,service_id,contact_id,number,extension\n"
        + f"5a000000-0000-4000-8000-000000000040,{S1},,053-5550001,12\n"
        + f"5a000000-0000-4000-8000-000000000041,,{CONTACT},06-55500001,\n",
    ),
    "contact": ("contacts.csv", f"id,service_id,name\n{CONTACT},{S1},Petra de Vries\n"),
    "schedule": (
        "schedules.csv",
        "id,service_id,freq,byday,opens_at,closes_at,timezone\n"
        + f"5a000000-0000-4000-8000-000000000050,{S1},WEEKLY,TU,10:00,12:00,1\n",
    ),
    "taxonomy_term": ("taxonomy_terms.csv", f"id,code,name,description\n{TERM},welzijn.ontmoeting,Ontmoeting,\n"),
    "attribute": (
        "attributes.csv",
        f"id,link_id,taxonomy_term_id,link_entity\n5a000000-0000-4000-8000-000000000060,{S1},{TERM},service\n",
    ),
    "language": (
        "languages.csv",
        f"id,service_id,name,code\n5a000000-0000-4000-8000-000000000070,{S2},Nederlands,nl\n",
    ),
    "cost_option": (
        "cost_options.csv",
        f"id,service_id,amount,currency\n5a000000-0000-4000-8000-000000000080,{S2},0,EUR\n",
    ),
}


def write_package(folder: Path, tables: dict = TABLES, *, typed: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    resources = []
    for name, (file, text) in tables.items():
        (folder / file).write_text(text, encoding="utf-8")
        resource: dict = {"name": name, "path": file, "profile": "tabular-data-resource"}
        if typed:
            header = text.splitlines()[0].split(",")
            numbers = {"latitude", "longitude", "extension", "timezone", "amount", "minimum_age"}
            resource["schema"] = {
                "fields": [{"name": h, "type": "number" if h in numbers else "string"} for h in header]
            }
        resources.append(resource)
    package = {"name": "wijkkaart", "profile": "tabular-data-package", "resources": resources}
    (folder / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    return folder


def zipped(folder: Path, target: Path, *, inside: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for file in folder.iterdir():
            z.write(file, inside + file.name)
    return target


@pytest.mark.parametrize("form", ["directory", "datapackage.json", "zip", "zip-with-folder", "typed"])
def test_a_data_package_joins_its_tables_into_services(tmp_path, form):
    folder = write_package(tmp_path / "pkg", typed=form == "typed")
    path = {
        "datapackage.json": folder / "datapackage.json",
        "zip": zipped(folder, tmp_path / "pkg.zip") if form == "zip" else None,
        "zip-with-folder": zipped(folder, tmp_path / "pkg2.zip", inside="kaart/")
        if form == "zip-with-folder"
        else None,
    }.get(form) or folder
    records = parse_package(path)
    assert records.warnings == []
    coffee, walk = records
    assert (coffee.id, coffee.name, walk.name) == (S1, "Koffieochtend", "Wandelclub")
    assert coffee.organization.name == walk.organization.name == "Stichting Buurtwerk"
    location = coffee.service_at_locations[0].location
    assert (location.name, location.latitude, location.addresses[0].postal_code) == ("De Linde", 52.2, "7543AB")
    assert [(p.number, p.extension) for p in coffee.phones] == [("053-5550001", "12")]
    assert coffee.contacts[0].name == "Petra de Vries" and coffee.contacts[0].phones[0].number == "06-55500001"
    assert coffee.schedules[0].opens_at == "10:00" and coffee.schedules[0].timezone == "1"
    assert coffee.attributes[0].taxonomy_term.code == "welzijn.ontmoeting"
    assert walk.languages[0].code == "nl" and walk.cost_options[0].amount == 0
    assert walk.extra_fields == {"minimum_age": 55} and "minimum_age" not in coffee.extra_fields


def test_a_data_package_imports_and_exports_valid_records(database, tmp_path):
    load(database, parse_package(write_package(tmp_path / "pkg")))
    records = exported(database)
    assert len(records) == 2 and all(check_service(r) == [] for r in records)


def test_rows_of_no_service_and_impossible_values_are_warnings(tmp_path):
    tables = dict(TABLES)
    tables["schedule"] = (
        "schedules.csv",
        TABLES["schedule"][1]
        + "5a000000-0000-4000-8000-000000000051,5a000000-0000-4000-8000-0000000000ff,WEEKLY,MO,,,\n",
    )
    tables["location"] = (
        "locations.csv",
        f"id,location_type,name,latitude,longitude\n{LOC},physical,De Linde,100,6.9\n",
    )
    records = parse_package(write_package(tmp_path / "pkg", tables))
    assert len(records) == 2
    text = "\n".join(records.warnings)
    assert "schedules.csv line 3: service_id 5a000000-0000-4000-8000-0000000000ff is no service in the package" in text
    assert "locations.csv line 2: latitude: 100 dropped" in text
    assert records[0].service_at_locations[0].location.latitude is None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"phone": ("phones.csv", None)}, "resource phone names phones.csv, which is not in the package"),
        (
            {"phone": ("phones.csv", "id,service_id,number\n5a000000-0000-4000-8000-000000000040,{S1},1,2\n")},
            "phones.csv line 2: 4 cells where the header has 3",
        ),
        (
            {
                "schedule": (
                    "schedules.csv",
                    "id,service_id,opens_at\n5a000000-0000-4000-8000-000000000050,{S1},9 uur\n",
                )
            },
            "schedules.csv line 2: opens_at: Value error, time must be HH:MM",
        ),
        (
            {"location": ("locations.csv", "id,location_type,latitude\n{LOC},physical,noord\n")},
            "locations.csv line 2: latitude: Input should be a valid number",
        ),
        (
            {"service": ("services.csv", "id,name\n{S1},A\n{S1},B\n")},
            "services.csv line 3: id: {S1} is also the id of line 2",
        ),
        ({"service": ("services.csv", 'id,name\n{S1},"A\n')}, "services.csv line 2: not CSV"),
    ],
)
def test_a_malformed_package_is_refused_naming_file_and_line(tmp_path, change, expected):
    tables = dict(TABLES)
    for name, (file, text) in change.items():
        if text is None:
            tables[name] = (file, "")
        else:
            tables[name] = (file, text.format(S1=S1, LOC=LOC))
    folder = write_package(tmp_path / "pkg", tables)
    if change.get("phone", (None, "x"))[1] is None:
        (folder / "phones.csv").unlink()
    with pytest.raises(ImportProblem) as info:
        parse_package(folder)
    assert any(expected.format(S1=S1) in p for p in info.value.problems), info.value.problems


def test_no_datapackage_json_or_no_service_resource_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportProblem) as info:
        parse_package(tmp_path / "empty")
    assert "no datapackage.json" in info.value.problems[0]
    folder = write_package(tmp_path / "pkg", {"organization": TABLES["organization"]})
    with pytest.raises(ImportProblem) as info:
        parse_package(folder)
    assert info.value.problems == ["datapackage.json: no resource named service (services.csv)"]


def test_the_command_imports_a_package_and_prints_warnings_on_stderr(tmp_path, sqlite_templates):
    from tests.test_cli import out, wijkbot

    shutil.copy(sqlite_templates["demo"], tmp_path / "kaart.sqlite3")  # seeded already: the command starts at once
    env = {"WIJKBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'kaart.sqlite3'}"}

    tables = dict(TABLES)
    tables["location"] = (
        "locations.csv",
        f"id,location_type,name,latitude,longitude\n{LOC},physical,De Linde,100,6.9\n",
    )
    package = zipped(write_package(tmp_path / "pkg", tables), tmp_path / "kaart.zip")
    result = wijkbot(tmp_path, "kaart", "import", str(package), "--replace", env=env)
    assert "imported 2 services: 2 new" in out(result)
    assert "warning: locations.csv line 2: latitude: 100 dropped" in result.stderr.decode()
    one = tmp_path / "one.json"
    one.write_text(json.dumps(service("Taalcafé")), encoding="utf-8")
    assert "imported 1 services: 1 new" in out(wijkbot(tmp_path, "kaart", "import", str(one), env=env))
