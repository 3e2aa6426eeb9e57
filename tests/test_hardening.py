"""Hardening: each crash and leak found by trying Wijkbot as an attacker and a careless user would
(issue 11), as a test that failed before the fix. What is asserted is what a user notices: a reply,
a clear line, nothing stored that should not be."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.actions import ForgedButton, parse_button
from bot.floor.clock import parse_duration
from bot.floor.messages import Incoming
from bot.floor.models import UsageStat, User
from jobs.changes import add_series
from jobs.models import MeetingSeries
from jobs.reminders import lead_times


def chat(
    bot, text: str = "", button: str | None = None, who: str = "coord", chat_id: str | None = None, group: bool = False
):
    return bot.handle(
        Incoming(channel="telegram", chat_id=chat_id or who, user_id=who, text=text, button=button, group=group)
    )


def last(replies) -> str:
    return replies[-1].text


def make(bot, who: str, role: str) -> None:
    chat(bot, "/start", who=who)
    with bot.database.session() as session:
        session.scalar(select(User).where(User.channel_user_id == who)).role = role
        session.commit()


def stats(bot) -> dict[str, int]:
    with bot.database.session() as session:
        return {s.kind: s.count for s in session.scalars(select(UsageStat))}


# --- one validation layer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "rsvp:²:20270413T1200Z:yes",
        "rsvp:1:20270413T1200Z:yes:extra",
        "agenda:deadline_pick:99999999999999",
        "agenda:deadline_pick:٣",
        "agenda:pick_move:1:20271399T9999Z",
        "stream:<b>zorg</b>",
        "stream:" + "x" * 300,
        "safety:yes",
        "human:now",
        "nonsense",
        "",
        "agenda:save:1",
        "subscribe:everything",
        "followup:maybe",
    ],
)
def test_forged_button_values_do_not_parse(value):
    with pytest.raises(ForgedButton):
        parse_button(value)


def test_a_forged_button_gets_one_clear_line_and_nothing_counted(bot):
    for value in ("rsvp:²:20270413T1200Z:yes", "agenda:deadline_pick:99999999999999", "stream:anything_i_like"):
        replies = chat(bot, button=value, who="eve")
        assert "Deze knop werkt niet (meer)" in last(replies)
    assert not [k for k in stats(bot) if "anything" in k]


def test_a_forged_answer_to_a_pending_question_is_not_stored_or_counted(bot):
    replies = chat(bot, "ik zoek hulp", who="eve")  # vague: a question with buttons waits
    assert replies[-1].buttons
    pending = replies[-1].buttons[0].value.split(":")[0]
    assert "Deze knop werkt niet" in last(chat(bot, button=f"{pending}:my_own_words", who="eve"))
    assert not [k for k in stats(bot) if "my_own_words" in k]
    # the real answer still works after the forged one
    assert last(chat(bot, button=replies[-1].buttons[0].value, who="eve"))


def test_a_failure_inside_becomes_a_polite_reply_with_an_error_id_and_no_text_in_the_log(bot, caplog):
    with bot.database.session() as session:  # a real failure: the statistics table is gone
        session.execute(text("DROP TABLE usage_stat"))
        session.commit()
    with caplog.at_level(logging.INFO):
        replies = chat(bot, "ik zoek een huisarts voor mijn moeder", who="eve")
    assert len(replies) == 1 and "dat ging mis" in last(replies).lower()
    error_id = last(replies).rsplit("foutcode ", 1)[1].rstrip(")")
    assert any(error_id in r.getMessage() for r in caplog.records)
    assert not any("moeder" in r.getMessage() for r in caplog.records)
    emergency = chat(bot, "mijn man is bewusteloos en ademt niet", who="eve")  # even now, 112 comes first
    assert "112" in last(emergency) and "ging mis" in last(emergency)


# --- the agenda wizard and bounded durations ---------------------------------------------------------


def test_typed_text_at_the_move_confirmation_shows_the_buttons_again(bot):
    make(bot, "coord", "coordinator")
    with bot.database.session() as session:
        add_series(
            session,
            title="MDO jeugd",
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local="2026-12-08T10:00",
            duration_minutes=60,
            now=bot.clock.now(),
        )
        session.commit()
    pick = chat(bot, "/agenda verplaatsen")[-1]
    chat(bot, button=pick.buttons[0].value)
    chat(bot, "donderdag 17 december 15:30")
    reply = chat(bot, "ja")[-1]
    assert "Kies een knop" in reply.text and "agenda:do_move" in [b.value for b in reply.buttons]
    assert "Verplaatst" in last(chat(bot, button="agenda:do_move"))


@pytest.mark.parametrize("typed", ["99999999999w", "999999d", "5000000000000000000000m", "400d"])
def test_durations_and_lead_times_are_bounded(typed):
    with pytest.raises(ValueError):
        parse_duration(typed)
    assert parse_duration("52w") == timedelta(weeks=52)


def test_a_huge_lead_time_in_chat_is_refused_and_one_saved_earlier_stops_no_reminder(bot):
    make(bot, "coord", "coordinator")
    chat(bot, button="agenda:new_deadline")
    chat(bot, "Wijkplan indienen")
    chat(bot, "1 maart 2027")
    assert "herinnering" in last(chat(bot, "999999d")).lower()  # asked again, not saved
    with bot.database.session() as session:  # as saved before the bound: skipped, the rest still fire
        add_series(
            session,
            title="MDO",
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local="2026-12-08T10:00",
            duration_minutes=60,
            remind=["1d"],
            now=bot.clock.now(),
        )
        session.flush()
        session.scalar(select(MeetingSeries)).remind = ["999999d", "1d"]
        session.commit()
    assert [lead for lead, _ in lead_times(["999999d", "1d"])] == ["1d"]
    from jobs.scheduler import ReminderScheduler

    scheduler = ReminderScheduler(bot.database, clock=bot.clock, settings=bot.settings)
    assert scheduler.next_times()  # planning works; before, every run raised OverflowError


# --- group chats ------------------------------------------------------------------------------------


def test_in_a_group_coordinator_flows_and_codes_are_private_and_everyone_has_their_own_dialogue(bot):
    make(bot, "coord", "coordinator")
    chat(bot, "/start", who="rita")
    grp = {"chat_id": "-100", "group": True}
    for command in ("/aankondiging Feest!", "/agenda nieuw", "/koppel", "/aanmelden ABCD-EFGH", "/terugkoppeling"):
        assert "privégesprek" in last(chat(bot, command, who="coord", **grp)), command
    assert "privégesprek" in last(chat(bot, button="announce:all", who="coord", **grp))
    assert "privégesprek" in last(chat(bot, button="agenda:new_meeting", who="coord", **grp))
    # a resident's vague question waits for her own answer; another person's words do not end up in it
    asked = chat(bot, "ik zoek hulp", who="rita", **grp)[-1]
    assert asked.buttons
    chat(bot, "ik zoek een huisarts", who="coord", **grp)
    assert "knop werkt niet" not in last(chat(bot, button=asked.buttons[0].value, who="rita", **grp))
    with bot.database.session() as session:  # the group is nobody's address for announcements
        assert session.scalar(select(User.chat_id).where(User.channel_user_id == "rita")) == "rita"
        chat(bot, "hallo", who="newbie", **grp)
        assert session.scalar(select(User.chat_id).where(User.channel_user_id == "newbie")) is None


def test_contact_persons_are_shown_to_a_professional_only_in_a_private_chat(bot):
    make(bot, "pro", "professional")
    private = last(chat(bot, "wie doet wat bij schulden?", who="pro"))
    in_group = last(chat(bot, "wie doet wat bij schulden?", who="pro", chat_id="-200", group=True))
    assert "privégesprek" in in_group and "privégesprek" not in private
    with bot.database.session() as session:
        from socialekaart.models import Contact

        names = [n for n in session.scalars(select(Contact.name)) if n]
    assert any(name in private for name in names) and not any(name in in_group for name in names)


def test_a_resident_cannot_find_out_where_a_named_professional_works(bot):
    from socialekaart.models import Contact

    with bot.database.session() as session:
        contacts = [(c.name, c.service_id) for c in session.scalars(select(Contact)) if c.name]
    index = bot.map.index()
    first = sum(
        1
        for name, service in contacts
        if (hits := index.search(f"wie doet wat: {name}", limit=1)) and hits[0].id == service
    )
    assert len(contacts) >= 5 and first <= 0.05 * len(contacts)
    make(bot, "pro", "professional")  # a professional still finds them
    found = sum(
        1
        for name, service in contacts
        if service in [h.id for h in index.search(f"wie doet wat: {name}", limit=3, contacts=True)]
    )
    assert found >= 0.9 * len(contacts)


# --- erasure and retention --------------------------------------------------------------------------

MARK = "Zwanenburgh"  # an unusual surname the person writes: it may stay nowhere after /vergeet


def cells_with(database, *needles: str) -> list[str]:
    """Every text cell of every table that holds one of the needles: table.column=value."""
    from sqlalchemy import JSON, String, Text

    from bot.floor.db import Base

    found = []
    with database.session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            for row in session.execute(select(*columns)) if columns else []:
                for column, value in zip(columns, row, strict=True):
                    if value is not None and any(n in str(value) for n in needles):
                        found.append(f"{table.name}.{column.name}={str(value)[:60]}")
    return found


def files_with(settings, needle: str) -> list[str]:
    return [p.name for p in settings.data_dir.glob("wijkbot.sqlite3*") if needle.encode() in p.read_bytes()]


def test_vergeet_erases_every_linked_account_and_every_chat_and_leaves_no_copy_in_a_file(bot):
    from bot.floor.network import subscribe

    make(bot, "anna", "professional")
    code = last(chat(bot, "/koppel", who="anna")).split("/koppel ")[-1].strip()
    bot.handle(Incoming(channel="matrix", chat_id="!dm:localhost", user_id="@anna:localhost", text=f"/koppel {code}"))
    chat(bot, f"ik zoek hulp voor mijn moeder mevrouw {MARK}", who="anna", chat_id="-300", group=True)
    chat(bot, f"mijn buurman {MARK} maakt veel lawaai", who="anna")
    chat(bot, "iets anders", who="bert", chat_id="-300", group=True)  # someone else in the group stays
    with bot.database.session() as session:
        subscribe(session, session.scalar(select(User).where(User.channel_user_id == "anna")), "events")
        session.commit()
    assert cells_with(bot.database, MARK, "@anna:localhost")
    chat(bot, "/vergeet", who="anna")
    assert "gewist" in last(chat(bot, button="forget:yes", who="anna"))
    assert cells_with(bot.database, MARK, "anna", "!dm:localhost") == []
    assert files_with(bot.settings, MARK) == []  # not in the database file, not in its write-ahead log
    with bot.database.session() as session:
        assert session.scalar(select(User).where(User.channel_user_id == "bert")) is not None


def test_the_need_text_goes_when_answered_and_when_the_conversation_ends(bot, clock):
    from jobs.scheduler import ReminderScheduler

    replies = chat(bot, f"ik zoek een fysiotherapeut voor mijn knie, ik heet {MARK}", who="anna")
    while "followup:yes" not in [b.value for b in replies[-1].buttons]:  # the questions asked, answered
        replies = chat(
            bot,
            "7541 XQ" if "postcode" in replies[-1].text else "",
            who="anna",
            button=None if "postcode" in replies[-1].text else replies[-1].buttons[0].value,
        )
    assert cells_with(bot.database, MARK, "7541XQ", "7541 XQ") == []  # answered: the words and the address are not kept
    replies = chat(bot, f"ik zoek hulp, groet {MARK}", who="anna")  # vague: a question waits, the words too
    assert replies[-1].buttons and cells_with(bot.database, MARK)
    clock.advance(timedelta(minutes=31))
    assert ReminderScheduler(bot.database, clock=clock, settings=bot.settings).expire() == 1
    assert cells_with(bot.database, MARK) == []
    assert "Welkom terug" in chat(bot, "hallo", who="anna")[0].text


def test_retention_runs_from_jobs_run_once_and_deletes_idle_users_and_their_outbox(bot, clock):
    """`jobs run --once` runs on the real clock: the rows are made 45 days older than now instead."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from bot.floor.models import Conversation, OutboxMessage
    from tests.test_cli import wijkbot

    chat(bot, f"ik zoek hulp, groet {MARK}", who="u7731")  # a question left waiting
    chat(bot, "/abonneren wijknieuws", who="subscriber")
    long_ago = datetime.now(UTC) - timedelta(days=45)
    with bot.database.session() as session:
        old = session.scalar(select(User).where(User.channel_user_id == "u7731"))
        session.add(
            OutboxMessage(
                idempotency_key="x:1",
                user_id=None,
                channel="telegram",
                chat_id="u7731",
                text=f"Herinnering {MARK}",
                status="sent",
                next_attempt_at=long_ago,
            )
        )
        session.add(
            OutboxMessage(
                idempotency_key="x:2",
                user_id=old.id,
                channel="telegram",
                chat_id="u7731",
                text="Herinnering",
                status="queued",
                next_attempt_at=long_ago,
            )
        )
        session.execute(update(User).values(last_seen_at=long_ago))
        session.execute(update(Conversation).values(updated_at=long_ago))
        session.commit()
    bot.database.dispose()
    result = wijkbot(bot.settings.data_dir.parent, "jobs", "run", "--once")
    assert result.returncode == 0, result.stderr.decode()
    assert "retention:" in result.stdout.decode()
    assert cells_with(bot.database, MARK, "u7731") == []
    assert files_with(bot.settings, MARK) == []
    with bot.database.session() as session:  # who asked to hear from us stays
        assert session.scalar(select(User).where(User.channel_user_id == "subscriber")) is not None


