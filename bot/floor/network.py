"""The wijk's network of people: roles by invite code, one person's linked accounts (Telegram, Matrix,
console), and their subscriptions to announcement topics."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from bot.floor.models import ROLES, TOPICS, Invite, Subscription, User

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are typed by people


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code(length: int = 8) -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    return f"{raw[:4]}-{raw[4:]}"


# --- roles and linked accounts ----------------------------------------------------------------------


def create_invite(session: Session, role: str, *, organization: str | None, valid_for: timedelta, now: datetime) -> str:
    if role not in ROLES or role == "resident":
        raise WijkbotError(f"an invite is for one of: {', '.join(ROLES[1:])}")
    code = new_code()
    session.add(
        Invite(code_hash=_hash(code), role=role, organization=organization, created_at=now, expires_at=now + valid_for)
    )
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
    rows = session.scalars(
        select(Subscription).where(Subscription.user_id == user.id, *([Subscription.topic == topic] if topic else []))
    )
    count = 0
    for row in rows:
        session.delete(row)
        count += 1
    return count


def topics_of(session: Session, user: User) -> list[str]:
    return sorted(session.scalars(select(Subscription.topic).where(Subscription.user_id == user.id)))
