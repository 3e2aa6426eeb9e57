"""What the monthly "Klopt dit nog?" round costs at regional scale (issue 14): finding every organisation's
linked professionals. The baseline asks `members` per organisation, which reads the organisation directory
each time (how the round first did it: quadratic in the map's organisations); the round now asks
`membership` once and looks each organisation up (`socialekaart/providers.py`, `jobs/providers.py`).

    python benchmarks/provider_round.py [--organizations 1000] [--professionals 100]

Prints seconds per round and the ratio against the baseline, measured in the same process on one SQLite map
of synthetic organisations (one service each) and professionals linked by name.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bot.app import open_database  # noqa: E402
from bot.floor.config import Settings  # noqa: E402
from bot.floor.models import User  # noqa: E402
from socialekaart.models import Organization, Service  # noqa: E402
from socialekaart.providers import members, membership  # noqa: E402

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def make_map(organizations: int, professionals: int):
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), demo_map=False)
    database = open_database(settings)
    with database.session() as session:
        for i in range(organizations):
            session.add(Organization(id=f"org-{i}", name=f"Organisatie {i}"))
            session.add(Service(id=f"svc-{i}", organization_id=f"org-{i}", name=f"Dienst {i}", position=i))
        step = max(1, organizations // professionals)
        for i in range(professionals):
            session.add(
                User(
                    channel="telegram",
                    channel_user_id=f"p{i}",
                    role="professional",
                    organization=f"organisatie {i * step}",
                    chat_id=f"p{i}",
                    created_at=NOW,
                    last_seen_at=NOW,
                )
            )
        session.commit()
    return database


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organizations", type=int, default=1000)
    parser.add_argument("--professionals", type=int, default=100)
    args = parser.parse_args()
    database = make_map(args.organizations, args.professionals)
    with database.session() as session:
        orgs = list(session.scalars(select(Organization).order_by(Organization.id)))
        start = time.perf_counter()
        baseline = {org.id: members(session, org) for org in orgs}
        before = time.perf_counter() - start
        start = time.perf_counter()
        linked = membership(session)
        once = {org.id: linked.get(org.id, []) for org in orgs}
        after = time.perf_counter() - start
    assert {k: [u.id for u in v] for k, v in baseline.items()} == {k: [u.id for u in v] for k, v in once.items()}
    reached = sum(1 for users in once.values() if users)
    print(f"{args.organizations} organisations, {reached} with linked professionals ({args.professionals} people)")
    print(f"baseline   members per organisation  {before:8.3f} s  ratio 1.00")
    print(f"membership once                      {after:8.3f} s  ratio {after / before:.4f}")


if __name__ == "__main__":
    main()
