"""The demo social map of the fictional wijk De Vlinderhof, loaded into an empty default database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from socialekaart.models import MapMeta, Service

DEMO_MAP = Path(__file__).with_name("data") / "demo_map.json"


def seed_demo_map(database) -> bool:
    """Load the demo map once, into a database that has never had one; True when it did."""
    with database.session() as session:
        if session.get(MapMeta, "demo_seeded") is not None:
            return False
        if session.scalar(select(func.count()).select_from(Service)):
            return False
        from socialekaart.hsds import apply_records, parse_json  # only for a new database (a tenth of a second)

        apply_records(session, parse_json(DEMO_MAP.read_bytes(), what=DEMO_MAP.name))
        session.add(MapMeta(key="demo_seeded", value="1"))
        session.commit()
        return True
