"""Instant start (issue 13): the search index kept in the data dir, loaded by the next process, never trusted
when damaged, remade in the background after an import, updated from the change log exactly as a full
build would make it; and what makes the chat start sooner reads words as before."""

from __future__ import annotations

import copy
import json
import random
import re
import zipfile

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, inspect, select

from bot.floor.db import MIGRATIONS
from socialekaart import search as search_module
from socialekaart.changelog import changed_since, record_changes
from socialekaart.hsds import (
    apply_records,
    bump_revision,
    export_records,
    load_services,
    service_dict,
    validate_records,
)
from socialekaart.mapread import service_records
from socialekaart.models import MapChange, Service
from socialekaart.search import INDEX_FILE, Filters, MapSearch, SearchIndex, ServiceDoc, records_as_docs, warm_index
from tests.records import service

QUERIES = [
    "ik heb schulden",
    "fysiotherpeut",
    "wandelgroepen",
    "ik voel me zo eenzaam",
    "dokter 's nachts voor mijn kind",
    "hulp bij formulieren 7543AB",
    "wie is Jesse Dijkman",
    "taalcafe nederlands oefenen",
    "blorp",
    "zwemmen",
]


@pytest.fixture
def db_url(demo_db_url):
    return demo_db_url


def answers(index: SearchIndex, queries=QUERIES) -> list:
    """Everything a resident or professional would see of the answers, scores exactly."""
    out = []
    for q in queries:
        near = Filters(postcode="7543AB", free=True, language="nl")
        for filters, contacts in ((None, False), (near, False), (None, True)):
            hits = index.search(q, filters, limit=8, contacts=contacts)
            out.append([(h.id, h.name, h.organization, h.score, h.distance_km, h.said, h.concepts) for h in hits])
    return out


def fresh_process() -> None:
    """What a new process starts without: the indexes this one made."""
    search_module._BUILT.clear()


def import_records(database, records: list[dict]) -> None:
    with database.session() as session:
        apply_records(session, validate_records(records))
        record_changes(session, [r["id"] for r in records])  # as `wijkbot kaart import` will (see its docstring)
        session.commit()


def test_the_core_selects_read_what_the_orm_reads(database):
    with database.session() as session:
        orm = [ServiceDoc.from_record(service_dict(s)) for s in load_services(session, active_only=True)]
        core, _ = records_as_docs(service_records(session))
        some = [d.id for d in orm[::7]]
        assert records_as_docs(service_records(session, some))[0] == [d for d in orm if d.id in some]
    assert core == orm


def test_a_second_process_loads_the_saved_index_and_answers_the_same(database, tmp_path):
    first = MapSearch(database, data_dir=tmp_path, recheck_seconds=0)
    built = answers(first.index())
    assert first.made == "build" and (tmp_path / INDEX_FILE).exists()
    fresh_process()
    second = MapSearch(database, data_dir=tmp_path, recheck_seconds=0)
    assert answers(second.index()) == built
    assert second.made == "file"  # loaded, not rebuilt
    doc = second.index().doc(built[0][0][0])
    assert doc is not None and doc.reach == first.index().doc(doc.id).reach


def _truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flipped(path):
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _garbage(path):
    path.write_bytes(b"not an index at all")


