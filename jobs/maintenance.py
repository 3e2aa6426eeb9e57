"""Maintenance: social-map freshness reminders and data retention (AVG/GDPR: keep as little as possible)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.models import Conversation, OutboxMessage, User
from jobs.models import Rsvp
from socialekaart.models import Service


def stale_services(session: Session, now: datetime, older_than: timedelta) -> list[Service]:
    """Active services whose information was not checked (HSDS assured_date) within the period."""
    limit = (now - older_than).date()
    return list(session.scalars(select(Service).where(
        Service.status == "active", (Service.assured_date.is_(None)) | (Service.assured_date < limit))
        .order_by(Service.assured_date, Service.name)))


def queue_freshness_reminder(session: Session, now: datetime, older_than: timedelta) -> int:
    """One message per coordinator per month listing the stale services; returns how many were queued."""
    stale = stale_services(session, now, older_than)
    if not stale:
        return 0
    months = round(older_than.days / 30)
    lines = [f"De sociale kaart heeft {len(stale)} diensten die langer dan {months} maanden niet zijn gecontroleerd:"]
    lines += [f"- {s.name} (laatst: {s.assured_date.isoformat() if s.assured_date else 'nooit'})" for s in stale[:50]]
    if len(stale) > 50:
        lines.append(f"... en nog {len(stale) - 50}. Zie: wijkbot kaart export")
    text = "\n".join(lines)
    queued = 0
    existing = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.like(f"freshness:{now:%Y-%m}:%"))))
    for user in session.scalars(select(User).where(User.role.in_(("coordinator", "admin")),
                                                    User.chat_id.is_not(None), User.blocked.is_(False))):
        key = f"freshness:{now:%Y-%m}:user:{user.id}"
        if key in existing:
            continue
        session.add(OutboxMessage(idempotency_key=key, user_id=user.id, channel=user.channel, chat_id=user.chat_id,
                                  text=text, status="queued", next_attempt_at=now))
        queued += 1
    return queued


def apply_retention(session: Session, now: datetime, keep: timedelta) -> dict[str, int]:
    """Delete conversation state older than `keep` and the RSVPs of meetings that long ago; blank the
    text and buttons of old outbox messages (their keys stay, so nothing is ever sent twice)."""
    cutoff = now - keep
    conversations = session.execute(delete(Conversation).where(Conversation.updated_at < cutoff)).rowcount
    rsvps = session.execute(delete(Rsvp).where(Rsvp.occurrence_start < cutoff)).rowcount
    outbox = session.execute(update(OutboxMessage).where(
        OutboxMessage.next_attempt_at < cutoff, OutboxMessage.status != "queued", OutboxMessage.text != "")
        .values(text="", buttons=None)).rowcount
    return {"conversations": conversations or 0, "rsvps": rsvps or 0, "outbox_texts": outbox or 0}
