"""The warm handoff and its follow-up (issue 14) through Wijkbot.handle, with a FixedClock: a resident and
the organisation's professionals as separate users, the need card and the later messages read from the
outbox as their channel would deliver them."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actions import ForgedButton, parse_button
from bot.floor.messages import Incoming
from bot.floor.models import User
from bot.floor.outbox import due_messages, mark_sent
from jobs import handoffs
from jobs.handoffs import Handoff, HandoffCount
from jobs.scheduler import ReminderScheduler
from tests.test_hardening import cells_with

ORDE, RAADSLIEDEN = "Stichting Op Orde", "Sociaal Raadslieden Oosterwaarde"
NAME, PHONE, LINE = "Zwaantje", "06-87654321", "Ik krijg brieven van de deurwaarder over de huur"


def chat(bot, who: str, text: str = "", button: str | None = None):
    return bot.handle(Incoming(channel="telegram", chat_id=who, user_id=who, text=text, button=button))[-1]


def values(reply) -> list[str]:
    return [b.value for b in reply.buttons]


def person(bot, who: str, role: str = "resident", organization: str | None = None) -> None:
    chat(bot, who, "/start")
    with bot.database.session() as session:
        user = session.scalar(select(User).where(User.channel_user_id == who))
        user.role, user.organization = role, organization
        session.commit()


def inbox(bot, who: str) -> list:
    """The outbox messages due for this person's chat, taken as a channel's sender takes them."""
    with bot.database.session() as session:
        rows = due_messages(session, "telegram", bot.clock.now(), chat_id=who)
        found = [(m.text, [b["value"] for b in m.buttons or []]) for m in rows]
        for m in rows:
            mark_sent(session, m.id, bot.clock.now())
        session.commit()
    return found


def answered(bot, who: str):
    bot.clock.advance(timedelta(minutes=1))  # residents type slower than 20 messages a minute (the rate limit)
    chat(bot, who, "ik heb schulden en de deurwaarder stuurt brieven")
    answer = chat(bot, who, "7543 AB")
    assert "handoff:start" in values(answer)
    return answer


def ask_contact(bot, who: str, *, service: str | None = "1", phone: str = PHONE, line: str | None = LINE):
    """The resident's questions after an answer, up to the preview; returns the preview."""
    answered(bot, who)
    first = chat(bot, who, button="handoff:start")
    if service:
        assert "Welke organisatie" in first.text
        first = chat(bot, who, button=f"handoff:service:{service}")
    assert "Is dat goed?" in first.text
    chat(bot, who, button="handoff:consent:yes")
    chat(bot, who, NAME)
    if phone == "chat":
        chat(bot, who, button="handoff:phone:chat")
    else:
        chat(bot, who, phone)
    chat(bot, who, button="handoff:time:morning")
    return chat(bot, who, line) if line else chat(bot, who, button="handoff:need:ok")


def scheduler(bot) -> ReminderScheduler:
    return ReminderScheduler(bot.database, clock=bot.clock, settings=bot.settings)


def handoff(bot, number: int = 1) -> Handoff:
    with bot.database.session() as session:
        found = session.get(Handoff, number)
        session.expunge_all()
    return found


def counted(bot) -> dict[str, int]:
    with bot.database.session() as session:
        rows = list(session.scalars(select(HandoffCount)))
        return {c: sum(getattr(r, c) for r in rows) for c in handoffs.COUNTS}


@pytest.mark.parametrize(
    "value",
    [
        "handoff:start:1",
        "handoff:next:abc",
        "handoff:next:0",
        "handoff:service:<b>",
        "card:claim:²",
        "card:claim:1:full",
        "card:reason:1",
        "card:reason:1:because",
        "outcome:maybe:1",
        "outcome:helped",
        "outcome:helped:99999999999",
    ],
)
def test_forged_handoff_buttons_do_not_parse(value):
    with pytest.raises(ForgedButton):
        parse_button(value)


