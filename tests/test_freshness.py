"""Providers keep their listing current (issue 14, points 3-6): "Klopt dit nog?", changes with a coordinator's
approval, capacity, residents' reports, the freshness report, retention. Through the core (Wijkbot.handle on a
FixedClock), the scheduler's methods on that clock, and the channels (a real Synapse, the local Bot API server)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.floor.messages import Incoming
from bot.floor.models import OutboxMessage, User
from jobs.scheduler import ReminderScheduler
from socialekaart.listing import (
    ListingReport,
    NotValid,
    ProviderChange,
    ProviderCheck,
    check_value,
    dutch_phone,
    parse_address,
    set_direct_changes,
)
from socialekaart.mapread import revision_value
from socialekaart.models import Organization, Service
from tests.test_hardening import cells_with

SMAAKVOL = "Diëtistenpraktijk Smaakvol"
PRAATJESMAKER = "Logopediepraktijk Praatjesmaker"
MARK = "Zwanenbloem-4471"  # a word that is nowhere else: where it is found, a report's text is


def chat(bot, text: str = "", button: str | None = None, who: str = "anna", group: bool = False):
    return bot.handle(Incoming(channel="telegram", chat_id=who, user_id=who, text=text, button=button, group=group))


def values(replies) -> list[str]:
    return [b.value for b in replies[-1].buttons]


def press(replies, label: str) -> str:
    return next(b.value for b in replies[-1].buttons if b.label == label)


def make(bot, who: str, role: str, organization: str | None = None) -> None:
    chat(bot, "/start", who=who)
    with bot.database.session() as session:
        user = session.scalar(select(User).where(User.channel_user_id == who))
        user.role, user.organization = role, organization
        session.commit()


def outbox(bot, who: str) -> list[OutboxMessage]:
    with bot.database.session() as session:
        rows = session.scalars(
            select(OutboxMessage).join(User, User.id == OutboxMessage.user_id).where(User.channel_user_id == who)
        )
        return sorted(rows, key=lambda m: m.id)


def ask(bot, text: str, who: str = "res"):
    """A resident's question, every clarifying question answered with "Weet ik niet"."""
    replies = chat(bot, text, who=who)
    for _ in range(4):
        if "followup:yes" in values(replies):
            break
        replies = chat(bot, button="dont_know", who=who)
    return replies


def fresh_map(bot) -> None:
    """The search index follows the map at once (in the product within a second, in a thread)."""
    bot.map.recheck_seconds = 0
    bot.map.index()
    bot.map.wait()


def service(bot, name: str) -> Service:
    with bot.database.session() as session:
        found = session.scalar(select(Service).where(Service.name == name))
        session.expunge_all()
        return found


# --- what a provider types is checked ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("053 555 1234", "053-5551234"),
        ("+31 6 1234 5678", "06-12345678"),
        ("0800-1234", "0800-1234"),
        ("0546123456", "0546-123456"),
        ("14 053", "14 053"),
    ],
)
def test_dutch_phone_numbers_are_read_and_written_the_usual_way(typed, stored):
    assert dutch_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "06-1234", "+44 20 7946 0000", "bel me", "٠٥٣٥٥٥١٢٣٤"])
def test_what_is_no_dutch_phone_number_is_refused(typed):
    with pytest.raises(NotValid):
        dutch_phone(typed)


def test_addresses_hours_and_descriptions_are_checked():
    assert parse_address("Atalantaplein 12b, 7543ab Oosterwaarde").text() == "Atalantaplein 12b, 7543 AB Oosterwaarde"
    assert parse_address("Koolwitjelaan 3 7544 CD").city is None  # the old city stays
    for bad in ("7543 AB", "Atalantaplein, 7543 AB", "Atalantaplein 2 Oosterwaarde"):
        with pytest.raises(NotValid):
            parse_address(bad)
    assert check_value("hours", "ma-vr 9-17;  za 10:00-12:00") == "ma-vr 9-17; za 10:00-12:00"
    with pytest.raises(NotValid) as bad_hours:
        check_value("hours", "elke dag open")
    assert bad_hours.value.key == "hours"
    with pytest.raises(NotValid):
        check_value("description", "x" * 1001)
    with pytest.raises(NotValid):
        check_value("status", "gesloten")  # a status comes from a button, never typed


