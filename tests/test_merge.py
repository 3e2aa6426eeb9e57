"""Merging a second map (`kaart import --merge`) and deciding its probable duplicates (`kaart duplicates
--resolve`), through the command line as a coordinator runs them, on SQLite and PostgreSQL; the bulk write
path's promises that the older tests do not spell out (progress, a session that read the map before)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.floor.errors import ImportProblem, WijkbotError
from socialekaart.duplicates import find_duplicates, open_pairs, resolve
from socialekaart.hsds import apply_records, export_records, parse_json, revision, stats
from socialekaart.models import DuplicateDecision, Organization, Phone, TaxonomyTerm
from tests.records import ORG, service, uid
from tests.test_cli import out, wijkbot
from tests.test_duplicates import second_source_copy

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def other_provider(rec: dict) -> dict:
    """The same service as another provider publishes it: its own ids for everything, its own organisation."""
    twin = second_source_copy(rec)
    twin["organization"]["id"] = uid()
    return twin


def write(tmp_path, name: str, records: list[dict]):
    path = tmp_path / name
    path.write_text(json.dumps(records), encoding="utf-8")
    return str(path)


def test_merge_lists_duplicates_and_resolve_decides_them(tmp_path, db_url):
    env = {"WIJKBOT_DATABASE_URL": db_url}
    coffee, walk, language = (
        service("Koffieochtend De Linde"),
        service("Wandelclub", "Samen wandelen."),
        service("Taalcafé", "Nederlands oefenen."),
    )
    assert "3 new" in out(
        wijkbot(tmp_path, "kaart", "import", write(tmp_path, "ours.json", [coffee, walk, language]), env=env)
    )
    theirs = [other_provider(coffee), other_provider(walk), service("Repair café", "Samen repareren.")]
    merged = out(wijkbot(tmp_path, "kaart", "import", "--merge", write(tmp_path, "theirs.json", theirs), env=env))
    assert re.search(r"imported 3 services: 3 new, 0 updated in \d+\.\d s", merged)
    assert "2 probable duplicate(s) of the merged services" in merged
    assert f"[{coffee['id']}]  ~  Koffie-ochtend De Linde [{theirs[0]['id']}]" in merged  # the map's one is A
    assert "same postcode: 7543AB" in merged and "same phone" in merged

    listed = json.loads(out(wijkbot(tmp_path, "kaart", "duplicates", "--json", env=env)))
    assert {(p["a"]["id"], p["b"]["id"]) for p in listed} >= {
        (coffee["id"], theirs[0]["id"]),
        (walk["id"], theirs[1]["id"]),
    }

    # non-interactive: the walks are two services after all; of the coffee mornings theirs goes
    said = out(
        wijkbot(
            tmp_path,
            "kaart",
            "duplicates",
            "--resolve",
            walk["id"],
            theirs[1]["id"],
            "--keep",
            "both",
            "--by",
            "Rita",
            env=env,
        )
    )
    assert "kept both" in said
    said = out(
        wijkbot(tmp_path, "kaart", "duplicates", "--resolve", coffee["id"], theirs[0]["id"], "--keep", "A", env=env)
    )
    assert f"removed {theirs[0]['id']}" in said
    left = json.loads(out(wijkbot(tmp_path, "kaart", "duplicates", "--json", env=env)))
    assert not {theirs[0]["id"], theirs[1]["id"]} & {p[k]["id"] for p in left for k in ("a", "b")}
    ids = {r["id"] for r in json.loads(out(wijkbot(tmp_path, "kaart", "export", "-", env=env)))}
    assert coffee["id"] in ids and theirs[0]["id"] not in ids and theirs[1]["id"] in ids

    # the same file again: every service is already in the map, and nothing changes
    again = wijkbot(tmp_path, "kaart", "import", "--merge", str(tmp_path / "theirs.json"), env=env)
    assert again.returncode == 1
    assert (
        f"record 2 (id {theirs[1]['id']}): service id {theirs[1]['id']} is already in the map" in again.stderr.decode()
    )
    assert {r["id"] for r in json.loads(out(wijkbot(tmp_path, "kaart", "export", "-", env=env)))} == ids


def test_interactive_resolve_asks_per_pair_and_stores_who_and_when(tmp_path):
    a, b = service("Koffieochtend De Linde"), service("Wandelclub", "Samen wandelen.")
    out(wijkbot(tmp_path, "kaart", "import", "--replace", write(tmp_path, "ours.json", [a, b])))
    theirs = [other_provider(a), other_provider(b)]
    out(wijkbot(tmp_path, "kaart", "import", "--merge", write(tmp_path, "theirs.json", theirs)))
    session = wijkbot(tmp_path, "kaart", "duplicates", "--resolve", "--by", "Rita", stdin="both\nb\n")
    text = out(session)
    assert text.count("keep both (not a duplicate), a, b, skip or quit") == 2
    assert "kept both 1, removed 1, left open 0" in text
    assert "no probable duplicates" in out(wijkbot(tmp_path, "kaart", "duplicates"))
    from bot.floor.db import Database

    database = Database(f"sqlite:///{tmp_path / 'data' / 'wijkbot.sqlite3'}")
    with database.session() as s:
        decisions = list(s.scalars(select(DuplicateDecision)))
    database.dispose()
    assert [d.decided_by for d in decisions] == ["Rita", "Rita"]
    assert all(d.decided_at.tzinfo is not None for d in decisions)
    assert sorted(d.kept is None for d in decisions) == [False, True]


def test_merge_keeps_what_is_in_the_map(database):
    ours = service("Koffieochtend")
    with database.session() as s:
        apply_records(s, parse_json(json.dumps([ours])))
        s.commit()
    theirs = service("Wandelclub", "Samen wandelen.")
    theirs["organization"] = copy.deepcopy(ORG) | {"name": "Their name for the same organisation"}
    with database.session() as s:
        result = apply_records(s, parse_json(json.dumps([theirs])), merge=True)
        s.commit()
        assert (result.created, result.updated) == (1, 0)
        assert s.scalar(select(Organization.name).where(Organization.id == ORG["id"])) == ORG["name"]
    clash = service("Taalcafé")
    clash["id"] = ours["id"]
    with database.session() as s, pytest.raises(ImportProblem) as info:
        apply_records(s, parse_json(json.dumps([service(), clash])), merge=True)
    assert info.value.problems == [
        f"record 2 (id {ours['id']}): service id {ours['id']} is already in the map (--merge never changes a "
        "service; import without --merge to update it)"
    ]
    with pytest.raises(ValueError):
        apply_records(database.session(), [], replace=True, merge=True)


def test_resolve_removes_one_all_or_nothing_and_bumps_the_revision(database):
    a, b, c = service("Koffieochtend"), service("Koffieochtend"), service("Wandelclub")
    with database.session() as s:
        apply_records(s, parse_json(json.dumps([a, b, c])), now=NOW)
        s.commit()
        before = revision(s)
        with pytest.raises(WijkbotError, match="not in the map"):
            resolve(s, a["id"], "no-such-service", "a", by="Rita", now=NOW)
        s.rollback()
        assert resolve(s, a["id"], b["id"], "b", by="Rita", now=NOW) == a["id"]
        s.commit()
        assert revision(s) != before and revision(s).startswith(str(int(before.split()[0]) + 1))
        assert {r["id"] for r in export_records(s)} == {b["id"], c["id"]}
        phones = set(s.scalars(select(Phone.id)))
        assert a["phones"][0]["id"] not in phones and a["contacts"][0]["phones"][0]["id"] not in phones
        assert b["phones"][0]["id"] in phones
        assert open_pairs(s) == []


def test_merge_pairs_only_newcomers_with_the_map(demo_records):
    coffee, walk = service("Koffieochtend De Linde"), service("Wandelclub", "Samen wandelen.")
    ours = [coffee, second_source_copy(coffee), walk, *demo_records[:40]]  # one pair inside the map already
    theirs = [other_provider(walk), service("Repair café", "Samen repareren.")]
    assert {(p.a, p.b) for p in find_duplicates(ours + theirs)} == {
        (coffee["id"], ours[1]["id"]),
        (walk["id"], theirs[0]["id"]),
    }
    pairs = find_duplicates(ours + theirs, new={r["id"] for r in theirs})
    assert [(p.a, p.b) for p in pairs] == [(walk["id"], theirs[0]["id"])]
    skip = {tuple(sorted((walk["id"], theirs[0]["id"])))}
    assert find_duplicates(ours + theirs, new={r["id"] for r in theirs}, skip=skip) == []


def test_progress_counts_every_service_and_a_session_sees_what_was_written(database):
    records = [service(f"Dienst {n}") for n in range(5)]
    with database.session() as s:
        apply_records(s, parse_json(json.dumps(records)))
        s.commit()
        term = s.scalar(select(TaxonomyTerm))  # loaded through the ORM before the next import
        assert term.name == "Ontmoeting"
        renamed = copy.deepcopy(records[0])
        renamed["attributes"][0]["taxonomy_term"]["name"] = "Ontmoeten"
        steps: list[int] = []
        apply_records(s, parse_json(json.dumps([renamed])), progress=steps.append)
        assert sum(steps) == 1
        assert s.scalar(select(TaxonomyTerm)).name == "Ontmoeten"  # not the object as it was loaded
        s.commit()
        assert stats(s)["services"] == 5


def test_migration_0011_adds_and_drops_the_decisions(database):
    from sqlalchemy import inspect

    from tests.test_migrations import _alembic

    a, b = service("Koffieochtend"), service("Koffieochtend")
    with database.session() as s:
        apply_records(s, parse_json(json.dumps([a, b])))
        resolve(s, a["id"], b["id"], "both", by="Rita", now=NOW)
        s.commit()
    _alembic(database, "0010", up=False)
    assert "duplicate_decision" not in inspect(database.engine).get_table_names()
    _alembic(database, "head", up=True)
    assert "duplicate_decision" in inspect(database.engine).get_table_names()
    with database.session() as s:
        assert len(open_pairs(s)) == 1  # the decision went with the table: the pair is open again
        resolve(s, a["id"], b["id"], "both", by="Rita", now=NOW)
        s.commit()
        assert open_pairs(s) == []
