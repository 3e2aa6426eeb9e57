"""Throttles kept in the database (a restart or a second process resets nothing): how many messages a
user may send per minute (on the user's row), and how many wrong invite or link codes an account, and
everyone together, may type per hour before codes are refused for the rest of that hour (table throttle).

A fixed window per scope: one row, its start and a count; a window that has passed starts again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from bot.floor.models import Throttle, User

MESSAGES = (20, timedelta(minutes=1))  # per user
CODES_PER_ACCOUNT = (10, timedelta(hours=1))  # wrong invite/link codes
CODES_OVERALL = (100, timedelta(hours=1))
OVERALL = "code:*"


def message_allowed(user: User, now: datetime) -> bool:
    """Count one message of this user in the current minute; False when MESSAGES are used up. Kept on
    the user's row, which every message reads and writes anyway: no extra query."""
    most, window = MESSAGES
    if _ended(user.rate_window_start, window, now):
        user.rate_window_start, user.rate_count = now, 0
    if (user.rate_count or 0) >= most:
        return False
    user.rate_count = (user.rate_count or 0) + 1
    return True


def _row(session: Session, scope: str, user_id: int | None, now: datetime) -> Throttle:
    """The scope's row, made when missing (an insert that two processes may race: the loser reads)."""
    row = session.scalar(select(Throttle).where(Throttle.scope == scope))
    if row is not None:
        return row
    name = session.get_bind().dialect.name  # the dialect's own insert, imported when used (not at start)
    dialect = import_module(f"sqlalchemy.dialects.{name}") if name in ("postgresql", "sqlite") else None
    values = {"scope": scope, "user_id": user_id, "window_start": now, "count": 0}
    if dialect is None:
        session.add(Throttle(**values))
        session.flush()
    else:
        session.execute(dialect.insert(Throttle).values(values).on_conflict_do_nothing(index_elements=["scope"]))
    return session.scalars(select(Throttle).where(Throttle.scope == scope)).one()


def _ended(start: datetime | None, window: timedelta, now: datetime) -> bool:
    """A window that never began, is over, or lies in the future (a clock set back) starts again."""
    return start is None or now - start >= window or start > now


def _current(row: Throttle, window: timedelta, now: datetime) -> Throttle:
    if _ended(row.window_start, window, now):
        row.window_start, row.count = now, 0
    return row


def spend(session: Session, scope: str, user_id: int | None, limit: tuple[int, timedelta], now: datetime) -> bool:
    """Count one more in the scope's window; False (and nothing counted) when the limit is reached."""
    most, window = limit
    row = _current(_row(session, scope, user_id, now), window, now)
    if row.count >= most:
        return False
    row.count += 1
    return True


def reached(session: Session, scope: str, limit: tuple[int, timedelta], now: datetime) -> bool:
    most, window = limit
    row = session.scalar(select(Throttle).where(Throttle.scope == scope))
    return row is not None and now - row.window_start < window and row.count >= most


def codes_locked(session: Session, user_id: int, now: datetime) -> bool:
    """Too many wrong codes from this account, or from everyone, in the past hour."""
    return reached(session, f"code:{user_id}", CODES_PER_ACCOUNT, now) or reached(session, OVERALL, CODES_OVERALL, now)


def wrong_code(session: Session, user_id: int, now: datetime) -> None:
    spend(session, f"code:{user_id}", user_id, CODES_PER_ACCOUNT, now)
    spend(session, OVERALL, None, CODES_OVERALL, now)


def expire(session: Session, now: datetime) -> int:
    """Rows whose window ended long ago say nothing any more (retention)."""
    longest = max(MESSAGES[1], CODES_PER_ACCOUNT[1], CODES_OVERALL[1])
    result: CursorResult = session.execute(delete(Throttle).where(Throttle.window_start < now - longest))  # type: ignore[assignment]
    return result.rowcount or 0
