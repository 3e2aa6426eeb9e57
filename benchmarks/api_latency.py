"""Latency of the Open Referral API (bot/api/, `wijkbot serve`) on a synthetic map in SQLite.

The application runs in this process, pinned to one CPU core, and is called through httpx's ASGI transport:
routing, parameter validation, the database, the records and JSON are all measured; HTTP parsing is not.
After a warm-up (the search index is built and the first queries read), it measures p50/p95/p99 of

- ``GET /services?search=<query>`` over realistic Dutch questions (../shared/eval/queries.jsonl when it is
  there, else the synthetic set), against the baseline of ``MapSearch.search`` alone in this process;
- ``GET /services/{id}`` (a whole compiled record) and ``GET /services?page=N`` (a list page of 20).

Importing a big map takes minutes (issue 13), so the map is imported once into
``<cache>/api-<size>-<seed>.sqlite3`` and reused by later runs.

    python benchmarks/api_latency.py [--size 50000] [--seed 7] [--repeats 5] [--cache /tmp/wijkbot-bench] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import QUERIES, synthetic_map

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 200
EVAL_QUERIES = ROOT.parent / "shared" / "eval" / "queries.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 2),
        "p95_ms": round(percentile(values, 0.95), 2),
        "p99_ms": round(percentile(values, 0.99), 2),
        "mean_ms": round(statistics.fmean(values), 2),
    }


def questions() -> list[str]:
    if EVAL_QUERIES.exists():
        lines = EVAL_QUERIES.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["query"] for line in lines if line.strip()]
    return list(QUERIES)


def benchmark_map(size: int, seed: int, cache: Path) -> Path:
    """The SQLite file of the synthetic map, made once (atomically: a half-made file is never reused)."""
    path = cache / f"api-{size}-{seed}.sqlite3"
    if path.exists():
        return path
    from bot.floor.db import Database
    from socialekaart.hsds import validate_records

    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    database = Database(f"sqlite:///{partial}")
    write_map(database, validate_records(synthetic_map(size, seed)))
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.replace(path)
    print(f"wrote {size} services into {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def write_map(database, records) -> None:
    """The rows socialekaart.hsds.apply_records writes for validated records into an empty map, written with
    Core executemany: the import of today takes half an hour for 50k services on a busy machine (issue 13,
    deliverable 1 is making it fast). `--check` compares the exports of both on a small map."""
    from sqlalchemy import insert

    from socialekaart.hsds import bump_revision
    from socialekaart.models import Organization, Service

    rows: dict[type, list[dict]] = defaultdict(list)
    seen: set[tuple[type, str]] = set()
    for position, rec in enumerate(records, start=1):
        service = rec.model_dump(include=set(Service.__table__.columns.keys()))
        service.update(position=position, organization_id=rec.organization.id if rec.organization else None)
        service["extra"] = rec.extra_fields or None
        rows[Service].append(service)
        if rec.organization and (Organization, rec.organization.id) not in seen:
            seen.add((Organization, rec.organization.id))
            rows[Organization].append(rec.organization.model_dump())
        _locations(rec, rows, seen)
        _owned(rec, rows, seen)
    with database.session() as session:
        for model in _insert_order():
            batch = rows[model]
            for start in range(0, len(batch), 5000):
                session.execute(insert(model), batch[start : start + 5000])
        bump_revision(session)
        session.commit()


def _insert_order() -> list[type]:
    """Parents before children (foreign keys)."""
    from socialekaart import models as m

    parents = [m.Organization, m.Location, m.Address, m.TaxonomyTerm, m.Service, m.ServiceAtLocation, m.Contact]
    return [*parents, m.Phone, m.Schedule, m.Attribute, m.Language, m.ServiceArea, m.CostOption]


def _locations(rec, rows: dict, seen: set) -> None:
    from socialekaart.models import Address, Location, ServiceAtLocation

    for i, sal in enumerate(rec.service_at_locations):
        if (Location, sal.location.id) not in seen:
            seen.add((Location, sal.location.id))
            rows[Location].append(sal.location.model_dump(exclude={"addresses"}))
            for j, a in enumerate(sal.location.addresses):
                rows[Address].append({**a.model_dump(), "location_id": sal.location.id, "position": j})
        rows[ServiceAtLocation].append(
            {"id": sal.id, "service_id": rec.id, "location_id": sal.location.id, "position": i}
            | {"description": sal.description}
        )


def _owned(rec, rows: dict, seen: set) -> None:
    from socialekaart.models import Attribute, Contact, CostOption, Language, Phone, Schedule, ServiceArea, TaxonomyTerm

    for i, p in enumerate(rec.phones):
        rows[Phone].append({**p.model_dump(), "service_id": rec.id, "contact_id": None, "position": i})
    for i, c in enumerate(rec.contacts):
        rows[Contact].append({**c.model_dump(exclude={"phones"}), "service_id": rec.id, "position": i})
        for j, p in enumerate(c.phones):
            rows[Phone].append({**p.model_dump(), "service_id": None, "contact_id": c.id, "position": j})
    for i, a in enumerate(rec.attributes):
        if (TaxonomyTerm, a.taxonomy_term.id) not in seen:
            seen.add((TaxonomyTerm, a.taxonomy_term.id))
            rows[TaxonomyTerm].append(a.taxonomy_term.model_dump())
        rows[Attribute].append(
            {"id": a.id, "link_id": rec.id, "taxonomy_term_id": a.taxonomy_term.id, "position": i, "value": a.value}
        )
    for model, items in (
        (Schedule, rec.schedules),
        (Language, rec.languages),
        (ServiceArea, rec.service_areas),
        (CostOption, rec.cost_options),
    ):
        for i, x in enumerate(items):
            rows[model].append({**x.model_dump(), "service_id": rec.id, "position": i})


def check_write_map(size: int = 300, seed: int = 3) -> None:
    """write_map and apply_records make the same map (the same export), on a small synthetic map."""
    import tempfile

    from bot.floor.db import Database
    from socialekaart.hsds import apply_records, export_records, validate_records

    records = validate_records(synthetic_map(size, seed))
    exports = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, load in enumerate((write_map, None)):
            database = Database(f"sqlite:///{tmp}/{n}.sqlite3")
            if load:
                load(database, records)
            else:
                with database.session() as session:
                    apply_records(session, records)
                    session.commit()
            with database.session() as session:
                exports.append(export_records(session))
            database.dispose()
    assert exports[0] == exports[1], "write_map differs from apply_records"
    print(f"write_map and apply_records export the same {size} services")


class Clock:
    """Wall time and CPU time (of every thread of this process) of each call, in ms, by label. On a machine
    others share, wall time includes waiting for the core; CPU time is what an idle core would take."""

    def __init__(self):
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def start(self) -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def stop(self, label: str, started: tuple[float, float]) -> None:
        self.wall.setdefault(label, []).append((time.perf_counter() - started[0]) * 1000)
        self.cpu.setdefault(label, []).append((time.process_time() - started[1]) * 1000)

    def summary(self) -> dict:
        out = {}
        for label, values in self.wall.items():
            cpu = self.cpu[label]
            out[label] = {
                **summary(values),
                "cpu_p50_ms": round(percentile(cpu, 0.5), 2),
                "cpu_p95_ms": round(percentile(cpu, 0.95), 2),
            }
        return out


async def get(client, clock: Clock | None, label: str, url: str, params: dict | None = None) -> None:
    started = clock.start() if clock else None
    response = await client.get(url, params=params)
    if clock and started:
        clock.stop(label, started)
    if response.status_code != 200:
        raise SystemExit(f"{url} {params}: {response.status_code} {response.text[:200]}")


async def measure(app, search, queries: list[str], ids: list[str], total: int, repeats: int, seed: int) -> dict:
    import httpx

    from bot.api.app import SEARCH_RESULTS

    rng = random.Random(seed)
    clock = Clock()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for q in queries:  # warm-up: the index, the need model, each query read once
            await get(client, None, "", "/services", {"search": q})
        for _ in range(repeats):
            for q in queries:
                await get(client, clock, "search", "/services", {"search": q})
                started = clock.start()
                search.search(q, limit=SEARCH_RESULTS)
                clock.stop("baseline_mapsearch", started)
            for _ in range(len(queries)):
                await get(client, clock, "service_by_id", f"/services/{rng.choice(ids)}")
                page = rng.randrange(1, total // 20 + 1)
                await get(client, clock, "services_page", "/services", {"page": page})
    return clock.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wijkbot-bench"))
    parser.add_argument("--all-cores", action="store_true", help="Do not pin the process to one core.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="Only check the benchmark's map writer, then stop.")
    args = parser.parse_args()
    if args.check:
        check_write_map()
        return
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    path = benchmark_map(args.size, args.seed, args.cache)

    from sqlalchemy import select

    from bot.api.app import create_app
    from bot.floor.config import Settings
    from bot.floor.db import Database
    from socialekaart.models import Service

    database = Database(f"sqlite:///{path}")
    app = create_app(database, Settings(_env_file=None))
    started = time.perf_counter()
    search = app.state.finder.search
    search.index()
    build = time.perf_counter() - started
    with database.session() as session:
        ids = list(session.scalars(select(Service.id)))
    queries = questions()
    result = asyncio.run(measure(app, search, queries, ids, len(ids), args.repeats, args.seed))
    result.update(
        services=len(ids),
        queries=len(queries),
        index_build_s=round(build, 1),
        one_core=not args.all_cores,
        ratio_search_p50=round(result["search"]["p50_ms"] / result["baseline_mapsearch"]["p50_ms"], 2),
        ratio_search_p95=round(result["search"]["p95_ms"] / result["baseline_mapsearch"]["p95_ms"], 2),
    )
    database.dispose()
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['services']} services, {result['queries']} queries x {args.repeats}, "
        f"{'one core' if result['one_core'] else 'all cores'}; index built in {result['index_build_s']} s"
    )
    print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'CPU p50':>9}{'CPU p95':>9}")
    for key, label in [
        ("search", "GET /services?search="),
        ("baseline_mapsearch", "  MapSearch.search alone"),
        ("service_by_id", "GET /services/{id}"),
        ("services_page", "GET /services?page=N"),
    ]:
        r = result[key]
        print(f"{label:28}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}{r['cpu_p50_ms']:>9}{r['cpu_p95_ms']:>9}")
    ratios = f"p50 {result['ratio_search_p50']}x, p95 {result['ratio_search_p95']}x"
    print(f"search through the API / MapSearch alone: {ratios}")


if __name__ == "__main__":
    main()