# --- "Alles klopt" and the monthly round --------------------------------------------------------------


def test_alles_klopt_sets_assured_date_and_the_answer_says_the_provider_confirmed_it(bot):
    make(bot, "logo", "professional", PRAATJESMAKER)
    shown = chat(bot, "/aanbod", who="logo")
    text = shown[-1].text
    assert text.startswith("Klopt dit nog?") and "Logopediepraktijk Praatjesmaker" in text
    assert "Telefoon: 053-5559585" in text and "Adres: Dagpauwoogweg 12" in text and "Plek: er is plek" in text
    assert values(shown) == ["check:ok", "check:changed"]
    before = service(bot, PRAATJESMAKER)
    assert "bevestigd door de aanbieder" not in ask(bot, "ik zoek logopedie voor mijn kind 7543 AB")[-1].text.lower()
    done = chat(bot, button="check:ok", who="logo")
    assert "Dank u wel" in done[-1].text and "1 december 2026" in done[-1].text
    after = service(bot, PRAATJESMAKER)
    assert before.assured_date != date(2026, 12, 1) and after.assured_date == date(2026, 12, 1)
    assert after.last_modified is not None
    answer = ask(bot, "ik zoek logopedie voor mijn kind 7543 AB", who="res2")[-1].text
    assert "Bevestigd door de aanbieder op 1 december 2026" in answer
    # an imported assured_date is no provider's confirmation: other services say nothing of the kind
    assert answer.count("Bevestigd door de aanbieder") == 1


def test_the_monthly_check_goes_once_per_period_to_each_organisations_members(bot, clock):
    make(bot, "logo", "professional", PRAATJESMAKER)
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "diet2", "coordinator", SMAAKVOL)  # a coordinator who works there is a member too
    make(bot, "coord", "coordinator")
    make(bot, "res", "resident", SMAAKVOL)  # a resident never gets it, whatever the field says
    scheduler = ReminderScheduler(bot.database, clock=clock, settings=bot.settings)
    assert scheduler.ask_providers() == 3
    assert scheduler.ask_providers() == 0  # the same day again: nobody twice
    restarted = ReminderScheduler(bot.database, clock=clock, settings=bot.settings)
    clock.advance(timedelta(days=29))
    assert restarted.ask_providers() == 0  # after a restart, within the period: nobody twice
    message = outbox(bot, "diet1")[0]
    assert message.text.startswith("Klopt dit nog?") and "Diëtist Smaakvol" in message.text
    assert [b["label"] for b in message.buttons] == ["Alles klopt", "Iets is veranderd"]
    assert outbox(bot, "coord") == [] and outbox(bot, "res") == []
    ok = message.buttons[0]["value"]
    assert "andere organisatie" in chat(bot, button=ok, who="logo")[-1].text  # not theirs
    assert "alleen een medewerker" in chat(bot, button=ok, who="res")[-1].text
    assert "Dank u wel" in chat(bot, button=ok, who="diet2")[-1].text
    with bot.database.session() as session:
        checks = {c.organization_id: c for c in session.scalars(select(ProviderCheck))}
        smaakvol = session.scalar(select(Organization).where(Organization.name == SMAAKVOL))
        assert checks[smaakvol.id].answer == "ok" and len(checks) == 2
    clock.advance(timedelta(days=1))  # 30 days after the first round
    assert ReminderScheduler(bot.database, clock=clock, settings=bot.settings).ask_providers() == 3
    assert len(outbox(bot, "diet1")) == 2 and outbox(bot, "diet1")[1].idempotency_key.startswith("check:")
    report = freshness_json(bot)
    row = next(r for r in report["organizations"] if r["organization"] == SMAAKVOL)
    assert (row["checks_asked"], row["checks_unanswered"], row["members"]) == (2, 1, 2)
    logo = next(r for r in report["organizations"] if r["organization"] == PRAATJESMAKER)
    assert (logo["checks_asked"], logo["checks_unanswered"], logo["confirmed"]) == (2, 2, 0)
    # last month's "Alles klopt" pressed now confirms nothing: the listing is shown again to look at
    old = outbox(bot, "logo")[0].buttons[0]["value"]
    stale = chat(bot, button=old, who="logo")
    assert "al wat ouder" in stale[-1].text and values(stale) == ["check:ok", "check:changed"]
    assert service(bot, PRAATJESMAKER).assured_date != clock.now().date()
    assert "Dank u wel" in chat(bot, button="check:ok", who="logo")[-1].text  # now it confirms what was shown
    assert "al wat ouder" in chat(bot, button="check:ok", who="logo")[-1].text  # once


