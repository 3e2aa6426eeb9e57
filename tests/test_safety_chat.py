"""The safety check in the conversation: every typed message first, the direct safety question and its
answers, replies in the resident's language, and the follow-up when a question stays unanswered."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.floor.messages import Incoming
from bot.floor.models import OutboxMessage, UsageStat, User
from jobs.safety import follow_up_unanswered


def say(bot, text="", *, button=None, user="anna", channel="test"):
    return bot.handle(Incoming(channel=channel, chat_id=user, user_id=user, text=text, button=button))


def values(replies) -> list[str]:
    return [b.value for b in replies[-1].buttons]


def stats(bot) -> dict[str, int]:
    with bot.database.session() as session:
        return {s.kind: s.count for s in session.scalars(select(UsageStat))}


DOUBT = "ik voel me een last voor mijn kinderen"  # feeling a burden: a doubtful 113 sign


def test_a_doubtful_sign_gets_one_direct_question_with_buttons(bot):
    replies = say(bot, DOUBT)
    assert "Denkt u erover om uzelf iets aan te doen" in replies[-1].text
    assert values(replies) == ["safety:yes:113", "safety:no:113", "safety:dont_know:113", "human"]
    assert stats(bot).get("safety_check:113") == 1


def test_yes_or_dont_know_escalates(bot):
    say(bot, DOUBT)
    assert "0800-0113" in say(bot, button="safety:yes:113")[-1].text
    say(bot, DOUBT, user="bert")
    assert "0800-0113" in say(bot, button="safety:dont_know:113", user="bert")[-1].text


def test_no_lets_the_waiting_message_go_on(bot):
    say(bot, "ik heb schulden en het heeft allemaal geen zin meer")
    replies = say(bot, button="safety:no:113")
    assert "Fijn dat er geen direct gevaar is" in replies[0].text
    assert "postcode" in replies[-1].text  # the need is clarified as usual
    assert "Dit kan u helpen" in say(bot, "7543 AB")[-1].text


def test_typed_answers(bot):
    say(bot, DOUBT)
    assert "Fijn" in say(bot, "nee hoor")[0].text
    say(bot, DOUBT, user="bert")
    assert "0800-0113" in say(bot, "soms wel eigenlijk", user="bert")[-1].text
    say(bot, DOUBT, user="cor")
    assert "0800-0113" in say(bot, "nee maar ik denk er wel vaak aan", user="cor")[-1].text


def test_a_message_that_is_no_answer_still_escalates_then_is_answered(bot):
    say(bot, DOUBT)
    replies = say(bot, "waar kan ik gratis sporten")
    assert "U gaf nog geen antwoord" in replies[0].text and "0800-0113" in replies[0].text
    assert len(replies) == 2 and "0800-0113" not in replies[1].text


def test_a_red_flag_while_the_question_waits_escalates_at_once(bot):
    say(bot, DOUBT)
    assert "Bel nu 112" in say(bot, "nee maar mijn vader ligt op de grond en reageert niet")[-1].text


def test_forged_or_stale_safety_buttons(bot):
    assert "knop werkt niet" in say(bot, button="safety:yes:zzz")[-1].text
    assert "knop werkt niet" in say(bot, button="safety:maybe:113")[-1].text
    assert "0800-2000" in say(bot, button="safety:yes:veilig-thuis")[-1].text  # an old question's button
    stale = say(bot, button="safety:no:113")
    assert len(stale) == 1 and "Fijn dat er geen direct gevaar is" in stale[0].text


def test_answers_to_clarifying_questions_are_checked(bot):
    assert "postcode" in say(bot, "ik zoek hulp bij mijn administratie")[-1].text
    assert "0800-2000" in say(bot, "mijn man slaat me als hij gedronken heeft")[-1].text


def test_a_danger_told_over_two_messages(bot):
    say(bot, "mijn vader is net gevallen in de badkamer")
    assert "112" in say(bot, "hij reageert niet meer")[-1].text


def test_the_agenda_wizard_and_announcements_are_checked(bot):
    with bot.database.session() as session:
        say(bot, "/start", user="coco")
        session.scalar(select(User).where(User.channel_user_id == "coco")).role = "coordinator"
        session.commit()
    say(bot, "/agenda", user="coco")
    assert "Hoe heet het overleg" in say(bot, button="agenda:new_meeting", user="coco")[-1].text
    assert "Bel nu 112" in say(bot, "help mijn collega is bewusteloos", user="coco")[-1].text
    assert "Typ de tekst" in say(bot, "/aankondiging", user="coco")[-1].text
    assert "0800-0113" in say(bot, "ik wil niet meer leven", user="coco")[-1].text
    # a topic is not a situation: the coordinator's announcement about one goes through
    say(bot, "/aankondiging", user="coco")
    assert "Voor wie" in say(bot, "Voorlichtingsavond over huiselijk geweld, dinsdag 19:30", user="coco")[-1].text


def test_replies_in_the_residents_language_after_dutch(bot):
    reply = say(bot, "please help, my husband hits me and says he will kill me")[-1].text
    assert reply.startswith("Wat erg dat dit gebeurt") and "Nobody may hurt" in reply
    question = say(bot, "hayatın bir anlamı kalmadı", user="ayse")[-1]
    assert "Kendinize zarar" in question.text and question.buttons[0].label == "Ja / Evet"


def test_an_unanswered_question_is_followed_up_once_through_the_outbox(bot, clock):
    say(bot, DOUBT)
    with bot.database.session() as session:
        assert follow_up_unanswered(session, clock.now(), bot.safety, wait=timedelta(minutes=10)) == 0
    clock.advance(timedelta(minutes=11))
    with bot.database.session() as session:
        assert follow_up_unanswered(session, clock.now(), bot.safety, wait=timedelta(minutes=10)) == 1
        session.commit()
    with bot.database.session() as session:
        assert follow_up_unanswered(session, clock.now(), bot.safety, wait=timedelta(minutes=10)) == 0
        sent = session.scalars(select(OutboxMessage)).all()
    assert len(sent) == 1 and sent[0].chat_id == "anna" and "0800-0113" in sent[0].text
    assert "Voor de zekerheid" in sent[0].text
    assert "postcode" not in say(bot, "nee")[0].text  # the question is closed: "nee" starts nothing new


def test_an_emergency_gets_through_the_rate_limit(bot):
    for n in range(25):
        say(bot, f"vraag {n} over de bibliotheek")
    assert "veel berichten" in say(bot, "waar is het buurthuis")[-1].text
    assert "Bel nu 112" in say(bot, "mijn vader is bewusteloos")[-1].text
