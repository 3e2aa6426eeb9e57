"""Scheduler with 10,000 meeting series, three lead times each: start-up time, peak memory, and the
time to compute the next 1,000 due reminders. Baseline in the same process: the naive approach of
expanding every series over a whole year and sorting all reminders.

Also, as the scheduler runs: one job firing (one item's reminders; baseline: a scan of every series
for the same minute, which is what a job did before), an idle sweep, the resync after a change, and
the catch-up after a day of downtime with 5 subscribed professionals.

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
from bot.floor.clock import FixedClock  # noqa: E402
from bot.floor.config import Settings  # noqa: E402
from bot.floor.models import Subscription, User  # noqa: E402
from jobs.agenda import bump_revision  # noqa: E402
from jobs.models import MeetingSeries  # noqa: E402
from jobs.reminders import enqueue_due, planned  # noqa: E402
from jobs.scheduler import ReminderScheduler  # noqa: E402

RULES = [
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=MONTHLY;BYDAY=-1TH",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
    "FREQ=MONTHLY;BYDAY=1FR",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    args = parser.parse_args(argv)
    rng = random.Random(5)
    database = open_database(Settings(data_dir=Path(tempfile.mkdtemp()), demo_map=False))
    now = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    with database.session() as session:
        session.execute(
            insert(MeetingSeries),
            [
                {
                    "title": f"Overleg {n}",
                    "rrule": rng.choice(RULES),
                    "start_local": f"2027-01-{rng.randint(4, 28):02d}T{rng.randint(9, 16):02d}:00",
                    "timezone": "Europe/Amsterdam",
                    "duration_minutes": 60,
                    "location": "Wijkcentrum",
                    "audience": "professionals",
                    "remind": ["7d", "1d", "2h"],
                    "skip_holidays": False,
                    "created_at": now,
                }
                for n in range(args.series)
            ],
        )
        session.commit()
    clock = FixedClock(now)

    from bot.floor.clock import parse_duration
    from jobs.agenda import parsed_rule

    async def measure():
        """The start-up work (catch-up, then every item's next time and its job), as `start` runs it."""
        parsed_rule.cache_clear()
        parse_duration.cache_clear()
        scheduler = ReminderScheduler(database, clock)
        t = time.perf_counter()
        scheduler.prepare()
        seconds = time.perf_counter() - t
        return seconds, len(scheduler._next), len(scheduler.scheduler.get_jobs())

    startup, items, jobs = asyncio.run(measure())  # timed without tracemalloc, which slows Python down
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

    # the running scheduler: a job firing, an idle sweep, a resync after a change
    with database.session() as session:
        for n in range(5):
            user = User(
                channel="telegram",
                channel_user_id=f"pro{n}",
                chat_id=f"pro{n}",
                role="professional",
                created_at=now,
                last_seen_at=now,
            )
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, topic="meetings"))
        session.commit()
    scheduler = ReminderScheduler(database, clock)
    scheduler.prepare()
    when = min(scheduler._next.values())
    due = sum(1 for at in scheduler._next.values() if at == when)
    clock.set(when)
    t = time.perf_counter()
    scheduler.fire(when)
    fire = time.perf_counter() - t
    with database.session() as session:
        t = time.perf_counter()
        enqueue_due(session, when, since=when - timedelta(minutes=1))
        full_scan = time.perf_counter() - t
        session.rollback()
    t = time.perf_counter()
    scheduler.sweep()
    idle_sweep = time.perf_counter() - t
    with database.session() as session:
        bump_revision(session)
        session.commit()
    t = time.perf_counter()
    scheduler.sweep()
    resync = time.perf_counter() - t

    # a day of downtime, then a new process catches up
    clock.set(when + timedelta(days=1))
    t = time.perf_counter()
    queued, dropped = ReminderScheduler(database, clock).run_due()
    catch_up = time.perf_counter() - t

    print(f"series                   {args.series} (3 lead times each)")
    print(f"scheduler start-up       {startup:.2f} s   (target <= 2 s; catch-up, then {items} items in {jobs} jobs)")
    print(f"peak memory at start-up  {peak:.0f} MB (tracemalloc)")
    print(f"next 1,000 reminders     {next_1000 * 1000:.0f} ms (window doubling from 1 day)")
    print(f"baseline: whole year     {baseline * 1000:.0f} ms  ->  {baseline / next_1000:.1f}x")
    print(f"one job fires            {fire * 1000:.0f} ms  ({due} series due at that time, all rescheduled)")
    print(
        f"baseline: a full scan    {full_scan * 1000:.0f} ms, which a job per series did each: "
        f"{due} x {full_scan:.2f} s = {due * full_scan:.0f} s  ->  {due * full_scan / fire:.0f}x"
    )
    print(f"sweep, nothing changed   {idle_sweep * 1000:.1f} ms (every minute)")
    print(f"sweep after a change     {resync * 1000:.0f} ms (every job derived again)")
    print(f"catch-up after 1 day     {catch_up:.2f} s  ({queued} reminders queued, {dropped} dropped)")
    database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