def freshness_json(bot) -> dict:
    from bot.cli import main

    bot.database.dispose()
    result = CliRunner().invoke(
        main, ["kaart", "freshness", "--json"], env={"WIJKBOT_DATA_DIR": str(bot.settings.data_dir)}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- a change, approved by the coordinator, visible in search ------------------------------------------


def test_a_change_is_checked_sent_to_the_coordinator_and_once_approved_found_in_search(bot, caplog):
    caplog.set_level(logging.DEBUG)
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "coord", "coordinator")
    make(bot, "nurse", "professional", PRAATJESMAKER)
    assert "bel 053-5557051" in ask(bot, "ik zoek een diëtist 7543 AB")[-1].text
    which = chat(bot, button="check:changed", who="diet1")
    assert "Over welke dienst" in which[-1].text and "change:stop" in values(which)
    what = chat(bot, button=press(which, "Diëtist Smaakvol"), who="diet1")
    assert "Wat is er veranderd?" in what[-1].text
    asked = chat(bot, button="change:what:phone", who="diet1")
    assert "Nu: 053-5557051" in asked[-1].text
    again = chat(bot, "12345", who="diet1")
    assert "geen Nederlands telefoonnummer" in again[-1].text and "Nu: 053-5557051" in again[-1].text
    preview = chat(bot, "053 555 1234", who="diet1")
    assert "Was: 053-5557051\nWordt: 053-5551234" in preview[-1].text and "coördinator" in preview[-1].text
    assert values(preview) == ["change:send", "change:stop"]
    sent = chat(bot, button="change:send", who="diet1")
    assert "De coördinator kijkt" in sent[-1].text
    assert "bel 053-5557051" in ask(bot, "ik zoek een diëtist 7543 AB")[-1].text  # not before approval
    approval = outbox(bot, "coord")[-1]
    assert "Wordt: 053-5551234" in approval.text and "Keurt u dit goed?" in approval.text
    approve = approval.buttons[0]["value"]
    assert approve.startswith("change:approve:")
    assert "coördinator" in chat(bot, button=approve, who="nurse")[-1].text  # a professional may not
    revision = _revision(bot)
    assert "Goedgekeurd" in chat(bot, button=approve, who="coord")[-1].text
    assert "al besloten" in chat(bot, button=approve, who="coord")[-1].text  # a second press changes nothing
    assert "goedgekeurd" in outbox(bot, "diet1")[-1].text  # the proposer is told
    assert _revision(bot) > revision
    changed = service(bot, "Diëtist Smaakvol")
    assert changed.assured_date == date(2026, 12, 1)  # an applied change confirms the service
    fresh_map(bot)
    assert bot.map.made == "update"  # the index was brought up to date from the change log, not rebuilt
    answer = ask(bot, "ik zoek een diëtist 7543 AB", who="res2")[-1].text
    assert "bel 053-5551234" in answer and "Bevestigd door de aanbieder op 1 december 2026" in answer
    assert "053-5551234" not in caplog.text and "053 555 1234" not in caplog.text
    chat(bot, "/vergeet", who="diet1")  # the proposer leaves: the change no longer names them
    chat(bot, button="forget:yes", who="diet1")
    with bot.database.session() as session:
        assert session.scalar(select(ProviderChange.proposed_by)) is None
        assert session.scalar(select(ProviderChange.decided_by)) is not None


