"""Scheduler with 10,000 meeting series, three lead times each: start-up time, peak memory, and the
time to compute the next 1,000 due reminders. Baseline in the same process: the naive approach of
expanding every series over a whole year and sorting all reminders.

    python benchmarks/scheduler_bench.py [--series 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.app import open_database  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from jobs.models import MeetingSeries  # noqa: E402
from jobs.reminders import planned  # noqa: E402
from jobs.scheduler import ReminderScheduler  # noqa: E402

RULES = ["FREQ=MONTHLY;BYDAY=2TU", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;BYDAY=-1TH", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
         "FREQ=MONTHLY;BYDAY=1FR"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    args = parser.parse_args(argv)
    rng = random.Random(5)
    database = open_database(Settings(data_dir=Path(tempfile.mkdtemp()), demo_map=False))
    now = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    with database.session() as session:
        session.execute(insert(MeetingSeries), [
            {"title": f"Overleg {n}", "rrule": rng.choice(RULES),
             "start_local": f"2027-01-{rng.randint(4, 28):02d}T{rng.randint(9, 16):02d}:00",
             "timezone": "Europe/Amsterdam", "duration_minutes": 60, "location": "Wijkcentrum",
             "audience": "professionals", "remind": ["7d", "1d", "2h"], "skip_holidays": False, "created_at": now}
            for n in range(args.series)])
        session.commit()
    clock = FixedClock(now)

    async def start_up() -> tuple[float, ReminderScheduler]:
        scheduler = ReminderScheduler(database, clock)
        t = time.perf_counter()
        scheduler.start()
        return time.perf_counter() - t, scheduler

    async def measure():
        seconds, scheduler = await start_up()
        jobs = len(scheduler.scheduler.get_jobs())
        scheduler.shutdown()
        return seconds, jobs

    from jobs.agenda import parsed_rule

    startup, jobs = asyncio.run(measure())  # timed without tracemalloc, which slows Python down
    parsed_rule.cache_clear()
    tracemalloc.start()
    asyncio.run(measure())
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    t = time.perf_counter()
    with database.session() as session:
        found, horizon = [], timedelta(days=1)
        while len(found) < 1000:
            found = planned(session, now, now + horizon)
            horizon *= 2
    next_1000 = time.perf_counter() - t
    t = time.perf_counter()
    with database.session() as session:
        naive = sorted(planned(session, now, now + timedelta(days=365)), key=lambda r: r.fire_at)[:1000]
    baseline = time.perf_counter() - t
    assert [r.key for r in found[:1000]] == [r.key for r in naive]
    print(f"series                   {args.series} (3 lead times each)")
    print(f"scheduler start-up       {startup:.2f} s   (target <= 2 s; {jobs} jobs, catch-up included)")
    print(f"peak memory at start-up  {peak:.0f} MB (tracemalloc)")
    print(f"next 1,000 reminders     {next_1000 * 1000:.0f} ms (window doubling from 1 day)")
    print(f"baseline: whole year     {baseline * 1000:.0f} ms  ->  {baseline / next_1000:.1f}x")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
