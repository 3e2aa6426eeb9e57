"""RFC 5545 calendars (the icalendar library): export the agenda, import it again all or nothing.

A series is a VEVENT with DTSTART;TZID, RRULE and EXDATE (cancelled occurrences) and a VTIMEZONE;
a moved occurrence is a VEVENT with the same UID and a RECURRENCE-ID; a deadline is an all-day
VEVENT marked X-WIJKBOT-KIND:deadline. Lead times travel as X-WIJKBOT-REMIND.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import ImportProblem, WijkbotError
from jobs.agenda import bump_revision, validate_series, zone
from jobs.models import Deadline, MeetingSeries, SeriesException
from jobs.participants import describe, participants_of, resolve, split_entries

PRODID = "-//Wijkbot//agenda//NL"


def export_calendar(session: Session) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    zones: set[str] = set()
    events = []
    for series in session.scalars(select(MeetingSeries).order_by(MeetingSeries.id)):
        tz = zone(series.timezone)
        zones.add(series.timezone)
        start = datetime.fromisoformat(series.start_local).replace(tzinfo=tz)
        event = icalendar.Event()
        event.add("uid", f"series-{series.id}@wijkbot")
        event.add("summary", series.title)
        event.add("dtstart", start)
        event.add("duration", timedelta(minutes=series.duration_minutes))
        event.add("rrule", icalendar.vRecur.from_ical(series.rrule))
        if series.location:
            event.add("location", series.location)
        event.add("x-wijkbot-audience", series.audience)
        event.add("x-wijkbot-remind", ",".join(series.remind or []))
        if series.skip_holidays:
            event.add("x-wijkbot-skip-holidays", "TRUE")
        participants = [p.organization_id if p.user_id is None else describe(session, p)
                        for p in participants_of(session, series.id)]
        if participants:
            event.add("x-wijkbot-participants", "; ".join(participants))
        moved = []
        for exception in session.scalars(select(SeriesException).where(SeriesException.series_id == series.id)):
            original = exception.original_start.astimezone(tz)
            if exception.new_start is None:
                event.add("exdate", original)
            else:
                moved.append((original, exception.new_start.astimezone(tz)))
        events.append(event)
        for original, new in moved:
            change = icalendar.Event()
            change.add("uid", f"series-{series.id}@wijkbot")
            change.add("summary", series.title)
            change.add("recurrence-id", original)
            change.add("dtstart", new)
            change.add("duration", timedelta(minutes=series.duration_minutes))
            events.append(change)
    for deadline in session.scalars(select(Deadline).order_by(Deadline.id)):
        event = icalendar.Event()
        event.add("uid", f"deadline-{deadline.id}@wijkbot")
        event.add("summary", deadline.title)
        event.add("dtstart", deadline.due)
        event.add("x-wijkbot-kind", "deadline")
        event.add("x-wijkbot-remind", ",".join(deadline.remind or []))
        if deadline.owners:
            event.add("x-wijkbot-owners", deadline.owners)
        if deadline.done_at:
            event.add("status", "CANCELLED")
        events.append(event)
    for name in sorted(zones):
        cal.add_component(icalendar.Timezone.from_tzid(name))
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def import_calendar(session: Session, data: bytes, now: datetime) -> tuple[int, int]:
    """Add the series and deadlines of an .ics file; all or nothing. Returns (series, deadlines)."""
    try:
        cal = icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise ImportProblem([f"not an iCalendar file: {exc}"]) from None
    problems: list[str] = []
    series_rows, deadline_rows, moves = [], [], []
    originals: dict[str, MeetingSeries] = {}
    for n, event in enumerate(cal.walk("VEVENT"), start=1):
        uid = str(event.get("uid", f"#{n}"))
        where = f"event {n} (UID {uid})"
        try:
            title = str(event.get("summary") or "").strip()
            if not title:
                raise ValueError("SUMMARY: is empty")
            start = event.decoded("dtstart")
            remind = [x for x in str(event.get("x-wijkbot-remind", "")).split(",") if x]
            if event.get("recurrence-id") is not None:
                moves.append((uid, event.decoded("recurrence-id"), start, where))
                continue
            if str(event.get("x-wijkbot-kind", "")).lower() == "deadline" or (
                    isinstance(start, date) and not isinstance(start, datetime)):
                due = start.date() if isinstance(start, datetime) else start
                deadline_rows.append(Deadline(title=title, due=due, remind=remind, created_at=now,
                                              owners=str(event.get("x-wijkbot-owners")) if event.get(
                                                  "x-wijkbot-owners") else None,
                                              done_at=now if str(event.get("status", "")) == "CANCELLED" else None))
                continue
            if start.tzinfo is None:
                raise ValueError("DTSTART: needs a TZID or UTC")
            tzname = str(event["dtstart"].params.get("TZID") or "Europe/Amsterdam")
            local = start.astimezone(zone(tzname))
            rrule = event.get("rrule").to_ical().decode() if event.get("rrule") else "FREQ=DAILY;COUNT=1"
            if event.get("duration") is not None:
                minutes = int(event.decoded("duration").total_seconds() // 60)
            elif event.get("dtend") is not None:
                minutes = int((event.decoded("dtend") - start).total_seconds() // 60)
            else:
                minutes = 60
            start_local = local.replace(tzinfo=None).isoformat(timespec="minutes")
            validate_series(rrule, start_local, tzname, remind)
            row = MeetingSeries(title=title, rrule=rrule, start_local=start_local, timezone=tzname,
                                duration_minutes=max(1, minutes), location=str(event.get("location")) if event.get(
                                    "location") else None,
                                audience=str(event.get("x-wijkbot-audience", "professionals")), remind=remind,
                                skip_holidays=str(event.get("x-wijkbot-skip-holidays", "")).upper() == "TRUE",
                                created_at=now)
            try:
                participants = resolve(session, split_entries(str(event.get("x-wijkbot-participants", ""))))
            except WijkbotError as exc:
                raise ValueError(f"X-WIJKBOT-PARTICIPANTS: {exc}") from None
            exdates = event.get("exdate")
            cancelled = []
            for block in exdates if isinstance(exdates, list) else [exdates] if exdates else []:
                cancelled.extend(d.dt for d in block.dts)
            series_rows.append((row, cancelled, participants))
            originals[uid] = row
        except Exception as exc:
            problems.append(f"{where}: {exc}")
    for uid, _, _, where in moves:
        if uid not in originals:
            problems.append(f"{where}: RECURRENCE-ID: no series with this UID in the file")
    if problems:
        raise ImportProblem(problems)
    for row, cancelled, participants in series_rows:
        session.add(row)
        session.flush()
        for when in cancelled:
            session.add(SeriesException(series_id=row.id, original_start=when.astimezone(UTC), new_start=None,
                                        changed_at=now))
        for participant in participants:
            participant.series_id = row.id
            session.add(participant)
    for uid, original, new, _ in moves:
        session.add(SeriesException(series_id=originals[uid].id, original_start=original.astimezone(UTC),
                                    new_start=new.astimezone(UTC), changed_at=now))
    session.add_all(deadline_rows)
    bump_revision(session)
    return len(series_rows), len(deadline_rows)