def test_consent_then_a_card_to_the_organisations_professional_who_claims_it(bot, caplog):
    person(bot, "pro", "professional", ORDE)
    person(bot, "colleague", "professional", ORDE)
    person(bot, "other", "professional", RAADSLIEDEN)
    caplog.set_level(logging.INFO)
    answered(bot, "anna")
    assert "Welke organisatie" in chat(bot, "anna", button="handoff:start").text
    consent = chat(bot, "anna", button="handoff:service:1")
    assert "Stichting Op Orde vragen om contact met u op te nemen over Budgetcoach Vlinderhof" in consent.text
    assert "uw voornaam" in consent.text and "nooit langer dan 30 dagen" in consent.text
    assert "Na 7 dagen vraag ik u of het gelukt is" in consent.text
    assert values(consent) == ["handoff:consent:yes", "handoff:cancel"]
    assert "Kies een van de knoppen" in chat(bot, "anna", "ja hoor").text  # a button question gets the buttons again
    chat(bot, "anna", button="handoff:consent:yes")
    for bad, said in [("", "U typte niets"), ("😀😀", "alleen letters"), ("<b>Anna</b>", "alleen letters")]:
        again = chat(bot, "anna", bad)
        assert said in again.text and "Wat is uw voornaam?" in again.text
    assert "telefoonnummer" in chat(bot, "anna", NAME).text
    again = chat(bot, "anna", "0612")
    assert "geen Nederlands telefoonnummer" in again.text and "handoff:phone:chat" in values(again)
    chat(bot, "anna", "+31 6 8765 4321")
    need = chat(bot, "anna", button="handoff:time:morning")
    assert (
        '"Mijn vraag gaat over: schulden en geldzorgen. De hulp is voor mijzelf."' in need.text
    )  # not the resident's words
    assert "deurwaarder" not in need.text
    for bad, said in [("x" * 141, "te lang: 141 tekens"), ("🙂 🙂", "een paar woorden"), ("<script>", "zonder < of >")]:
        again = chat(bot, "anna", bad)
        assert said in again.text and "Klopt dit?" in again.text
    preview = chat(bot, "anna", LINE)
    assert f"Naam: {NAME}" in preview.text and f"Telefoon: {PHONE}" in preview.text and LINE in preview.text
    assert values(preview) == ["handoff:confirm:send", "handoff:cancel"]
    assert inbox(bot, "pro") == []  # nothing before Versturen
    sent = chat(bot, "anna", button="handoff:confirm:send")
    assert "Verstuurd. Stichting Op Orde neemt contact met u op" in sent.text and "31 december 2026" in sent.text

    (card, buttons), *_ = inbox(bot, "pro")
    assert f"Naam: {NAME}" in card and LINE in card and "Budgetcoach Vlinderhof" in card
    assert PHONE not in card and "8765" not in card  # the number only for the one who claims it
    assert buttons == ["card:claim:1", "card:decline:1"]
    assert len(inbox(bot, "colleague")) == 1 and inbox(bot, "other") == []  # another organisation sees nothing

    assert "andere organisatie" in chat(bot, "other", button="card:claim:1").text  # forgeable: checked
    assert "andere organisatie" in chat(bot, "anna", button="card:claim:1").text
    claimed = chat(bot, "pro", button="card:claim:1")
    assert f"Bel {NAME} op {PHONE}" in claimed.text and "'s Ochtends" in claimed.text
    assert "al opgepakt door een collega van Stichting Op Orde" in chat(bot, "colleague", button="card:claim:1").text
    assert "U heeft hulpvraag nr. 1 al opgepakt" in chat(bot, "pro", button="card:decline:1").text
    (told, _), *_ = inbox(bot, "anna")
    assert "Stichting Op Orde heeft uw vraag opgepakt. Zij bellen u." in told
    assert counted(bot) | {} == {**dict.fromkeys(handoffs.COUNTS, 0), "sent": 1, "claimed": 1}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "handoff 1 claimed" in logged
    assert not any(secret in logged for secret in (NAME, "8765", "deurwaarder over de huur"))


