"""RSVPs: a participant's answer to one occurrence (ik kom / ik kom niet / misschien), and the tallies
the coordinator sees. One answer per person: answering again, or from a linked account on another
channel, replaces the earlier answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.floor.models import OutboxMessage, User
from bot.floor.network import linked_accounts
from jobs.agenda import Occurrence, occurrence_at, parse_stamp
from jobs.models import MeetingSeries, Rsvp
from jobs.reminders import may_attend, reminder_prefix

ANSWERS = ("yes", "no", "maybe")


@dataclass
class RsvpResult:
    outcome: str  # recorded | cancelled | passed | unknown | not_invited
    occurrence: Occurrence | None = None
    series: MeetingSeries | None = None


def record(session: Session, user: User, value: str, now: datetime) -> RsvpResult:
    """Record the answer in a button value `<series id>:<original start>:<answer>`."""
    try:
        series_id, stamp, answer = value.split(":")
        series_id, original = int(series_id), parse_stamp(stamp)
    except ValueError:
        return RsvpResult("unknown")
    series = session.get(MeetingSeries, series_id)
    if series is None or answer not in ANSWERS:
        return RsvpResult("unknown")
    occurrence = occurrence_at(session, series, original)
    if occurrence is None:
        return RsvpResult("cancelled", series=series)
    if occurrence.start <= now:
        return RsvpResult("passed", occurrence, series)
    if not may_attend(session, series, user):
        return RsvpResult("not_invited", occurrence, series)
    accounts = [a.id for a in linked_accounts(session, user)]
    session.execute(
        delete(Rsvp).where(Rsvp.series_id == series_id, Rsvp.occurrence_start == original, Rsvp.user_id.in_(accounts))
    )
    session.add(Rsvp(series_id=series_id, occurrence_start=original, user_id=user.id, answer=answer, answered_at=now))
    return RsvpResult("recorded", occurrence, series)


def clear(session: Session, series_id: int, original: datetime) -> None:
    """A moved occurrence asks again: earlier answers were about another time."""
    session.execute(delete(Rsvp).where(Rsvp.series_id == series_id, Rsvp.occurrence_start == original))


@dataclass
class Tally:
    yes: int = 0
    no: int = 0
    maybe: int = 0
    asked: int = 0  # people a reminder for this occurrence went to

    def as_json(self) -> dict:
        return dict(self.__dict__)


def tally(session: Session, occurrence: Occurrence) -> Tally:
    counts = dict(
        session.execute(
            select(Rsvp.answer, func.count())
            .where(Rsvp.series_id == occurrence.series_id, Rsvp.occurrence_start == occurrence.original_start)
            .group_by(Rsvp.answer)
        ).all()
    )
    prefix = reminder_prefix(occurrence.series_id, occurrence.start)
    asked = session.scalar(
        select(func.count(func.distinct(OutboxMessage.user_id))).where(
            OutboxMessage.idempotency_key.startswith(prefix, autoescape=True), OutboxMessage.status == "sent"
        )
    )
    return Tally(counts.get("yes", 0), counts.get("no", 0), counts.get("maybe", 0), asked or 0)
