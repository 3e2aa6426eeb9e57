"""Fuzz every import for longer than CI does: the properties of tests/test_fuzz_imports.py with many
examples and a random seed (or a given one).

For each import (CSV social map, HSDS 3.0 JSON, iCalendar, random bytes into each) it prints how
many examples were tried, how many imported, how many were rejected with a clear error, and how many
crashed: an exception other than ImportProblem, an unclear message, or a database changed by a failed
import. Crashes must be 0; the first few of each kind are shown so that they can be reproduced.

    python benchmarks/fuzz_imports.py [--examples 3000] [--seed N] [--only csv,json,ics,random]
                                      [--database-url URL]

The database (default: a temporary SQLite file; --database-url: an empty, throwaway one, e.g. on
PostgreSQL) is migrated and given 20 services of the demo map and a small agenda; every example
rolls back, and after each import every row must be as it was.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.test_fuzz_imports import (  # noqa: E402
    REGRESSIONS,
    Baseline,
    assert_unchanged,
    check_calendar_import,
    check_map_import,
    csv_files,
    fuzz_database,
    hsds_files,
    ics_files,
    random_input,
)

IMPORTS = {
    "csv": (
        st.tuples(csv_files(), st.booleans()),
        lambda db, before, ex: check_map_import(db, ex[0], "csv", replace=ex[1], before=before),
    ),
    "json": (
        st.tuples(hsds_files(), st.booleans()),
        lambda db, before, ex: check_map_import(db, ex[0], "json", replace=ex[1], before=before),
    ),
    "ics": (ics_files(), lambda db, before, ex: check_calendar_import(db, ex, before=before)),
    "random": (
        st.tuples(random_input, st.sampled_from(["csv", "json", "ics"])),
        lambda db, before, ex: (
            check_calendar_import(db, ex[0], before=before)
            if ex[1] == "ics"
            else check_map_import(db, ex[0], ex[1], before=before)
        ),
    ),
}


def run(name: str, database, before: Baseline, examples: int, run_seed: int, show: int) -> dict:
    strategy, check = IMPORTS[name]
    counts: Counter = Counter()
    crashes: dict[tuple[str, str], list[str]] = {}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(run_seed)
    @given(example=strategy)
    def fuzz(example):
        counts["tried"] += 1
        try:
            counts[check(database, before, example)] += 1
        except Exception as exc:  # every other outcome is a defect: count it and go on
            counts["crashes"] += 1
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename]
            where = " -> ".join(
                f"{Path(f.filename).name}:{f.lineno}" for f in [*ours[-1:], frames[-1]] if f is not None
            )
            key = (type(exc).__name__, where)
            crashes.setdefault(key, [])
            if len(crashes[key]) < show:
                crashes[key].append(f"{str(exc)[:300]!r}\n        input: {example!r:.300}")

    started = time.perf_counter()
    fuzz()
    try:
        assert_unchanged(database, before)  # every row, after all the examples
    except AssertionError as exc:
        counts["crashes"] += 1
        crashes[("AssertionError", "every row as before")] = [str(exc)[:300]]
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return {"counts": counts, "crashes": crashes}


def time_regressions(database, before: Baseline) -> None:
    """The inputs that once broke an import (some took quadratic time) as ratios of the median one: a
    pathological input must cost about what an ordinary one costs, on any machine and any load."""
    seconds = []
    for kind, data, _, _ in REGRESSIONS:
        started = time.perf_counter()
        if kind == "ics":
            check_calendar_import(database, data, before=before)
        else:
            check_map_import(database, data, kind, before=before)
        seconds.append((time.perf_counter() - started, kind, len(data)))
    median = sorted(s for s, _, _ in seconds)[len(seconds) // 2]
    worst = max(seconds)
    print(
        f"regression inputs: {len(seconds)}; the slowest ({worst[1]}, {worst[2]:,} bytes) took "
        f"{worst[0] / median:.1f}x the median one"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000, help="examples per import")
    parser.add_argument("--seed", type=int, default=None, help="default: a random seed, printed")
    parser.add_argument("--only", default=",".join(IMPORTS), help="comma-separated: " + ", ".join(IMPORTS))
    parser.add_argument("--database-url", default=None, help="an empty database to use (default: temporary SQLite)")
    parser.add_argument("--show", type=int, default=3, help="examples shown per kind of crash")
    args = parser.parse_args()
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}, {args.examples} examples per import")
    with tempfile.TemporaryDirectory(prefix="wijkbot-fuzz-") as tmp:
        database, before = fuzz_database(args.database_url or f"sqlite:///{Path(tmp) / 'fuzz.sqlite3'}")
        results = {}
        for name in args.only.split(","):
            results[name] = run(name, database, before, args.examples, run_seed, args.show)
            c = results[name]["counts"]
            print(
                f"{name:7} tried {c['tried']:6}  imported {c['imported']:6}  clear errors {c['rejected']:6}  "
                f"crashes {c['crashes']:4}  {c['seconds']:7.1f} s",
                flush=True,
            )
        time_regressions(database, before)
        database.dispose()
    total = sum(r["counts"]["crashes"] for r in results.values())
    for name, result in results.items():
        for (kind, where), shown in sorted(result["crashes"].items()):
            print(f"\n[{name}] {kind} at {where}")
            for line in shown:
                print("    " + line)
    print(f"\ncrashes: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