# --- codes and the rate limit, kept in the database -------------------------------------------------


def test_invite_codes_lock_out_after_ten_wrong_tries_an_hour_also_after_a_restart(bot, clock):
    from bot.core import Wijkbot
    from bot.floor.network import create_invite

    with bot.database.session() as session:
        code = create_invite(session, "professional", organization=None, valid_for=timedelta(days=2), now=clock.now())
        session.commit()
    for n in range(10):
        assert "werkt niet" in last(chat(bot, f"/aanmelden WRNG-{n:04d}", who="mallory"))
        clock.advance(timedelta(seconds=5))
    again = Wijkbot(bot.database, clock=clock, settings=bot.settings, nlu=bot.nlu)  # a restart
    assert "te vaak" in last(
        again.handle(Incoming(channel="telegram", chat_id="mallory", user_id="mallory", text=f"/aanmelden {code}"))
    )
    assert "te vaak" in last(chat(bot, "/koppel ABCD-EFGH", who="mallory"))
    clock.advance(timedelta(hours=1))
    assert "Gelukt" in last(chat(bot, f"/aanmelden {code}", who="mallory"))


def test_wrong_codes_from_many_accounts_lock_codes_for_everyone_for_an_hour(bot, clock):
    for n in range(100):
        chat(bot, f"/aanmelden WRNG-{n:04d}", who=f"bot{n // 9}")
    assert "te vaak" in last(chat(bot, "/aanmelden ABCD-EFGH", who="innocent"))
    clock.advance(timedelta(hours=1, seconds=1))
    assert "werkt niet" in last(chat(bot, "/aanmelden ABCD-EFGH", who="innocent"))