def _revision(bot) -> int:
    with bot.database.session() as session:
        return int(revision_value(session).split()[0])


def test_direct_organisations_change_hours_address_and_status_at_once(bot):
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "coord", "coordinator")
    with bot.database.session() as session:
        set_direct_changes(session, session.scalar(select(Organization.id).where(Organization.name == SMAAKVOL)), True)
        session.commit()

    def change(what: str, typed: str | None = None, button: str | None = None):
        chat(bot, button=press(chat(bot, button="check:changed", who="diet1"), "Diëtist Smaakvol"), who="diet1")
        chat(bot, button=f"change:what:{what}", who="diet1")
        preview = chat(bot, typed or "", button=button, who="diet1")
        assert "meteen op de kaart" in preview[-1].text
        return chat(bot, button="change:send", who="diet1")[-1].text

    assert "staat nu op de kaart" in change("hours", "ma,wo 09:00-12:00; 2e do 13-16")
    assert "staat nu op de kaart" in change("address", "Koolwitjelaan 3, 7544 CD")
    shown = chat(bot, "/aanbod", who="diet1")[-1].text
    assert "Open: ma,wo 09:00-12:00; 2e do 13:00-16:00" in shown
    assert "Adres: Koolwitjelaan 3, 7544 CD Oosterwaarde" in shown  # the old city stays
    fresh_map(bot)
    assert "Koolwitjelaan 3, Oosterwaarde" in ask(bot, "ik zoek een diëtist 7543 AB")[-1].text
    assert "staat nu op de kaart" in change("status", button="change:status:paused")
    with bot.database.session() as session:
        assert session.scalar(select(Service.status).where(Service.name == "Diëtist Smaakvol")) == "temporarily closed"
        assert (
            session.scalar(select(func.count()).select_from(ProviderChange).where(ProviderChange.status == "applied"))
            == 3
        )
    fresh_map(bot)
    assert "Diëtist Smaakvol" not in ask(bot, "ik zoek een diëtist 7543 AB", who="res2")[-1].text
    assert outbox(bot, "coord") == []  # nothing to approve


def test_buttons_of_the_wizard_are_checked_and_stopping_changes_nothing(bot):
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "res", "resident")
    assert "alleen een medewerker" in chat(bot, button="check:changed", who="res")[-1].text
    assert "coördinator" in chat(bot, "/aanbod", who="res")[-1].text  # professionals only
    assert "privégesprek" in chat(bot, button="check:changed", who="diet1", group=True)[-1].text
    assert "werkt niet" in chat(bot, button="change:send", who="diet1")[-1].text  # no wizard open
    assert "werkt niet" in chat(bot, button="change:service:99", who="diet1")[-1].text
    which = chat(bot, button="check:changed", who="diet1")
    assert "Kies een van de knoppen" in chat(bot, "de telefoon", who="diet1")[-1].text
    chat(bot, button=press(which, "Diëtist Smaakvol"), who="diet1")
    chat(bot, button="change:what:description", who="diet1")
    assert "te kort" in chat(bot, "kort", who="diet1")[-1].text
    assert "Gestopt" in chat(bot, button="change:stop", who="diet1")[-1].text
    with bot.database.session() as session:
        assert session.scalar(select(func.count()).select_from(ProviderChange)) == 0


