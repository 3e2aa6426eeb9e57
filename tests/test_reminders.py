"""Reminders with an injected clock: exactly once, DST, restart, downtime catch-up, deadlines done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.floor.clock import LOCAL_TZ, FixedClock
from bot.floor.models import OutboxMessage, Subscription, UsageStat, User
from jobs.models import Deadline, MeetingSeries
from jobs.scheduler import ReminderScheduler


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def setup(database, clock):
    with database.session() as session:
        session.add(
            MeetingSeries(
                title="MDO ouderen",
                rrule="FREQ=MONTHLY;BYDAY=2TU",
                start_local="2027-01-12T14:00",
                timezone="Europe/Amsterdam",
                duration_minutes=90,
                location="Gezondheidscentrum",
                audience="professionals",
                remind=["1d", "2h"],
                created_at=clock.now(),
            )
        )
        session.add(
            Deadline(title="Wijkplan 2027 indienen", due=date(2027, 9, 15), remind=["7d", "1d"], created_at=clock.now())
        )
        for n, role in enumerate(("professional", "coordinator", "resident")):
            user = User(
                channel="telegram",
                channel_user_id=f"p{n}",
                chat_id=f"p{n}",
                role=role,
                created_at=clock.now(),
                last_seen_at=clock.now(),
            )
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, topic="meetings"))
        session.commit()


def reminders(database) -> list[OutboxMessage]:
    with database.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key.like("reminder:%")).order_by(OutboxMessage.id)
            )
        )


def test_exactly_once_in_local_time_across_dst_and_a_restart(database):
    clock = FixedClock(local(2027, 4, 12, 13, 59))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    assert scheduler.run_due() == (0, 0)
    clock.set(local(2027, 4, 12, 14, 0))  # one day before Tuesday 13 April 14:00 (summer time)
    assert scheduler.run_due() == (2, 0)  # two professionals; the resident is not in the audience
    assert scheduler.run_due() == (0, 0)  # never twice
    first = reminders(database)[0]
    assert first.text == "Herinnering: MDO ouderen, dinsdag 13 april om 14.00 uur, Gezondheidscentrum. Komt u?"
    assert [b["label"] for b in first.buttons] == ["Ik kom", "Ik kom niet", "Misschien"]
    assert first.buttons[0]["value"] == "rsvp:1:20270413T1200Z:yes"  # the occurrence in UTC
    restarted = ReminderScheduler(database, clock)  # a new process
    assert restarted.run_due() == (0, 0)
    clock.set(local(2027, 4, 13, 12, 0))  # 2h before
    assert restarted.run_due() == (2, 0)
    assert len(reminders(database)) == 4
    assert len({r.idempotency_key for r in reminders(database)}) == 4


def test_a_reminder_after_the_autumn_change_fires_at_local_wall_clock_time(database):
    clock = FixedClock(local(2027, 11, 8, 13, 0))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    times = scheduler.next_times()
    assert set(times) == {"series:1"}  # deterministic job ids; the 2027 wijkplan deadline has passed
    # Tuesday 9 November 14:00 CET: the 1d reminder is Monday 8 November 14:00 CET = 13:00 UTC
    assert times["series:1"] == datetime(2027, 11, 8, 13, 0, tzinfo=UTC)


def test_downtime_catch_up_late_reminders_and_dropped_ones(database):
    clock = FixedClock(local(2027, 4, 11, 9, 0))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    scheduler.run_due()  # last run: Sunday 11 April
    clock.set(local(2027, 4, 13, 13, 0))  # down until 1 hour before the meeting
    queued, dropped = scheduler.run_due()
    assert (queued, dropped) == (4, 0)  # the 1d and the 2h reminder, both late
    assert all("later dan gepland" in r.text for r in reminders(database))
    # down again over the next meeting: its reminders are dropped and counted, not sent
    clock.set(local(2027, 5, 11, 16, 0))
    assert scheduler.run_due() == (0, 4)
    with database.session() as session:
        assert session.scalar(select(UsageStat.count).where(UsageStat.kind == "reminders:dropped")) == 4
    assert all(r.status in ("queued", "dropped") for r in reminders(database))


def test_a_deadline_marked_done_gets_no_more_reminders(database):
    clock = FixedClock(local(2027, 9, 8, 9, 0))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    queued, _ = scheduler.run_due()
    assert queued == 2 and "deadline Wijkplan 2027 indienen op woensdag 15 september" in reminders(database)[-1].text
    with database.session() as session:
        session.get(Deadline, 1).done_at = clock.now()
        session.commit()
    clock.advance(timedelta(days=6))
    scheduler.run_due()
    assert [r.idempotency_key.split(":")[1] for r in reminders(database)].count("deadline") == 2  # none new


def test_retention_deletes_old_conversations_and_freshness_reports_stale_services(tmp_path, nlu):
    from bot.app import open_database
    from bot.core import Wijkbot
    from bot.floor.config import Settings
    from bot.floor.messages import Incoming

    settings = Settings(data_dir=tmp_path / "data", retention_days=30, freshness_months=6)
    database = open_database(settings)  # with the demo map, some of it not checked for months
    clock = FixedClock(local(2026, 12, 1, 10, 0))
    bot = Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    bot.handle(Incoming(channel="telegram", chat_id="old", user_id="old", text="ik heb schulden"))
    from jobs.models import Rsvp

    with database.session() as session:  # an answer to a meeting of that day
        old = session.scalar(select(User).where(User.channel_user_id == "old"))
        session.add(
            MeetingSeries(
                title="MDO",
                rrule="FREQ=WEEKLY",
                start_local="2026-12-01T14:00",
                duration_minutes=60,
                created_at=clock.now(),
            )
        )
        session.flush()
        session.add(
            Rsvp(
                series_id=1,
                occurrence_start=clock.now() + timedelta(hours=3),
                user_id=old.id,
                answer="yes",
                answered_at=clock.now(),
            )
        )
        session.commit()
    clock.advance(timedelta(days=20))
    bot.handle(Incoming(channel="telegram", chat_id="new", user_id="new", text="ik wil meer bewegen"))
    with database.session() as session:
        coordinator = session.scalar(select(User).where(User.channel_user_id == "new"))
        coordinator.role = "coordinator"
        session.commit()
    clock.advance(timedelta(days=15))  # 'old' is 35 days old, 'new' 15
    scheduler = ReminderScheduler(database, clock, settings)
    counts = scheduler.maintenance()
    assert counts["conversations"] == 1 and counts["rsvps"] == 1
    from bot.floor.models import Conversation

    with database.session() as session:
        assert [c.chat_id for c in session.scalars(select(Conversation))] == ["new"]
    assert counts["freshness_reminders"] == 1
    report = next(r for r in reminders_and_more(database) if r.idempotency_key.startswith("freshness:"))
    assert "niet zijn gecontroleerd" in report.text and report.chat_id == "new"
    assert scheduler.maintenance()["freshness_reminders"] == 0  # once a month
    database.dispose()


def reminders_and_more(database) -> list[OutboxMessage]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage)))


def test_agenda_in_chat(tmp_path, nlu):
    from bot.app import open_database
    from bot.core import Wijkbot
    from bot.floor.config import Settings
    from bot.floor.messages import Incoming

    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    clock = FixedClock(local(2027, 3, 1, 9, 0))
    setup(database, clock)
    bot = Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    text = bot.handle(Incoming(channel="telegram", chat_id="p0", user_id="p0", text="/agenda"))[0].text
    assert "- dinsdag 9 maart, 14.00 uur: MDO ouderen (Gezondheidscentrum)" in text
    # a resident sees only what is for residents: not the professionals' MDO, nor their deadlines
    text = bot.handle(Incoming(channel="telegram", chat_id="a", user_id="a", text="/agenda"))[0].text
    assert "MDO ouderen" not in text and "niets op de agenda" in text
    database.dispose()


# --- RSVP, participants, changes, and the live scheduler ------------------------------------------------


class RecordingChannel:
    """Stands in for a chat network: accepts every message and keeps what it was given."""

    def __init__(self):
        self.sent: list[tuple[str, str, list]] = []

    async def send(self, chat_id, text, buttons):
        from bot.delivery import SendResult

        self.sent.append((chat_id, text, buttons))
        return SendResult(ok=True)


def deliver(database, clock, channel="telegram") -> RecordingChannel:
    import asyncio

    from bot.delivery import Limits, OutboxSender

    network = RecordingChannel()
    sender = OutboxSender(database, channel, network.send, Limits(per_second=100, per_chat_interval=0), clock=clock)
    asyncio.run(sender.run_once())
    return network


def chat_bot(tmp_path, nlu, clock):
    from bot.app import open_database
    from bot.core import Wijkbot
    from bot.floor.config import Settings

    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    return Wijkbot(database, clock=clock, settings=settings, nlu=nlu)


def press(bot, who: str, value: str) -> str:
    from bot.floor.messages import Incoming

    return bot.handle(Incoming(channel="telegram", chat_id=who, user_id=who, button=value))[-1].text


def say(bot, who: str, text: str):
    from bot.floor.messages import Incoming

    return bot.handle(Incoming(channel="telegram", chat_id=who, user_id=who, text=text))[-1]


def test_rsvp_buttons_record_one_answer_per_person_and_the_coordinator_sees_the_tally(tmp_path, nlu):
    clock = FixedClock(local(2027, 4, 12, 14, 0))
    bot = chat_bot(tmp_path, nlu, clock)
    setup(bot.database, clock)
    ReminderScheduler(bot.database, clock).run_due()
    network = deliver(bot.database, clock)
    assert [chat for chat, _, _ in network.sent] == ["p0", "p1"]
    _, text, buttons = network.sent[0]
    yes, no, maybe = (b.value for b in buttons)
    assert "Komt u?" in text and [b.label for b in buttons] == ["Ik kom", "Ik kom niet", "Misschien"]
    assert "Genoteerd: u komt naar MDO ouderen, dinsdag 13 april om 14.00 uur" in press(bot, "p0", yes)
    assert "komt niet" in press(bot, "p1", no)
    assert "misschien" in press(bot, "p1", maybe)  # a second answer replaces the first
    agenda = say(bot, "p1", "/agenda").text  # p1 is the coordinator
    assert "1 komen, 0 niet, 1 misschien (2 kregen een herinnering)" in agenda
    # a resident, not in the professionals' audience, cannot answer with a forged button
    assert "kan ik niet verwerken" in press(bot, "p2", yes)
    assert "knop werkt niet" in press(bot, "p0", "rsvp:1:garbage:yes")  # refused before it reaches the agenda
    assert "knop werkt niet" in press(bot, "p0", "rsvp:²:20270413T1200Z:yes")  # a digit str.isdigit lets through
    assert "knop werkt niet" in press(bot, "p0", "rsvp:99999999999999999999:20270413T1200Z:yes")
    clock.set(local(2027, 4, 13, 14, 5))  # the meeting has begun
    assert "al begonnen of voorbij" in press(bot, "p0", no)
    from jobs.models import Rsvp

    with bot.database.session() as session:
        assert sorted(r.answer for r in session.scalars(select(Rsvp))) == ["maybe", "yes"]
    bot.database.dispose()


def test_cancel_and_move_tell_who_was_reminded_and_cancel_waiting_reminders(tmp_path, nlu):
    from jobs.agenda import occurrence_on
    from jobs.changes import cancel_occurrence, move_occurrence

    clock = FixedClock(local(2027, 4, 12, 14, 0))
    bot = chat_bot(tmp_path, nlu, clock)
    setup(bot.database, clock)
    ReminderScheduler(bot.database, clock).run_due()
    deliver(bot.database, clock)  # the 1d reminder for 13 April went to p0 and p1
    press(bot, "p0", "rsvp:1:20270413T1200Z:yes")
    with bot.database.session() as session:
        series = session.get(MeetingSeries, 1)
        occurrence = occurrence_on(session, series, date(2027, 4, 13))
        moved, told = move_occurrence(session, series, occurrence, local(2027, 4, 14, 15, 0), clock.now())
        session.commit()
    assert told == 2 and moved.start == local(2027, 4, 14, 15, 0)
    network = deliver(bot.database, clock)
    assert {chat for chat, _, _ in network.sent} == {"p0", "p1"}
    notice, buttons = network.sent[0][1], network.sent[0][2]
    assert notice.startswith(
        "Verplaatst: MDO ouderen is nu woensdag 14 april om 15.00 uur (was dinsdag 13 april om 14.00 uur)"
    )
    assert buttons[0].value == "rsvp:1:20270413T1200Z:yes"  # the same occurrence, asked again
    from jobs.models import Rsvp

    with bot.database.session() as session:
        assert session.scalar(select(Rsvp)) is None  # the answer was for another time
    # reminders for the new time (the 1d one late, nothing ran since), then a cancellation before they are sent
    clock.set(local(2027, 4, 14, 13, 0))
    assert ReminderScheduler(bot.database, clock).run_due() == (4, 0)
    with bot.database.session() as session:
        series = session.get(MeetingSeries, 1)
        occurrence = occurrence_on(session, series, date(2027, 4, 14))  # found on the date it was moved to
        assert cancel_occurrence(session, series, occurrence, clock.now()) == 2  # both were told of the move
        session.commit()
    network = deliver(bot.database, clock)
    assert [t for _, t, _ in network.sent] == ["Gaat niet door: MDO ouderen, woensdag 14 april om 15.00 uur."] * 2
    statuses = [r.status for r in reminders(bot.database) if "20270414T1300" in r.idempotency_key]
    assert statuses == ["cancelled"] * 4  # never sent
    assert "gaat niet door" in press(bot, "p0", "rsvp:1:20270413T1200Z:yes").lower()
    bot.database.dispose()


def test_participants_narrow_who_is_reminded(database):
    from jobs.changes import add_series
    from jobs.participants import UnknownParticipants
    from socialekaart.models import Organization

    clock = FixedClock(local(2027, 4, 1, 9, 0))
    with database.session() as session:
        session.add(Organization(id="org-ha", name="Huisartsenpraktijk De Vlinderhof"))
        session.add(Organization(id="org-tz", name="Thuiszorg Oost"))
        users = []
        for n, org in enumerate(("Huisartsenpraktijk De Vlinderhof", "thuiszorg  oost", None, "Elders")):
            user = User(
                channel="telegram",
                channel_user_id=f"u{n}",
                chat_id=f"u{n}",
                role="professional",
                organization=org,
                created_at=clock.now(),
                last_seen_at=clock.now(),
            )
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, topic="meetings"))
            users.append(user)
        session.flush()
        try:
            add_series(
                session,
                title="MDO",
                rrule="FREQ=WEEKLY;BYDAY=TU",
                start_local="2027-04-06T14:00",
                duration_minutes=60,
                remind=["1d"],
                participants=["Huisartspraktijk Vlinderhof"],
                now=clock.now(),
            )
        except UnknownParticipants as exc:
            assert exc.problems[0][2][0] == "Huisartsenpraktijk De Vlinderhof"  # the nearest name is suggested
        else:
            raise AssertionError("an unknown organisation is refused")
        add_series(
            session,
            title="MDO",
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local="2027-04-06T14:00",
            duration_minutes=60,
            remind=["1d"],
            now=clock.now(),
            participants=["Huisartsenpraktijk De Vlinderhof", "org-tz", "telegram:u2"],
        )
        session.commit()
    clock.set(local(2027, 4, 5, 14, 0))
    assert ReminderScheduler(database, clock).run_due() == (3, 0)
    assert sorted(r.chat_id for r in reminders(database)) == ["u0", "u1", "u2"]  # not u3, of another organisation


def test_the_watermark_waits_for_a_job_that_has_not_run_so_a_crash_loses_nothing(database):
    clock = FixedClock(local(2027, 4, 12, 9, 0))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    scheduler.run_due()
    scheduler.sync_jobs()  # series:1 is due Monday 12 April 14:00 (1d before the MDO)
    assert scheduler._next["series:1"] == local(2027, 4, 12, 14, 0)
    clock.set(local(2027, 4, 12, 14, 30))  # its job has not run yet (say the process is busy) ...
    scheduler.sweep()
    assert scheduler.watermark() == local(2027, 4, 12, 14, 0)  # ... so the watermark stays before it
    # the process dies here; the next one catches up from the watermark
    assert ReminderScheduler(database, clock).run_due() == (2, 0)
    assert all("later dan gepland" in r.text for r in reminders(database))


def run_as_apscheduler(aps, job_id: str) -> None:
    """Run one job the way APScheduler 3 does when its time has come (BaseScheduler._process_jobs, then
    the executor): the job moves on to its trigger's next time, or leaves the store when there is none
    (a DateTrigger's), and apscheduler.executors.base.run_job calls it. Here on the test's thread at the
    moment the test chooses, instead of on the worker thread at a wall-clock time."""
    from apscheduler.executors.base import run_job

    job = aps.get_job(job_id)
    run_time = job.next_run_time
    following = job.trigger.get_next_fire_time(run_time, run_time)
    if following:
        aps.modify_job(job_id, next_run_time=following)
    else:
        aps.remove_job(job_id)
    for event in run_job(job, "default", [run_time], "apscheduler.executors.default"):
        if getattr(event, "exception", None) is not None:
            raise event.exception


def due_reminder_jobs(aps, now: datetime) -> list[str]:
    return [job.id for job in aps.get_jobs() if job.id.startswith("reminders:") and job.next_run_time <= now]


def test_apscheduler_fires_jobs_with_deterministic_ids_and_picks_up_changes(database):
    """The real APScheduler, started paused on an injected clock: a job per reminder time, with the time
    as its id, run when the clock reaches it, the item moved on to its next time, changes picked up."""
    import asyncio

    from jobs.changes import add_deadline, add_series, move_deadline

    clock = FixedClock(local(2027, 4, 12, 9, 0))  # Monday morning
    with database.session() as session:
        user = User(
            channel="telegram",
            channel_user_id="p",
            chat_id="p",
            role="professional",
            created_at=clock.now(),
            last_seen_at=clock.now(),
        )
        session.add(user)
        session.flush()
        session.add(Subscription(user_id=user.id, topic="meetings"))
        add_series(
            session,
            title="Netwerk",
            rrule="FREQ=DAILY;COUNT=3",
            duration_minutes=60,
            remind=["1d"],
            start_local="2027-04-13T14:00",
            now=clock.now(),
        )
        session.commit()
    first = local(2027, 4, 12, 14, 0)  # the 1d reminder of Tuesday's meeting
    second = first + timedelta(days=1)  # and of Wednesday's

    async def scenario():
        scheduler = ReminderScheduler(database, clock)
        scheduler.start(paused=True)  # APScheduler holds the jobs; this test runs them
        aps = scheduler.scheduler
        try:
            run_as_apscheduler(aps, "agenda:start")  # the start-up work is the first job
            assert scheduler._next == {"series:1": first}
            ids = sorted(j.id for j in aps.get_jobs())
            assert ids == [
                "agenda:sweep",
                "conversations:expire",
                "handoffs:due",
                "maintenance:daily",
                "providers:check",
                ReminderScheduler.job_id(first),
                "safety:followup",
            ]
            reminder = next(i for i in ids if i.startswith("reminders:"))  # other jobs sort around it
            assert reminder == "reminders:20270412T120000Z"  # deterministic: the time, in UTC
            assert aps.get_job(reminder).next_run_time == first  # when the injected clock says, not the wall clock
            clock.set(first - timedelta(seconds=1))
            assert due_reminder_jobs(aps, clock.now()) == []
            assert reminders(database) == []
            clock.set(first)
            assert due_reminder_jobs(aps, clock.now()) == [reminder]
            run_as_apscheduler(aps, reminder)
            assert len(reminders(database)) == 1
            assert scheduler._next["series:1"] == second  # moved on: a job for the next occurrence's reminder
            assert aps.get_job(ReminderScheduler.job_id(second)).next_run_time == second
            assert aps.get_job(ReminderScheduler.job_id(first)) is None
            assert due_reminder_jobs(aps, clock.now()) == []
            # a change in this process (here: a deadline) is picked up at once by the job changed() adds
            with database.session() as session:
                add_deadline(session, title="Wijkplan", due=date(2027, 5, 12), remind=["7d"], now=clock.now())
                session.commit()
            scheduler.changed()
            run_as_apscheduler(aps, "agenda:changed")
            deadline_at = local(2027, 5, 5, 9, 0)  # 7 days before, at 09:00
            assert scheduler._next["deadline:1"] == deadline_at
            assert aps.get_job(ReminderScheduler.job_id(deadline_at)).next_run_time == deadline_at
            # one made by another process (say the CLI: the deadline a week later) by the sweep of every minute
            with database.session() as session:
                move_deadline(session, 1, date(2027, 5, 19), clock.now())
                session.commit()
            run_as_apscheduler(aps, "agenda:sweep")
            moved_at = local(2027, 5, 12, 9, 0)
            assert scheduler._next["deadline:1"] == moved_at
            assert aps.get_job(ReminderScheduler.job_id(moved_at)).next_run_time == moved_at
            assert aps.get_job(ReminderScheduler.job_id(deadline_at)) is None  # the old time's job is gone
        finally:
            scheduler.shutdown()
        again = ReminderScheduler(database, clock)  # restarted: nothing twice
        assert again.run_due() == (0, 0)

    asyncio.run(scenario())
    assert len(reminders(database)) == 1


def test_a_moved_deadline_is_reminded_again_for_its_new_date_and_a_cancelled_one_is_gone(database):
    from jobs.changes import cancel_deadline, move_deadline

    clock = FixedClock(local(2027, 9, 8, 9, 0))  # 7 days before the wijkplan deadline
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    assert scheduler.run_due() == (2, 0)
    with database.session() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.status = "sent"  # delivered
        moved, told = move_deadline(session, 1, date(2027, 10, 1), clock.now())
        session.commit()
    assert told == 2 and moved.due == date(2027, 10, 1)
    notices = [r.text for r in reminders_and_more(database) if r.idempotency_key.startswith("notice:deadline:")]
    assert (
        notices
        == ["Verschoven: deadline Wijkplan 2027 indienen is nu op vrijdag 1 oktober (was woensdag 15 september)."] * 2
    )
    clock.set(local(2027, 9, 24, 9, 0))  # 7 days before the new date: reminded again
    assert scheduler.run_due() == (2, 4)  # (the MDO of 14 September passed meanwhile: its 2 x 2 dropped)
    assert "vrijdag 1 oktober" in reminders(database)[-1].text
    with database.session() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.status = "sent"
        title, told = cancel_deadline(session, 1, clock.now())
        session.commit()
    assert (title, told) == ("Wijkplan 2027 indienen", 2)
    assert "Vervalt: deadline Wijkplan 2027 indienen op vrijdag 1 oktober." in [
        r.text for r in reminders_and_more(database)
    ]
    clock.set(local(2027, 9, 30, 9, 0))
    assert scheduler.run_due() == (0, 0)  # its 1d reminder is gone with it
