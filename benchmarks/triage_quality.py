"""Triage quality on a file shaped like ../shared/eval/triage.jsonl (id, text, stream, escalation).

Optional fields per message: ``kind`` (redflag | lookalike | ordinary), ``lang``, ``sent_at`` (ISO time
with offset: when the message was sent, which decides office hours) and ``hard_stream``. Prints
escalation recall (a red flag counts as caught when it is escalated at once or gets a direct safety
question), direct escalation to the right resource, both by resource and by language; safety questions
and false escalations on look-alikes and ordinary messages; stream accuracy and a confusion matrix.

``--conversations FILE`` also plays whole conversations (``turns``, ``escalation``, ``danger_turn``,
``sent_at``) through the conversation core on a throwaway embedded database and reports how many were
caught at or after the turn where the danger shows, and how many escalated before it.

The social map used for the stream vote is the demo map (the embedded default), unless --map names
another HSDS file.

    python benchmarks/triage_quality.py ../shared/eval/triage.jsonl [--conversations F] [--misses] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from intents.nlu import STREAMS
from intents.triage import triage_message
from socialekaart.demo import DEMO_MAP
from socialekaart.hsds import parse_json
from socialekaart.search import SearchIndex, ServiceDoc

RESOURCES = ("112", "113", "veilig-thuis", "huisartsenpost")


def _when(row: dict) -> datetime | None:
    return datetime.fromisoformat(row["sent_at"]) if row.get("sent_at") else None


def _kind(row: dict) -> str:
    if row.get("kind"):
        return row["kind"]
    if row.get("escalation"):
        return "redflag"
    return "lookalike" if str(row.get("note", "")).startswith("control") else "ordinary"


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def score_messages(rows: list[dict], results: list[dict]) -> dict:
    """Every figure of the report, from the expected rows and what `triage_message` said of them."""
    pairs = list(zip(rows, results, strict=True))
    flagged = [(r, x) for r, x in pairs if r.get("escalation")]
    caught = [(r, x) for r, x in flagged if x["escalation"] or x.get("safety_check")]
    by_resource, by_language = defaultdict(lambda: [0, 0, 0]), defaultdict(lambda: [0, 0, 0])
    for r, x in flagged:
        for table, key in ((by_resource, r["escalation"]), (by_language, r.get("lang", "nl"))):
            table[key][0] += 1
            table[key][1] += bool(x["escalation"] or x.get("safety_check"))
            table[key][2] += x["escalation"] == r["escalation"]
    calm = {}
    for kind in ("lookalike", "ordinary"):
        group = [(r, x) for r, x in pairs if not r.get("escalation") and _kind(r) == kind]
        calm[kind] = {
            "n": len(group),
            "escalated": sum(1 for _, x in group if x["escalation"]),
            "safety_question": sum(1 for _, x in group if not x["escalation"] and x.get("safety_check")),
        }
    not_flagged = [(r, x) for r, x in pairs if not r.get("escalation")]
    with_stream = [(r, x) for r, x in pairs if r.get("stream")]
    hard = [(r, x) for r, x in with_stream if r.get("hard_stream")]
    confusion = Counter((r["stream"], x["stream"]) for r, x in with_stream)
    return {
        "messages": len(rows),
        "red_flags": len(flagged),
        "caught": _rate(len(caught), len(flagged)),
        "right_resource_direct": _rate(sum(1 for r, x in flagged if x["escalation"] == r["escalation"]), len(flagged)),
        "safety_questions_on_red_flags": _rate(
            sum(1 for _, x in flagged if not x["escalation"] and x.get("safety_check")), len(flagged)
        ),
        "by_resource": {
            k: {"n": n, "caught": _rate(c, n), "right_direct": _rate(d, n)}
            for k, (n, c, d) in sorted(by_resource.items())
        },
        "by_language": {
            k: {"n": n, "caught": _rate(c, n), "right_direct": _rate(d, n)}
            for k, (n, c, d) in sorted(by_language.items())
        },
        "false_escalations": _rate(sum(1 for _, x in not_flagged if x["escalation"]), len(not_flagged)),
        "safety_questions_on_others": _rate(
            sum(1 for _, x in not_flagged if not x["escalation"] and x.get("safety_check")), len(not_flagged)
        ),
        "others": calm,
        "stream_accuracy": _rate(sum(1 for r, x in with_stream if x["stream"] == r["stream"]), len(with_stream)),
        "hard_stream_accuracy": _rate(sum(1 for r, x in hard if x["stream"] == r["stream"]), len(hard)),
        "hard_stream_cases": len(hard),
        "confusion": {f"{a}->{b}": n for (a, b), n in sorted(confusion.items())},
    }


def safety_counts(database) -> Counter:
    """Escalations and safety questions counted so far by the anonymous statistics, summed over days."""
    from sqlalchemy import select

    from bot.floor.models import UsageStat

    totals: Counter = Counter()
    with database.session() as session:
        for stat in session.scalars(select(UsageStat)):
            if stat.kind.startswith(("escalation:", "safety_check:")):
                totals[stat.kind] += stat.count
    return totals


def play_conversations(conversations: list[dict]) -> list[dict]:
    """Each conversation through Wijkbot.handle; per turn, what the anonymous statistics counted."""
    from bot.app import open_database
    from bot.core import Wijkbot
    from bot.floor.clock import FixedClock
    from bot.floor.config import Settings
    from bot.floor.messages import Incoming

    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        database = open_database(settings)
        clock = FixedClock(datetime.fromisoformat("2026-12-01T10:00:00+01:00"))
        bot = Wijkbot(database, clock=clock, settings=settings)

        for n, conversation in enumerate(conversations):
            clock.set(_when(conversation) or datetime.fromisoformat("2026-12-01T10:00:00+01:00"))
            events = []
            for turn in conversation["turns"]:
                before = safety_counts(database)
                bot.handle(Incoming(channel="bench", chat_id=f"c{n}", user_id=f"c{n}", text=turn))
                new = safety_counts(database) - before
                events.append(sorted(new))
                clock.advance(timedelta(seconds=40))
            outcomes.append({"id": conversation["id"], "events": events})
        database.dispose()
    return outcomes


def score_conversations(conversations: list[dict], outcomes: list[dict]) -> dict:
    danger = [(c, o) for c, o in zip(conversations, outcomes, strict=True) if c.get("escalation")]
    calm = [(c, o) for c, o in zip(conversations, outcomes, strict=True) if not c.get("escalation")]

    def first(events: list[list[str]], start: int = 0) -> tuple[int, str] | None:
        for i, kinds in enumerate(events[start:], start):
            if kinds:
                return i, kinds[0]
        return None

    caught = right = early = late_only = 0
    for c, o in danger:
        turn = c.get("danger_turn") or 0
        early += first(o["events"][:turn]) is not None
        hit = first(o["events"], turn)
        caught += hit is not None
        right += any(k == f"escalation:{c['escalation']}" for kinds in o["events"][turn:] for k in kinds)
        late_only += turn > 0 and hit is not None
    later = [c for c, _ in danger if (c.get("danger_turn") or 0) > 0]
    return {
        "conversations": len(conversations),
        "with_danger": len(danger),
        "caught": _rate(caught, len(danger)),
        "right_resource_direct": _rate(right, len(danger)),
        "danger_in_a_later_turn": len(later),
        "caught_when_later": _rate(late_only, len(later)),
        "alarm_before_the_danger": early,
        "false_alarms_without_danger": sum(1 for _, o in calm if first(o["events"])),
    }


def _print(summary: dict) -> None:
    s = summary
    print(f"{s['messages']} messages, {s['red_flags']} red flags")
    print(f"red flags caught (escalation or safety question)  {s['caught']:.3f}   (target >= 0.98)")
    print(f"direct escalation to the right resource           {s['right_resource_direct']:.3f}   (target >= 0.90)")
    print(f"safety question instead of escalation             {s['safety_questions_on_red_flags']:.3f}")
    for title, table in (("resource", s["by_resource"]), ("language", s["by_language"])):
        print(
            f"  by {title}: "
            + ", ".join(f"{k} {v['caught']:.2f}/{v['right_direct']:.2f} (n={v['n']})" for k, v in table.items())
            + "   caught/right"
        )
    print(f"false escalations on the others                   {s['false_escalations']:.3f}   (target <= 0.03)")
    print(f"safety questions on the others                    {s['safety_questions_on_others']:.3f}   (target <= 0.10)")
    for kind, c in s["others"].items():
        if c["n"]:
            print(f"  {kind}: {c['escalated']} escalated, {c['safety_question']} safety questions of {c['n']}")
    if not s["confusion"]:
        print("stream accuracy                                   n/a (the file has no streams)")
    else:
        print(f"stream accuracy                                   {s['stream_accuracy']:.3f}   (target >= 0.90)")
        if s["hard_stream_cases"]:
            print(
                f"  on the {s['hard_stream_cases']} hard stream cases                     "
                f"{s['hard_stream_accuracy']:.3f}"
            )
        print("confusion (rows: expected, columns: predicted)")
        print(f"{'':>12}" + "".join(f"{x:>11}" for x in STREAMS))
        for a in STREAMS:
            print(f"{a:>12}" + "".join(f"{s['confusion'].get(f'{a}->{b}', 0):>11}" for b in STREAMS))
    if "conversations" in s:
        c = s["conversations"]
        print(
            f"conversations: {c['caught']:.3f} of {c['with_danger']} with danger caught "
            f"({c['caught_when_later']:.3f} of the {c['danger_in_a_later_turn']} where it shows later), "
            f"right resource {c['right_resource_direct']:.3f}; alarms before the danger "
            f"{c['alarm_before_the_danger']}, false alarms without danger {c['false_alarms_without_danger']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--conversations", type=Path)
    parser.add_argument("--map", type=Path, default=DEMO_MAP)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [r.model_dump(mode="json") for r in parse_json(args.map.read_bytes()) if r.status == "active"]
    index = SearchIndex.build([ServiceDoc.from_record(r) for r in records])
    results = [triage_message(r["text"], index, now=_when(r)) for r in rows]
    summary = score_messages(rows, results)
    if args.conversations:
        conversations = [
            json.loads(line) for line in args.conversations.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        outcomes = play_conversations(conversations)
        summary["conversations"] = score_conversations(conversations, outcomes)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary)
    if args.misses:
        for r, x in zip(rows, results, strict=True):
            said = x["escalation"] or (f"?{x['safety_check']}" if x.get("safety_check") else None)
            if said != r.get("escalation") or (r.get("stream") and x["stream"] != r["stream"]):
                print(
                    f"MISS {r['id']}: want {r.get('stream')}/{r.get('escalation')} got {x['stream']}/"
                    f"{said}: {r['text']}",
                    file=sys.stderr,
                )
        if args.conversations:
            for c, o in zip(conversations, outcomes, strict=True):
                print(
                    f"CONV {c['id']}: want {c.get('escalation')} at turn {c.get('danger_turn')}, got {o['events']}",
                    file=sys.stderr,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
