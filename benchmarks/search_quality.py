"""Search quality on an evaluation folder shaped like ../shared/eval (socialmap.json + queries.jsonl).

Prints hit@1, hit@3 and MRR per audience for Wijkbot's search and for a naive baseline computed in
the same run: rapidfuzz WRatio of the query against each active service's name + description.

    python benchmarks/search_quality.py ../shared/eval [--json] [--misses]
    python benchmarks/search_quality.py benchmarks/eval-vlinderhof --map socialekaart/data/demo_map.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from socialekaart.hsds import parse_json
from socialekaart.needs import default_needs
from socialekaart.search import SearchIndex, ServiceDoc


def load(folder: Path, social_map: Path | None = None):
    records = parse_json((social_map or folder / "socialmap.json").read_bytes())
    active = [r.model_dump(mode="json") for r in records if r.status == "active"]
    queries = [
        json.loads(line) for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return active, queries


def metrics(ranked: list[list[str]], queries: list[dict]) -> dict:
    out = {}
    for audience in [*sorted({q["audience"] for q in queries}), "all"]:
        rows = [(r, q) for r, q in zip(ranked, queries, strict=True) if audience in ("all", q["audience"])]
        hit1 = sum(any(i in q["relevant"] for i in r[:1]) for r, q in rows) / len(rows)
        hit3 = sum(any(i in q["relevant"] for i in r[:3]) for r, q in rows) / len(rows)
        rr = 0.0
        for r, q in rows:
            rank = next((k for k, i in enumerate(r[:10], 1) if i in q["relevant"]), None)
            rr += 1 / rank if rank else 0.0
        out[audience] = {
            "n": len(rows),
            "hit@1": round(hit1, 3),
            "hit@3": round(hit3, 3),
            "mrr": round(rr / len(rows), 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--map", type=Path, help="the social map, when not FOLDER/socialmap.json")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list queries whose answer is not in the top 3")
    parser.add_argument("--no-needs", action="store_true", help="without the need model (words and lexicon only)")
    args = parser.parse_args(argv)
    active, queries = load(args.folder, args.map)

    started = time.perf_counter()
    needs = None if args.no_needs else default_needs()
    index = SearchIndex.build([ServiceDoc.from_record(r) for r in active], needs=needs)
    build = time.perf_counter() - started
    # a professional searches as in a private chat, where contact persons' names count; a resident never
    ours = [
        [h.id for h in index.search(q["query"], limit=10, contacts=q.get("audience") == "professional")]
        for q in queries
    ]

    choices = [f"{r['name']} {r.get('description') or ''}" for r in active]
    naive = []
    for q in queries:
        found = process.extract(q["query"], choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=10)
        naive.append([active[i]["id"] for _, _, i in found])

    result = {
        "wijkbot": metrics(ours, queries),
        "baseline_wratio": metrics(naive, queries),
        "services": len(active),
        "queries": len(queries),
        "index_build_s": round(build, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(queries)} queries over {len(active)} active services (index built in {build:.2f} s)")
        print(f"{'audience':<13}{'n':>4}  {'method':<10}{'hit@1':>7}{'hit@3':>7}{'MRR':>7}")
        for audience in result["wijkbot"]:
            for method, key in (("wijkbot", "wijkbot"), ("baseline", "baseline_wratio")):
                m = result[key][audience]
                print(f"{audience:<13}{m['n']:>4}  {method:<10}{m['hit@1']:>7.3f}{m['hit@3']:>7.3f}{m['mrr']:>7.3f}")
    if args.misses:
        names = {r["id"]: r["name"] for r in active}
        for q, r in zip(queries, ours, strict=True):
            if not any(i in q["relevant"] for i in r[:3]):
                print(
                    f"MISS {q['id']} {q['query']!r}\n   want {[names[i] for i in q['relevant']]}"
                    f"\n   got  {[names[i] for i in r[:3]]}",
                    file=sys.stderr,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
