"""Maintenance: social-map freshness reminders and data retention (AVG/GDPR: keep as little as possible)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.floor import limits
from bot.floor.models import ChannelState, Conversation, OutboxMessage, Subscription, User
from bot.floor.network import linked_accounts
from bot.floor.outbox import enqueue
from bot.floor.texts import say
from jobs import handoffs
from jobs.models import Rsvp, SeriesParticipant
from socialekaart.models import Service


def stale_services(session: Session, now: datetime, older_than: timedelta) -> list[Service]:
    """Active services whose information was not checked (HSDS assured_date) within the period."""
    limit = (now - older_than).date()
    return list(
        session.scalars(
            select(Service)
            .where(Service.status == "active", (Service.assured_date.is_(None)) | (Service.assured_date < limit))
            .order_by(Service.assured_date, Service.name)
        )
    )


def queue_freshness_reminder(session: Session, now: datetime, older_than: timedelta) -> int:
    """One message per coordinator per month listing the stale services; returns how many were queued."""
    stale = stale_services(session, now, older_than)
    if not stale:
        return 0
    lines = [say("maintenance.stale", count=len(stale), months=round(older_than.days / 30))]
    lines += [
        say(
            "maintenance.stale_service",
            name=s.name,
            checked=s.assured_date.isoformat() if s.assured_date else say("maintenance.never_checked"),
        )
        for s in stale[:50]
    ]
    if len(stale) > 50:
        lines.append(say("maintenance.stale_more", count=len(stale) - 50))
    text = "\n".join(lines)
    queued = 0
    existing = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like(f"freshness:{now:%Y-%m}:%"))
        )
    )
    for user in session.scalars(
        select(User).where(User.role.in_(("coordinator", "admin")), User.chat_id.is_not(None), User.blocked.is_(False))
    ):
        key = f"freshness:{now:%Y-%m}:user:{user.id}"
        if key in existing:
            continue
        enqueue(session, key, user, text, now)
        queued += 1
    return queued


def apply_retention(session: Session, now: datetime, keep: timedelta) -> dict[str, int]:
    """Keep as little as possible, for as short as possible (docs/privacy.md):
    - conversation state older than `keep` is deleted, and the RSVPs of meetings that long ago;
    - old outbox messages lose their text, buttons and chat id (their keys stay, so nothing is sent twice);
    - a user without activity for `keep` who asked to be kept for nothing (a resident without a
      subscription or a meeting to take part in) is deleted with their outbox rows;
    - link codes past their time and throttle windows long over are removed."""
    cutoff = now - keep
    conversations = session.execute(delete(Conversation).where(Conversation.updated_at < cutoff)).rowcount
    rsvps = session.execute(delete(Rsvp).where(Rsvp.occurrence_start < cutoff)).rowcount
    outbox = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.next_attempt_at < cutoff,
            OutboxMessage.status != "queued",
            (OutboxMessage.text != "") | (OutboxMessage.chat_id != ""),
        )
        .values(text="", buttons=None, chat_id="")
    ).rowcount
    kept = select(Subscription.user_id).union(
        select(SeriesParticipant.user_id).where(SeriesParticipant.user_id.is_not(None))
    )
    idle = list(
        session.scalars(select(User).where(User.last_seen_at < cutoff, User.role == "resident", User.id.not_in(kept)))
    )
    for user in idle:
        forget_person(session, user, linked=False)
    session.execute(
        update(User).where(User.link_code_expires_at < now).values(link_code_hash=None, link_code_expires_at=None)
    )
    throttles = limits.expire(session, now)
    return {
        "conversations": conversations or 0,
        "rsvps": rsvps or 0,
        "outbox_texts": outbox or 0,
        "users": len(idle),
        "throttles": throttles,
    }


def expire_conversations(session: Session, now: datetime, idle: timedelta, lookback: timedelta | None = None) -> int:
    """A conversation idle for `idle` has ended: the resident's words (need, a waiting message, a draft)
    are dropped at once, not kept until retention; the next message starts over with a word of welcome.
    `lookback`: only those that ended within it (the minute job; start-up and the daily run look at all)."""
    emptied = 0
    ended = select(Conversation).where(Conversation.updated_at < now - idle)
    if lookback is not None:
        ended = ended.where(Conversation.updated_at >= now - idle - lookback)
    for conversation in session.scalars(ended):
        state = conversation.state or {}
        if any(state.get(k) for k in ("need", "safety", "draft", "pending", "postcode")):
            conversation.state = {"_disclosed": True, "_expired": True, "lang": state.get("lang", "nl")}
            emptied += 1
    return emptied


def forget_person(session: Session, user: User, *, linked: bool = True) -> None:
    """Delete a person: every linked account (or just this one), every conversation they had in any chat,
    and, through the foreign keys, their subscriptions, RSVPs, participations, outbox rows and throttles;
    also the buttons a channel remembered for their chats, and their handoffs with every outbox row of them."""
    accounts = linked_accounts(session, user) if linked else [user]
    handoffs.forget(session, [a.id for a in accounts])  # and the cards professionals received of them
    for account in accounts:
        chats = set(session.scalars(select(Conversation.chat_id).where(Conversation.user_id == account.id)))
        chats |= {account.chat_id} if account.chat_id else set()
        session.execute(
            delete(ChannelState).where(
                ChannelState.channel == account.channel,
                (
                    ChannelState.key.in_([f"buttons:{chat}" for chat in chats])
                    | ChannelState.key.endswith(f"|{account.channel_user_id}", autoescape=True)
                ),
            )
        )
        session.execute(delete(Conversation).where(Conversation.user_id == account.id))
        session.execute(delete(OutboxMessage).where(OutboxMessage.user_id == account.id))
        session.delete(account)
    session.flush()
