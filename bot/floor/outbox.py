"""The persistent outbox, as used by a channel's sender.

Delivery is at-least-once made exactly-once: every (broadcast or reminder, recipient) is written to the
outbox with an idempotency key BEFORE anything is sent; a sender marks a row sent right after the
channel confirmed it. After a crash, rows that were claimed but not confirmed are retried; a row that
is sent is never sent again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.floor.models import OutboxMessage, User

MAX_ATTEMPTS = 8


def enqueue(
    session: Session,
    key: str,
    user: User,
    text: str,
    now: datetime,
    *,
    chat: tuple[str, str] | None = None,
    buttons: list[dict] | None = None,
    broadcast_id: int | None = None,
    status: str = "queued",
) -> OutboxMessage:
    """Write one message to a person under its idempotency key, due now: to their private chat, or to
    `chat` (channel, chat id) when it answers a conversation elsewhere. A `dropped` row only records that
    the message will never be sent."""
    channel, chat_id = chat or (user.channel, user.chat_id)
    message = OutboxMessage(
        idempotency_key=key,
        broadcast_id=broadcast_id,
        user_id=user.id,
        channel=channel,
        chat_id=chat_id,
        text=text,
        status=status,
        next_attempt_at=now,
        buttons=buttons,
    )
    session.add(message)
    return message


def withdraw(session: Session, key_prefix: str) -> None:
    """The messages under this key prefix lose their text and buttons (personal data that must go: a closed
    handoff, a resolved report); one not sent yet is cancelled. The rows and their keys stay, so nothing is
    sent twice."""
    mine = OutboxMessage.idempotency_key.startswith(key_prefix, autoescape=True)
    session.execute(update(OutboxMessage).where(mine, OutboxMessage.status == "queued").values(status="cancelled"))
    session.execute(update(OutboxMessage).where(mine).values(text="", buttons=None))


def due_messages(
    session: Session, channel: str, now: datetime, limit: int = 100, chat_id: str | None = None
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.channel == channel, OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now
    )
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    return list(session.scalars(query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)))


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1, error=None)
    )


def mark_retry(session: Session, message_id: int, now: datetime, delay: timedelta | None, error: str) -> None:
    """A temporary failure (429, 5xx, network): try again after `delay` (default: 2^attempts s, at
    most a minute), or give up after MAX_ATTEMPTS."""
    message = session.get(OutboxMessage, message_id)
    if message is None:  # erased by /vergeet while it was being sent
        return
    message.attempts += 1
    if delay is None:
        delay = timedelta(seconds=min(60, 2**message.attempts))
    message.error = error[:200]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + delay


def mark_blocked(session: Session, message_id: int, error: str) -> None:
    """The recipient blocked the bot (403): skip this and every later broadcast to them."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.status, message.error, message.attempts = "blocked", error[:200], message.attempts + 1
    if message.user_id:
        user = session.get(User, message.user_id)
        if user:
            user.blocked = True
