"""Throughput of the conversation core: scripted conversations through Wijkbot.handle.

Runs on the embedded default (SQLite file + demo map) in a temporary data directory, one core, and
prints messages/s and p50/p95 latency per message. For scale, the same process also times the bare
safety check (a short message and a 40-word story) and a bare map search, the fixed costs of every
message, against a baseline: one bare SQLite transaction on the same database.

    python benchmarks/core_speed.py [--conversations 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bot.app import open_database
from bot.core import Wijkbot
from bot.floor.clock import LOCAL_TZ, FixedClock
from bot.floor.config import Settings
from bot.floor.messages import Incoming
from bot.floor.models import count_usage

STORY = (
    "goedemiddag, ik wilde vragen of er in de wijk een wandelgroep is voor mijn moeder, ze is 79 en woont "
    "sinds vorig jaar alleen. ze is wat somber en ik maak me zorgen, wie kan er eens langsgaan?"
)
SCRIPTS = [
    ["ik heb schulden en de deurwaarder stuurt brieven", "7543AB", "followup:yes"],
    ["ik wil meer bewegen", "dont_know", "followup:no"],
    ["ik zit ergens mee", "stream:wellbeing", "topic:eenzaam", "dont_know"],
    ["wat is een MDO?"],
    ["mijn vader is ineens scheef in zijn gezicht"],
    ["hoi", "ik zoek een fysiotherapeut in de buurt van 7544 CD", "followup:yes"],
    ["mijn moeder van 84 vergeet steeds meer", "7544AB"],
    ["/help", "ik wil stoppen met roken", "dont_know"],
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        database = open_database(settings)
        clock = FixedClock(datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ))
        bot = Wijkbot(database, clock=clock, settings=settings)
        bot.handle(Incoming(channel="bench", chat_id="warm", user_id="warm", text="hoi"))  # load everything
        latencies = []
        started = time.perf_counter()
        for n in range(args.conversations):
            user = f"u{n}"
            for step in SCRIPTS[n % len(SCRIPTS)]:
                is_button = ":" in step or step == "dont_know"
                incoming = Incoming(
                    channel="bench",
                    chat_id=user,
                    user_id=user,
                    text="" if is_button else step,
                    button=step if is_button else None,
                )
                t = time.perf_counter()
                bot.handle(incoming)
                latencies.append((time.perf_counter() - t) * 1000)
                clock.advance(timedelta(milliseconds=50))
        elapsed = time.perf_counter() - started
        check, story, bare = [], [], []
        for _ in range(2000):
            t = time.perf_counter()
            bot.safety.assess("ik heb schulden en de deurwaarder stuurt brieven")
            check.append((time.perf_counter() - t) * 1000)
        for _ in range(2000):  # a longer story (about 40 words), as residents often write
            t = time.perf_counter()
            bot.safety.assess(STORY)
            story.append((time.perf_counter() - t) * 1000)
        for _ in range(2000):  # the floor: one read and one write transaction on the same database
            t = time.perf_counter()
            with database.session() as session:
                count_usage(session, clock.now().date(), "bench:baseline")
                session.commit()
            bare.append((time.perf_counter() - t) * 1000)
        search = []
        for _ in range(2000):
            t = time.perf_counter()
            bot.map.search("ik heb schulden en de deurwaarder stuurt brieven", limit=3)
            search.append((time.perf_counter() - t) * 1000)
        database.dispose()
    print(f"{args.conversations} conversations, {len(latencies)} messages in {elapsed:.1f} s on one core")
    print(f"throughput      {len(latencies) / elapsed:.0f} messages/s   (target >= 300)")
    print(f"latency p50     {statistics.median(latencies):.2f} ms")
    print(f"latency p95     {percentile(latencies, 0.95):.2f} ms   (target <= 20)")
    print(
        f"of which, alone: safety check p50 {statistics.median(check):.2f} ms (a 40-word story "
        f"{statistics.median(story):.2f} ms), map search p50 {statistics.median(search):.2f} ms"
    )
    floor = statistics.median(bare)
    print(
        f"baseline in the same process: one bare SQLite transaction p50 {floor:.2f} ms; a message costs "
        f"{statistics.median(latencies) / floor:.1f}× that, the safety check {statistics.median(check) / floor:.1f}×"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
