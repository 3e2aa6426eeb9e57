"""Import speed (issue 13): the whole `wijkbot kaart import FILE` command on synthetic maps, SQLite and PostgreSQL.

For each size: the command as a coordinator runs it, in a fresh process (read, JSON parse, validation,
cross-check, write, commit; `--no-index`: the search index made after the commit is timed by
benchmarks/cold_start.py) into an empty migrated database; its wall time, services per second and peak
RSS (the child's ru_maxrss). The baseline, measured in this process on the same file, is Python's own
json.loads of it: the ratio says how many JSON parses of the file the whole import costs. Then a merge
(`kaart import --merge`) of a second provider's map of a tenth of the size (at most 5,000 services, a
quarter of them copies of services in the map under new ids) with its duplicate check, the newcomers
against the whole map.

    python benchmarks/import_speed.py [--sizes 1000,10000,50000] [--postgres URL | --start-postgres] [--json]

The default (1k and 10k on SQLite) runs in about a minute. --start-postgres starts a throwaway cluster the
way tests/conftest.py does (Debian's PostgreSQL packages, as root).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import synthetic_map  # noqa: E402

from bot.floor.db import Database  # noqa: E402

# The command in a child that writes its own peak RSS when it ends: VmHWM, the high-water mark of the
# process's memory since its exec. (ru_maxrss of a child is useless here: Linux carries the parent's peak,
# this benchmark's, across the fork and the exec.)
CHILD = """
import atexit, runpy, sys
path = sys.argv.pop(1)
def peak():
    with open(path, "w") as out:
        out.write(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")))
atexit.register(peak)
sys.argv[0] = "wijkbot"
runpy.run_module("bot.cli", run_name="__main__")
"""


def run_command(args: list[str], url: str) -> tuple[float, float, str]:
    """`wijkbot ARGS` against URL in a fresh process: (wall seconds, its peak RSS in MB, stdout)."""
    env = {**os.environ, "WIJKBOT_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    with tempfile.NamedTemporaryFile("r", suffix=".hwm") as hwm:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, hwm.name, *args], env=env, capture_output=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"wijkbot {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
        peak_kb = int(hwm.read().split()[1])
    return seconds, peak_kb / 1024, done.stdout.decode()


def second_provider(records: list[dict], size: int, seed: int = 11) -> list[dict]:
    """Another provider's map: SIZE services, a quarter of them copies of services in RECORDS under their
    own ids (the duplicates a merge should find), the rest new."""
    rng = random.Random(f"copies {seed}")  # not the id stream of synthetic_map(seed=seed)
    fresh = synthetic_map(size, seed=seed)
    for k in range(size // 4):
        twin = copy.deepcopy(records[rng.randrange(len(records))])
        _new_ids(twin, rng)
        fresh[k] = twin
    return fresh


def _new_ids(node, rng: random.Random) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "id" and isinstance(value, str) and "." not in value:  # taxonomy term ids stay shared
                node[key] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            else:
                _new_ids(value, rng)
    elif isinstance(node, list):
        for item in node:
            _new_ids(item, rng)


def _timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


class Backends:
    """A fresh, migrated, empty database per run: a SQLite file, or a database on a PostgreSQL server."""

    def __init__(self, workdir: Path, postgres: str | None):
        self.workdir, self.postgres, self.n = workdir, postgres, 0

    def fresh(self, backend: str) -> str:
        self.n += 1
        if backend == "sqlite":
            url = f"sqlite:///{self.workdir / f'bench{self.n}.sqlite3'}"
        else:
            from sqlalchemy import create_engine, text

            assert self.postgres
            name = f"import_bench_{os.getpid()}_{self.n}"
            admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = self.postgres.rsplit("/", 1)[0] + "/" + name
        Database(url).dispose()  # migrated before the clock starts: a coordinator imports into an existing map
        return url


def measure(size: int, backend: str, backends: Backends, workdir: Path) -> dict:
    records = synthetic_map(size)
    path = workdir / f"map{size}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    baseline = min(_timed(json.loads, path.read_bytes()) for _ in range(3))
    url = backends.fresh(backend)
    seconds, peak, said = run_command(["kaart", "import", "--no-index", str(path)], url)
    assert f"imported {size} services: {size} new" in said, said
    extra = max(1, min(5_000, size // 10))
    other = workdir / f"other{size}.json"
    other.write_text(json.dumps(second_provider(records, extra), ensure_ascii=False), encoding="utf-8")
    merge_seconds, merge_peak, said = run_command(["kaart", "import", "--no-index", "--merge", str(other)], url)
    pairs = int(said.split(" probable duplicate")[0].rsplit("\n", 1)[-1])
    return {
        "backend": backend,
        "services": size,
        "import_s": round(seconds, 2),
        "services_per_s": round(size / seconds),
        "peak_rss_mb": round(peak),
        "json_parse_s": round(baseline, 3),
        "ratio_to_json_parse": round(seconds / baseline, 1),
        "merge_services": extra,
        "merge_s": round(merge_seconds, 2),
        "merge_pairs_found": pairs,
        "merge_copies": extra // 4,
        "merge_peak_rss_mb": round(merge_peak),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (postgresql+psycopg://...)")
    parser.add_argument("--start-postgres", action="store_true", help="start a throwaway cluster for the run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stop = None
    postgres = args.postgres or os.environ.get("WIJKBOT_TEST_POSTGRES_URL")
    if not postgres and args.start_postgres:
        from tests.conftest import _start_cluster  # the recipe of the test suite (Debian packages, as root)

        postgres, stop = _start_cluster()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
            backends = Backends(Path(tmp), postgres)
            for size in (int(s) for s in args.sizes.split(",")):
                for backend in ("sqlite", "postgresql") if postgres else ("sqlite",):
                    rows.append(measure(size, backend, backends, Path(tmp)))
                    if not args.json:
                        print(json.dumps(rows[-1]), flush=True)
    finally:
        if stop:
            stop()
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures are wall time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