# --- capacity -----------------------------------------------------------------------------------------


def test_a_waitlist_is_set_at_once_and_residents_see_open_alternatives_first(bot):
    make(bot, "logo", "professional", PRAATJESMAKER)
    before = ask(bot, "ik zoek logopedie voor mijn kind 7543 AB")[-1].text
    assert before.index("Praatjesmaker") < before.index("Kinderen en verlies")
    chat(bot, button="check:changed", who="logo")  # one service: straight to "what"
    assert "Is er plek?" in chat(bot, button="change:what:capacity", who="logo")[-1].text
    until = chat(bot, button="capacity:waitlist", who="logo")
    assert "Vanaf wanneer" in until[-1].text and "capacity:nodate" in values(until)
    assert "voorbij" in chat(bot, "1 november 2026", who="logo")[-1].text
    saved = chat(bot, "1 maart", who="logo")
    assert "wachtlijst, weer plek vanaf 1 maart 2027" in saved[-1].text
    answer = ask(bot, "ik zoek logopedie voor mijn kind 7543 AB", who="res2")[-1].text
    assert "Daarom ziet u eerst diensten met plek" in answer
    assert answer.index("Kinderen en verlies") < answer.index("Praatjesmaker")  # still shown, after one with room
    assert "Wachtlijst, weer plek vanaf 1 maart 2027" in answer
    chat(bot, "/aanbod", who="logo")
    chat(bot, button="check:changed", who="logo")
    chat(bot, button="change:what:capacity", who="logo")
    assert "er is plek" in chat(bot, button="capacity:open", who="logo")[-1].text
    assert ask(bot, "ik zoek logopedie voor mijn kind 7543 AB", who="res3")[-1].text == before


def test_an_english_answer_names_capacity_and_confirmation_in_english():
    from bot.flows.providers import standing_line
    from socialekaart.listing import Standing

    full = Standing("waitlist", date(2027, 3, 1), date(2026, 12, 3))
    assert (
        standing_line(full, "en")
        == "Waiting list, room again from 1 March 2027 · Confirmed by the provider on 3 December 2026"
    )
    assert (
        standing_line(full, "nl")
        == "Wachtlijst, weer plek vanaf 1 maart 2027 · Bevestigd door de aanbieder op 3 december 2026"
    )
    assert standing_line(Standing(), "nl") is None


# --- a resident's report ------------------------------------------------------------------------------


def test_a_residents_report_reaches_provider_and_coordinator_and_its_text_goes_when_resolved(bot, clock, caplog):
    caplog.set_level(logging.DEBUG)
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "coord", "coordinator")
    make(bot, "nurse", "professional", PRAATJESMAKER)
    answer = ask(bot, "ik zoek een diëtist 7543 AB")
    which = chat(bot, button="report:start", who="res")
    assert "Over welke dienst" in which[-1].text and "report:service:1" in values(which)
    what = chat(bot, button="report:service:1", who="res")
    assert values(what) == [
        "report:what:closed",
        "report:what:phone",
        "report:what:moved",
        "report:what:other",
        "report:stop",
    ]
    assert "korte zin" in chat(bot, button="report:what:other", who="res")[-1].text
    assert "te lang" in chat(bot, "x" * 201, who="res")[-1].text
    thanks = chat(bot, f"De diëtist zit niet meer hier, vraag naar {MARK}", who="res")
    assert "organisatie en aan de coördinator" in thanks[-1].text
    assert "Fijn" in chat(bot, button="followup:yes", who="res")[-1].text  # the answer's buttons still count
    assert answer  # the answer was given before the report
    to_member, to_coordinator = outbox(bot, "diet1")[-1], outbox(bot, "coord")[-1]
    assert MARK in to_member.text and "Diëtist Smaakvol" in to_member.text and "/aanbod" in to_member.text
    assert MARK in to_coordinator.text and outbox(bot, "nurse") == []
    with bot.database.session() as session:
        report = session.scalar(select(ListingReport))
        assert set(ListingReport.__table__.columns.keys()) == {
            "id",
            "service_id",
            "organization_id",
            "reason",
            "text",
            "created_at",
            "resolved_at",
        }  # no reporter
    assert freshness_json(bot)["organizations"][0]["reports_open"] == 1  # most to do first: it is on top
    done = to_member.buttons[0]["value"]
    assert "andere organisatie" in chat(bot, button=done, who="nurse")[-1].text
    assert "afgehandeld" in chat(bot, button=done, who="diet1")[-1].text
    assert "al afgehandeld" in chat(bot, button=done, who="coord")[-1].text
    assert cells_with(bot.database, MARK) == []  # not in the report, not in the outbox copies
    assert MARK not in caplog.text
    with bot.database.session() as session:
        assert session.get(ListingReport, report.id).resolved_at is not None


