"""Whole conversations through ``Wijkbot.handle``: does the first answer hold the right service?

A folder holds ``socialmap.json`` (HSDS) and ``conversations.jsonl``, one conversation per line:
``id``, ``audience`` (resident | professional), ``turns`` (what the person types, in order), ``facts``
(``for_whom``, ``age``, ``postcode``, ``about``, ``stream``: the fact sheet a scripted person answers
clarifying questions from), ``vague`` (the first message alone does not say what is needed), ``relevant``
(service ids), ``escalation`` and ``danger_turn`` (a red flag that shows in that turn), ``sent_at``.

The scripted person sends a turn; while Wijkbot asks, it answers from the fact sheet the way a resident
would: a stream or for-whom question by pressing the matching button, "what is it about?" (or the open
"Waarmee kan ik u helpen?" after a greeting) by typing ``about``, the postcode by typing it (or "weet ik
niet"), a safety question with yes when the conversation holds a danger, else no. When an answer with
services comes, the next turn is sent. Reported:

- hit@3 of the first answer (the services Wijkbot names, read from the reply as a user reads it);
- questions asked before the first answer, and how many conversations got a question (vague ones apart);
- questions that changed the answer: the first answer compared with a search on the first turn alone,
  and whether that change helped (a miss became a hit) or hurt;
- escalations: red flags caught (escalation or safety question) at or after their turn, and false
  escalations in conversations without danger.

    python benchmarks/conversation_quality.py benchmarks/eval-zuiderhaven [--json] [--misses]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from triage_quality import safety_counts

ANSWER_LINE = re.compile(r"^\d+\. (.+) \((.+)\)$")
MAX_STEPS = 12


def _services(text: str, by_name: dict[tuple[str, str], set[str]]) -> list[set[str]] | None:
    """The services an answer names, as a user reads them (each a set: alike names share one line)."""
    found = [
        by_name.get((m.group(1), m.group(2)), set())
        for line in text.splitlines()
        if (m := ANSWER_LINE.match(line.strip()))
    ]
    return found or None


def play(folder: Path) -> tuple[list[dict], list[dict]]:  # noqa: C901 - a scripted resident: one branch per kind of reply, read top to bottom
    from bot.app import open_database
    from bot.core import Wijkbot
    from bot.floor.clock import FixedClock
    from bot.floor.config import Settings
    from bot.floor.messages import Incoming
    from bot.floor.models import User
    from intents.triage import dialogue
    from socialekaart.hsds import apply_records, parse_json

    conversations = [
        json.loads(line)
        for line in (folder / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    records = parse_json((folder / "socialmap.json").read_bytes())
    by_name: dict[tuple[str, str], set[str]] = {}
    for r in records:
        if r.status == "active":
            by_name.setdefault((r.name, r.organization.name if r.organization else ""), set()).add(r.id)
    questions = {dialogue().question(key, lang=lang).text: key for key in dialogue().questions for lang in ("nl", "en")}
    open_questions = [dialogue().texts_for(lang)["smalltalk_hello"] for lang in ("nl", "en")]
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), demo_map=False)
        database = open_database(settings)
        with database.session() as session:
            apply_records(session, records, replace=True)
            session.commit()
        clock = FixedClock(datetime.fromisoformat("2027-01-12T10:00:00+01:00"))
        bot = Wijkbot(database, clock=clock, settings=settings)

        for n, conv in enumerate(conversations):
            chat = f"conv{n}"
            if conv["audience"] == "professional":
                with database.session() as session:
                    session.add(
                        User(
                            channel="bench",
                            channel_user_id=chat,
                            role="professional",
                            created_at=clock.now(),
                            last_seen_at=clock.now(),
                        )
                    )
                    session.commit()
            if conv.get("sent_at"):
                clock.set(datetime.fromisoformat(conv["sent_at"]))
            facts = conv.get("facts") or {}
            danger = bool(conv.get("escalation"))
            first_answer: list[set[str]] | None = None
            asked: list[str] = []
            events: list[tuple[int, str]] = []
            for turn_no, turn in enumerate(conv["turns"]):
                message: dict = {"text": turn}
                for _ in range(MAX_STEPS):
                    before = safety_counts(database)
                    replies = bot.handle(Incoming(channel="bench", chat_id=chat, user_id=chat, **message))
                    events += [(turn_no, k) for k in (safety_counts(database) - before)]
                    clock.advance(timedelta(seconds=30))
                    last = replies[-1] if replies else None
                    if last is None:
                        break
                    named = _services("\n".join(r.text for r in replies), by_name)
                    if named is not None:
                        if first_answer is None:
                            first_answer = named
                        break
                    values = {b.value for b in last.buttons}
                    safety = [v for v in values if v.startswith("safety:")]
                    if safety:
                        key = "yes" if danger else "no"
                        message = {"button": next(v for v in safety if v.split(":")[1] == key)}
                        continue
                    key = next((k for text, k in questions.items() if text in last.text), None)
                    if key is None and any(q in last.text for q in open_questions) and facts.get("about"):
                        key = "open"  # "Waarmee kan ik u helpen?": the person says what it is about
                    if key is None:
                        break  # an escalation or a knowledge answer: nothing to answer
                    if first_answer is None:  # the questions before the first answer
                        asked.append(key)
                    if key == "postcode":
                        message = {"text": facts.get("postcode") or "weet ik niet"}
                    elif key in ("topic", "open"):
                        message = {"text": facts.get("about") or "weet ik niet"}
                    else:  # stream or for_whom: the button of the fact, else "weet ik niet"
                        value = f"{key}:{facts.get(key)}"
                        message = {"button": value if value in values else "dont_know"}
            outcomes.append({"id": conv["id"], "first_answer": first_answer, "asked": asked, "events": events})
        # what the first turn alone would have found: did the questions change the answer?
        index = bot.map.index()
        for conv, out in zip(conversations, outcomes, strict=True):
            out["unasked"] = [
                by_name.get((h.name, h.organization), {h.id}) for h in index.search(conv["turns"][0], limit=3)
            ]
        database.dispose()
    return conversations, outcomes


def _hit(named: list[set[str]] | None, relevant: list[str]) -> bool:
    return bool(named) and any(ids & set(relevant) for ids in named[:3])


def score(conversations: list[dict], outcomes: list[dict]) -> dict:
    out: dict = {}
    for audience in ("resident", "professional"):
        rows = [
            (c, o)
            for c, o in zip(conversations, outcomes, strict=True)
            if c["audience"] == audience and c.get("relevant")
        ]
        if not rows:
            continue
        vague = [(c, o) for c, o in rows if c.get("vague")]
        asked = [(c, o) for c, o in rows if o["asked"]]
        changed = [
            (c, o)
            for c, o in asked
            if [sorted(x) for x in (o["first_answer"] or [])] != [sorted(x) for x in o["unasked"]]
        ]
        out[audience] = {
            "n": len(rows),
            "hit@3_first_answer": round(sum(_hit(o["first_answer"], c["relevant"]) for c, o in rows) / len(rows), 3),
            "answered": sum(o["first_answer"] is not None for _, o in rows),
            "questions_mean": round(sum(len(o["asked"]) for _, o in rows) / len(rows), 2),
            "questions_max": max(len(o["asked"]) for _, o in rows),
            "asked_what": dict(Counter(k for _, o in rows for k in o["asked"])),
            "vague": len(vague),
            "vague_with_a_question": sum(bool([k for k in o["asked"] if k != "postcode"]) for _, o in vague),
            "with_a_question": len(asked),
            "question_changed_answer": len(changed),
            "change_helped": sum(
                _hit(o["first_answer"], c["relevant"]) and not _hit(o["unasked"], c["relevant"]) for c, o in changed
            ),
            "change_hurt": sum(
                not _hit(o["first_answer"], c["relevant"]) and _hit(o["unasked"], c["relevant"]) for c, o in changed
            ),
        }
    danger = [(c, o) for c, o in zip(conversations, outcomes, strict=True) if c.get("escalation")]
    calm = [(c, o) for c, o in zip(conversations, outcomes, strict=True) if not c.get("escalation")]
    out["red_flags"] = {
        "n": len(danger),
        "caught": sum(any(t >= (c.get("danger_turn") or 0) for t, _ in o["events"]) for c, o in danger),
        "right_resource": sum(
            any(t >= (c.get("danger_turn") or 0) and k == f"escalation:{c['escalation']}" for t, k in o["events"])
            for c, o in danger
        ),
        "false_escalations": sum(any(k.startswith("escalation:") for _, k in o["events"]) for _, o in calm),
        "calm": len(calm),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="list conversations whose first answer missed")
    args = parser.parse_args(argv)
    conversations, outcomes = play(args.folder)
    summary = score(conversations, outcomes)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        for audience in ("resident", "professional"):
            s = summary.get(audience)
            if not s:
                continue
            print(
                f"{audience}: n={s['n']}  hit@3 of the first answer {s['hit@3_first_answer']:.3f}  "
                f"(answered {s['answered']})"
            )
            print(f"  questions: mean {s['questions_mean']}, max {s['questions_max']}, {s['asked_what']}")
            print(
                f"  vague openings {s['vague']}, of which with a question (not the postcode) "
                f"{s['vague_with_a_question']}"
            )
            print(
                f"  a question changed the answer in {s['question_changed_answer']} of {s['with_a_question']}: "
                f"helped {s['change_helped']}, hurt {s['change_hurt']}"
            )
        r = summary["red_flags"]
        print(
            f"red flags in later turns: caught {r['caught']} of {r['n']}, right resource {r['right_resource']}; "
            f"false escalations {r['false_escalations']} of {r['calm']}"
        )
    if args.misses:
        for c, o in zip(conversations, outcomes, strict=True):
            if c.get("relevant") and not _hit(o["first_answer"], c["relevant"]):
                print(f"MISS {c['id']} asked={o['asked']}: {c['turns'][0][:90]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
