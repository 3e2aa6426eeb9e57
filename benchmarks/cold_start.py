"""Cold start to the first answer (issue 13), on synthetic maps of 1k, 10k and 50k services (SQLite).

For each size, each figure from a fresh Python process (the time from starting it to the printed answer,
interpreter and imports included), the median of --repeats runs:

- ``orm build``: the search index made the old way (ORM objects, ``service_dict``), no saved index;
- ``core build``: made from plain Core selects, no saved index (it then saves one);
- ``file``: a second process on the same data dir, loading the saved index;

and the saved file's size, the time the loading process spent in ``MapSearch.index()``, the ratios
orm build / file and core build / file (the baselines run in this benchmark, on the same machine, the
same maps, the same query). Then ``wijkbot chat``: the time from starting it until its first prompt is
printed, on a fresh data dir (caches already made) and on a second start.

    python benchmarks/cold_start.py [--sizes 1000,10000,50000] [--repeats 3] [--work DIR] [--json]

The maps are written with Core inserts (a fixture writer here, not the import command) and kept in
--work between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_map

ROOT = Path(__file__).resolve().parent.parent
QUERY = "hulp bij schulden"

CHILD = """
import sys, time, json
started = float(sys.argv[1])
from bot.floor.db import Database
from socialekaart.search import MapSearch, SearchIndex, ServiceDoc
database = Database(sys.argv[2])
mode, data_dir = sys.argv[3], sys.argv[4]
t = time.perf_counter()
if mode == "orm":
    from socialekaart.hsds import load_services, service_dict
    from socialekaart.needs import default_needs
    with database.session() as session:
        docs = [ServiceDoc.from_record(service_dict(s)) for s in load_services(session, active_only=True)]
    index = SearchIndex.build(docs, None, default_needs())
    made = "orm"
else:
    search = MapSearch(database, data_dir=data_dir)
    index = search.index()
    made = search.made
