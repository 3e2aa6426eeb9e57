"""Reminders for meetings and deadlines, exactly once, through the outbox shared with broadcasts.

Every reminder is one (occurrence x lead time x recipient) with a deterministic idempotency key,
recorded in the outbox before anything is sent; the unique key makes a second computation (after a
restart, or a second process) a no-op. Catch-up after downtime: a reminder whose meeting is still
ahead is sent late and says so; one whose meeting has already started is dropped and counted.
A reminder that fell due before its series was added (or its occurrence moved) is not a reminder
anyone missed: it is never planned. Meeting reminders carry RSVP buttons (ik kom / ik kom niet /
misschien). When an occurrence is cancelled or moved, whoever already got a reminder for it gets a
notice, and reminders still waiting in the outbox for it are cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.floor.clock import parse_duration
from bot.floor.models import AUDIENCE_ROLES, OutboxMessage, Subscription, User, count_usage
from bot.floor.outbox import enqueue
from bot.floor.texts import labels, say, words
from jobs.agenda import Occurrence, exceptions_by_series, occurrence_stamp, series_occurrences, zone
from jobs.models import Deadline, MeetingSeries, SeriesParticipant
from jobs.participants import participants_of, takes_part

log = logging.getLogger(__name__)
LATE_AFTER = timedelta(minutes=10)  # a reminder sent more than this after its time says it is late
DEADLINE_TIME = time(9, 0)  # deadline reminders go out at 09:00 local
RSVP_LABELS = labels(yes="rsvp.yes", no="rsvp.no", maybe="rsvp.maybe")  # the buttons under a reminder


@dataclass
class Reminder:
    key: str
    fire_at: datetime  # aware UTC
    starts: datetime  # the meeting's start or the deadline's due moment, aware
    title: str
    where: str | None
    kind: str  # meeting | deadline
    lead: str
    item: str  # what it is a reminder of: series:<id> | deadline:<id>
    occurrence: Occurrence | None = None
    owners: str | None = None


def dutch_when(when: datetime) -> str:
    """The day and time in Dutch words: dinsdag 13 april om 14.00 uur."""
    return say("calendar.when", date=dutch_day(when), time=f"{when:%H.%M}")


def dutch_day(when: date) -> str:
    """The day in Dutch words: dinsdag 13 april."""
    return say(
        "calendar.day",
        weekday=words("calendar.days")[when.weekday()],
        day=when.day,
        month=words("calendar.months")[when.month - 1],
    )


def lead_times(remind: list[str] | None) -> list[tuple[str, timedelta]]:
    """The lead times that parse. One saved before leads were bounded (e.g. 999999d) is skipped with
    a log line, so it cannot stop every other reminder."""
    leads = []
    for lead in remind or []:
        try:
            leads.append((lead, parse_duration(str(lead))))
        except ValueError:
            log.warning("a lead time that is not a duration (at most a year) is skipped")
    return leads


def _fires(series: MeetingSeries, exceptions: list, start: datetime, end: datetime):
    """(fire time, occurrence, lead) of one series' reminders that fire in [start, end); none from
    before the series existed or, for a moved occurrence, from before the move."""
    leads = lead_times(series.remind)
    if not leads:
        return
    start = max(start, series.created_at)  # nothing can be due from before the series was added
    if start >= end:
        return
    longest = max(d for _, d in leads)
    for occ in series_occurrences(series, exceptions, start, end + longest):
        for lead, delta in leads:
            fire = (occ.start - delta).astimezone(UTC)
            if start <= fire < end and (occ.changed_at is None or fire >= occ.changed_at):  # nor from before a move
                yield fire, occ, lead


def series_reminders(series: MeetingSeries, exceptions: list, start: datetime, end: datetime) -> list[Reminder]:
    """The reminders of one series that fire in [start, end)."""
    return [
        Reminder(
            f"reminder:series:{series.id}:{occ.start.astimezone(UTC):%Y%m%dT%H%M}:{lead}",
            fire,
            occ.start,
            series.title,
            series.location,
            "meeting",
            lead,
            f"series:{series.id}",
            occ,
        )
        for fire, occ, lead in _fires(series, exceptions, start, end)
    ]


def deadline_reminders(deadline: Deadline, start: datetime, end: datetime) -> list[Reminder]:
    due = datetime.combine(deadline.due, DEADLINE_TIME, tzinfo=zone("Europe/Amsterdam"))
    out = []
    for lead, delta in lead_times(deadline.remind):
        fire = (due - delta).astimezone(UTC)
        if start <= fire < end and fire >= deadline.created_at:
            out.append(
                Reminder(
                    f"{deadline_prefix(deadline)}{lead}",
                    fire,
                    due,
                    deadline.title,
                    None,
                    "deadline",
                    lead,
                    f"deadline:{deadline.id}",
                    owners=deadline.owners,
                )
            )
    return out


def deadline_prefix(deadline: Deadline) -> str:
    """The key prefix of a deadline's reminders; with the date, so a moved deadline is reminded again."""
    return f"reminder:deadline:{deadline.id}:{deadline.due:%Y%m%d}:"


