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


def test_api_tokens_table_comes_and_goes_with_its_migration(database):
    """0012 adds api_token (wijkbot api token); down to the revision before it, the table is gone, and up
    again the tokens work as before."""
    from datetime import UTC, datetime

    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from bot.api.tokens import create_token, valid_token

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    before = ScriptDirectory.from_config(cfg).get_revision("0012").down_revision
    with database.session() as session:
        secret, _ = create_token(session, "gemeente", now=datetime(2026, 12, 3, 9, tzinfo=UTC))
        session.commit()
    _alembic(database, before, up=False)
    assert "api_token" not in inspect(database.engine).get_table_names()
    _alembic(database, "head", up=True)
    with database.session() as session:
        assert not valid_token(session, secret)  # the table came back empty: the old token is gone
        again, _ = create_token(session, "gemeente", now=datetime(2026, 12, 3, 10, tzinfo=UTC))
        session.commit()
        assert valid_token(session, again)


def test_handoff_tables_come_and_go_with_their_migration(database):
    """0015 adds handoff and handoff_count (warm handoffs); down to the revision before it both are gone,
    and up again a handoff can be saved and counted."""
    from datetime import UTC, datetime

    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from bot.floor.models import User
    from jobs.handoffs import Handoff, count

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    before = ScriptDirectory.from_config(cfg).get_revision("0015").down_revision
    _alembic(database, before, up=False)
    assert {"handoff", "handoff_count"}.isdisjoint(inspect(database.engine).get_table_names())
    _alembic(database, "head", up=True)
    now = datetime(2026, 12, 3, 9, tzinfo=UTC)
    with database.session() as session:
        user = User(channel="telegram", channel_user_id="1", chat_id="1", created_at=now, last_seen_at=now)
        session.add(user)
        session.flush()
        handoff = Handoff(
            resident_id=user.id, service_id="s1", need="schuldhulp", created_at=now, expires_at=now, first_name="A."
        )
        session.add(handoff)
        session.flush()
        count(session, handoff, "sent")
        count(session, handoff, "sent")
        session.commit()
        assert session.execute(text("SELECT sent FROM handoff_count")).scalar() == 2
        assert session.get(Handoff, handoff.id).via_chat is False
