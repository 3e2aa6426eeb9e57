"""Per-channel facts kept in the database across restarts (the database is the source of truth)."""

from __future__ import annotations

from sqlalchemy import select

from bot.floor.models import ChannelState


def load(database, channel: str, key: str, default=None):
    with database.session() as session:
        row = session.scalar(select(ChannelState).where(ChannelState.channel == channel, ChannelState.key == key))
        return row.value.get("v", default) if row else default


def save(database, channel: str, key: str, value) -> None:
    with database.session() as session:
        row = session.scalar(select(ChannelState).where(ChannelState.channel == channel, ChannelState.key == key))
        if row is None:
            session.add(ChannelState(channel=channel, key=key, value={"v": value}))
        else:
            row.value = {"v": value}
        session.commit()
