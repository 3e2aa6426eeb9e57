"""The coordinator's agenda in chat: add, cancel and move meetings, add deadlines and mark them done."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.floor.messages import Incoming
from bot.floor.models import User
from jobs.agenda import upcoming
from jobs.models import Deadline, MeetingSeries, SeriesParticipant


def chat(bot, text: str = "", button: str | None = None, who: str = "coord"):
    return bot.handle(Incoming(channel="telegram", chat_id=who, user_id=who, text=text, button=button))[-1]


def values(reply) -> list[str]:
    return [b.value for b in reply.buttons]


def make_coordinator(bot, who: str = "coord") -> None:
    chat(bot, "/start", who=who)
    with bot.database.session() as session:
        session.scalar(select(User).where(User.channel_user_id == who)).role = "coordinator"
        session.commit()


def test_a_coordinator_adds_a_monthly_mdo_in_chat(bot):
    changes = []
    bot.on_agenda_change = lambda: changes.append(1)
    make_coordinator(bot)
    menu = chat(bot, "/agenda")
    assert "agenda:new_meeting" in values(menu) and "agenda:cancel_meeting" in values(menu)
    assert "Hoe heet het overleg?" in chat(bot, button="agenda:new_meeting").text
    assert "Wanneer" in chat(bot, "MDO kwetsbare ouderen").text
    again = chat(bot, "woensdag 12 januari 14:00")  # 12 January 2027 is a Tuesday
    assert "12 januari 2027 is een dinsdag, geen woensdag." in again.text and "agenda:stop" in values(again)
    assert "voorbij" in chat(bot, "1 december 2026 9:00").text  # the clock says 1 December 10:00
    repeat = chat(bot, "dinsdag 12 januari 14.00")
    assert "agenda:repeat:monthly" in values(repeat)
    assert "Elke maand op de tweede dinsdag" in [b.label for b in repeat.buttons]
    chat(bot, button="agenda:repeat:monthly")
    chat(bot, "90m")
    chat(bot, "Gezondheidscentrum De Vlinderhof")
    participants = chat(bot, button="agenda:audience:professionals")
    assert "Welke organisaties" in participants.text
    typo = chat(bot, "Huisartspraktijk Vlinderhof")
    assert '"Huisartspraktijk Vlinderhof" staat niet op de sociale kaart.' in typo.text
    assert "Bedoelt u: Huisartsenpraktijk De Vlinderhof" in typo.text
    chat(bot, "Huisartsenpraktijk De Vlinderhof")
    preview = chat(bot, "7d, 1d, 2h")
    assert "dinsdag 12 januari 2027 om 14.00 uur, elke maand op de tweede dinsdag" in preview.text
    assert "Duur: 1 uur en 30 minuten" in preview.text and "7 dagen, 1 dag, 2 uur van tevoren" in preview.text
    assert changes == []  # nothing saved before Opslaan
    assert "Opgeslagen: MDO kwetsbare ouderen" in chat(bot, button="agenda:save").text
    assert changes == [1]  # the scheduler is told once, after the commit
    with bot.database.session() as session:
        series = session.scalar(select(MeetingSeries))
        assert (series.rrule, series.start_local, series.duration_minutes, series.remind) == (
            "FREQ=MONTHLY;BYDAY=2TU",
            "2027-01-12T14:00",
            90,
            ["7d", "1d", "2h"],
        )
        assert session.scalar(select(SeriesParticipant.organization_name)) == "Huisartsenpraktijk De Vlinderhof"
    # an old button of the finished dialogue does nothing
    assert "staat niet meer op de agenda" in chat(bot, button="agenda:save").text


def test_stop_saves_nothing_and_others_cannot_edit_the_agenda(bot):
    make_coordinator(bot)
    chat(bot, button="agenda:new_meeting")
    chat(bot, "Netwerkbijeenkomst")
    assert "Gestopt" in chat(bot, button="agenda:stop").text
    with bot.database.session() as session:
        assert session.scalar(select(MeetingSeries)) is None
    chat(bot, "/start", who="resident")
    assert "alleen de coördinator" in chat(bot, "/agenda nieuw", who="resident").text
    assert "alleen de coördinator" in chat(bot, button="agenda:new_meeting", who="resident").text
    assert "agenda:new_meeting" not in values(chat(bot, "/agenda", who="resident"))


def test_deadline_added_in_chat_and_marked_done(bot):
    make_coordinator(bot)
    chat(bot, "/agenda deadline")
    chat(bot, "Wijkplan 2027 indienen")
    assert "Typ de datum zo" in chat(bot, "half september").text
    remind = chat(bot, "15 september 2027")
    assert "agenda:remind:deadline_default" in values(remind)
    chat(bot, button="agenda:remind:deadline_default")
    preview = chat(bot, button="agenda:owners")
    assert "Deadline: Wijkplan 2027 indienen" in preview.text and "woensdag 15 september 2027" in preview.text
    chat(bot, button="agenda:save")
    with bot.database.session() as session:
        deadline = session.scalar(select(Deadline))
        assert (deadline.due, deadline.remind) == (date(2027, 9, 15), ["30d", "14d", "7d", "1d"])
    pick = chat(bot, "/agenda klaar")
    assert values(pick)[0] == f"agenda:deadline_done:{deadline.id}"
    assert "staat op klaar" in chat(bot, button=values(pick)[0]).text
    with bot.database.session() as session:
        assert session.get(Deadline, deadline.id).done_at is not None


def test_cancel_and_move_one_occurrence_in_chat(bot):
    from jobs.changes import add_series

    make_coordinator(bot)
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
    pick = chat(bot, "/agenda afzeggen")
    assert pick.buttons[0].label == "di 8 dec 10.00 MDO jeugd"
    confirm = chat(bot, button=pick.buttons[0].value)
    assert "Weet u het zeker? MDO jeugd, dinsdag 8 december om 10.00 uur gaat dan niet door" in confirm.text
    assert "gaat niet door" in chat(bot, button=values(confirm)[0]).text
    pick = chat(bot, "/agenda verplaatsen")
    assert pick.buttons[0].label == "di 15 dec 10.00 MDO jeugd"
    assert "Naar welke dag" in chat(bot, button=pick.buttons[0].value).text
    confirm = chat(bot, "donderdag 17 december 15:30")
    assert "gaat van dinsdag 15 december om 10.00 uur naar donderdag 17 december om 15.30 uur" in confirm.text
    assert "Verplaatst: MDO jeugd is nu donderdag 17 december om 15.30 uur" in chat(bot, button="agenda:do_move").text
    with bot.database.session() as session:
        starts = [o.start.isoformat() for o in upcoming(session, bot.clock.now(), 25)]
    assert starts == ["2026-12-17T15:30:00+01:00", "2026-12-22T10:00:00+01:00"]


def test_the_console_shows_a_reminder_between_turns_and_a_number_answers_it(bot):
    import io

    from bot.console import run_console
    from bot.floor.network import subscribe
    from jobs.changes import add_series
    from jobs.models import Rsvp
    from jobs.scheduler import ReminderScheduler

    with bot.database.session() as session:
        anna = User(
            channel="console",
            channel_user_id="anna",
            chat_id="anna",
            role="professional",
            created_at=bot.clock.now(),
            last_seen_at=bot.clock.now(),
        )
        session.add(anna)
        session.flush()
        subscribe(session, anna, "meetings")
        add_series(
            session,
            title="Netwerkbijeenkomst",
            rrule="FREQ=DAILY;COUNT=1",
            start_local="2026-12-02T10:00",
            duration_minutes=60,
            remind=["1d"],
            now=bot.clock.now(),
        )
        session.commit()
    assert ReminderScheduler(bot.database, bot.clock).run_due() == (1, 0)  # due now: 1 December 10:00
    shown = io.StringIO()
    run_console(bot, io.StringIO("1\n/stop\n"), shown, user="anna")
    text = shown.getvalue()
    assert "Herinnering: Netwerkbijeenkomst, woensdag 2 december om 10.00 uur. Komt u?" in text
    assert "[1] Ik kom" in text and "Genoteerd: u komt naar Netwerkbijeenkomst" in text
    with bot.database.session() as session:
        assert session.scalar(select(Rsvp.answer)) == "yes"
    shown = io.StringIO()
    run_console(bot, io.StringIO("/stop\n"), shown, user="anna")
    assert "Herinnering" not in shown.getvalue()  # shown once


def test_a_deadline_moved_and_cancelled_in_chat(bot):
    from jobs.changes import add_deadline

    make_coordinator(bot)
    with bot.database.session() as session:
        add_deadline(session, title="Wijkplan 2027 indienen", due=date(2027, 9, 15), remind=["7d"], now=bot.clock.now())
        session.commit()
    menu = chat(bot, "/agenda")
    assert "agenda:deadline_change" in values(menu)
    pick = chat(bot, button="agenda:deadline_change")
    what = chat(bot, button=values(pick)[0])
    assert "Wat wilt u doen met deadline Wijkplan 2027 indienen (woensdag 15 september 2027)?" in what.text
    assert [b.label for b in what.buttons] == ["Klaar", "Andere datum", "Vervalt", "Stoppen"]
    assert "nieuwe datum" in chat(bot, button=what.buttons[1].value).text
    confirm = chat(bot, "1 oktober 2027")
    assert "gaat van woensdag 15 september 2027 naar vrijdag 1 oktober 2027" in confirm.text
    assert "is nu op vrijdag 1 oktober 2027" in chat(bot, button="agenda:deadline_do_move").text
    with bot.database.session() as session:
        assert session.scalar(select(Deadline.due)) == date(2027, 10, 1)
    what = chat(bot, button=values(chat(bot, "/agenda wijzigen"))[0])
    sure = chat(bot, button=what.buttons[2].value)
    assert "Weet u het zeker? Deadline Wijkplan 2027 indienen (vrijdag 1 oktober 2027) vervalt dan" in sure.text
    assert "vervalt" in chat(bot, button=values(sure)[0]).text
    with bot.database.session() as session:
        assert session.scalar(select(Deadline)) is None
    assert "staat niet meer op de agenda" in chat(bot, button=values(sure)[0]).text  # pressed twice