def test_an_unresolved_reports_text_goes_after_the_retention_period(bot, clock):
    make(bot, "coord", "coordinator")
    ask(bot, "ik zoek logopedie voor mijn kind 7543 AB")
    chat(bot, button="report:start", who="res")
    chat(bot, button="report:service:1", who="res")
    chat(bot, button="report:what:other", who="res")
    thanks = chat(bot, f"het nummer {MARK} werkt niet", who="res")
    assert "coördinator" in thanks[-1].text  # the organisation has no linked professional: the coordinator only
    assert cells_with(bot.database, MARK)
    clock.advance(timedelta(days=bot.settings.retention_days - 1))
    ReminderScheduler(bot.database, clock=clock, settings=bot.settings).maintenance()
    with bot.database.session() as session:
        assert session.scalar(select(ListingReport.text)) is not None
    clock.advance(timedelta(days=2))
    counts = ReminderScheduler(bot.database, clock=clock, settings=bot.settings).maintenance()
    assert counts["report_texts"] == 1
    with bot.database.session() as session:
        assert session.scalar(select(ListingReport.text)) is None
        assert session.scalar(select(ListingReport.resolved_at)) is None  # still open, without its text
    assert cells_with(bot.database, MARK) == []  # the outbox copy was blanked by the outbox's own retention


def test_report_buttons_without_an_answer_or_forged_do_nothing(bot):
    assert "Stel uw vraag opnieuw" in chat(bot, button="report:start", who="res")[-1].text
    assert "werkt niet" in chat(bot, button="report:what:closed", who="res")[-1].text
    assert "werkt niet" in chat(bot, button="report:done:999", who="res")[-1].text
    for forged in ("report:what:everything", "report:done:abc", "check:ok:0", "change:approve:", "capacity:maybe"):
        assert "werkt niet" in chat(bot, button=forged, who="res")[-1].text


# --- across channels: typed on Matrix, approved on Telegram, found by a resident --------------------------


