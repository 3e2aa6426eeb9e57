"""Reminders for meetings and deadlines, exactly once, through the outbox shared with broadcasts.

Every reminder is one (occurrence x lead time x recipient) with a deterministic idempotency key,
recorded in the outbox before anything is sent; the unique key makes a second computation (after a
restart, or a second process) a no-op. Catch-up after downtime: a reminder whose meeting is still
ahead is sent late and says so; one whose meeting has already started is dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import parse_duration
from bot.models import ROLES, OutboxMessage, Subscription, User, count_usage
from jobs.agenda import series_occurrences, zone
from jobs.models import Deadline, MeetingSeries, SeriesException

LATE_AFTER = timedelta(minutes=10)  # a reminder sent more than this after its time says it is late
DEADLINE_TIME = time(9, 0)  # deadline reminders go out at 09:00 local
AUDIENCE_ROLES = {"residents": ("resident",), "professionals": ("professional", "coordinator", "admin"),
                  "all": ROLES}
DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")


@dataclass
class Reminder:
    key: str
    fire_at: datetime  # aware UTC
    starts: datetime  # the meeting's start or the deadline's due moment, aware
    title: str
    where: str | None
    kind: str  # meeting | deadline
    lead: str


def dutch_when(when: datetime) -> str:
    return f"{DAYS[when.weekday()]} {when.day} {MONTHS[when.month - 1]} om {when:%H.%M} uur"


def planned(session: Session, start: datetime, end: datetime) -> list[Reminder]:
    """Every reminder whose fire time falls in [start, end), recipients not yet expanded."""
    out: list[Reminder] = []
    exceptions: dict[int, list[SeriesException]] = {}
    for e in session.scalars(select(SeriesException)):
        exceptions.setdefault(e.series_id, []).append(e)
    for series in session.scalars(select(MeetingSeries)):
        leads = [(lead, parse_duration(lead)) for lead in series.remind or []]
        if not leads:
            continue
        longest = max(d for _, d in leads)
        for occ in series_occurrences(series, exceptions.get(series.id, []), start, end + longest):
            for lead, delta in leads:
                fire = (occ.start - delta).astimezone(UTC)
                if start <= fire < end:
                    out.append(Reminder(f"reminder:series:{series.id}:{occ.start.astimezone(UTC):%Y%m%dT%H%M}:{lead}",
                                        fire, occ.start, series.title, series.location, "meeting", lead))
    for deadline in session.scalars(select(Deadline).where(Deadline.done_at.is_(None))):
        out.extend(planned_deadline(deadline, start, end))
    out.sort(key=lambda r: r.fire_at)
    return out


def planned_deadline(deadline: Deadline, start: datetime, end: datetime) -> list[Reminder]:
    due = datetime.combine(deadline.due, DEADLINE_TIME, tzinfo=zone("Europe/Amsterdam"))
    out = []
    for lead in deadline.remind or []:
        fire = (due - parse_duration(lead)).astimezone(UTC)
        if start <= fire < end:
            out.append(Reminder(f"reminder:deadline:{deadline.id}:{lead}", fire, due, deadline.title, None,
                                "deadline", lead))
    return out


def first_fire(series: MeetingSeries, exceptions: list, after: datetime,
               horizon: timedelta = timedelta(days=400)) -> datetime | None:
    """The first reminder time of a series at or after `after`, looking a month at a time."""
    leads = [parse_duration(lead) for lead in series.remind or []]
    if not leads:
        return None
    start, step = after, timedelta(days=35)
    while start < after + horizon:
        for occ in series_occurrences(series, exceptions, start, start + step + max(leads)):
            fires = [(occ.start - d).astimezone(UTC) for d in leads]
            upcoming = [f for f in fires if f >= after]
            if upcoming:
                return min(upcoming)
        start += step
    return None


def recipients(session: Session, audience: str = "professionals") -> list[User]:
    """Users who subscribed to meeting reminders, in the audience's roles, reachable, not blocked."""
    return list(session.scalars(
        select(User).join(Subscription, Subscription.user_id == User.id)
        .where(Subscription.topic == "meetings", User.role.in_(AUDIENCE_ROLES[audience]),
               User.chat_id.is_not(None), User.blocked.is_(False)).order_by(User.id)))


def text_of(reminder: Reminder, late: bool) -> str:
    local = reminder.starts.astimezone(zone("Europe/Amsterdam"))
    if reminder.kind == "meeting":
        body = f"Herinnering: {reminder.title}, {dutch_when(local)}"
        body += f", {reminder.where}." if reminder.where else "."
    else:
        body = f"Herinnering: deadline {reminder.title} op {DAYS[local.weekday()]} {local.day} " \
               f"{MONTHS[local.month - 1]}."
    if late:
        body += " Let op: deze herinnering komt later dan gepland."
    return body


def enqueue_due(session: Session, now: datetime, *, since: datetime) -> tuple[int, int]:
    """Record in the outbox every reminder due in [since, now]; returns (queued, dropped).

    `since` is how far back to look (after downtime: when the process last ran). Already recorded
    keys are skipped, so calling this twice, or after a restart, sends nothing twice."""
    queued = dropped = 0
    existing = set(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.idempotency_key.like("reminder:%"))))
    audiences = {s.id: s.audience for s in session.scalars(select(MeetingSeries))}
    by_audience: dict[str, list[User]] = {}
    for reminder in planned(session, since, now + timedelta(seconds=1)):
        series_id = int(reminder.key.split(":")[2]) if reminder.kind == "meeting" else None
        audience = audiences.get(series_id, "professionals") if series_id else "professionals"
        users = by_audience.setdefault(audience, recipients(session, audience))
        if reminder.starts <= now:  # the meeting has begun: a reminder now helps nobody
            fresh = [u for u in users if f"{reminder.key}:user:{u.id}" not in existing]
            if fresh:
                dropped += len(fresh)
                for u in fresh:  # record the drop, so it is counted once and never sent later
                    session.add(OutboxMessage(idempotency_key=f"{reminder.key}:user:{u.id}", user_id=u.id,
                                              channel=u.channel, chat_id=u.chat_id, text="", status="dropped",
                                              next_attempt_at=now))
            continue
        late = now - reminder.fire_at > LATE_AFTER
        for user in users:
            key = f"{reminder.key}:user:{user.id}"
            if key in existing:
                continue
            session.add(OutboxMessage(idempotency_key=key, user_id=user.id, channel=user.channel,
                                      chat_id=user.chat_id, text=text_of(reminder, late), status="queued",
                                      next_attempt_at=now))
            existing.add(key)
            queued += 1
    if dropped:
        count_usage(session, now.date(), "reminders:dropped", dropped)
    return queued, dropped
