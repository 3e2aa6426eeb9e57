"""Roles by invite, linked accounts, subscriptions, broadcasts and the persistent outbox.

Delivery is at-least-once made exactly-once: every (broadcast, recipient) is written to the outbox
with an idempotency key BEFORE anything is sent; a sender marks a row sent right after the channel
confirmed it. After a crash, rows that were claimed but not confirmed are retried; a row that is
sent is never sent again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.errors import WijkbotError
from bot.models import AUDIENCE_ROLES, AUDIENCES, ROLES, TOPICS, Broadcast, Invite, OutboxMessage, Subscription, User

AUDIENCE_NAMES = {"residents": "Bewoners", "professionals": "Professionals", "all": "Iedereen"}  # as people see them
MAX_ATTEMPTS = 8
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code(length: int = 8) -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    return f"{raw[:4]}-{raw[4:]}"


# --- roles and linked accounts ----------------------------------------------------------------------

def create_invite(session: Session, role: str, *, organization: str | None, valid_for: timedelta,
                  now: datetime) -> str:
    if role not in ROLES or role == "resident":
        raise WijkbotError(f"an invite is for one of: {', '.join(ROLES[1:])}")
    code = new_code()
    session.add(Invite(code_hash=_hash(code), role=role, organization=organization, created_at=now,
                       expires_at=now + valid_for))
    return code


def redeem_invite(session: Session, user: User, code: str, now: datetime) -> Invite | None:
    """Upgrade the user with a valid, unused, unexpired code; None when the code does not work."""
    invite = session.scalar(select(Invite).where(Invite.code_hash == _hash(code)))
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    invite.used_at, invite.used_by = now, user.id
    for account in linked_accounts(session, user):
        if ROLES.index(invite.role) > ROLES.index(account.role):
            account.role = invite.role
        account.organization = invite.organization or account.organization
    return invite


def linked_accounts(session: Session, user: User) -> list[User]:
    if not user.person:
        return [user]
    return list(session.scalars(select(User).where(User.person == user.person)))


def start_link(user: User, now: datetime) -> str:
    code = new_code()
    user.link_code_hash, user.link_code_expires_at = _hash(code), now + timedelta(minutes=15)
    return code


def finish_link(session: Session, user: User, code: str, now: datetime) -> User | None:
    """Link this account to the one that made the code: one person, the higher role on both."""
    other = session.scalar(select(User).where(User.link_code_hash == _hash(code)))
    if other is None or other.id == user.id or not other.link_code_expires_at or other.link_code_expires_at <= now:
        return None
    person = other.person or user.person or uuid.uuid4().hex
    accounts = {a.id: a for a in [*linked_accounts(session, other), *linked_accounts(session, user)]}.values()
    top = max(accounts, key=lambda a: ROLES.index(a.role))
    for account in accounts:
        account.person, account.role = person, top.role
        account.organization = account.organization or top.organization
    other.link_code_hash = other.link_code_expires_at = None
    return other


# --- subscriptions ----------------------------------------------------------------------------------

def subscribe(session: Session, user: User, topic: str) -> bool:
    if topic not in TOPICS:
        raise WijkbotError(f"unknown topic {topic!r}")
    exists = session.scalar(select(Subscription).where(Subscription.user_id == user.id, Subscription.topic == topic))
    if exists:
        return False
    session.add(Subscription(user_id=user.id, topic=topic))
    return True


def unsubscribe(session: Session, user: User, topic: str | None) -> int:
    rows = session.scalars(select(Subscription).where(
        Subscription.user_id == user.id, *([Subscription.topic == topic] if topic else [])))
    count = 0
    for row in rows:
        session.delete(row)
        count += 1
    return count


def topics_of(session: Session, user: User) -> list[str]:
    return sorted(session.scalars(select(Subscription.topic).where(Subscription.user_id == user.id)))


# --- broadcasts -------------------------------------------------------------------------------------

def create_broadcast(session: Session, text: str, audience: str, topic: str, *, created_by: User | None,
                     now: datetime) -> Broadcast:
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
    broadcast = Broadcast(text=text, audience=audience, topic=topic, created_by=created_by.id if created_by else None,
                          created_at=now)
    session.add(broadcast)
    session.flush()
    roles = AUDIENCE_ROLES[audience]
    recipients = session.scalars(
        select(User).join(Subscription, Subscription.user_id == User.id)
        .where(Subscription.topic == topic, User.role.in_(roles), User.chat_id.is_not(None),
               User.blocked.is_(False))
        .order_by(User.id)
    )
    for user in recipients:
        session.add(OutboxMessage(
            idempotency_key=f"broadcast:{broadcast.id}:user:{user.id}", broadcast_id=broadcast.id,
            user_id=user.id, channel=user.channel, chat_id=user.chat_id, text=text, status="queued",
            next_attempt_at=now))
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
    counts = dict(session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)).all())
    return BroadcastStatus(broadcast_id, counts.get("queued", 0), counts.get("sent", 0), counts.get("failed", 0),
                           counts.get("blocked", 0))


# --- the outbox, as used by a channel's sender ---------------------------------------------------------

def due_messages(session: Session, channel: str, now: datetime, limit: int = 100,
                 chat_id: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.channel == channel, OutboxMessage.status == "queued",
                                        OutboxMessage.next_attempt_at <= now)
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    return list(session.scalars(query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)))


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                    .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1, error=None))


def mark_retry(session: Session, message_id: int, now: datetime, delay: timedelta | None, error: str) -> None:
    """A temporary failure (429, 5xx, network): try again after `delay` (default: 2^attempts s, at
    most a minute), or give up after MAX_ATTEMPTS."""
    message = session.get(OutboxMessage, message_id)
    message.attempts += 1
    if delay is None:
        delay = timedelta(seconds=min(60, 2 ** message.attempts))
    message.error = error[:200]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + delay


def mark_blocked(session: Session, message_id: int, error: str) -> None:
    """The recipient blocked the bot (403): skip this and every later broadcast to them."""
    message = session.get(OutboxMessage, message_id)
    message.status, message.error, message.attempts = "blocked", error[:200], message.attempts + 1
    if message.user_id:
        user = session.get(User, message.user_id)
        if user:
            user.blocked = True
