"""The people behind the map: an organisation's linked professionals and the wijk's coordinators.

A professional belongs to an organisation of the social map through the invite code they joined with
(`wijkbot invite create --organization <name or id>`): `User.organization` holds that name or id,
matched here without regard to case or spacing: an id first, then a name only one organisation has, then
such an alternate name; an ambiguous name belongs to no organisation (`wijkbot invite create` warns).
Messages to a person go to their private chat; a person with linked accounts (`/koppel`) gets one copy,
on the account they used last.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.models import ROLES, User
from socialekaart.models import Organization


def normalized(text: str | None) -> str:
    """A name as it is compared: case and spacing do not count."""
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


def _resolver(session: Session):
    """A function from what an invite named (an organisation's id, name or alternate name) to one
    organisation id: an id first, then a name that only one organisation has, then such an alternate name;
    None when it names none or more than one (a map with duplicates must not give one person two
    organisations, nor take them from their own)."""
    by_id: dict[str, str] = {}
    by_name: dict[str, set[str]] = {}
    by_alternate: dict[str, set[str]] = {}
    for org_id, name, alternate in session.execute(
        select(Organization.id, Organization.name, Organization.alternate_name)
    ):
        by_id[normalized(org_id)] = org_id
        by_name.setdefault(normalized(name), set()).add(org_id)
        if alternate:
            by_alternate.setdefault(normalized(alternate), set()).add(org_id)

    def resolve(value: str | None) -> str | None:
        key = normalized(value)
        if not key:
            return None
        if key in by_id:
            return by_id[key]
        for table in (by_name, by_alternate):
            found = table.get(key, set())
            if found:
                return next(iter(found)) if len(found) == 1 else None
        return None

    return resolve


def membership(session: Session) -> dict[str, list[User]]:
    """Every organisation's linked professionals (professional or higher, reachable in a private chat), by
    organisation id: the directory is read and each person's organisation resolved once. A round over many
    organisations (the monthly check, the freshness report) asks this once, not `members` per organisation."""
    resolve = _resolver(session)
    found: dict[str, list[User]] = {}
    for user in session.scalars(_reachable("professional").where(User.organization.is_not(None))):
        org_id = resolve(user.organization)
        if org_id is not None:
            found.setdefault(org_id, []).append(user)
    return {org_id: _one_per_person(users) for org_id, users in found.items()}


def members(session: Session, organization: Organization) -> list[User]:
    """The organisation's linked professionals (professional or higher) who can be reached in a private chat."""
    return membership(session).get(organization.id, [])


def coordinators(session: Session) -> list[User]:
    """The coordinators (and admins) who can be reached in a private chat."""
    return _one_per_person(list(session.scalars(_reachable("coordinator"))))


def same_named(session: Session, value: str) -> list[str]:
    """The ids of the organisations an invite's organisation names when it is ambiguous (more than one)."""
    if _resolver(session)(value) is not None:
        return []
    key = normalized(value)
    return sorted(
        org_id
        for org_id, name, alternate in session.execute(
            select(Organization.id, Organization.name, Organization.alternate_name)
        )
        if key in (normalized(name), normalized(alternate))
    )


def organization_of(session: Session, user: User) -> Organization | None:
    """The organisation of the map a professional belongs to, or None (also when the name is ambiguous)."""
    org_id = _resolver(session)(user.organization)
    return session.get(Organization, org_id) if org_id else None