def test_a_change_typed_on_matrix_approved_on_telegram_is_found_in_search(bot, synapse):
    from bot.channels.matrix import MatrixChannel
    from bot.channels.telegram import TelegramChannel
    from bot.delivery import Limits, OutboxSender
    from bot.floor.clock import SystemClock
    from tests.fake_telegram import FakeTelegram
    from tests.test_matrix import Resident

    bot.clock = SystemClock()  # Synapse and the Bot API server live in real time
    bot_user = synapse.register("kaart" + uuid.uuid4().hex[:6], "pw-bot")
    with bot.database.session() as session:  # the coordinator, already known on Telegram
        session.add(
            User(
                channel="telegram",
                channel_user_id="701",
                chat_id="701",
                role="coordinator",
                created_at=bot.clock.now(),
                last_seen_at=bot.clock.now(),
            )
        )
        session.commit()

    async def scenario(fake: FakeTelegram):
        dietitian = Resident(synapse, "diet" + uuid.uuid4().hex[:6])
        await dietitian.login()
        matrix = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500)
        await matrix.start()
        telegram = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
        await telegram.start()
        try:
            room = await dietitian.open_chat(bot_user)
            assert await dietitian.joined(room, bot_user)
            await dietitian.say(room, "/start")
            await dietitian.replies(room, bot_user, 1)
            with bot.database.session() as session:
                user = session.scalar(select(User).where(User.channel == "matrix"))
                user.role, user.organization = "professional", SMAAKVOL
                session.commit()
            seen = 1
            for typed, expected in (
                ("/aanbod", "Klopt dit nog?"),
                ("2", "Over welke dienst"),  # 2. Iets is veranderd
                ("1", "Wat is er veranderd?"),  # 1. Diëtist Smaakvol (the first service of the list)
                ("2", "Typ het nieuwe telefoonnummer"),  # 2. Telefoon
                ("053-5559999", "Wordt: 053-5559999"),
                ("1", "De coördinator kijkt"),  # 1. Versturen
            ):
                await dietitian.say(room, typed)
                seen += 1
                assert expected in (await dietitian.replies(room, bot_user, seen))[-1]
            await OutboxSender(bot.database, "telegram", telegram.send_outbox, Limits()).run_once()
            approval = fake.messages_to(701)[-1]
            assert "Wordt: 053-5559999" in approval["text"]
            keyboard = [row[0] for row in approval["reply_markup"]["inline_keyboard"]]
            assert [b["text"] for b in keyboard] == ["Goedkeuren", "Afwijzen"]
            fake.push_button(701, keyboard[0]["callback_data"])
            await asyncio.to_thread(fake.wait_for, lambda f: len(f.messages_to(701)) >= 2)
            assert "Goedgekeurd" in fake.messages_to(701)[-1]["text"]
            await OutboxSender(bot.database, "matrix", matrix.send_outbox, Limits()).run_once()
            assert "goedgekeurd" in (await dietitian.replies(room, bot_user, seen + 1))[-1]
        finally:
            await telegram.stop()
            await matrix.stop()
            await dietitian.client.close()

    with FakeTelegram() as fake:
        asyncio.run(scenario(fake))
    fresh_map(bot)
    answer = bot.handle(Incoming(channel="console", chat_id="res", user_id="res", text="ik zoek een diëtist 7543 AB"))
    assert "bel 053-5559999" in answer[-1].text


# --- on SQLite and PostgreSQL --------------------------------------------------------------------------