def test_the_coordinator_gets_cards_of_organisations_without_professionals_and_unanswered_ones_once(bot):
    person(bot, "coord", "coordinator")
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "bert", service="3")  # Sociaal Raadslieden: nobody linked
    chat(bot, "bert", button="handoff:confirm:send")
    (card, buttons), *_ = inbox(bot, "coord")
    assert "nog niemand gekoppeld" in card and buttons == ["card:claim:1", "card:decline:1"]
    ask_contact(bot, "cora", service="1")
    chat(bot, "cora", button="handoff:confirm:send")
    assert len(inbox(bot, "pro")) == 1 and inbox(bot, "coord") == []
    bot.clock.advance(timedelta(hours=47))
    assert scheduler(bot).handoffs()["unanswered"] == 0
    bot.clock.advance(timedelta(hours=1, minutes=1))
    assert scheduler(bot).handoffs()["unanswered"] == 2
    assert scheduler(bot).handoffs()["unanswered"] == 0  # once
    late = inbox(bot, "coord")
    assert len(late) == 2 and all("na 48 uur opgepakt" in text for text, _ in late)
    assert ["card:claim:2", "card:decline:2"] in [b for _, b in late]
    assert "opgepakt" in chat(bot, "coord", button="card:claim:2").text  # the coordinator may claim any card
    report = chat(bot, "coord", "/doorverwijzingen").text
    assert "Niet opgepakt op tijd:" in report and "- nr. 1: schulden en geldzorgen, Sociaal Raadslieden" in report
    assert "Opgepakt:" in report and "- nr. 2: schulden en geldzorgen, Budgetcoach Vlinderhof" in report
    assert NAME not in report and LINE not in report and "8765" not in report
    assert "alleen de coördinator" in chat(bot, "bert", "/doorverwijzingen").text
    listed = operator(bot, "handoff", "list", "--status", "unanswered", "--json")
    assert [(r["id"], r["status"], r["organization"], r["need"]) for r in listed] == [
        (1, "unanswered", RAADSLIEDEN, "schuldhulp")
    ]
    assert [r["status"] for r in operator(bot, "handoff", "list", "--json")] == ["claimed", "unanswered"]
    assert NAME not in str(operator(bot, "handoff", "list", "--json"))
    assert {(r["sent"], r["unanswered"]) for r in operator(bot, "handoff", "counts", "--json")} == {(1, 1)}


def operator(bot, *args: str):
    """`wijkbot ARGS` on the bot's data dir, in this process; the JSON it printed."""
    import json

    from click.testing import CliRunner

    from bot.cli import main

    result = CliRunner().invoke(main, list(args), env={"WIJKBOT_DATA_DIR": str(bot.settings.data_dir)})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_follow_up_on_an_injected_clock_asks_once_more_after_busy_and_counts_anonymously(bot):
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "anna")
    chat(bot, "anna", button="handoff:confirm:send")
    chat(bot, "pro", button="card:claim:1")
    inbox(bot, "anna")
    bot.clock.advance(timedelta(days=6, hours=23))
    assert scheduler(bot).handoffs()["followups"] == 0
    bot.clock.advance(timedelta(hours=1, minutes=5))
    assert scheduler(bot).handoffs()["followups"] == 1
    (question, buttons), *_ = inbox(bot, "anna")
    assert "Is het gelukt?" in question and buttons == ["outcome:helped:1", "outcome:busy:1", "outcome:not_helped:1"]
    assert "niet voor u" in chat(bot, "pro", button="outcome:helped:1").text  # only the resident may answer
    assert "nog één keer" in chat(bot, "anna", button="outcome:busy:1").text
    assert "al beantwoord" in chat(bot, "anna", button="outcome:busy:1").text  # one answer per question
    assert "al beantwoord" in chat(bot, "anna", button="outcome:helped:1").text
    assert scheduler(bot).handoffs()["followups"] == 0
    bot.clock.advance(timedelta(days=7, minutes=5))
    assert scheduler(bot).handoffs()["followups"] == 1
    (again, _), *_ = inbox(bot, "anna")
    assert "Ik vraag het nog één keer" in again
    assert "Fijn dat het gelukt is" in chat(bot, "anna", button="outcome:helped:1").text
    assert "al afgesloten" in chat(bot, "anna", button="outcome:not_helped:1").text  # counted once
    assert counted(bot) == {**dict.fromkeys(handoffs.COUNTS, 0), "sent": 1, "claimed": 1, "busy": 1, "helped": 1}
    closed = handoff(bot)
    assert (closed.status, closed.outcome, closed.first_name, closed.phone, closed.need_line) == (
        "closed",
        "helped",
        None,
        None,
        None,
    )
    assert cells_with(bot.database, NAME, "87654321", LINE) == []
    with bot.database.session() as session:  # the counts hold nothing of a person
        assert {r.need for r in session.scalars(select(HandoffCount))} == {"schuldhulp"}

    # a second ⏳ closes it
    ask_contact(bot, "bert", service="2")
    chat(bot, "bert", button="handoff:confirm:send")
    bot.clock.advance(timedelta(days=7, minutes=5))
    scheduler(bot).handoffs()
    chat(bot, "bert", button="outcome:busy:2")
    bot.clock.advance(timedelta(days=7, minutes=5))
    scheduler(bot).handoffs()
    assert "Ik vraag het niet meer" in chat(bot, "bert", button="outcome:busy:2").text
    assert handoff(bot, 2).outcome == "busy"


