"""docs/privacy.md lists every table: a new table cannot hold personal data unnoticed."""

from __future__ import annotations

import re
from pathlib import Path

import bot.floor.models  # noqa: F401 - the tables register on import
import jobs.handoffs
import jobs.models  # noqa: F401
import socialekaart.listing
import socialekaart.models  # noqa: F401
from bot.floor.db import PERSONAL_TABLES, Base

DOC = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"


def test_every_table_is_in_the_data_inventory():
    listed = set(re.findall(r"`([a-z_]+)`", DOC.read_text(encoding="utf-8")))
    missing = sorted(t for t in Base.metadata.tables if t not in listed)
    assert missing == [], f"add these tables to docs/privacy.md: {missing}"
    assert set(PERSONAL_TABLES) <= set(Base.metadata.tables)  # what Database.scrub vacuums exists