def test_the_listing_tables_come_and_go_with_their_migration(database):
    """0014 adds the five tables; down to 0013 they are gone, and up again they work."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from bot.floor.db import MIGRATIONS
    from tests.test_migrations import _alembic

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_revision("0014").down_revision == "0013"
    tables = {"service_listing", "provider_setting", "provider_check", "provider_change", "listing_report"}
    _alembic(database, "0013", up=False)
    assert not tables & set(inspect(database.engine).get_table_names())
    _alembic(database, "head", up=True)
    assert tables <= set(inspect(database.engine).get_table_names())


def test_confirm_change_capacity_report_and_retention_on_both_databases(demo_db_url):
    from datetime import UTC, datetime

    from bot.floor.db import Database
    from socialekaart.listing import (
        add_report,
        apply_retention,
        confirm_all,
        decide,
        freshness,
        propose,
        resolve_report,
        set_capacity,
        standings,
    )
    from socialekaart.models import MapChange

    now = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # already 4 December in Amsterdam
    database = Database(demo_db_url)
    try:
        with database.session() as session:
            org = session.scalar(select(Organization).where(Organization.name == SMAAKVOL))
            before = revision_value(session)
            assert confirm_all(session, org, now) == 3
            first = session.scalar(select(Service).where(Service.name == "Diëtist Smaakvol"))
            assert first.assured_date == date(2026, 12, 4)  # the local date
            change = propose(session, first, "status", "temporarily closed", None, now)
            assert change.status == "pending" and decide(session, change, True, None, now)
            assert not decide(session, change, False, None, now)
            set_capacity(session, first, "full", date(2027, 1, 4), now)
            report = add_report(session, first, "other", f"tekst {MARK}", now)
            session.commit()
            assert first.status == "temporarily closed" and revision_value(session) != before
            assert session.scalar(select(func.count()).select_from(MapChange).where(MapChange.service_id == first.id))
            assert standings(session, [first.id])[first.id].capacity_from == date(2027, 1, 4)
            row = next(r for r in freshness(session, now, 6, {}) if r["organization"] == SMAAKVOL)
            assert (row["services"], row["confirmed"], row["reports_open"]) == (2, 2, 1)  # one is closed now
            assert resolve_report(session, report, now) and not resolve_report(session, report, now)
            counts = apply_retention(session, now + timedelta(days=31), timedelta(days=30))
            session.commit()
            assert counts == {"report_texts": 0, "change_values": 1}
            assert session.get(ProviderChange, change.id).value is None
            assert session.get(ListingReport, report.id).text is None
    finally:
        database.dispose()


def test_a_newer_proposal_replaces_a_waiting_one_and_a_report_is_made_once(bot):
    make(bot, "diet1", "professional", SMAAKVOL)
    make(bot, "coord", "coordinator")
    for typed in ("053 555 1234", "053 555 4321"):
        which = chat(bot, button="check:changed", who="diet1")
        chat(bot, button=press(which, "Diëtist Smaakvol"), who="diet1")
        chat(bot, button="change:what:phone", who="diet1")
        chat(bot, typed, who="diet1")
        chat(bot, button="change:send", who="diet1")
    first, second = (m.buttons[0]["value"] for m in outbox(bot, "coord")[-2:])
    assert "al besloten" in chat(bot, button=first, who="coord")[-1].text  # the older one cannot overwrite
    assert "Goedgekeurd" in chat(bot, button=second, who="coord")[-1].text
    fresh_map(bot)
    assert "bel 053-5554321" in ask(bot, "ik zoek een diëtist 7543 AB")[-1].text
    with bot.database.session() as session:
        assert sorted(session.scalars(select(ProviderChange.status))) == ["applied", "superseded"]
    # a resident reports a service once per answer; the same open report by another resident is not sent twice
    sent_before = len(outbox(bot, "diet1"))
    for who in ("res", "res"):
        chat(bot, button="report:start", who=who)
        chat(bot, button="report:service:1", who=who)
        last = chat(bot, button="report:what:phone", who=who)
    assert "al gemeld" in last[-1].text
    ask(bot, "ik zoek een diëtist 7543 AB", who="res2")
    chat(bot, button="report:start", who="res2")
    chat(bot, button="report:service:1", who="res2")
    assert "Dank u wel" in chat(bot, button="report:what:phone", who="res2")[-1].text
    assert len(outbox(bot, "diet1")) == sent_before + 1
    with bot.database.session() as session:
        assert session.scalar(select(func.count()).select_from(ListingReport)) == 1


def test_a_waiting_list_whose_date_has_come_counts_as_open_again(bot, clock):
    make(bot, "logo", "professional", PRAATJESMAKER)
    before = ask(bot, "ik zoek logopedie voor mijn kind 7543 AB")[-1].text
    chat(bot, button="check:changed", who="logo")
    chat(bot, button="change:what:capacity", who="logo")
    chat(bot, button="capacity:waitlist", who="logo")
    chat(bot, "4 januari", who="logo")
    assert (
        "Wachtlijst, weer plek vanaf 4 januari 2027"
        in ask(bot, "ik zoek logopedie voor mijn kind 7543 AB", who="r2")[-1].text
    )
    clock.advance(timedelta(days=34))  # 4 January 2027
    assert ask(bot, "ik zoek logopedie voor mijn kind 7543 AB", who="r3")[-1].text == before
