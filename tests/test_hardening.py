"""Hardening: each crash and leak found by trying Wijkbot as an attacker and a careless user would
(issue 11), as a test that failed before the fix. What is asserted is what a user notices: a reply,
a clear line, nothing stored that should not be."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from bot.actions import ForgedButton, parse_button
from bot.clock import parse_duration
from bot.messages import Incoming
from bot.models import UsageStat, User
from jobs.changes import add_series
from jobs.models import MeetingSeries
from jobs.reminders import lead_times


def chat(bot, text: str = "", button: str | None = None, who: str = "coord", chat_id: str | None = None,
         group: bool = False):
    return bot.handle(Incoming(channel="telegram", chat_id=chat_id or who, user_id=who, text=text, button=button,
                               group=group))


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

@pytest.mark.parametrize("value", [
    "rsvp:²:20270413T1200Z:yes", "rsvp:1:20270413T1200Z:yes:extra", "agenda:deadline_pick:99999999999999",
    "agenda:deadline_pick:٣", "agenda:pick_move:1:20271399T9999Z", "stream:<b>zorg</b>", "stream:" + "x" * 300,
    "safety:yes", "human:now", "nonsense", "", "agenda:save:1", "subscribe:everything", "followup:maybe",
])
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
        add_series(session, title="MDO jeugd", rrule="FREQ=WEEKLY;BYDAY=TU", start_local="2026-12-08T10:00",
                   duration_minutes=60, now=bot.clock.now())
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
        add_series(session, title="MDO", rrule="FREQ=WEEKLY;BYDAY=TU", start_local="2026-12-08T10:00",
                   duration_minutes=60, remind=["1d"], now=bot.clock.now())
        session.flush()
        session.scalar(select(MeetingSeries)).remind = ["999999d", "1d"]
        session.commit()
    assert [lead for lead, _ in lead_times(["999999d", "1d"])] == ["1d"]
    from jobs.scheduler import ReminderScheduler

    scheduler = ReminderScheduler(bot.database, clock=bot.clock, settings=bot.settings)
    assert scheduler.next_times()  # planning works; before, every run raised OverflowError
