"""Who takes part in a meeting series: users of Wijkbot, or organisations of the social map.

An entry is `channel:user-id` (`telegram:5012`, `matrix:@anna:example.nl`, `console:anna`; a bare
Matrix id `@anna:example.nl` works too) or the name or id of an organisation in the social map. A
user belongs to an organisation through the invite code they joined with (`wijkbot invite create
--organization ...`). Unknown names are refused with the nearest organisation names as suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from bot.floor.models import Subscription, User
from jobs.models import SeriesParticipant
from socialekaart.models import Organization
from socialekaart.providers import normalized

CHANNELS = ("telegram", "matrix", "console")


class UnknownParticipants(WijkbotError):
    """Entries that name no user and no organisation; each with the nearest organisation names."""

    def __init__(self, problems: list[tuple[str, bool, list[str]]]):  # (entry, looks like a user, suggestions)
        self.problems = problems
        lines = []
        for entry, is_user, near in problems:
            if is_user:
                lines.append(f"{entry}: no such user (they must have written to Wijkbot once)")
            else:
                hint = f"; did you mean: {', '.join(near)}?" if near else ""
                lines.append(f"{entry}: not a user (channel:id) nor an organisation of the social map{hint}")
        super().__init__("participants: " + " | ".join(lines))


def split_entries(text: str) -> list[str]:
    """Entries separated by ';' or new lines (organisation names may hold commas)."""
    return [part.strip() for line in text.splitlines() for part in line.split(";") if part.strip()]


def resolve(session: Session, entries: list[str]) -> list[SeriesParticipant]:
    """Participants for these entries (not yet added to a series); all or nothing, one line per problem."""
    organizations = list(session.scalars(select(Organization)))
    by_name: dict[str, Organization] = {}
    for org in organizations:
        for name in (org.id, org.name, org.alternate_name):
            if name:
                by_name.setdefault(normalized(name), org)
    found: list[SeriesParticipant] = []
    problems: list[tuple[str, bool, list[str]]] = []
    for entry in entries:
        channel, _, user_id = entry.partition(":")
        if entry.startswith("@") and ":" in entry:
            channel, user_id = "matrix", entry
        if channel in CHANNELS and user_id:
            user = session.scalar(select(User).where(User.channel == channel, User.channel_user_id == user_id))
            if user is None:
                problems.append((entry, True, []))
            else:
                found.append(SeriesParticipant(user_id=user.id))
            continue
        org = by_name.get(normalized(entry))
        if org is None:
            near = process.extract(
                entry,
                [o.name for o in organizations],
                scorer=fuzz.WRatio,
                limit=3,
                score_cutoff=60,
                processor=str.casefold,
            )
            problems.append((entry, False, [n for n, _, _ in near]))
        else:
            found.append(SeriesParticipant(organization_id=org.id, organization_name=org.name))
    if problems:
        raise UnknownParticipants(problems)
    return found


def takes_part(user: User, participants: list[SeriesParticipant]) -> bool:
    """No participants: the whole audience. Otherwise the user is named, or their organisation is."""
    if not participants:
        return True
    organization = normalized(user.organization or "")
    return any(
        p.user_id == user.id
        or (
            organization
            and organization in (normalized(p.organization_name or ""), normalized(p.organization_id or ""))
        )
        for p in participants
    )


def participants_of(session: Session, series_id: int) -> list[SeriesParticipant]:
    return list(session.scalars(select(SeriesParticipant).where(SeriesParticipant.series_id == series_id)))


@dataclass
class Reach:
    """How many people a participant list reaches, and who would hear nothing."""

    subscribed: int
    not_subscribed: int
    empty_organizations: list[str]


def reach(session: Session, participants: list[SeriesParticipant]) -> Reach:
    """For the coordinator: named users and members of named organisations, subscribed to meeting
    reminders or not, and organisations nobody of which uses Wijkbot yet."""
    users = list(session.scalars(select(User)))
    subscribed = set(session.scalars(select(Subscription.user_id).where(Subscription.topic == "meetings")))
    members: set[int] = set()
    empty = []
    for p in participants:
        reached = {u.id for u in users if takes_part(u, [p])}
        if p.user_id is None and not reached:
            empty.append(p.organization_name or p.organization_id or "?")
        members |= reached
    return Reach(len(members & subscribed), len(members - subscribed), empty)


def describe(session: Session, participant: SeriesParticipant) -> str:
    if participant.user_id is None:
        return participant.organization_name or participant.organization_id or "?"
    user = session.get(User, participant.user_id)
    return f"{user.channel}:{user.channel_user_id}" if user else "?"
