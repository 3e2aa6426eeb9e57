"""The scheduler (APScheduler 3): jobs derived from the database, deterministic ids.

The database is the source of truth. At start the scheduler catches up on what fell due while it
was down (since the last run, saved in the database), then adds one job per meeting series and per
open deadline, id `series:<id>` / `deadline:<id>`, at that item's next reminder time; a job that
fires records the due reminders in the outbox and moves itself to the next time. A sweep every
minute (id `agenda:sweep`) picks up changes made by other processes (the CLI, the chat).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from bot.channels import state
from bot.clock import LOCAL_TZ, Clock, SystemClock
from bot.config import Settings
from jobs.maintenance import apply_retention, queue_freshness_reminder
from jobs.models import Deadline, MeetingSeries, SeriesException
from jobs.reminders import enqueue_due, first_fire, planned_deadline

log = logging.getLogger(__name__)
CATCH_UP_LIMIT = timedelta(days=30)  # after a very long downtime, look back at most this far


class ReminderScheduler:
    def __init__(self, database, clock: Clock | None = None, settings: Settings | None = None):
        self.database = database
        self.clock = clock or SystemClock()
        self.settings = settings or Settings()
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"misfire_grace_time": None,
                                                                      "coalesce": True})

    # sans-I/O core: also what the tests and `wijkbot jobs run --once` call ------------------------

    def run_due(self) -> tuple[int, int]:
        """Record every reminder due since the last run; returns (queued, dropped)."""
        now = self.clock.now()
        last = state.load(self.database, "jobs", "last_run")
        since = max(datetime.fromisoformat(last), now - CATCH_UP_LIMIT) if last else now - timedelta(minutes=1)
        with self.database.session() as session:
            queued, dropped = enqueue_due(session, now, since=since)
            session.commit()
        state.save(self.database, "jobs", "last_run", now.isoformat())
        if queued or dropped:
            log.info("reminders: %d queued, %d dropped (meeting already begun)", queued, dropped)
        return queued, dropped

    def next_times(self) -> dict[str, datetime]:
        """Job id -> next reminder time for every series and open deadline that has one."""
        now = self.clock.now()
        times: dict[str, datetime] = {}
        with self.database.session() as session:
            exceptions: dict[int, list] = {}
            for e in session.scalars(select(SeriesException)):
                exceptions.setdefault(e.series_id, []).append(e)
            for series in session.scalars(select(MeetingSeries)):
                when = first_fire(series, exceptions.get(series.id, []), now)
                if when is not None:
                    times[f"series:{series.id}"] = when
            for deadline in session.scalars(select(Deadline).where(Deadline.done_at.is_(None))):
                fires = [r.fire_at for r in planned_deadline(deadline, now, now + timedelta(days=3660))]
                if fires:
                    times[f"deadline:{deadline.id}"] = min(fires)
        return times

    def maintenance(self) -> dict:
        """Data retention and the monthly social-map freshness reminder (idempotent)."""
        now = self.clock.now()
        with self.database.session() as session:
            counts = apply_retention(session, now, timedelta(days=self.settings.retention_days))
            counts["freshness_reminders"] = queue_freshness_reminder(
                session, now, timedelta(days=30 * self.settings.freshness_months))
            session.commit()
        log.info("maintenance: %s", counts)
        return counts

    # the APScheduler wiring ----------------------------------------------------------------------

    def sync_jobs(self) -> None:
        wanted = self.next_times()
        for job in self.scheduler.get_jobs():
            if not job.id.startswith(("agenda:", "maintenance:")) and job.id not in wanted:
                job.remove()
        for job_id, when in wanted.items():
            self.scheduler.add_job(self._fire, DateTrigger(run_date=when), id=job_id, replace_existing=True)

    def _fire(self) -> None:
        self.run_due()
        self.sync_jobs()

    def start(self) -> None:
        self.run_due()  # catch up first
        self.scheduler.add_job(self._fire, IntervalTrigger(minutes=1), id="agenda:sweep", replace_existing=True)
        self.scheduler.add_job(self.maintenance, CronTrigger(hour=3, minute=30, timezone=LOCAL_TZ),
                               id="maintenance:daily", replace_existing=True)
        self.sync_jobs()
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
