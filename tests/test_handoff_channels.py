"""A warm handoff across channels (issue 14): a resident on Telegram (the local Bot-API server of
tests/fake_telegram.py) asks for contact "via deze chat"; a professional of the organisation on Matrix (a
real Synapse) gets the need card as numbered options, claims it by typing 1, writes the resident, and the
resident's one answer comes back. Real time: Synapse and python-telegram-bot run on the wall clock."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select

from bot.channels.matrix import MatrixChannel
from bot.channels.telegram import TelegramChannel
from bot.delivery import Limits, OutboxSender
from bot.floor.clock import SystemClock
from bot.floor.network import create_invite
from jobs.handoffs import Handoff
from tests.fake_telegram import FakeTelegram
from tests.test_matrix import Resident

RESIDENT = 701


def test_a_telegram_residents_card_is_claimed_on_matrix_and_the_message_relayed_both_ways(bot, synapse):
    bot.clock = SystemClock()
    bot_user = synapse.register("handoff" + uuid.uuid4().hex[:6], "pw-bot")
    with bot.database.session() as session:
        code = create_invite(
            session, "professional", organization="Stichting Op Orde", valid_for=timedelta(days=1), now=bot.clock.now()
        )
        session.commit()

    async def telegram_turn(fake: FakeTelegram, *, text: str | None = None, button: str | None = None) -> dict:
        before = len(fake.messages_to(RESIDENT))
        if button is not None:
            fake.push_button(RESIDENT, button)
        else:
            fake.push_message(RESIDENT, text or "")
        await asyncio.to_thread(fake.wait_for, lambda f: len(f.messages_to(RESIDENT)) > before)
        return fake.messages_to(RESIDENT)[-1]

    def callbacks(message: dict) -> list[str]:
        return [row[0]["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])]

    async def scenario(fake: FakeTelegram):
        petra = Resident(synapse, "petra" + uuid.uuid4().hex[:6])
        await petra.login()
        matrix = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500)
        telegram = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
        await matrix.start()
        await telegram.start()
        to_matrix = OutboxSender(bot.database, "matrix", matrix.send_outbox, Limits(per_chat_interval=0))
        to_telegram = OutboxSender(bot.database, "telegram", telegram.send_outbox, Limits(per_chat_interval=0))
        try:
            room = await petra.open_chat(bot_user)
            assert await petra.joined(room, bot_user)
            await petra.say(room, f"/aanmelden {code}")
            assert "Gelukt" in (await petra.replies(room, bot_user, 1))[0]

            await telegram_turn(fake, text="ik heb schulden en de deurwaarder stuurt brieven")
            answer = await telegram_turn(fake, text="7543 AB")
            assert "handoff:start" in callbacks(answer)
            assert "Welke organisatie" in (await telegram_turn(fake, button="handoff:start"))["text"]
            assert "Is dat goed?" in (await telegram_turn(fake, button="handoff:service:1"))["text"]
            await telegram_turn(fake, button="handoff:consent:yes")
            await telegram_turn(fake, text="Anna")
            await telegram_turn(fake, button="handoff:phone:chat")
            await telegram_turn(fake, button="handoff:time:afternoon")
            preview = await telegram_turn(fake, button="handoff:need:ok")
            assert "Contact: via deze chat" in preview["text"]
            assert "Verstuurd" in (await telegram_turn(fake, button="handoff:confirm:send"))["text"]

            await to_matrix.run_once()
            card = (await petra.replies(room, bot_user, 2))[1]
            assert "Hulpvraag nr. 1" in card and "Naam: Anna" in card
            assert "1. Ik pak het op\n2. Past niet bij ons" in card
            await petra.say(room, "1")
            claimed = (await petra.replies(room, bot_user, 3))[2]
            assert "U heeft hulpvraag nr. 1 opgepakt" in claimed and "1. Stuur de bewoner een bericht" in claimed
            await petra.say(room, "1")
            assert "Typ uw bericht aan Anna" in (await petra.replies(room, bot_user, 4))[3]
            await petra.say(room, "Dag Anna, ik ben Petra van Op Orde. Zullen we morgen om 14 uur bellen?")
            assert "Verstuurd naar Anna" in (await petra.replies(room, bot_user, 5))[4]

            before = len(fake.messages_to(RESIDENT))
            while await to_telegram.run_once():  # one message per chat per pass: the notice, then the message
                pass
            told, relayed = fake.messages_to(RESIDENT)[before:]
            assert "Stichting Op Orde heeft uw vraag opgepakt" in told["text"]
            assert "Dag Anna, ik ben Petra" in relayed["text"] and callbacks(relayed) == ["handoff:reply:1"]
            assert "één keer antwoorden" in (await telegram_turn(fake, button="handoff:reply:1"))["text"]
            sent = await telegram_turn(fake, text="Ja, morgen 14 uur is goed.")
            assert "Verstuurd naar Stichting Op Orde" in sent["text"]

            await to_matrix.run_once()
            back = (await petra.replies(room, bot_user, 6))[5]
            assert "Antwoord van Anna op hulpvraag nr. 1:\nJa, morgen 14 uur is goed." in back
        finally:
            await telegram.stop()
            await matrix.stop()
            await petra.client.close()

    with FakeTelegram() as fake:
        asyncio.run(scenario(fake))
    with bot.database.session() as session:
        handoff = session.scalar(select(Handoff))
        assert (handoff.status, handoff.via_chat, handoff.awaiting_reply) == ("claimed", True, False)
