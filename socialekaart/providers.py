"""The people behind the map: an organisation's linked professionals and the wijk's coordinators.

A professional belongs to an organisation of the social map through the invite code they joined with
(`wijkbot network invite create --organization <name or id>`): `User.organization` holds that name or id,
matched here without regard to case or spacing (as jobs/participants.py matches meeting participants).
Messages to a person go to their private chat; a person with linked accounts (`/koppel`) gets one copy,
on the account they used last.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.models import ROLES, User
from socialekaart.models import Organization


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _one_per_person(users: list[User]) -> list[User]:
    """One account per person (the one seen last), in a stable order."""
    chosen: dict[str, User] = {}
    for user in users:
        key = user.person or f"user:{user.id}"
        if key not in chosen or user.last_seen_at > chosen[key].last_seen_at:
            chosen[key] = user
    return sorted(chosen.values(), key=lambda u: u.id)


def _reachable(role: str):
    return select(User).where(
        User.role.in_(ROLES[ROLES.index(role) :]), User.chat_id.is_not(None), User.blocked.is_(False)
    )


def members(session: Session, organization: Organization) -> list[User]:
    """The organisation's linked professionals (professional or higher) who can be reached in a private chat."""
    names = {_norm(n) for n in (organization.id, organization.name, organization.alternate_name) if n}
    candidates = session.scalars(_reachable("professional").where(User.organization.is_not(None)))
    return _one_per_person([u for u in candidates if _norm(u.organization) in names])


def coordinators(session: Session) -> list[User]:
    """The coordinators (and admins) who can be reached in a private chat."""
    return _one_per_person(list(session.scalars(_reachable("coordinator"))))


def organization_of(session: Session, user: User) -> Organization | None:
    """The organisation of the map a professional belongs to, or None."""
    wanted = _norm(user.organization)
    if not wanted:
        return None
    for org in session.scalars(select(Organization)):
        if wanted in {_norm(n) for n in (org.id, org.name, org.alternate_name) if n}:
            return org
    return None
