"""The scheduler (APScheduler 3): jobs derived from the database, deterministic ids.

The database is the source of truth. Every meeting series and open deadline (an item, `series:<id>`
/ `deadline:<id>`) has a next reminder time; there is one job per distinct time, with the
deterministic id `reminders:<UTC time>`, so the many MDOs at Tuesday 14:00 are one job and one
transaction. When it fires it records those items' due reminders in the outbox and moves each item
to its next time.

Exactly once across restarts rests on a watermark saved in the database: every reminder that fell
due before it is recorded. It only moves past a reminder time once the job for it has run, so after
a crash (or downtime) the start-up catch-up records everything from the watermark on: late when the
meeting is still ahead, dropped and counted when it has begun. Idempotency keys make any overlap
harmless.

A sweep every minute (id `agenda:sweep`) advances the watermark and, when the agenda revision moved
(a change by the CLI, the chat or another process), derives the jobs anew. A change in this process
can ask for that at once (`changed`). Jobs run one at a time on a worker thread, never on the event
loop that answers chats.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.floor import memory
from bot.floor.clock import LOCAL_TZ, Clock, SystemClock
from bot.floor.config import Settings
from jobs import handoffs
from jobs.agenda import revision
from jobs.maintenance import apply_retention, expire_conversations, queue_freshness_reminder
from jobs.providers import ask_providers
from jobs.reminders import Items, deadline_reminders, enqueue_due, first_fire, items_in
from jobs.safety import follow_up_unanswered
from socialekaart.listing import apply_retention as listing_retention

log = logging.getLogger(__name__)
WATERMARK = "scheduler.last_run"  # memory key: every reminder due before it has been recorded
CATCH_UP_LIMIT = timedelta(days=30)  # after a very long downtime, look back at most this far
TICK = timedelta(seconds=1)  # enqueue_due records fire times up to now + TICK (exclusive)


class ReminderScheduler:
    def __init__(self, database, clock: Clock | None = None, settings: Settings | None = None):
        self.database = database
        self.clock = clock or SystemClock()
        self.settings = settings or Settings()
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": None, "coalesce": True},
        )
        self._next: dict[str, datetime] = {}  # item -> its first reminder time not yet recorded
        self._lock = threading.Lock()
        self._revision: int | None = None

    # sans-I/O core: also what the tests and `wijkbot jobs run --once` call ------------------------

    def watermark(self) -> datetime | None:
        saved = memory.recall(self.database, WATERMARK)
        return datetime.fromisoformat(saved) if saved else None

    def run_due(
        self, items: list[str] | None = None, since: datetime | None = None, loaded: Items | None = None
    ) -> tuple[int, int]:
        """Record due reminders; returns (queued, dropped). Without `items`: every item since the
        watermark (the catch-up), which then moves to now. With `items`: those since `since`."""
        now = self.clock.now()
        if items is None:
            last = self.watermark()
            since = max(last, now - CATCH_UP_LIMIT) if last else now - CATCH_UP_LIMIT
        with self.database.session() as session:
            queued, dropped = enqueue_due(session, now, since=since, items=items, loaded=loaded)
            session.commit()
        if items is None:
            memory.remember(self.database, WATERMARK, now.isoformat())
        if queued or dropped:
            log.info("reminders: %d queued, %d dropped (meeting already begun)", queued, dropped)
        return queued, dropped

    def next_times(
        self, after: datetime | None = None, items: list[str] | None = None, loaded: Items | None = None
    ) -> dict[str, datetime]:
        """Item -> first reminder time at or after `after` (default now), for every series and open
        deadline that has one (or just those among `items`)."""
        after = after or self.clock.now()
        times: dict[str, datetime] = {}
        if loaded is None:
            with self.database.session() as session:
                loaded = items_in(session, items)
        for one in loaded.series:
            when = first_fire(one, loaded.exceptions.get(one.id, []), after)
            if when is not None:
                times[f"series:{one.id}"] = when
        for deadline in loaded.deadlines:
            fires = [r.fire_at for r in deadline_reminders(deadline, after, after + timedelta(days=3660))]
            if fires:
                times[f"deadline:{deadline.id}"] = min(fires)
        return times

    def follow_up_safety(self) -> int:
        """Safety questions left unanswered get the advice anyway (jobs/safety.py)."""
        from intents.safety import safety

        with self.database.session() as session:
            queued = follow_up_unanswered(
                session, self.clock.now(), safety(), timedelta(minutes=self.settings.safety_followup_minutes)
            )
            session.commit()
        return queued

    def maintenance(self) -> dict:
        """Data retention and the monthly social-map freshness reminder (idempotent): at start-up, daily
        at 03:30 and from `wijkbot jobs run --once`."""
        now = self.clock.now()
        with self.database.session() as session:
            counts = apply_retention(session, now, timedelta(days=self.settings.retention_days))
            counts["expired_conversations"] = expire_conversations(session, now, self.conversation_idle)
            counts["freshness_reminders"] = queue_freshness_reminder(
                session, now, timedelta(days=30 * self.settings.freshness_months)
            )
            counts |= handoffs.apply_retention(session, now)
            counts.update(listing_retention(session, now, timedelta(days=self.settings.retention_days)))
            session.commit()
        self.database.scrub()
        log.info("maintenance: %s", counts)
        return counts

    def handoffs(self) -> dict[str, int]:
        """Every few minutes: need cards nobody picked up go to the coordinators, "Is het gelukt?" goes to
        residents when it is time, and handoffs past their retention are deleted (jobs/handoffs.py)."""
        with self.database.session() as session:
            done = handoffs.due(session, self.clock.now(), handoffs.Policy.of(self.settings))
            session.commit()
        if done.get("handoffs_deleted"):
            self.database.scrub()
        return done

    def ask_providers(self) -> int:
        """The providers' "Klopt dit nog?" (jobs/providers.py): each organisation with linked professionals
        once every `provider_check_days`; daily at 10:00 local and from `wijkbot jobs run --once`."""
        with self.database.session() as session:
            queued = ask_providers(session, self.clock.now(), timedelta(days=self.settings.provider_check_days))
            session.commit()
        return queued

    @property
    def conversation_idle(self) -> timedelta:
        """When a conversation has ended: its time-out, but not before a waiting safety question is followed up."""
        return timedelta(minutes=max(self.settings.conversation_timeout_minutes, self.settings.safety_followup_minutes))

    def expire(self) -> int:
        """Every minute: the words of conversations that ended are dropped (jobs.maintenance)."""
        with self.database.session() as session:
            emptied = expire_conversations(
                session, self.clock.now(), self.conversation_idle, lookback=timedelta(hours=1)
            )
            session.commit()
        return emptied

    # the APScheduler wiring ----------------------------------------------------------------------

    @staticmethod
    def job_id(when: datetime) -> str:
        return f"reminders:{when.astimezone(UTC):%Y%m%dT%H%M%S}Z"

    def _schedule(self, times: dict[str, datetime | None]) -> None:
        """Set items' next reminder times (None: none) and keep one job per distinct time."""
        with self._lock:
            before = set(self._next.values())
            for item, when in times.items():
                if when is None:
                    self._next.pop(item, None)
                else:
                    self._next[item] = when
            after = set(self._next.values())
        for when in before - after:
            if self.scheduler.get_job(self.job_id(when)):
                self.scheduler.remove_job(self.job_id(when))
        for when in after - before:
            self.scheduler.add_job(
                self.fire, DateTrigger(run_date=when), args=(when,), id=self.job_id(when), replace_existing=True
            )

    def _load(self) -> tuple[int, Items]:
        """The agenda revision, then every item: read together, so a change made after the load has a
        revision the sweep has not seen yet."""
        with self.database.session() as session:
            current = revision(session)
            loaded = items_in(session, None)
            session.expunge_all()
        return current, loaded

    def sync_jobs(self, loaded: tuple[int, Items] | None = None) -> None:
        """Derive every item's next reminder time, and so the jobs, from the database, from the
        watermark on."""
        current, loaded = loaded or self._load()
        wanted = self.next_times(self.watermark() or self.clock.now(), loaded=loaded)
        with self._lock:
            gone = {item: None for item in self._next if item not in wanted}
        self._schedule({**gone, **wanted})
        self._revision = current

    def fire(self, when: datetime) -> None:
        """The job of one reminder time: record what is due for the items waiting for it, then move
        each to its next reminder time."""
        with self._lock:
            items = [item for item, at in self._next.items() if at == when]
        if not items:
            return
        self.run_due(items, since=when)
        self._schedule({**dict.fromkeys(items), **self.next_times(self.clock.now() + TICK, items)})

    def sweep(self) -> None:
        """Every minute: derive the jobs again if the agenda changed, then move the watermark up to
        the earliest reminder time that has not been recorded yet."""
        with self.database.session() as session:
            current = revision(session)
        if current != self._revision:
            self.sync_jobs()
        now = self.clock.now()
        with self._lock:
            pending = min(self._next.values(), default=now)
        memory.remember(self.database, WATERMARK, min(now, pending).isoformat())

    def changed(self) -> None:
        """The agenda was changed in this process: sweep now rather than within the minute."""
        if self.scheduler.running:
            self.scheduler.add_job(self.sweep, id="agenda:changed", replace_existing=True)

    def prepare(self) -> None:
        """The start-up work: catch up on what fell due while no scheduler ran, then derive the jobs
        (the series loaded once for both)."""
        self.maintenance()  # retention also when the process never lives until 03:30
        loaded = self._load()
        self.run_due(loaded=loaded[1])
        self.sync_jobs(loaded)

    def start(self, paused: bool = False) -> None:
        """Start the scheduler; the start-up work runs as its first job, on the worker thread, so a
        long catch-up never holds up the chats. `paused`: APScheduler keeps the jobs but runs none
        until resumed (a test runs them itself, on an injected clock)."""
        self.scheduler.add_job(self.prepare, id="agenda:start", replace_existing=True)
        self.scheduler.add_job(self.sweep, IntervalTrigger(minutes=1), id="agenda:sweep", replace_existing=True)
        self.scheduler.add_job(
            self.follow_up_safety, IntervalTrigger(minutes=1), id="safety:followup", replace_existing=True
        )
        self.scheduler.add_job(
            self.expire, IntervalTrigger(minutes=1), id="conversations:expire", replace_existing=True
        )
        self.scheduler.add_job(self.handoffs, IntervalTrigger(minutes=5), id="handoffs:due", replace_existing=True)
        self.scheduler.add_job(
            self.maintenance,
            CronTrigger(hour=3, minute=30, timezone=LOCAL_TZ),
            id="maintenance:daily",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.ask_providers,
            CronTrigger(hour=10, minute=0, timezone=LOCAL_TZ),  # a working hour, never at night
            id="providers:check",
            replace_existing=True,
        )
        self.scheduler.start(paused=paused)

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