def test_a_declined_card_offers_the_next_match_with_fresh_consent_and_then_a_person(bot):
    person(bot, "pro", "professional", ORDE)
    person(bot, "raad", "professional", RAADSLIEDEN)
    person(bot, "coord", "coordinator")
    ask_contact(bot, "anna", service="1", phone="chat")
    chat(bot, "anna", button="handoff:confirm:send")
    inbox(bot, "coord")
    reasons = chat(bot, "pro", button="card:decline:1")
    assert "Waarom" in reasons.text and "card:reason:1:full" in values(reasons)
    assert "andere organisatie" in chat(bot, "raad", button="card:reason:1:full").text
    assert "afgesloten" in chat(bot, "pro", button="card:reason:1:full").text
    assert handoff(bot).status == "declined" and handoff(bot).first_name is None
    assert cells_with(bot.database, NAME, LINE) == []  # the card is gone from the professionals' outboxes too
    (offer, buttons), *_ = inbox(bot, "anna")
    assert "Stichting Op Orde kan uw vraag helaas niet oppakken. De reden: We zitten vol." in offer
    assert "Zal ik Sociaal Raadslieden Oosterwaarde (Sociaal Raadslieden)" in offer  # another organisation first
    assert buttons == ["handoff:next:1", "human"]
    assert "niet voor u" in chat(bot, "pro", button="handoff:next:1").text
    consent = chat(bot, "anna", button="handoff:next:1")
    assert "Sociaal Raadslieden Oosterwaarde vragen om contact" in consent.text and "Is dat goed?" in consent.text
    chat(bot, "anna", button="handoff:consent:yes")
    chat(bot, "anna", "A.")
    chat(bot, "anna", button="handoff:phone:chat")
    chat(bot, "anna", button="handoff:time:any")
    preview = chat(bot, "anna", button="handoff:need:ok")
    assert "Contact: via deze chat" in preview.text and "Naam: A." in preview.text
    chat(bot, "anna", button="handoff:confirm:send")
    (card, _), *_ = inbox(bot, "raad")
    assert "Naam: A." in card and "via de chat van Wijkbot" in card
    assert "al gevraagd" in chat(bot, "anna", button="handoff:next:1").text  # an old offer pressed again
    chat(bot, "raad", button="card:decline:2")
    chat(bot, "raad", button="card:reason:2:not_ours")
    bot.clock.advance(timedelta(minutes=1))
    (offer, buttons), *_ = inbox(bot, "anna")
    assert "Thuisadministratie" in offer and buttons[0] == "handoff:next:2"  # the same organisation's other service
    chat(bot, "anna", button="handoff:next:2")
    for step in ("handoff:consent:yes", None, "handoff:phone:chat", "handoff:time:any", "handoff:need:ok"):
        chat(bot, "anna", "A." if step is None else "", button=step)
    chat(bot, "anna", button="handoff:confirm:send")
    chat(bot, "pro", button="card:decline:3")
    chat(bot, "pro", button="card:reason:3:area")
    (last, buttons), *_ = inbox(bot, "anna")
    assert "Ik weet geen andere organisatie" in last and "Wijkinformatiepunt De Vlinderhof" in last and buttons == []
    told = inbox(bot, "coord")
    assert told == [
        (
            "Hulpvraag nr. 3 (schulden en geldzorgen) is niet gelukt en er is geen andere organisatie meer. "
            "De bewoner kreeg de gegevens van het wijkinformatiepunt.",
            [],
        )
    ]
    assert counted(bot)["declined"] == 3 and counted(bot)["sent"] == 3


