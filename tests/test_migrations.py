"""Migrations that move data keep it: the scheduler's watermark and the agenda's revision survive the
move from channel_state to memory (0010), both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from bot.floor import memory
from bot.floor.db import MIGRATIONS


def _alembic(database, target: str, up: bool) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.upgrade if up else command.downgrade)(cfg, target)


def test_memory_moves_out_of_channel_state_and_back(database):
    with database.session() as session:
        memory.put(session, "scheduler.last_run", "2026-12-01T09:00:00+00:00")
        memory.put(session, "agenda.revision", 7)
        session.commit()
    _alembic(database, "0009", up=False)
    with database.engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT key, value FROM channel_state WHERE channel = 'jobs'")).all())
    assert set(rows) == {"last_run", "revision"}
    _alembic(database, "head", up=True)
    assert memory.recall(database, "scheduler.last_run") == "2026-12-01T09:00:00+00:00"
    assert memory.recall(database, "agenda.revision") == 7
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM channel_state WHERE channel = 'jobs'")).scalar() == 0
