"""What ranking by room costs a resident's answer (issue 14): the answer's search for 3 services (the
baseline, as before) against a search for 6, the services' standing read from the database and the
reordering (`bot/flows/providers.py` rank_by_room), on the demo map with a third of its services full.

    python benchmarks/answer_room.py [--rounds 5]

Prints milliseconds per answer and the ratio against the baseline, measured in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot import feedback  # noqa: E402
from bot.app import open_database  # noqa: E402
from bot.floor.config import Settings  # noqa: E402
from bot.flows.providers import rank_by_room  # noqa: E402
from socialekaart.listing import set_capacity  # noqa: E402
from socialekaart.models import Service  # noqa: E402
from socialekaart.search import Filters, MapSearch  # noqa: E402

QUERIES = [
    "ik zoek een diëtist",
    "ik wil stoppen met roken",
    "logopedie voor mijn kind",
    "ik heb schulden",
    "hulp bij mijn administratie",
    "ik voel me eenzaam",
    "fysiotherapeut voor mijn knie",
    "mantelzorg ondersteuning",
    "ik zoek een huisarts",
    "beweeggroep voor ouderen",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="answer-room-")))
    database = open_database(settings)
    now = datetime(2026, 12, 3, 10, tzinfo=UTC)
    with database.session() as session:
        for n, service in enumerate(session.scalars(select(Service).order_by(Service.id))):
            if n % 3 == 0:
                set_capacity(session, service, "waitlist", date(2027, 3, 1), now)
        session.commit()
    index = MapSearch(database).index()

    def answer(limit: int, rank: bool) -> None:
        with database.session() as session:
            for query in QUERIES:
                _, hits = index.search_for_need(
                    query, lambda kind: feedback.prior(session, kind), Filters(postcode="7543AB"), limit=limit, now=now
                )
                if rank:
                    rank_by_room(session, hits, 3)

    timings: dict[str, list[float]] = {"baseline": [], "by room": []}
    answer(3, False)  # warm both paths once
    answer(6, True)
    for _ in range(args.rounds):
        for name, limit, rank in (("baseline", 3, False), ("by room", 6, True)):
            started = time.perf_counter()
            answer(limit, rank)
            timings[name].append((time.perf_counter() - started) / len(QUERIES) * 1000)
    base = statistics.median(timings["baseline"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:<10} {median:6.2f} ms per answer  ratio {median / base:4.2f}")
    database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
