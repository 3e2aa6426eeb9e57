"""A small key-value store for the application's own facts across restarts (table `memory`).

The scheduler keeps its watermark here and the agenda its revision counter. Channels keep their own
facts (sync tokens, buttons shown) in `channel_state` (bot/channels/state.py). Values are JSON; keys
are dotted names owned by one module each (``scheduler.last_run``, ``agenda.revision``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.floor.models import Memory


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(Memory, key)
    return row.value.get("v", default) if row is not None else default


def put(session: Session, key: str, value: Any) -> None:
    """Set `key` in this session's transaction; the caller commits."""
    row = session.get(Memory, key)
    if row is None:
        session.add(Memory(key=key, value={"v": value}))
    else:
        row.value = {"v": value}


def recall(database, key: str, default: Any = None) -> Any:
    """`get` in a transaction of its own."""
    with database.session() as session:
        return get(session, key, default)


def remember(database, key: str, value: Any) -> None:
    """`put` in a transaction of its own, committed."""
    with database.session() as session:
        put(session, key, value)
        session.commit()
