"""Announcements of the coordinator: a broadcast and one outbox row per opted-in recipient, and its
delivery status. The outbox itself is bot/floor/outbox.py; roles and subscriptions bot/floor/network.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from bot.floor.models import AUDIENCE_ROLES, AUDIENCES, TOPICS, Broadcast, OutboxMessage, Subscription, User
from bot.floor.outbox import enqueue
from bot.floor.texts import labels

AUDIENCE_NAMES = labels(
    residents="broadcasts.audience_residents",
    professionals="broadcasts.audience_professionals",
    all="broadcasts.audience_all",
)  # as people see them


def create_broadcast(
    session: Session, text: str, audience: str, topic: str, *, created_by: User | None, now: datetime
) -> Broadcast:
    """Record the broadcast and one outbox row per opted-in recipient, in one transaction."""
    text = text.strip()
    if not text:
        raise WijkbotError("an announcement needs text")
    if len(text) > 4000:
        raise WijkbotError("an announcement may be at most 4,000 characters")
    if audience not in AUDIENCES:
        raise WijkbotError(f"audience must be one of: {', '.join(AUDIENCES)}")
    if topic not in TOPICS:
        raise WijkbotError(f"topic must be one of: {', '.join(TOPICS)}")
    broadcast = Broadcast(
        text=text, audience=audience, topic=topic, created_by=created_by.id if created_by else None, created_at=now
    )
    session.add(broadcast)
    session.flush()
    roles = AUDIENCE_ROLES[audience]
    recipients = session.scalars(
        select(User)
        .join(Subscription, Subscription.user_id == User.id)
        .where(Subscription.topic == topic, User.role.in_(roles), User.chat_id.is_not(None), User.blocked.is_(False))
        .order_by(User.id)
    )
    for user in recipients:
        enqueue(session, f"broadcast:{broadcast.id}:user:{user.id}", user, text, now, broadcast_id=broadcast.id)
    return broadcast


@dataclass
class BroadcastStatus:
    id: int
    queued: int
    sent: int
    failed: int
    blocked: int

    def as_json(self) -> dict:
        return dict(self.__dict__)


def broadcast_status(session: Session, broadcast_id: int) -> BroadcastStatus:
    if session.get(Broadcast, broadcast_id) is None:
        raise WijkbotError(f"there is no broadcast {broadcast_id}")
    counts = dict(
        session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status)
        ).all()
    )
    return BroadcastStatus(
        broadcast_id, counts.get("queued", 0), counts.get("sent", 0), counts.get("failed", 0), counts.get("blocked", 0)
    )