indexed = time.perf_counter() - t
hits = index.search(sys.argv[5], limit=3)
print(json.dumps({"made": made, "index_s": indexed, "answer_at": time.time() - started, "first": hits[0].id}))
"""


def _service_rows(rows: dict, r: dict, position: int, seen: set[str]) -> None:
    org = r["organization"]
    if org["id"] not in seen:
        seen.add(org["id"])
        rows["org"].append({"id": org["id"], "name": org["name"]})
    rows["svc"].append(
        {"id": r["id"], "organization_id": org["id"], "position": position, "name": r["name"]}
        | {"description": r["description"], "status": "active"}
    )
    for j, sal in enumerate(r["service_at_locations"]):
        loc = sal["location"]
        rows["loc"].append({k: loc[k] for k in ("id", "name", "latitude", "longitude")})
        rows["addr"] += [{**a, "location_id": loc["id"], "position": k} for k, a in enumerate(loc["addresses"])]
        rows["sal"].append({"id": sal["id"], "service_id": r["id"], "location_id": loc["id"], "position": j})
    for j, a in enumerate(r["attributes"]):
        t = a["taxonomy_term"]
        if t["id"] not in seen:
            seen.add(t["id"])
            rows["term"].append(t)
        rows["attr"].append({"id": a["id"], "link_id": r["id"], "taxonomy_term_id": t["id"], "position": j})
    for key, field in (
        ("phone", "phones"),
        ("contact", "contacts"),
        ("sched", "schedules"),
        ("lang", "languages"),
        ("area", "service_areas"),
        ("cost", "cost_options"),
    ):
        rows[key] += [
            {k: v for k, v in x.items() if k != "phones"} | {"service_id": r["id"], "position": j}
            for j, x in enumerate(r[field])
        ]


def write_map(database, records: list[dict]) -> None:
    """The synthetic records with Core executemany, one statement per table (a benchmark fixture)."""
    from socialekaart import models as m
    from socialekaart.hsds import bump_revision

    tables = {
        "org": m.Organization, "loc": m.Location, "addr": m.Address, "term": m.TaxonomyTerm, "svc": m.Service,
        "sal": m.ServiceAtLocation, "phone": m.Phone, "contact": m.Contact, "sched": m.Schedule, "attr": m.Attribute,
        "lang": m.Language, "area": m.ServiceArea, "cost": m.CostOption,
    }  # fmt: skip
    rows: dict[str, list[dict]] = {k: [] for k in tables}
    seen: set[str] = set()
    for i, r in enumerate(records):
        _service_rows(rows, r, i + 1, seen)
    with database.session() as session:
        for key, model in tables.items():
            if rows[key]:
                session.execute(insert(model.__table__), rows[key])
        bump_revision(session)
        session.commit()


def map_file(work: Path, size: int) -> Path:
    from bot.floor.db import Database

    path = work / f"map-{size}.sqlite3"
    if not path.exists():
        tmp = work / f"map-{size}.tmp.sqlite3"
        tmp.unlink(missing_ok=True)
        database = Database(f"sqlite:///{tmp}")
        write_map(database, synthetic_map(size))
        with database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        database.dispose()
        tmp.rename(path)
    return path


def child(url: str, mode: str, data_dir: Path) -> dict:
    started = time.time()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(started), url, mode, str(data_dir), QUERY],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_size(work: Path, size: int, repeats: int) -> dict:
    db = map_file(work, size)
    rows: dict[str, list[dict]] = {"orm": [], "build": [], "file": []}
    size_bytes = 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            copy = Path(tmp) / "wijkbot.sqlite3"
            shutil.copy(db, copy)
            url = f"sqlite:///{copy}"
            rows["orm"].append(child(url, "orm", Path(tmp) / "orm"))
            rows["build"].append(child(url, "map", Path(tmp) / "data"))
            rows["file"].append(child(url, "map", Path(tmp) / "data"))
            size_bytes = (Path(tmp) / "data" / "search-index.npz").stat().st_size
            assert {r["first"] for r in (rows["orm"][-1], rows["build"][-1], rows["file"][-1])} == {
                rows["orm"][-1]["first"]
            }
    med = {k: statistics.median(r["answer_at"] for r in v) for k, v in rows.items()}
    return {
        "services": size,
        "orm_build_answer_s": round(med["orm"], 2),
        "core_build_answer_s": round(med["build"], 2),
        "file_answer_s": round(med["file"], 2),
        "file_index_s": round(statistics.median(r["index_s"] for r in rows["file"]), 2),
        "file_mb": round(size_bytes / 2**20, 1),
        "orm_over_file": round(med["orm"] / med["file"], 1),
        "build_over_file": round(med["build"] / med["file"], 1),
        "made": sorted({r["made"] for v in rows.values() for r in v}),
    }


def first_prompt(data_dir: Path) -> float:
    """Seconds from starting `wijkbot chat` until it prints its first prompt."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "bench"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "WIJKBOT_DATA_DIR": str(data_dir)},
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    seconds = time.perf_counter() - started
    proc.stdin.write("/stop\n")
    proc.stdin.close()
    proc.wait(60)
    return seconds


def run_chat(work: Path, repeats: int) -> dict:
    fresh, second = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            fresh.append(first_prompt(Path(tmp)))
            second.append(first_prompt(Path(tmp)))
    return {
        "chat_first_prompt_fresh_s": round(statistics.median(fresh), 2),
        "chat_first_prompt_s": round(statistics.median(second), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "wijkbot-cold-start")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [run_size(args.work, int(s), args.repeats) for s in args.sizes.split(",")]
    chat = run_chat(args.work, args.repeats)
    if args.json:
        print(json.dumps({"maps": rows, "chat": chat}, indent=2))
        return 0
    print(
        f"{'services':>9} {'orm build':>10} {'core build':>11} {'file':>6} {'load s':>7} {'MB':>6} "
        f"{'orm/file':>9} {'build/file':>11}"
    )
    for r in rows:
        print(
            f"{r['services']:>9} {r['orm_build_answer_s']:>10} {r['core_build_answer_s']:>11} {r['file_answer_s']:>6} "
            f"{r['file_index_s']:>7} {r['file_mb']:>6} {r['orm_over_file']:>9} {r['build_over_file']:>11}"
        )
    print("(seconds from process start to the first answer; load s = MapSearch.index() of the loading process)")
    print(
        f"wijkbot chat, first prompt: {chat['chat_first_prompt_s']} s "
        f"({chat['chat_first_prompt_fresh_s']} s on a new data dir)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