def test_via_deze_chat_the_professional_writes_and_the_resident_answers_once(bot):
    person(bot, "pro", "professional", ORDE)
    person(bot, "colleague", "professional", ORDE)
    ask_contact(bot, "anna", phone="chat")
    chat(bot, "anna", button="handoff:confirm:send")
    claimed = chat(bot, "pro", button="card:claim:1")
    assert "wil contact via de chat" in claimed.text and values(claimed) == ["card:message:1"]
    assert "Alleen wie deze hulpvraag heeft opgepakt" in chat(bot, "colleague", button="card:message:1").text
    assert f"Typ uw bericht aan {NAME}" in chat(bot, "pro", button="card:message:1").text
    assert "een paar woorden" in chat(bot, "pro", "👍").text
    assert f"Verstuurd naar {NAME}" in chat(bot, "pro", "Dag, ik ben Petra. Kan ik u dinsdag om 10 uur bellen?").text
    (claimed_told, _), (message, buttons) = inbox(bot, "anna")
    assert "U krijgt een bericht in deze chat" in claimed_told
    assert "Bericht van Stichting Op Orde over uw vraag:\nDag, ik ben Petra." in message
    assert buttons == ["handoff:reply:1"]
    assert "één keer antwoorden" in chat(bot, "anna", button="handoff:reply:1").text
    assert "Verstuurd naar Stichting Op Orde" in chat(bot, "anna", "Ja graag, op 06-11122233").text
    (card, _), (answer, buttons) = inbox(bot, "pro")
    assert (
        "Hulpvraag nr. 1" in card
        and f"Antwoord van {NAME} op hulpvraag nr. 1:\nJa graag" in answer
        and buttons == ["card:message:1"]
    )
    assert "niet (meer)" in chat(bot, "anna", button="handoff:reply:1").text  # once
    # red flags come first, also while a message is being typed
    chat(bot, "pro", button="card:message:1")
    assert "112" in chat(bot, "pro", "mijn collega is bewusteloos en ademt niet").text


def test_card_data_are_gone_after_retention_and_vergeet_in_the_database_and_never_in_logs(bot, caplog):
    caplog.set_level(logging.DEBUG)
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "anna")
    chat(bot, "anna", button="handoff:confirm:send")
    chat(bot, "pro", button="card:claim:1")
    assert cells_with(bot.database, NAME, "87654321", LINE)
    bot.clock.advance(timedelta(days=30, minutes=1))
    assert scheduler(bot).handoffs()["handoffs_deleted"] == 1  # never answered: gone at the retention
    assert cells_with(bot.database, NAME, "87654321", LINE) == []
    assert handoff(bot) is None

    ask_contact(bot, "bert", service="2")
    chat(bot, "bert", button="handoff:confirm:send")
    assert cells_with(bot.database, NAME, LINE)  # the card in the professional's outbox, the handoff row
    chat(bot, "bert", "/vergeet")
    chat(bot, "bert", button="forget:yes")
    assert cells_with(bot.database, NAME, "87654321", LINE) == []
    assert "bestaat niet meer" in chat(bot, "pro", button="card:claim:2").text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "handoff 2 sent to 1 people" in logged
    assert not any(secret in logged for secret in (NAME, "87654321", "8765 4321", LINE, "deurwaarder over"))


def test_a_cancelled_wizard_saves_nothing_and_a_group_gets_no_handoff(bot):
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "anna")
    assert "Goed, ik stuur niets" in chat(bot, "anna", button="handoff:cancel").text
    assert handoff(bot) is None and inbox(bot, "pro") == []
    assert "werkt niet" in chat(bot, "anna", button="handoff:confirm:send").text
    group = bot.handle(
        Incoming(
            channel="telegram", chat_id="-5", user_id="gina", text="ik zoek een fysiotherapeut bij 7544 CD", group=True
        )
    )[-1]
    assert "handoff:start" not in values(group)
    refused = bot.handle(Incoming(channel="telegram", chat_id="-5", user_id="gina", button="handoff:start", group=True))
    assert "privégesprek" in refused[-1].text


