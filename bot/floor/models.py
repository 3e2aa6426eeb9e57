"""Users, conversations and anonymous usage statistics."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.floor.db import Base, UTCDateTime

ROLES = ("resident", "professional", "coordinator", "admin")


class User(Base):
    """A person on one channel. Holds no message text; the role decides what they may see."""

    __tablename__ = "wijkbot_user"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="resident")
    organization: Mapped[str | None] = mapped_column(String(200), nullable=True)
    chat_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # where broadcasts go (private chat)
    person: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # links accounts across channels
    link_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    link_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    blocked: Mapped[bool] = mapped_column(default=False, server_default=false())  # blocked the bot: skip broadcasts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rate_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # bot/floor/limits.py
    rate_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def at_least(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class Conversation(Base):
    """The dialogue state of one person in one chat: what has been clarified so far. In a group chat
    everyone has their own. Deleted by /vergeet and retention; the need text goes when it is answered."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), index=True)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def count_usage(session, day: date, kind: str, n: int = 1) -> None:
    """Add `n` to the anonymous counter `kind` of `day` (creating it when new)."""
    count_all(session, day, {kind: n})


def count_all(session, day: date, counts: dict[str, int]) -> None:
    """Add to several anonymous counters of `day` at once: one upsert statement on SQLite and PostgreSQL,
    so it is cheap on every message and safe when two processes count at once."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    if not counts:
        return
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(session.get_bind().dialect.name)
    if dialect is not None:
        insert = dialect.insert(UsageStat).values([{"day": day, "kind": k, "count": n} for k, n in counts.items()])
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["day", "kind"], set_={"count": UsageStat.count + insert.excluded.count}
            )
        )
        return
    for kind, n in counts.items():
        stat = session.scalar(select(UsageStat).where(UsageStat.day == day, UsageStat.kind == kind))
        if stat is None:
            session.add(UsageStat(day=day, kind=kind, count=n))
            session.flush()
        else:
            stat.count += n


class UsageStat(Base):
    """Anonymous counts per day (e.g. 'stream:care', 'escalation:113'); no user, no text."""

    __tablename__ = "usage_stat"
    __table_args__ = (UniqueConstraint("day", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer, default=0)


class FeedbackCount(Base):
    """Anonymous answers to "Heeft u hier iets aan?" per kind of need (a need model type, not the text)
    and service shown: how often it helped, did not, or did not fit the question ("Klopt dit niet?")."""

    __tablename__ = "feedback_count"
    __table_args__ = (UniqueConstraint("need", "service_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    need: Mapped[str] = mapped_column(String(48))
    service_id: Mapped[str] = mapped_column(String(64))
    helped: Mapped[int] = mapped_column(Integer, default=0)
    not_helped: Mapped[int] = mapped_column(Integer, default=0)
    not_fitting: Mapped[int] = mapped_column(Integer, default=0)


TOPICS = ("events", "wijknieuws", "meetings")
AUDIENCES = ("residents", "professionals", "all")
AUDIENCE_ROLES = {
    "residents": ("resident",),
    "professionals": ("professional", "coordinator", "admin"),
    "all": ROLES,
}  # who an audience is


class Invite(Base):
    """A one-time code that upgrades a user's role (`/aanmelden CODE`). Only a hash of the code is stored."""

    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    organization: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="SET NULL"), nullable=True)


class Subscription(Base):
    """A user opted in to a topic; nothing is broadcast to anyone without one."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("user_id", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(32))


class Broadcast(Base):
    """An announcement by a coordinator to an audience on a topic."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    text: Mapped[str] = mapped_column(String(4000))
    audience: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """One message to one recipient, recorded before it is sent. The idempotency key makes a
    restart resume without duplicates: a key that was sent is never sent again."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="CASCADE"), index=True, nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), nullable=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(String(4000))
    buttons: Mapped[list | None] = mapped_column(JSON, nullable=True)  # [{"label", "value"}] e.g. RSVP
    # queued | sent | failed | blocked; reminders also dropped (meeting begun) and cancelled (meeting cancelled)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Throttle(Base):
    """A counter in a fixed time window, kept in the database so a restart resets nothing: wrong
    invite/link codes per account and overall per hour (bot/floor/limits.py; the message rate is on the user)."""

    __tablename__ = "throttle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(64), unique=True)  # code:<user id> or code:*
    user_id: Mapped[int | None] = mapped_column(ForeignKey("wijkbot_user.id", ondelete="CASCADE"), nullable=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)


class ChannelState(Base):
    """Small facts a channel must keep across restarts (Matrix sync token, last buttons per room); the
    application's own facts are in `memory`."""

    __tablename__ = "channel_state"
    __table_args__ = (UniqueConstraint("channel", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict] = mapped_column(JSON)


class Memory(Base):
    """The application's own small facts kept across restarts, by key (bot/floor/memory.py): the
    scheduler's watermark, the agenda's revision. Never anything of a person."""

    __tablename__ = "memory"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class ApiToken(Base):
    """A token that lets a professional's system see contact persons through the Open Referral API
    (`wijkbot api token create`). Only a SHA-256 hash of the token is stored; a revoked token stays listed."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