def split_items(items: Iterable[str] | None) -> tuple[list[int] | None, list[int] | None]:
    """`series:<id>` / `deadline:<id>` items as (series ids, deadline ids); None for all."""
    if items is None:
        return None, None
    series_ids, deadline_ids = [], []
    for item in items:
        kind, _, number = item.partition(":")
        (series_ids if kind == "series" else deadline_ids).append(int(number))
    return series_ids, deadline_ids


@dataclass
class Items:
    """Meeting series with their exceptions, and open deadlines, as loaded for planning."""

    series: list[MeetingSeries]
    exceptions: dict[int, list]
    deadlines: list[Deadline]


def items_in(session: Session, items: Iterable[str] | None) -> Items:
    """The series (with their exceptions) and open deadlines among `items` (None: all)."""
    series_ids, deadline_ids = split_items(items)
    series_query, deadline_query = select(MeetingSeries), select(Deadline).where(Deadline.done_at.is_(None))
    if series_ids is not None:
        series_query = series_query.where(MeetingSeries.id.in_(series_ids))
        deadline_query = deadline_query.where(Deadline.id.in_(deadline_ids))
    return Items(
        list(session.scalars(series_query)),
        exceptions_by_series(session, series_ids),
        list(session.scalars(deadline_query)),
    )


def planned(
    session: Session, start: datetime, end: datetime, items: Iterable[str] | None = None, loaded: Items | None = None
) -> list[Reminder]:
    """Every reminder whose fire time falls in [start, end), recipients not yet expanded; only those
    of some items (`series:<id>` / `deadline:<id>`) when given, or of what was `loaded` already."""
    loaded = loaded or items_in(session, items)
    out: list[Reminder] = []
    for one in loaded.series:
        out.extend(series_reminders(one, loaded.exceptions.get(one.id, []), start, end))
    for deadline in loaded.deadlines:
        out.extend(deadline_reminders(deadline, start, end))
    out.sort(key=lambda r: r.fire_at)
    return out


def first_fire(
    series: MeetingSeries, exceptions: list, after: datetime, horizon: timedelta = timedelta(days=400)
) -> datetime | None:
    """The first reminder time of a series at or after `after`: a week ahead first (most series have
    one there), then windows twice as long."""
    start, step = after, timedelta(days=8)
    while start < after + horizon:
        fires = [fire for fire, _, _ in _fires(series, exceptions, start, start + step)]
        if fires:
            return min(fires)
        start, step = start + step, step * 2
    return None


def may_attend(session: Session, series: MeetingSeries, user: User) -> bool:
    """Whether this user is one the series is for (audience and participants), subscribed or not."""
    return user.role in AUDIENCE_ROLES.get(series.audience, ()) and takes_part(
        user, participants_of(session, series.id)
    )


def recipients(session: Session, audience: str = "professionals") -> list[User]:
    """Users who subscribed to meeting reminders, in the audience's roles, reachable, not blocked
    (a series' participants narrow these down: `takes_part`)."""
    return list(
        session.scalars(
            select(User)
            .join(Subscription, Subscription.user_id == User.id)
            .where(
                Subscription.topic == "meetings",
                User.role.in_(AUDIENCE_ROLES[audience]),
                User.chat_id.is_not(None),
                User.blocked.is_(False),
            )
            .order_by(User.id)
        )
    )


def rsvp_buttons(occurrence: Occurrence) -> list[dict]:
    return [{"label": label, "value": f"rsvp:{occurrence.ref}:{answer}"} for answer, label in RSVP_LABELS.items()]