def _other_format(path):
    with np.load(path, allow_pickle=False) as z:
        content = {name: z[name] for name in z.files}
    header = json.loads(content["header"].tobytes())
    header["format"] = 999
    content["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **content)


def _out_of_bounds(path):
    with np.load(path, allow_pickle=False) as z:
        content = {name: z[name] for name in z.files}
    content["f_post_ids"] = content["f_post_ids"] + 10_000_000  # whole, of this format: but it would read past
    np.savez(path, **content)


@pytest.mark.parametrize("damage", [_truncated, _flipped, _garbage, _other_format, _out_of_bounds])
def test_a_damaged_index_file_is_rebuilt_not_used(database, tmp_path, damage):
    if damage is not _truncated and "postgresql" in str(database.engine.url):
        pytest.skip("the file is the same on either database; one damage shows the PostgreSQL path")
    expected = answers(MapSearch(database, data_dir=tmp_path).index())
    damage(tmp_path / INDEX_FILE)
    fresh_process()
    again = MapSearch(database, data_dir=tmp_path)
    assert answers(again.index()) == expected
    assert again.made == "build"
    fresh_process()
    third = MapSearch(database, data_dir=tmp_path)
    third.index()
    assert third.made == "file"  # the rebuilt file is whole again
    with zipfile.ZipFile(tmp_path / INDEX_FILE) as z:
        assert not any(name.endswith(".pkl") for name in z.namelist())


def test_after_an_import_the_running_search_answers_then_swaps(database, tmp_path):
    running = MapSearch(database, data_dir=tmp_path, recheck_seconds=0, background=True)
    old = running.index()
    assert not any("Blorpcafé" in h.name for h in running.search("blorpcafe"))
    import_records(database, [service("Blorpcafé De Linde", "Elke dinsdag blorpen met buren.")])
    during = running.index()  # the new index is made in a thread: this answer comes from the old one
    assert during is old
    assert running.wait(60)
    assert any("Blorpcafé" in h.name for h in running.search("blorpcafe"))
    assert running.made == "update"  # from the change log, not a full rebuild
    fresh_process()
    restarted = MapSearch(database, data_dir=tmp_path)
    assert answers(restarted.index()) == answers(running.index())
    assert restarted.made == "file"  # the running bot saved the new one


def _changed(rng: random.Random, record: dict, round_: int, org_word: str | None) -> dict:
    rec = copy.deepcopy(record)
    word = rng.choice(["blorp", "zwemmen", "Kniepeesblorp", "taalcafe", "Maatjesblorpgroep", "schulden"])
    rec["description"] = f"{rec.get('description') or ''} Nieuw in ronde {round_}: {word}."
    if rng.random() < 0.4:
        rec["name"] = f"{rec['name']} {word}"
    if org_word and rec.get("organization"):
        rec["organization"]["name"] = f"{rec['organization']['name']} {org_word}"  # shared: its services change too
    return rec


def _full_build(search: MapSearch, database) -> SearchIndex:
    with database.session() as session:
        docs, positions = records_as_docs(service_records(session))
    return SearchIndex.build(docs, None, search.needs, positions)


def test_small_updates_give_what_a_full_rebuild_gives(database, tmp_path):
    """Property-style: rounds of random small changes (new, changed, removed services, new words that change
    how other words split), each brought in from the change log, compared with a full build of the map."""
    rng = random.Random(13)
    search = MapSearch(database, data_dir=tmp_path, recheck_seconds=0)
    search.index()
    # a word no dictionary knows: once the map has 'blorp', 'kniepeesblorp' splits and 'blorp' finds it
    import_records(database, [service("Kniepeesblorptraining", "Oefenen met de knie.")])
    for round_ in range(5):
        with database.session() as session:
            records = export_records(session)
        picked = rng.sample(records, 2)
        org_word = rng.choice([None, "Blorpstichting", "Zwemclub"])
        batch = [_changed(rng, r, round_, org_word) for r in picked]
        batch.append(service(f"Blorpgroep {round_}", f"Samen blorpen en zwemmen, ronde {round_}."))
        import_records(database, batch)
        if round_ % 2:
            gone = rng.choice(records)["id"]
            with database.session() as session:
                session.execute(delete(Service).where(Service.id == gone))
                bump_revision(session)
                record_changes(session, [gone])
                session.commit()
        updated = search.index()
        assert search.made == "update"
        assert answers(updated) == answers(_full_build(search, database))
    fresh_process()
    loaded = MapSearch(database, data_dir=tmp_path)
    assert answers(loaded.index()) == answers(search.index()) and loaded.made == "file"


def test_a_change_the_log_does_not_cover_rebuilds(database, tmp_path):
    search = MapSearch(database, data_dir=tmp_path, recheck_seconds=0)
    search.index()
    with database.session() as session:  # a writer that does not record what it changed (its log rows gone)
        apply_records(session, validate_records([service("Zwemles Blorp", "Zwemmen voor volwassenen.")]))
        session.execute(delete(MapChange))
        session.commit()
        assert changed_since(session, 0, 2) is None
    search.index()
    assert search.made == "build"
    assert any("Zwemles" in h.name for h in search.search("zwemles"))
    assert warm_index(database, tmp_path)["how"] in ("memory", "file")


def test_the_change_log_migration_goes_both_ways(database):
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def alembic(target: str, up: bool) -> None:
        with database.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(cfg, target)

    assert "kaart_change" in inspect(database.engine).get_table_names()
    alembic("0010", up=False)
    assert "kaart_change" not in inspect(database.engine).get_table_names()
    alembic("head", up=True)
    import_records(database, [service("Na de migratie", "Weer terug.")])
    with database.session() as session:
        added = set(session.scalars(select(Service.id).where(Service.name == "Na de migratie")))
        assert changed_since(session, 1, 2) == added


def test_the_key_tokenizer_reads_keys_as_the_dutch_tokenizer_does():
    """The classifiers' texts are word keys: the tokenizer made in milliseconds splits them as spaCy's
    Dutch one (about a second to make) does, token for token."""
    import spacy

    from intents.nlu import _as_keys
    from intents.textcat import KeyTokenizer, _dutch_tokenizer
    from socialekaart.needs import WRITTEN, as_keys

    texts = []
    for path in (WRITTEN, *sorted((WRITTEN.parent.parent.parent / "intents" / "data").glob("*.jsonl"))):
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    keyed = {f(t) for t in texts for f in (_as_keys, as_keys)}
    keyed |= {"10km 3e 65plusser o_o 0_0 v_v h2o 2026 12u 1e2 a4 _", "_"}
    assert len(keyed) > 1000
    fast, full = KeyTokenizer(spacy.blank("nl").vocab), _dutch_tokenizer()
    differ = [t for t in keyed if [x.text for x in fast(t)] != [x.text for x in full(t)]]
    assert differ == []
    plain = "Geen keys: 'T IS 10.00 uur!"
    assert [x.text for x in fast(plain)] == [x.text for x in full(plain)]
    assert all(re.fullmatch(r"[a-z0-9_ ]+", t) for t in keyed)
