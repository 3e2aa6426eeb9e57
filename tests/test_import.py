"""Import and export of the social map: valid files, every kind of invalid file, round trip, upsert, replace."""

from __future__ import annotations

import copy
import json

import pytest

from bot.floor.errors import ImportProblem
from socialekaart.hsds import apply_records, export_records, parse_json, stats
from tests.records import service


def load(database, records, *, replace: bool = False):
    data = json.dumps(records).encode() if not isinstance(records, bytes) else records
    with database.session() as session:
        try:
            result = apply_records(session, parse_json(data), replace=replace)
            session.commit()
        except ImportProblem:
            session.rollback()
            raise
    return result


def current(database) -> dict:
    with database.session() as session:
        return stats(session)


def exported(database) -> list[dict]:
    with database.session() as session:
        return export_records(session)


def problems_of(database, records) -> list[str]:
    before = exported(database)
    with pytest.raises(ImportProblem) as info:
        load(database, records)
    assert exported(database) == before, "a rejected import must change nothing"
    return info.value.problems


def test_import_demo_map_and_stats(database, demo_records):
    result = load(database, demo_records)
    assert result.created == len(demo_records) and result.updated == 0
    counts = current(database)
    assert counts["services"] == len(demo_records)
    assert counts["active"] == sum(r["status"] == "active" for r in demo_records)
    assert counts["organizations"] == len({r["organization"]["id"] for r in demo_records})


def test_export_imports_again_to_the_same_content(database, demo_records, tmp_path):
    from bot.floor.db import Database

    load(database, demo_records)
    first = exported(database)
    other = Database(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    load(other, first)
    assert exported(other) == first
    # and everything the source file said survives unchanged (null as an absent field; export adds only the
    # descriptions HSDS 3.0 requires, as the name)
    by_id = {r["id"]: r for r in first}
    for original in demo_records:
        assert_contains(by_id[original["id"]], original)
    other.dispose()


def assert_contains(exported_value, original_value, path="") -> None:
    if isinstance(original_value, dict):
        for key, value in original_value.items():
            if value is None:
                assert key not in exported_value, f"{path}{key}: null must be written as an absent field"
                continue
            assert key in exported_value, path + key
            assert_contains(exported_value[key], value, f"{path}{key}.")
        for key in exported_value.keys() - original_value.keys():
            assert key == "description" and exported_value[key] == exported_value["name"], f"{path}{key} was added"
    elif isinstance(original_value, list):
        assert len(exported_value) == len(original_value), path
        for a, b in zip(exported_value, original_value, strict=True):
            assert_contains(a, b, path)
    else:
        assert exported_value == original_value, path


def test_same_id_updates_the_service_and_replaces_its_children(database):
    a, b = service("Koffieochtend"), service("Wandelclub", "Samen wandelen in het park.")
    load(database, [a, b])
    changed = copy.deepcopy(a)
    changed["name"] = "Koffieochtend De Linde"
    changed["phones"] = []
    result = load(database, [changed])
    assert (result.created, result.updated) == (0, 1)
    services = {r["id"]: r for r in exported(database)}
    assert len(services) == 2
    assert services[a["id"]]["name"] == "Koffieochtend De Linde"
    assert services[a["id"]]["phones"] == []
    assert services[b["id"]]["name"] == "Wandelclub"


def test_replace_replaces_the_whole_map(database):
    a, b = service("Koffieochtend"), service("Wandelclub")
    load(database, [a, b])
    c = service("Taalcafé", organization={"id": "0b7e3c1a-1111-4aaa-8bbb-00000000000f", "name": "Bibliotheek"})
    load(database, [c], replace=True)
    assert [r["id"] for r in exported(database)] == [c["id"]]
    assert current(database)["organizations"] == 1  # the old organisation went with its services


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'[{"id": "x", "name": "A",}]', "line 1 column 26: invalid JSON"),
        (b'{"total": 3}', "expected a JSON array"),
        (b'[1, "two"]', "record 1: expected an object"),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_line(database, payload, expected):
    problems = problems_of(database, payload)
    assert any(expected in p for p in problems), problems


def test_invalid_records_name_record_field_and_reason(database):
    good = service()
    no_name = service()
    del no_name["name"]
    bad_mail = service(email="not-an-address")
    bad_time = service()
    bad_time["schedules"][0]["opens_at"] = "9 uur"  # no time at all (25:00 is one that cannot be: a warning)
    bad_day = service()
    bad_day["schedules"][0]["byday"] = "MONDAY"
    bad_status = service(status="maybe")
    problems = problems_of(database, [good, no_name, bad_mail, bad_time, bad_day, bad_status])
    text = "\n".join(problems)
    assert f"record 2 (id {no_name['id']}): name: Field required" in text
    assert "record 3" in text and "email: Value error, not an e-mail address" in text
    assert "record 4" in text and "schedules[0].opens_at" in text
    assert "record 5" in text and "schedules[0].byday" in text and "MONDAY" in text
    assert "record 6" in text and "status" in text
    assert current(database)["services"] == 0


def test_ids_must_be_unique_and_shared_entities_consistent(database):
    a = service()
    twin = copy.deepcopy(a)
    other = service()
    other["organization"]["name"] = "A different name under the same id"
    reused = service()
    reused["phones"][0]["id"] = a["phones"][0]["id"]
    problems = problems_of(database, [a, twin, other, reused])
    text = "\n".join(problems)
    assert "record 2" in text and "service id" in text and "used twice" in text
    assert "record 3" in text and "organization" in text and "differs from the one in record 1" in text
    assert "record 4" in text and "phone id" in text


def test_child_id_owned_by_another_service_in_the_map_is_a_conflict(database):
    a = service()
    load(database, [a])
    thief = service()
    thief["contacts"][0]["id"] = a["contacts"][0]["id"]
    problems = problems_of(database, [thief])
    assert any("contact id" in p and "already belongs to another service" in p for p in problems)


def test_a_huge_or_hostile_record_is_rejected_or_stored_verbatim(database):
    hostile = service(name="<script>alert(1)</script> **vet** 😀", description="x" * 15_000)
    load(database, [hostile])
    assert exported(database)[0]["name"] == hostile["name"]
    too_long = service(description="y" * 25_000)
    assert any("description" in p for p in problems_of(database, [too_long]))


def test_unknown_fields_are_kept_for_export(database):
    funding = [{"id": "0b7e3c1a-5555-4aaa-8bbb-000000000001", "source": "gemeente"}]
    a = service(funding=funding, x_wijk_note={"kleur": "groen"})
    load(database, [a])
    assert exported(database)[0]["funding"] == funding
    assert exported(database)[0]["x_wijk_note"] == {"kleur": "groen"}


def test_hsds_fields_wijkbot_does_not_model_must_still_have_their_hsds_type(database):
    """They are exported as they came, so they must be what HSDS 3.0 says they are."""
    problems = problems_of(database, [service(funding={"source": "gemeente"}), service(minimum_age="twaalf")])
    assert any(p.startswith("record 1") and "funding: Input should be a valid list" in p for p in problems)
    assert any(p.startswith("record 2") and "minimum_age: Input should be a valid number" in p for p in problems)
