"""Does learning from "Heeft u hier iets aan?" help, without one service crowding out the others?

Simulated residents ask the resident queries of an evaluation folder (socialmap.json + queries.jsonl) in
rounds, in a shuffled order (fixed seed). After each answer (the first three services, ranked with the
feedback prior of bot/feedback.py for the question's kind of need) a resident says "ja" when a relevant
service is among them, else "nee"; a share of them (``--noise``) presses the other button. The counts go
where the product puts them: per kind of need and service shown.

The queries are split in two halves: residents ask only the first half; hit@3 is reported on the second
half too, before and after, so what is learnt is the kind of need, not the sentence. Crowding: the
largest share of first places that one service takes, and how many services ever come first.

    python benchmarks/feedback_sim.py benchmarks/eval-zuiderhaven [--rounds 5] [--noise 0.1]
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from search_quality import load

from bot.feedback import factor
from socialekaart.needs import default_needs
from socialekaart.search import UNKNOWN_KIND, SearchIndex, ServiceDoc


def answer(index: SearchIndex, query: str, counts: dict) -> tuple[str, list[str]]:
    kind, hits = index.search_for_need(
        query, lambda kind: {sid: factor(*c) for (k, sid), c in counts.items() if k == kind}
    )
    return kind or UNKNOWN_KIND, [h.id for h in hits]


def measure(index: SearchIndex, queries: list[dict], counts: dict) -> dict:
    shown = [answer(index, q["query"], counts)[1] for q in queries]
    firsts = Counter(ids[0] for ids in shown if ids)
    return {
        "hit@3": round(
            sum(any(i in q["relevant"] for i in ids) for q, ids in zip(queries, shown, strict=True)) / len(queries), 3
        ),
        "hit@1": round(
            sum(bool(ids) and ids[0] in q["relevant"] for q, ids in zip(queries, shown, strict=True)) / len(queries), 3
        ),
        "top_share": round(max(firsts.values()) / len(queries), 3) if firsts else 0.0,
        "distinct_first": len(firsts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    active, queries = load(args.folder)
    residents = [q for q in queries if q["audience"] == "resident"]
    rng = random.Random(args.seed)
    rng.shuffle(residents)
    asked, held_out = residents[: len(residents) // 2], residents[len(residents) // 2 :]
    index = SearchIndex.build([ServiceDoc.from_record(r) for r in active], needs=default_needs())
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    before = {"asked": measure(index, asked, counts), "held_out": measure(index, held_out, counts)}
    for _ in range(args.rounds):
        for q in rng.sample(asked, len(asked)):
            kind, ids = answer(index, q["query"], counts)
            helped = any(i in q["relevant"] for i in ids)
            if rng.random() < args.noise:
                helped = not helped
            for sid in ids:
                counts[(kind, sid)][0 if helped else 1] += 1
    after = {"asked": measure(index, asked, counts), "held_out": measure(index, held_out, counts)}
    print(
        f"{len(asked)} queries asked {args.rounds}x by simulated residents ({args.noise:.0%} press the other "
        f"button), {len(held_out)} held out"
    )
    print(f"{'queries':<10}{'':>7}{'hit@1':>7}{'hit@3':>7}{'top share':>11}{'distinct 1st':>14}")
    for part in ("asked", "held_out"):
        for when, m in (("before", before[part]), ("after", after[part])):
            print(
                f"{part:<10}{when:>7}{m['hit@1']:>7.3f}{m['hit@3']:>7.3f}{m['top_share']:>11.3f}"
                f"{m['distinct_first']:>14}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
