"""Broadcast to 10,000 subscribers through a local Bot-API server, with injected 429s and a kill -9
of the sender halfway, then a restart. Prints delivered, duplicates, lost, and the achieved rate
against the configured limit.

    python benchmarks/broadcast_bench.py [--subscribers 10000] [--rate 250] [--every-429 700]

The sender is the real `wijkbot run` in a subprocess (Telegram channel + outbox sender); the Bot API
server is tests/fake_telegram.py in this process.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bot.app import open_database  # noqa: E402
from bot.broadcasts import broadcast_status, create_broadcast  # noqa: E402
from bot.floor.config import Settings  # noqa: E402
from bot.floor.models import Subscription, User  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="configured broadcast limit, messages/s")
    parser.add_argument("--every-429", type=int, default=2500, help="answer every Nth sendMessage with 429")
    parser.add_argument("--seed", type=int, default=1, help="chooses the moment of the kill")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="wijkbot-bench-"))
    settings = Settings(data_dir=tmp)
    database = open_database(settings)
    now = datetime.now(UTC)
    with database.session() as session:
        session.execute(
            insert(User),
            [
                {
                    "channel": "telegram",
                    "channel_user_id": str(10_000 + n),
                    "chat_id": str(10_000 + n),
                    "role": "resident",
                    "created_at": now,
                    "last_seen_at": now,
                    "blocked": False,
                }
                for n in range(args.subscribers)
            ],
        )
        ids = list(session.scalars(select(User.id)))
        session.execute(insert(Subscription), [{"user_id": i, "topic": "events"} for i in ids])
        broadcast_id = create_broadcast(
            session, "Gezondheidsmarkt zaterdag 10-14 uur in De Cocon", "all", "events", created_by=None, now=now
        ).id
        session.commit()

    with FakeTelegram() as fake:
        fake.fail_429_every, fake.retry_after = args.every_429, 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKBOT_")}
        env.update(
            WIJKBOT_DATA_DIR=str(tmp),
            WIJKBOT_TELEGRAM_TOKEN="123:ABC",
            WIJKBOT_TELEGRAM_BASE_URL=fake.base_url,
            WIJKBOT_BROADCAST_RATE=str(args.rate),
        )
        command = [sys.executable, "-m", "bot.cli", "run"]
        started = time.monotonic()
        first = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fake.wait_for(lambda f: len(f.sent) >= int(args.subscribers * 0.45), timeout=300)
        time.sleep(random.Random(args.seed).uniform(0.0, 0.5))  # at a moment not tied to any send
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = len(fake.sent)
        second = subprocess.Popen(command, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with database.session() as session:
                if broadcast_status(session, broadcast_id).queued == 0:
                    break
            time.sleep(0.5)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
        total = time.monotonic() - started
        stamps = [m["at"] for m in fake.sent]
        chats = Counter(m["chat_id"] for m in fake.sent)
        with database.session() as session:
            status = broadcast_status(session, broadcast_id)
    # achieved rate while sending: messages per second over the two sending phases, without the restart gap
    phases = [stamps[:killed_at], stamps[killed_at:]]
    busy = sum(p[-1] - p[0] for p in phases if len(p) > 1)
    achieved = len(stamps) / busy if busy else 0.0

    per_second = Counter(int(s) for s in stamps)
    peak = max(per_second.values()) if per_second else 0
    duplicates = sum(n - 1 for n in chats.values())
    lost = args.subscribers - len(chats)
    print(f"subscribers          {args.subscribers}")
    print(f"delivered            {len(chats)} (sent {status.sent}, failed {status.failed}, blocked {status.blocked})")
    print(f"duplicates           {duplicates}   (must be 0)")
    print(f"lost                 {lost}   (must be 0)")
    print(f"killed (-9) after    {killed_at} messages; restarted; 429 answers injected: {fake.count_429}")
    print(f"configured limit     {args.rate:.0f} messages/s")
    print(
        f"achieved rate        {achieved:.0f} messages/s = {achieved / args.rate:.0%} of the limit while sending, "
        f"{fake.count_429} x {fake.retry_after} s of 429 pauses included (target >= 90%)"
    )
    print(f"busiest second       {peak} messages (the limiter must hold the limit)")
    print(f"wall time            {total:.1f} s (including the restart)")
    database.dispose()
    return 0 if duplicates == 0 and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