def text_of(reminder: Reminder, late: bool) -> str:
    local = reminder.starts.astimezone(zone("Europe/Amsterdam"))
    if reminder.kind == "meeting" and reminder.where:
        body = say("reminders.meeting_at", title=reminder.title, when=dutch_when(local), where=reminder.where)
    elif reminder.kind == "meeting":
        body = say("reminders.meeting", title=reminder.title, when=dutch_when(local))
    elif reminder.owners:
        body = say("reminders.deadline_owners", title=reminder.title, day=dutch_day(local), owners=reminder.owners)
    else:
        body = say("reminders.deadline", title=reminder.title, day=dutch_day(local))
    return f"{body} {say('reminders.late')}" if late else body


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these idempotency keys the outbox holds already (looked up in chunks, by index)."""
    keys = list(keys)
    found: set[str] = set()
    for n in range(0, len(keys), 500):
        found.update(
            session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys[n : n + 500]))
            )
        )
    return found


def enqueue_due(
    session: Session, now: datetime, *, since: datetime, items: Iterable[str] | None = None, loaded: Items | None = None
) -> tuple[int, int]:
    """Record in the outbox every reminder due in [since, now] (of some items, when given); returns
    (queued, dropped). Already recorded keys are skipped, so calling this twice, or after a restart,
    or for overlapping windows, sends nothing twice."""
    due = planned(session, since, now + timedelta(seconds=1), items, loaded)
    if not due:
        return 0, 0
    series_ids = {r.occurrence.series_id for r in due if r.occurrence}
    series = {s.id: s for s in session.scalars(select(MeetingSeries).where(MeetingSeries.id.in_(series_ids)))}
    named: dict[int, list[SeriesParticipant]] = {}
    for p in session.scalars(select(SeriesParticipant).where(SeriesParticipant.series_id.in_(series_ids))):
        named.setdefault(p.series_id, []).append(p)
    audiences: dict[str, list[User]] = {}
    per_item: dict[str, list[User]] = {}

    def users_for(reminder: Reminder) -> list[User]:
        if reminder.item not in per_item:
            audience = series[reminder.occurrence.series_id].audience if reminder.occurrence else "professionals"
            if audience not in audiences:
                audiences[audience] = recipients(session, audience)
            everyone = audiences[audience]
            participants = named.get(reminder.occurrence.series_id, []) if reminder.occurrence else []
            per_item[reminder.item] = [u for u in everyone if takes_part(u, participants)]
        return per_item[reminder.item]

    plan = [(reminder, user) for reminder in due for user in users_for(reminder)]
    existing = existing_keys(session, (f"{r.key}:user:{u.id}" for r, u in plan))
    queued = dropped = 0
    for reminder, user in plan:
        key = f"{reminder.key}:user:{user.id}"
        if key in existing:
            continue
        existing.add(key)
        if reminder.starts <= now:  # the meeting has begun: a reminder now helps nobody
            # recorded as dropped, so it is counted once and never sent later
            enqueue(session, key, user, "", now, status="dropped")
            dropped += 1
            continue
        late = now - reminder.fire_at > LATE_AFTER
        buttons = rsvp_buttons(reminder.occurrence) if reminder.occurrence else None
        enqueue(session, key, user, text_of(reminder, late), now, buttons=buttons)
        queued += 1
    if dropped:
        count_usage(session, now.date(), "reminders:dropped", dropped)
    return queued, dropped


def reminder_prefix(series_id: int, start: datetime) -> str:
    """The key prefix of every reminder for the occurrence of a series that starts at `start`."""
    return f"reminder:series:{series_id}:{start.astimezone(UTC):%Y%m%dT%H%M}:"


def _notify(
    session: Session, prefixes: set[str], notice_key: str, text: str, buttons: list[dict] | None, now: datetime
) -> int:
    """What waits in the outbox under these key prefixes is cancelled; whoever was sent something under
    them gets `text` (key `notice_key` + the user). Returns how many notices were queued."""
    rows = [
        row
        for prefix in prefixes
        for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.startswith(prefix, autoescape=True))
        )
    ]
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([r.id for r in rows if r.status == "queued"]))
        .values(status="cancelled", text="", buttons=None)
    )
    told = {r.user_id for r in rows if r.status == "sent" and r.user_id is not None}
    queued = 0
    for user in session.scalars(select(User).where(User.id.in_(told), User.blocked.is_(False)).order_by(User.id)):
        key = f"{notice_key}:user:{user.id}"
        if existing_keys(session, [key]) or not user.chat_id:
            continue
        enqueue(session, key, user, text, now, buttons=buttons)
        queued += 1
    return queued


def notify_change(
    session: Session, series: MeetingSeries, before: Occurrence, after: Occurrence | None, now: datetime
) -> int:
    """An occurrence was cancelled (`after` None) or moved: what is still waiting in the outbox about
    it (reminders, an earlier move's notice) is cancelled; whoever was sent something about it (a
    reminder for its original or current time, a notice) is told. Returns how many notices were queued."""
    prefixes = {
        reminder_prefix(series.id, before.start),
        reminder_prefix(series.id, before.original_start),
        f"notice:series:{before.ref}:",
    }
    local = before.start.astimezone(zone(series.timezone))
    if after is None:
        return _notify(
            session,
            prefixes,
            f"notice:series:{before.ref}:cancel",
            say("reminders.cancelled", title=series.title, when=dutch_when(local)),
            None,
            now,
        )
    new = after.start.astimezone(zone(series.timezone))
    if series.location:
        text = say(
            "reminders.moved_at",
            title=series.title,
            after=dutch_when(new),
            before=dutch_when(local),
            where=series.location,
        )
    else:
        text = say("reminders.moved", title=series.title, after=dutch_when(new), before=dutch_when(local))
    return _notify(
        session, prefixes, f"notice:series:{before.ref}:move:{occurrence_stamp(new)}", text, rsvp_buttons(after), now
    )


def notify_deadline(session: Session, deadline: Deadline, new_due: date | None, now: datetime) -> int:
    """A deadline moved to `new_due` or cancelled (None): the same as for a meeting."""
    prefixes = {deadline_prefix(deadline), f"notice:deadline:{deadline.id}:"}
    if new_due is None:
        return _notify(
            session,
            prefixes,
            f"notice:deadline:{deadline.id}:{deadline.due:%Y%m%d}:cancel",
            say("reminders.deadline_cancelled", title=deadline.title, day=dutch_day(deadline.due)),
            None,
            now,
        )
    return _notify(
        session,
        prefixes,
        f"notice:deadline:{deadline.id}:{new_due:%Y%m%d}:move",
        say("reminders.deadline_moved", title=deadline.title, after=dutch_day(new_due), before=dutch_day(deadline.due)),
        None,
        now,
    )
