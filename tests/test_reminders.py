"""Reminders with an injected clock: exactly once, DST, restart, downtime catch-up, deadlines done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.clock import LOCAL_TZ, FixedClock
from bot.models import OutboxMessage, Subscription, UsageStat, User
from jobs.models import Deadline, MeetingSeries
from jobs.scheduler import ReminderScheduler


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def setup(database, clock):
    with database.session() as session:
        session.add(MeetingSeries(title="MDO ouderen", rrule="FREQ=MONTHLY;BYDAY=2TU", start_local="2027-01-12T14:00",
                                  timezone="Europe/Amsterdam", duration_minutes=90, location="Gezondheidscentrum",
                                  audience="professionals", remind=["1d", "2h"], created_at=clock.now()))
        session.add(Deadline(title="Wijkplan 2027 indienen", due=date(2027, 9, 15), remind=["7d", "1d"],
                             created_at=clock.now()))
        for n, role in enumerate(("professional", "coordinator", "resident")):
            user = User(channel="telegram", channel_user_id=f"p{n}", chat_id=f"p{n}", role=role,
                        created_at=clock.now(), last_seen_at=clock.now())
            session.add(user)
            session.flush()
            session.add(Subscription(user_id=user.id, topic="meetings"))
        session.commit()


def reminders(database) -> list[OutboxMessage]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("reminder:%"))
                                    .order_by(OutboxMessage.id)))


def test_exactly_once_in_local_time_across_dst_and_a_restart(database):
    clock = FixedClock(local(2027, 4, 12, 13, 59))
    setup(database, clock)
    scheduler = ReminderScheduler(database, clock)
    assert scheduler.run_due() == (0, 0)
    clock.set(local(2027, 4, 12, 14, 0))  # one day before Tuesday 13 April 14:00 (summer time)
    assert scheduler.run_due() == (2, 0)  # two professionals; the resident is not in the audience
    assert scheduler.run_due() == (0, 0)  # never twice
    texts = [r.text for r in reminders(database)]
    assert texts[0] == "Herinnering: MDO ouderen, dinsdag 13 april om 14.00 uur, Gezondheidscentrum."
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
    from bot.config import Settings
    from bot.core import Wijkbot
    from bot.messages import Incoming

    settings = Settings(data_dir=tmp_path / "data", retention_days=30, freshness_months=6)
    database = open_database(settings)  # with the demo map, some of it not checked for months
    clock = FixedClock(local(2026, 12, 1, 10, 0))
    bot = Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    bot.handle(Incoming(channel="telegram", chat_id="old", user_id="old", text="ik heb schulden"))
    clock.advance(timedelta(days=20))
    bot.handle(Incoming(channel="telegram", chat_id="new", user_id="new", text="ik wil meer bewegen"))
    with database.session() as session:
        coordinator = session.scalar(select(User).where(User.channel_user_id == "new"))
        coordinator.role = "coordinator"
        session.commit()
    clock.advance(timedelta(days=15))  # 'old' is 35 days old, 'new' 15
    scheduler = ReminderScheduler(database, clock, settings)
    counts = scheduler.maintenance()
    assert counts["conversations"] == 1
    from bot.models import Conversation

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
    from bot.config import Settings
    from bot.core import Wijkbot
    from bot.messages import Incoming

    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    clock = FixedClock(local(2027, 3, 1, 9, 0))
    setup(database, clock)
    bot = Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    text = bot.handle(Incoming(channel="telegram", chat_id="a", user_id="a", text="/agenda"))[0].text
    assert "- dinsdag 9 maart, 14.00 uur: MDO ouderen (Gezondheidscentrum)" in text
    database.dispose()