def test_the_rate_limit_survives_a_restart(bot, clock):
    from bot.core import Wijkbot

    for _ in range(20):
        chat(bot, "hallo", who="flood")
    again = Wijkbot(bot.database, clock=clock, settings=bot.settings, nlu=bot.nlu)
    reply = again.handle(Incoming(channel="telegram", chat_id="flood", user_id="flood", text="hallo"))
    assert "veel berichten" in last(reply)
    emergency = again.handle(
        Incoming(channel="telegram", chat_id="flood", user_id="flood", text="ik wil niet meer leven")
    )
    assert "113" in last(emergency)  # an emergency is never held back


def test_one_conversation_per_person_in_a_chat_and_scrub_on_sqlite_and_postgresql(database):
    from datetime import UTC, datetime

    from bot.floor.models import Conversation

    now = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    with database.session() as session:
        people = [User(channel="telegram", channel_user_id=f"p{n}", created_at=now, last_seen_at=now) for n in (1, 2)]
        session.add_all(people)
        session.flush()
        session.add_all(
            [Conversation(channel="telegram", chat_id="-1", user_id=p.id, state={}, updated_at=now) for p in people]
        )
        session.commit()
        assert len({c.id for c in session.scalars(select(Conversation))}) == 2
    database.scrub()  # SQLite: checkpoint; PostgreSQL: VACUUM outside a transaction


@pytest.mark.parametrize("number", ["²", "99999999999999999999", "-1", "١٢"])
def test_a_typed_announcement_number_out_of_range_gets_the_usage_line(bot, number):
    """Found by benchmarks/fuzz_core.py: "²" passed str.isdigit and int() raised."""
    make(bot, "coord", "coordinator")
    assert "status" in last(chat(bot, f"/aankondiging status {number}")).lower()
