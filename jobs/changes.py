"""Changes to the agenda, the same for the CLI and the coordinator's chat: add a series or a deadline,
cancel or move one occurrence, move, cancel or mark done a deadline, set a series' participants.

Each change bumps the agenda revision (the scheduler resyncs its jobs when it sees it move) and,
for a cancelled or moved occurrence or deadline, tells whoever already got a reminder for it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from bot.floor.models import AUDIENCES
from jobs.agenda import Occurrence, bump_revision, occurrence_at, validate_leads, validate_series, zone
from jobs.models import Deadline, MeetingSeries, SeriesException, SeriesParticipant
from jobs.participants import resolve
from jobs.reminders import notify_change, notify_deadline
from jobs.rsvp import clear


def _title(text: str, what: str) -> str:
    title = " ".join(text.split())
    if not title or len(title) > 300:
        raise WijkbotError(f"{what} needs a title of at most 300 characters")
    return title


def add_series(
    session: Session,
    *,
    title: str,
    rrule: str,
    start_local: str,
    duration_minutes: int,
    now: datetime,
    location: str | None = None,
    audience: str = "professionals",
    remind: list[str] | None = None,
    timezone: str = "Europe/Amsterdam",
    skip_holidays: bool = False,
    participants: list[str] | None = None,
) -> MeetingSeries:
    title = _title(title, "a meeting")
    if audience not in AUDIENCES:
        raise WijkbotError(f"audience must be one of: {', '.join(AUDIENCES)}")
    if duration_minutes < 1:
        raise WijkbotError("a meeting lasts at least one minute")
    validate_series(rrule, start_local, timezone, remind or [])
    found = resolve(session, participants or [])
    series = MeetingSeries(
        title=title,
        rrule=rrule,
        start_local=start_local,
        timezone=timezone,
        duration_minutes=duration_minutes,
        location=(location or "").strip() or None,
        audience=audience,
        remind=list(remind or []),
        skip_holidays=skip_holidays,
        created_at=now,
    )
    session.add(series)
    session.flush()
    for p in found:
        p.series_id = series.id
        session.add(p)
    bump_revision(session)
    return series


def set_participants(session: Session, series: MeetingSeries, add: list[str], remove: list[str]) -> list:
    """Add and remove participants (the same entry forms as `resolve`); returns the new list."""
    for p in resolve(session, remove):
        session.execute(
            delete(SeriesParticipant).where(
                SeriesParticipant.series_id == series.id,
                SeriesParticipant.user_id == p.user_id
                if p.user_id is not None
                else SeriesParticipant.organization_id == p.organization_id,
            )
        )
    current = list(session.scalars(select(SeriesParticipant).where(SeriesParticipant.series_id == series.id)))
    have = {(p.user_id, p.organization_id) for p in current}
    for p in resolve(session, add):
        if (p.user_id, p.organization_id) not in have:
            p.series_id = series.id
            session.add(p)
            current.append(p)
            have.add((p.user_id, p.organization_id))
    bump_revision(session)
    return current


def add_deadline(
    session: Session,
    *,
    title: str,
    due: date,
    now: datetime,
    remind: list[str] | None = None,
    owners: str | None = None,
) -> Deadline:
    title = _title(title, "a deadline")
    validate_leads(remind or [])
    deadline = Deadline(
        title=title, due=due, remind=list(remind or []), owners=(owners or "").strip() or None, created_at=now
    )
    session.add(deadline)
    session.flush()
    bump_revision(session)
    return deadline


def series_or_error(session: Session, series_id: int) -> MeetingSeries:
    series = session.get(MeetingSeries, series_id)
    if series is None:
        raise WijkbotError(f"there is no series {series_id}")
    return series


def _exception(session: Session, occurrence: Occurrence) -> SeriesException:
    row = session.scalar(
        select(SeriesException).where(
            SeriesException.series_id == occurrence.series_id,
            SeriesException.original_start == occurrence.original_start,
        )
    )
    if row is None:
        row = SeriesException(series_id=occurrence.series_id, original_start=occurrence.original_start)
        session.add(row)
    return row


def cancel_occurrence(session: Session, series: MeetingSeries, occurrence: Occurrence, now: datetime) -> int:
    """Cancel one occurrence; returns how many people who had a reminder are told."""
    row = _exception(session, occurrence)
    row.new_start, row.changed_at = None, now
    clear(session, series.id, occurrence.original_start)
    bump_revision(session)
    return notify_change(session, series, occurrence, None, now)


def move_occurrence(
    session: Session, series: MeetingSeries, occurrence: Occurrence, new_start: datetime, now: datetime
) -> tuple[Occurrence, int]:
    """Move one occurrence to a new aware start; returns the moved occurrence and how many were told."""
    if new_start.tzinfo is None:
        raise WijkbotError("the new start needs a time zone")
    if new_start <= now:
        raise WijkbotError("a meeting can only be moved to a time that is still ahead")
    row = _exception(session, occurrence)
    row.new_start, row.changed_at = new_start.astimezone(zone(series.timezone)), now
    session.flush()
    clear(session, series.id, occurrence.original_start)
    bump_revision(session)
    moved = occurrence_at(session, series, occurrence.original_start)
    return moved, notify_change(session, series, occurrence, moved, now)


def deadline_or_error(session: Session, deadline_id: int, *, open_only: bool = False) -> Deadline:
    deadline = session.get(Deadline, deadline_id)
    if deadline is None:
        raise WijkbotError(f"there is no deadline {deadline_id}")
    if open_only and deadline.done_at is not None:
        raise WijkbotError(f"deadline {deadline_id} is done already")
    return deadline


def deadline_done(session: Session, deadline_id: int, now: datetime) -> Deadline:
    deadline = deadline_or_error(session, deadline_id)
    deadline.done_at = deadline.done_at or now
    bump_revision(session)
    return deadline


def move_deadline(session: Session, deadline_id: int, due: date, now: datetime) -> tuple[Deadline, int]:
    """A new date: its reminders start again for that date; whoever had one is told. Returns the
    deadline and how many are told."""
    deadline = deadline_or_error(session, deadline_id, open_only=True)
    if due == deadline.due:
        return deadline, 0
    told = notify_deadline(session, deadline, due, now)
    deadline.due = due
    bump_revision(session)
    return deadline, told


def cancel_deadline(session: Session, deadline_id: int, now: datetime) -> tuple[str, int]:
    """The deadline no longer exists: it leaves the agenda; whoever had a reminder is told. Returns
    its title and how many are told."""
    deadline = deadline_or_error(session, deadline_id, open_only=True)
    told = notify_deadline(session, deadline, None, now)
    title = deadline.title
    session.delete(deadline)
    bump_revision(session)
    return title, told
