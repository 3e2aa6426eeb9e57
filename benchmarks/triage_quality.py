"""Triage quality on a file shaped like ../shared/eval/triage.jsonl (id, text, stream, escalation).

Prints, Rasa-style: escalation recall (must be 1.00), right-resource rate, false escalations on the
other messages, stream accuracy and a confusion matrix. The social map used for the stream vote is
the demo map (the embedded default), unless --map names another HSDS file.

    python benchmarks/triage_quality.py ../shared/eval/triage.jsonl [--misses] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from intents.nlu import STREAMS
from intents.triage import triage_message
from socialekaart.demo import DEMO_MAP
from socialekaart.hsds import parse_json
from socialekaart.search import SearchIndex, ServiceDoc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--map", type=Path, default=DEMO_MAP)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r.model_dump(mode="json") for r in parse_json(args.map.read_bytes()) if r.status == "active"]
    index = SearchIndex.build([ServiceDoc.from_record(r) for r in records])
    results = [triage_message(r["text"], index) for r in rows]

    flagged = [(r, x) for r, x in zip(rows, results, strict=True) if r.get("escalation")]
    others = [(r, x) for r, x in zip(rows, results, strict=True) if not r.get("escalation")]
    recall = sum(1 for _, x in flagged if x["escalation"]) / max(len(flagged), 1)
    right = sum(1 for r, x in flagged if x["escalation"] == r["escalation"]) / max(len(flagged), 1)
    false = sum(1 for _, x in others if x["escalation"]) / max(len(others), 1)
    with_stream = [(r, x) for r, x in zip(rows, results, strict=True) if r.get("stream")]
    accuracy = sum(1 for r, x in with_stream if x["stream"] == r["stream"]) / max(len(with_stream), 1)
    confusion = Counter((r["stream"], x["stream"]) for r, x in with_stream)
    summary = {"messages": len(rows), "escalations": len(flagged), "escalation_recall": round(recall, 3),
               "right_resource_rate": round(right, 3), "false_escalation_rate": round(false, 3),
               "stream_accuracy": round(accuracy, 3),
               "confusion": {f"{a}->{b}": n for (a, b), n in sorted(confusion.items())}}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{len(rows)} messages, {len(flagged)} with an escalation")
        print(f"escalation recall     {recall:.3f}   (must be 1.000)")
        print(f"right resource        {right:.3f}")
        print(f"false escalations     {false:.3f}   ({sum(1 for _, x in others if x['escalation'])}"
              f" of {len(others)}; target <= 0.030)")
        print(f"stream accuracy       {accuracy:.3f}   (target >= 0.90)" if with_stream else
              "stream accuracy       n/a (the file has no streams)")
        print("confusion (rows: expected, columns: predicted)")
        print(f"{'':>12}" + "".join(f"{s:>11}" for s in STREAMS))
        for a in STREAMS:
            print(f"{a:>12}" + "".join(f"{confusion[(a, b)]:>11}" for b in STREAMS))
    if args.misses:
        for r, x in zip(rows, results, strict=True):
            if x["escalation"] != r.get("escalation") or (r.get("stream") and x["stream"] != r["stream"]):
                print(f"MISS {r['id']}: want {r.get('stream')}/{r.get('escalation')} got {x['stream']}/"
                      f"{x['escalation']}: {r['text']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
