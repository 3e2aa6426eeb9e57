"""The conversation core end to end through Wijkbot.handle, and through the console with piped stdin."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.console import run_console
from bot.core import Wijkbot
from bot.floor.messages import Incoming
from bot.floor.models import Conversation, UsageStat, User


def say(bot, text="", *, button=None, user="anna", chat="anna", channel="test"):
    return bot.handle(Incoming(channel=channel, chat_id=chat, user_id=user, text=text, button=button))


def values(replies) -> list[str]:
    return [b.value for b in replies[-1].buttons]


def test_first_reply_says_it_is_an_automated_assistant_once(bot):
    first = say(bot, "/start")
    assert "automatische assistent" in first[0].text
    second = say(bot, "/help")
    assert "automatische assistent" not in second[0].text


def test_a_clear_need_gets_one_question_then_three_services_with_how_to_reach_them(bot):
    replies = say(bot, "ik heb schulden en de deurwaarder stuurt brieven")
    assert "postcode" in replies[0].text
    assert {"dont_know", "human"} <= set(values(replies))
    answer = say(bot, "7543 AB")
    text = answer[0].text
    assert text.startswith("Dit kan u helpen") and text.count("\n1. ") + text.count("\n2. ") + text.count("\n3. ") == 3
    assert "bel 053-" in text
    assert "Heeft u hier iets aan?" in text
    assert values(answer) == ["followup:yes", "followup:no", "followup:wrong", "handoff:start", "report:start", "human"]
    assert "Fijn" in say(bot, button="followup:yes")[0].text


def test_a_vague_need_is_clarified_with_buttons_at_most_three_questions(bot):
    replies = say(bot, "ik zit ergens mee")
    asked = 0
    while replies[-1].buttons and replies[-1].buttons[0].value.split(":")[0] in (
        "stream",
        "topic",
        "for_whom",
        "postcode",
        "dont_know",
    ):
        asked += 1
        assert "human" in values(replies) and "dont_know" in values(replies)
        replies = say(bot, button=replies[-1].buttons[0].value)
    assert 1 <= asked <= 3
    assert "Dit kan u helpen" in replies[0].text or "niets" in replies[0].text


def test_a_postcode_in_the_message_is_never_asked_for(bot):
    replies = say(bot, "ik zoek een fysiotherapeut in de buurt van 7544 CD")
    assert "In welke buurt woont u" not in replies[0].text
    assert "Dit kan u helpen" in replies[0].text


def test_dont_know_moves_on_and_the_same_question_is_not_asked_twice(bot):
    replies = say(bot, "ik wil meer bewegen")
    assert "In welke buurt woont u" in replies[0].text
    replies = say(bot, button="dont_know")
    assert "Dit kan u helpen" in replies[0].text


def test_red_flags_come_first_and_stop_the_dialogue(bot):
    say(bot, "ik wil meer bewegen")  # a pending question ...
    replies = say(bot, "mijn man heeft ineens een scheve mond en praat raar")
    assert "112" in replies[0].text
    replies = say(bot, "ik zie het niet meer zitten")
    assert "113" in replies[0].text and "0800-0113" in replies[0].text


def test_talk_to_a_human(bot):
    replies = say(bot, button="human")
    assert "wijkinformatiepunt" in replies[0].text.lower()


def test_knowledge_questions_get_the_short_answer_and_a_link(bot):
    text = say(bot, "wat is een MDO?")[0].text
    assert "MDO" in text and "Meer lezen: https://" in text


def test_contact_persons_only_for_professionals(bot):
    question = "wie is de casemanager dementie"
    resident = say(bot, question, user="res", chat="res")[0].text
    assert "alleen voor aangemelde professionals" in resident
    with bot.database.session() as session:
        user = session.scalar(select(User).where(User.channel_user_id == "res"))
        user.role = "professional"
        session.commit()
    professional = say(bot, question, user="res", chat="res")[0].text
    assert "@" in professional and "alleen voor aangemelde professionals" not in professional


def test_state_survives_a_restart_and_expires_politely(bot, tmp_path, nlu, clock):
    say(bot, "ik wil meer bewegen")
    again = Wijkbot(bot.database, clock=clock, settings=bot.settings, nlu=nlu)  # a new process
    assert "Dit kan u helpen" in say(again, "7543AB")[0].text
    say(again, "ik wil meer bewegen")
    clock.advance(timedelta(minutes=31))
    replies = say(again, "hulp bij schulden")
    assert "Welkom terug" in replies[0].text


def test_vergeet_erases_everything_after_confirmation(bot):
    say(bot, "ik wil meer bewegen")
    replies = say(bot, "/vergeet")
    assert values(replies) == ["forget:yes", "forget:no"]
    assert "Goed, ik heb niets gewist" in say(bot, button="forget:no")[0].text
    say(bot, "/vergeet")
    assert "Ik heb alles gewist" in say(bot, button="forget:yes")[0].text
    with bot.database.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        assert session.scalar(select(func.count()).select_from(UsageStat)) > 0  # anonymous counts stay


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "x" * 20_000,
        "\x00\x01\x02\x03",
        "<b>hoi</b><script>x</script>",
        "**vet** [link](http://example.nl)",
        "/onbekend",
        "🙂 " * 3000,
    ],
)
def test_bad_input_gets_a_friendly_reply(bot, text):
    replies = say(bot, text)
    assert replies and replies[0].text.strip()
    assert "Traceback" not in replies[0].text


def test_rate_limit_per_user(bot):
    replies = [say(bot, "hoi") for _ in range(25)]
    assert "veel berichten" in replies[-1][0].text
    assert "veel berichten" not in say(bot, "hoi", user="bert", chat="bert")[0].text


def test_logs_never_contain_message_text(bot, caplog):
    secret = "mijnGeheimeKlachtXYZ"
    with caplog.at_level(logging.DEBUG):
        for text in (
            f"ik heb schulden {secret}",
            f"ik zie het niet meer zitten {secret}",
            f"wat is een MDO {secret}",
            "7543AB",
        ):
            say(bot, text)
    assert caplog.records, "the core should log events"
    assert all(secret not in r.getMessage() and "7543AB" not in r.getMessage() for r in caplog.records)


def test_console_with_piped_stdin(bot):
    out = io.StringIO()
    run_console(bot, io.StringIO("ik wil stoppen met roken\n1\n1\n/stop\n"), out, user="piet")
    text = out.getvalue()
    assert "automatische assistent" in text
    assert "[1] " in text and "postcode" in text
    assert "Dit kan u helpen" in text and "Fijn!" in text
    assert "Tot een volgende keer" in text


def _one_wijk_bot(tmp_path, nlu, clock, records):
    """A bot on a small map of one postcode area that none of the shipped data knows."""
    from bot.app import open_database
    from bot.floor.config import Settings
    from socialekaart.hsds import apply_records, validate_records

    settings = Settings(data_dir=tmp_path / "one", demo_map=False)
    database = open_database(settings)
    with database.session() as session:
        apply_records(session, validate_records(records), replace=True)
        session.commit()
    return Wijkbot(database, clock=clock, settings=settings, nlu=nlu), database


def test_a_need_that_names_no_service_is_answered_at_once_on_a_one_wijk_map(tmp_path, nlu, clock):
    from tests.records import service

    records = [
        service("De Vuurtoren", "Gesprekken met een psycholoog bij angst, paniek en somberheid."),
        service("Het Anker", "Fysiotherapie bij pijn in rug, nek en knieën."),
        service("Samen Aan Tafel", "Elke donderdag een warme maaltijd met buurtgenoten."),
        service("Het Loket", "Hulp bij brieven, formulieren en uw administratie."),
    ]
    bot, database = _one_wijk_bot(tmp_path, nlu, clock, records)
    try:
        # no word of it occurs on the map; the need model knows what kind of help this is
        replies = say(bot, "ik durf de supermarkt niet meer in, mijn hart gaat dan tekeer en ik wil wegrennen")
        text = replies[-1].text
        assert "postcode" not in text  # one postcode area: a postcode would change nothing
        assert "Dit kan u helpen" in text and "1. De Vuurtoren" in text
    finally:
        database.dispose()


def test_a_vague_opening_gets_a_question_about_what_it_is_about(bot):
    replies = say(bot, "ik weet niet zo goed bij wie ik moet zijn")
    assert replies[-1].text != "" and not replies[-1].text.startswith("Dit kan u helpen")
    assert any(v.startswith(("stream:", "topic:")) for v in values(replies))


def test_a_resident_who_writes_english_gets_english_questions_buttons_and_answers(bot):
    replies = say(bot, "hi, I don't know where to start")
    assert "I am Wijkbot" in replies[0].text and "What is your question mainly about?" in replies[0].text
    assert {b.label for b in replies[-1].buttons} >= {"Care or illness", "I don't know", "Talk to a person"}
    answer = say(bot, button="stream:care")
    if "topic:fysiotherapie" in values(answer):
        assert "Can you tell me a bit more?" in answer[-1].text
        answer = say(bot, button="topic:fysiotherapie")
    while "dont_know" in values(answer):
        assert {b.label for b in answer[-1].buttons} >= {"I don't know", "Talk to a person"}
        answer = say(bot, button="dont_know")
    assert "This can help you:" in answer[-1].text and "Was this useful?" in answer[-1].text
    assert [b.label for b in answer[-1].buttons] == [
        "Yes",
        "No",
        "Does not fit my question",
        "Ask someone to contact me",
        "Wrong details: report it",
        "Talk to a person",
    ]
    # the next resident writes Dutch and gets Dutch
    dutch = say(bot, "ik zoek een fysiotherapeut in de buurt van 7544 CD", user="bert", chat="bert")
    assert "Dit kan u helpen" in dutch[-1].text and "Heeft u hier iets aan?" in dutch[-1].text


def test_the_english_dialogue_translates_the_dutch_one_key_for_key():
    from intents.triage import Dialogue

    dialogue = Dialogue.load()
    assert dialogue.check() == []
    assert set(dialogue.english["texts"]) <= set(dialogue.texts)
    broken = Dialogue(
        dialogue.max_questions,
        dialogue.texts,
        dialogue.buttons,
        dialogue.questions,
        {"texts": {"answer_intro": "{oops} This can help you:", "no_such_key": "x"}},
    )
    assert len(broken.check()) == 2


def test_feedback_is_counted_anonymously_per_kind_of_need_and_shown_to_the_coordinator(bot):
    from bot.floor.models import FeedbackCount

    answer = say(bot, "ik zoek een fysiotherapeut in de buurt van 7544 CD")
    assert values(answer) == ["followup:yes", "followup:no", "followup:wrong", "handoff:start", "report:start", "human"]
    assert "Past niet bij mijn vraag" in [b.label for b in answer[-1].buttons]
    say(bot, button="followup:no")
    say(bot, button="followup:no")  # a second press of the old button counts nothing
    with bot.database.session() as session:
        rows = session.scalars(select(FeedbackCount)).all()
        assert len(rows) == 4 and all(r.not_helped == 1 and r.helped == 0 for r in rows)  # the answer + 3 shown
        assert {r.need for r in rows} == {"fysiotherapie"}  # a kind of need, never the text
    assert "coördinator" in say(bot, "/terugkoppeling")[0].text
    with bot.database.session() as session:
        session.get(User, session.scalar(select(User.id).where(User.channel_user_id == "anna"))).role = "coordinator"
        session.commit()
    report = say(bot, "/terugkoppeling")[0].text
    assert "fysiotherapie: 0 ja, 1 nee, 0 klopt niet" in report


def test_the_feedback_prior_is_bounded_however_many_answers():
    from bot.feedback import STRENGTH, factor

    assert factor(0, 0, 0) == 1.0
    assert 1.0 < factor(1, 0, 0) < factor(10, 0, 0) < factor(10_000, 0, 0) <= 1 + STRENGTH
    assert 1 - STRENGTH <= factor(0, 10_000, 10_000) < factor(0, 1, 0) < 1.0


def test_help_lists_the_commands_a_person_may_use_from_the_one_command_table(bot):
    from bot.flows.commands import COMMANDS, menu

    resident = say(bot, "/help")[0].text
    assert "/opnieuw: Nieuwe vraag" in resident and "/vergeet" in resident
    assert "/aankondiging" not in resident and "/terugkoppeling" not in resident
    with bot.database.session() as session:
        session.scalar(select(User).where(User.channel_user_id == "anna")).role = "coordinator"
        session.commit()
    coordinator = say(bot, "/help")[0].text
    assert "/aankondiging: Een aankondiging versturen" in coordinator and "/terugkoppeling" in coordinator
    # the Telegram menu is the same table: only what everyone may use
    assert [name for name, _ in menu()] == [c.name for c in COMMANDS if c.role == "resident"]
    assert "/nietbestaand" not in coordinator and "ken ik niet" in say(bot, "/nietbestaand")[0].text