def test_handoffs_count_close_and_expire_on_sqlite_and_postgresql(demo_db_url, clock, tmp_path, nlu):
    from bot.core import Wijkbot
    from bot.floor.config import Settings
    from bot.floor.db import Database

    database = Database(demo_db_url)
    settings = Settings(data_dir=tmp_path / "data", database_url=demo_db_url)
    bot = Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    try:
        person(bot, "pro", "professional", ORDE)
        for who in ("anna", "bert"):
            ask_contact(bot, who)
            chat(bot, who, button="handoff:confirm:send")
        chat(bot, "pro", button="card:claim:1")
        chat(bot, "pro", button="card:decline:2")
        chat(bot, "pro", button="card:reason:2:other")
        assert counted(bot) == {**dict.fromkeys(handoffs.COUNTS, 0), "sent": 2, "claimed": 1, "declined": 1}
        assert cells_with(database, LINE)  # handoff 1 is still open
        clock.advance(timedelta(days=31))
        assert scheduler(bot).handoffs()["handoffs_deleted"] == 2
        assert cells_with(database, NAME, LINE, "87654321") == []
        assert counted(bot)["sent"] == 2  # the anonymous counts stay
    finally:
        database.dispose()


def test_the_consent_names_the_coordinator_and_a_coordinator_takes_only_cards_given_to_them(bot):
    person(bot, "pro", "professional", ORDE)
    person(bot, "coco", "coordinator", "Wijkinformatiepunt")
    answered(bot, "anna")
    chat(bot, "anna", button="handoff:start")
    consent_text = chat(bot, "anna", button="handoff:service:1").text
    assert "coördinator van de wijk uw vraag ook" in consent_text  # everyone who may see the card is named
    chat(bot, "anna", "/stop")
    ask_contact(bot, "anna")
    assert "Stichting Op Orde neemt contact met u op" in chat(bot, "anna", button="handoff:confirm:send").text
    assert inbox(bot, "coco") == []  # the card went to the organisation only
    assert "andere organisatie" in chat(bot, "coco", button="card:claim:1").text  # a forged press is refused
    assert handoff(bot).status == "open"
    # an organisation without linked professionals: the resident is told the coordinator has it
    ask_contact(bot, "bert", service="3")
    sent = chat(bot, "bert", button="handoff:confirm:send")
    assert "nog niet aangesloten op Wijkbot" in sent.text and "coördinator" in sent.text
    assert "card:claim:2" in inbox(bot, "coco")[0][1]
    assert "Bel Zwaantje" in chat(bot, "coco", button="card:claim:2").text


def test_of_two_claims_at_once_one_wins_and_a_late_card_is_not_escalated_after_a_claim(bot):
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "anna")
    chat(bot, "anna", button="handoff:confirm:send")
    with bot.database.session() as first, bot.database.session() as second:
        mine = first.get(Handoff, 1)
        theirs = second.get(Handoff, 1)
        pro = first.scalar(select(User).where(User.channel_user_id == "pro"))
        assert handoffs.claim(first, mine, pro, bot.clock.now())
        first.commit()
        assert not handoffs.claim(second, theirs, pro, bot.clock.now())  # read before the other committed
        assert handoffs.escalate(second, theirs, bot.clock.now(), handoffs.Policy.of(bot.settings)) is None
        second.commit()
    assert handoff(bot).status == "claimed"
    assert counted(bot)["claimed"] == 1 and counted(bot)["unanswered"] == 0


def test_timed_messages_wait_for_the_day(bot):
    person(bot, "pro", "professional", ORDE)
    ask_contact(bot, "anna")
    chat(bot, "anna", button="handoff:confirm:send")  # Tuesday 1 December, about 10:00
    bot.clock.advance(timedelta(days=7, hours=12))  # 22:00 a week later: nobody is woken
    night = scheduler(bot).handoffs()
    assert (night["unanswered"], night["followups"]) == (0, 0)
    assert inbox(bot, "anna") == []
    bot.clock.advance(timedelta(hours=11))  # 9:00 the next morning
    done = scheduler(bot).handoffs()
    assert done["followups"] == 1 and done["unanswered"] == 1


def test_settings_refuse_a_retention_too_short_for_the_follow_up():
    from pydantic import ValidationError

    from bot.floor.config import Settings

    with pytest.raises(ValidationError, match="more than twice"):
        Settings(handoff_followup_days=14, handoff_retention_days=28)
