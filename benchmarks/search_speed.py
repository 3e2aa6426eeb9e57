"""Search speed on synthetic maps of 1k, 10k and 50k services.

For each size: index build time, peak memory of the build (tracemalloc), and p50/p95 query latency
of Wijkbot's search and of the naive baseline (rapidfuzz WRatio full scan over name + description),
both in this process; the last column is the speed-up (baseline p50 / Wijkbot p50).

    python benchmarks/search_speed.py [--sizes 1000,10000,50000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

from rapidfuzz import fuzz, process, utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import QUERIES, synthetic_map

from intents.language import dutch
from socialekaart.needs import default_needs
from socialekaart.search import SearchIndex, ServiceDoc


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(size: int, repeats: int, baseline_queries: int) -> dict:
    records = synthetic_map(size)
    started = time.perf_counter()
    docs = [ServiceDoc.from_record(r) for r in records]
    index = SearchIndex.build(docs, needs=default_needs())
    index.search(QUERIES[0])  # the first query also finds the need model's kinds of service on this map
    build = time.perf_counter() - started
    tracemalloc.start()
    SearchIndex.build([ServiceDoc.from_record(r) for r in records])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ours = []
    for _ in range(repeats):
        for q in QUERIES:
            t = time.perf_counter()
            index.search(q, limit=10)
            ours.append((time.perf_counter() - t) * 1000)
    choices = [f"{r['name']} {r['description']}" for r in records]
    naive = []
    for q in QUERIES[:baseline_queries]:
        t = time.perf_counter()
        process.extract(q, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=10)
        naive.append((time.perf_counter() - t) * 1000)
    return {
        "services": size,
        "build_s": round(build, 2),
        "build_peak_mb": round(peak / 2**20, 1),
        "wijkbot_p50_ms": round(statistics.median(ours), 2),
        "wijkbot_p95_ms": round(percentile(ours, 0.95), 2),
        "baseline_p50_ms": round(statistics.median(naive), 1),
        "baseline_p95_ms": round(percentile(naive, 0.95), 1),
        "speedup_p50": round(statistics.median(naive) / statistics.median(ours), 1),
        "speedup_p95": round(percentile(naive, 0.95) / percentile(ours, 0.95), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--repeats", type=int, default=8, help="passes over the query list for Wijkbot")
    parser.add_argument("--baseline-queries", type=int, default=len(QUERIES))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    dutch()  # load spaCy and the need model once, outside the timings
    default_needs()
    rows = [run(int(s), args.repeats, args.baseline_queries) for s in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'services':>9} {'build s':>8} {'peak MB':>8} {'ours p50':>9} {'ours p95':>9} "
        f"{'naive p50':>10} {'naive p95':>10} {'x p50':>7} {'x p95':>7}"
    )
    for r in rows:
        print(
            f"{r['services']:>9} {r['build_s']:>8} {r['build_peak_mb']:>8} {r['wijkbot_p50_ms']:>9} "
            f"{r['wijkbot_p95_ms']:>9} {r['baseline_p50_ms']:>10} {r['baseline_p95_ms']:>10} "
            f"{r['speedup_p50']:>7} {r['speedup_p95']:>7}"
        )
    print("(latencies in ms; x = baseline / Wijkbot, same process, same queries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
