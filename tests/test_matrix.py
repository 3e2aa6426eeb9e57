"""The Matrix channel against a real Synapse homeserver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from nio import AsyncClient, RoomCreateResponse, RoomMessageText
from sqlalchemy import select

from bot.broadcasts import broadcast_status, create_broadcast
from bot.channels.matrix import MatrixChannel, keep_keys
from bot.channels.telegram import TelegramChannel
from bot.delivery import Limits, OutboxSender
from bot.floor.clock import SystemClock
from bot.floor.messages import Incoming
from bot.floor.models import User
from bot.floor.network import subscribe
from tests.fake_telegram import FakeTelegram
from tests.helpers import drain_outbox


class Resident:
    """A person in Element, scripted: logs in, opens a chat with the bot, reads its replies."""

    def __init__(self, synapse, name: str):
        self.user_id = synapse.register(name, "pw-" + name)
        self.client = AsyncClient(synapse.url, self.user_id)
        self.password = "pw-" + name
        self.since: str | None = None
        self.seen: list[str] = []

    async def login(self):
        await self.client.login(self.password)
        first = await self.client.sync(timeout=0)
        self.since = first.next_batch

    async def open_chat(self, bot_user: str) -> str:
        response = await self.client.room_create(invite=[bot_user], is_direct=True)
        assert isinstance(response, RoomCreateResponse)
        return response.room_id

    async def say(self, room_id: str, text: str):
        await self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})

    async def replies(self, room_id: str, bot_user: str, count: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.seen) < count:
            response = await self.client.sync(timeout=1000, since=self.since)
            self.since = response.next_batch
            room = response.rooms.join.get(room_id)
            for event in room.timeline.events if room else []:
                if isinstance(event, RoomMessageText) and event.sender == bot_user:
                    self.seen.append(event.body)
        return self.seen

    async def joined(self, room_id: str, bot_user: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = await self.client.joined_members(room_id)
            if bot_user in [m.user_id for m in getattr(members, "members", [])]:
                return True
            await asyncio.sleep(0.2)
        return False


def test_conversation_restart_without_replay_and_a_broadcast_on_both_channels(bot, synapse):
    bot_name = "wijkbot" + uuid.uuid4().hex[:6]
    bot_user = synapse.register(bot_name, "pw-bot")

    async def scenario():
        anna = Resident(synapse, "anna" + uuid.uuid4().hex[:6])
        await anna.login()
        channel = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500)
        await channel.start()
        room = await anna.open_chat(bot_user)
        assert await anna.joined(room, bot_user), "the bot accepts the invite"
        await anna.say(room, "ik heb schulden en weet niet meer hoe het moet")
        first = (await anna.replies(room, bot_user, 1))[0]
        assert "automatische assistent" in first and "1. Weet ik niet" in first and "nummer" in first
        await anna.say(room, "1")  # answers the first option: weet ik niet
        second = (await anna.replies(room, bot_user, 2))[1]
        assert "Dit kan u helpen" in second
        await channel.stop()

        # while the bot is down, Anna writes; after the restart that message is answered, once,
        # and nothing from before the restart is answered again
        await anna.say(room, "/help")
        again = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500)
        await again.start()
        third = await anna.replies(room, bot_user, 3)
        await asyncio.sleep(2)
        assert len(await anna.replies(room, bot_user, 4, timeout=2)) == 3
        assert "Ik help u" in third[2]

        # a broadcast to a Matrix user and a Telegram user
        with bot.database.session() as session:
            matrix_user = session.scalar(select(User).where(User.channel == "matrix"))
            subscribe(session, matrix_user, "events")
            session.commit()
        bot.handle(Incoming(channel="telegram", chat_id="901", user_id="901", text="/abonneren events"))
        with bot.database.session() as session:
            broadcast_id = create_broadcast(session, "Netwerkbijeenkomst dinsdag 15 december, 15 uur", "all",
                                            "events", created_by=None, now=datetime.now(UTC)).id
            session.commit()
        with FakeTelegram() as fake:
            telegram = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
            await telegram.app.initialize()
            senders = [OutboxSender(bot.database, "matrix", again.send_outbox, Limits()),
                       OutboxSender(bot.database, "telegram", telegram.send_outbox, Limits())]
            await drain_outbox(bot.database, broadcast_id, *senders, rounds=50)
            await telegram.app.shutdown()
            assert [m["chat_id"] for m in fake.sent] == [901]
        fourth = await anna.replies(room, bot_user, 4)
        assert "Netwerkbijeenkomst" in fourth[3]
        with bot.database.session() as session:
            assert broadcast_status(session, broadcast_id).sent == 2
        await again.stop()
        await anna.client.close()

    asyncio.run(scenario())


def test_an_encrypted_conversation_survives_a_restart_of_the_bot(bot, synapse, tmp_path):
    from nio import AsyncClientConfig, EnableEncryptionBuilder
    from nio.crypto import ENCRYPTION_ENABLED

    assert ENCRYPTION_ENABLED, "matrix-nio[e2e] (vodozemac) is a dependency"
    bot_user = synapse.register("crypt" + uuid.uuid4().hex[:6], "pw-bot")
    store = tmp_path / "matrix-store"

    async def scenario():
        anna = Resident(synapse, "enc" + uuid.uuid4().hex[:6])
        (tmp_path / "anna").mkdir()
        anna.client = AsyncClient(synapse.url, anna.user_id, store_path=str(tmp_path / "anna"),
                                  config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False))
        await anna.login()
        channel = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await channel.start()
        assert channel.encrypted
        response = await anna.client.room_create(invite=[bot_user], is_direct=True,
                                                 initial_state=[EnableEncryptionBuilder().as_dict()])
        room = response.room_id
        assert await anna.joined(room, bot_user)

        async def say(text):
            await anna.client.sync(timeout=500, since=anna.since)
            await keep_keys(anna.client)
            await anna.client.room_send(room, "m.room.message", {"msgtype": "m.text", "body": text},
                                        ignore_unverified_devices=True)

        await say("ik wil stoppen met roken")
        replies = await anna.replies(room, bot_user, 1, timeout=30)
        assert replies and "automatische assistent" in replies[0]
        assert anna.client.rooms[room].encrypted
        device = channel.client.device_id
        await channel.stop()
        again = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await again.start()
        assert again.client.device_id == device, "the same device (and its keys) after a restart"
        await say("1")
        replies = await anna.replies(room, bot_user, 2, timeout=30)
        assert "Dit kan u helpen" in replies[1]
        await again.stop()
        await anna.client.close()

    asyncio.run(scenario())


def test_the_invite_allow_list(bot):
    open_to_all = MatrixChannel(bot, "http://127.0.0.1:9", "@wijkbot:localhost", password="x")
    assert open_to_all._allowed("@anyone:elsewhere.nl")
    strict = MatrixChannel(bot, "http://127.0.0.1:9", "@wijkbot:localhost", password="x",
                           allow="@coordinator:wijk.nl, :zorg.example.nl")
    assert strict._allowed("@coordinator:wijk.nl")
    assert strict._allowed("@nurse:zorg.example.nl")
    assert not strict._allowed("@spam:elsewhere.nl")
    asyncio.run(open_to_all.client.close())
    asyncio.run(strict.client.close())


def test_a_reminder_arrives_as_numbered_options_and_the_number_answers_it(bot, synapse):
    from datetime import timedelta

    from bot.floor.clock import LOCAL_TZ, SystemClock
    from jobs.changes import add_series
    from jobs.models import Rsvp
    from jobs.scheduler import ReminderScheduler

    bot.clock = clock = SystemClock()  # Synapse lives in real time
    bot_user = synapse.register("remind" + uuid.uuid4().hex[:6], "pw-bot")

    async def scenario():
        nurse = Resident(synapse, "nurse" + uuid.uuid4().hex[:6])
        await nurse.login()
        channel = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500)
        await channel.start()
        room = await nurse.open_chat(bot_user)
        assert await nurse.joined(room, bot_user)
        await nurse.say(room, "/abonneren meetings")
        assert "overleggen" in (await nurse.replies(room, bot_user, 1))[0]
        start = (clock.now() + timedelta(days=1, minutes=-2)).astimezone(LOCAL_TZ)
        with bot.database.session() as session:
            session.scalar(select(User).where(User.channel == "matrix")).role = "professional"
            add_series(session, title="MDO wijkverpleging", rrule="FREQ=DAILY;COUNT=1", duration_minutes=60,
                       remind=["1d"], start_local=start.replace(tzinfo=None).isoformat(timespec="minutes"),
                       now=clock.now() - timedelta(minutes=5))
            session.commit()
        assert ReminderScheduler(bot.database, clock).run_due() == (1, 0)
        await OutboxSender(bot.database, "matrix", channel.send_outbox, Limits()).run_once()
        reminder = (await nurse.replies(room, bot_user, 2))[1]
        assert "Herinnering: MDO wijkverpleging" in reminder and "1. Ik kom\n2. Ik kom niet\n3. Misschien" in reminder
        await nurse.say(room, "2")
        assert "Genoteerd: u komt niet naar MDO wijkverpleging" in (await nurse.replies(room, bot_user, 3))[2]
        await channel.stop()
        await nurse.client.close()

    asyncio.run(scenario())
    with bot.database.session() as session:
        assert [r.answer for r in session.scalars(select(Rsvp))] == ["no"]


def test_after_a_restart_a_broadcast_reaches_a_room_that_was_quiet_since(bot, synapse, tmp_path):
    """With encryption on (as `wijkbot run` has it) nio sends only to rooms it knows, and a sync resumed
    from the saved token names only rooms that changed: the restart loads the full state of every room."""
    bot.clock = SystemClock()
    bot_user = synapse.register("quiet" + uuid.uuid4().hex[:6], "pw-bot")
    store = tmp_path / "matrix-store"

    async def scenario():
        bea = Resident(synapse, "bea" + uuid.uuid4().hex[:6])
        await bea.login()
        channel = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await channel.start()
        room = await bea.open_chat(bot_user)
        assert await bea.joined(room, bot_user)
        await bea.say(room, "/abonneren events")
        assert await bea.replies(room, bot_user, 1)
        await channel.stop()

        again = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await again.start()
        assert again.encrypted and room in again.client.rooms
        with bot.database.session() as session:
            broadcast_id = create_broadcast(session, "Koffieochtend vrijdag", "all", "events", created_by=None,
                                            now=datetime.now(UTC)).id
            session.commit()
        await drain_outbox(bot.database, broadcast_id, OutboxSender(bot.database, "matrix", again.send_outbox,
                                                                    Limits()), rounds=50)
        assert "Koffieochtend vrijdag" in (await bea.replies(room, bot_user, 2))[1]
        await again.stop()
        await bea.client.close()

    asyncio.run(scenario())

