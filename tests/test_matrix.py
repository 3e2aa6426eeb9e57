"""The Matrix channel against a real Synapse homeserver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from nio import AsyncClient, RoomCreateResponse, RoomMessageText
from sqlalchemy import select

from bot.app import open_database
from bot.broadcasts import broadcast_status, create_broadcast
from bot.channels import state
from bot.channels.matrix import MatrixChannel, keep_keys
from bot.channels.telegram import TelegramChannel
from bot.core import Wijkbot
from bot.delivery import Limits, OutboxSender
from bot.floor.clock import SystemClock
from bot.floor.config import Settings
from bot.floor.messages import Incoming
from bot.floor.models import OutboxMessage, User
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
        assert "Ik help u" in third[2]
        # messages are handled in order: when a later one is answered, a replay would have come before it
        await anna.say(room, "/opnieuw")
        fourth = await anna.replies(room, bot_user, 4)
        assert "beginnen opnieuw" in fourth[3], fourth

        # a broadcast to a Matrix user and a Telegram user
        with bot.database.session() as session:
            matrix_user = session.scalar(select(User).where(User.channel == "matrix"))
            subscribe(session, matrix_user, "events")
            session.commit()
        bot.handle(Incoming(channel="telegram", chat_id="901", user_id="901", text="/abonneren events"))
        with bot.database.session() as session:
            broadcast_id = create_broadcast(
                session,
                "Netwerkbijeenkomst dinsdag 15 december, 15 uur",
                "all",
                "events",
                created_by=None,
                now=bot.clock.now(),
            ).id
            session.commit()
        with FakeTelegram() as fake:
            telegram = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
            await telegram.app.initialize()
            senders = [
                OutboxSender(bot.database, "matrix", again.send_outbox, Limits(), clock=bot.clock),
                OutboxSender(bot.database, "telegram", telegram.send_outbox, Limits(), clock=bot.clock),
            ]
            await drain_outbox(bot.database, broadcast_id, *senders, rounds=50, clock=bot.clock)
            await telegram.app.shutdown()
            assert [m["chat_id"] for m in fake.sent] == [901]
        fifth = await anna.replies(room, bot_user, 5)
        assert "Netwerkbijeenkomst" in fifth[4]
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
        anna.client = AsyncClient(
            synapse.url,
            anna.user_id,
            store_path=str(tmp_path / "anna"),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        await anna.login()
        channel = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await channel.start()
        assert channel.encrypted
        response = await anna.client.room_create(
            invite=[bot_user], is_direct=True, initial_state=[EnableEncryptionBuilder().as_dict()]
        )
        room = response.room_id
        assert await anna.joined(room, bot_user)

        async def say(text):
            await anna.client.sync(timeout=500, since=anna.since)
            await keep_keys(anna.client)
            await anna.client.room_send(
                room, "m.room.message", {"msgtype": "m.text", "body": text}, ignore_unverified_devices=True
            )

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
    strict = MatrixChannel(
        bot, "http://127.0.0.1:9", "@wijkbot:localhost", password="x", allow="@coordinator:wijk.nl, :zorg.example.nl"
    )
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
            add_series(
                session,
                title="MDO wijkverpleging",
                rrule="FREQ=DAILY;COUNT=1",
                duration_minutes=60,
                remind=["1d"],
                start_local=start.replace(tzinfo=None).isoformat(timespec="minutes"),
                now=clock.now() - timedelta(minutes=5),
            )
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
        key = channel.transaction_id("broadcast:1:user:1")
        await channel.stop()

        again = MatrixChannel(bot, synapse.url, bot_user, password="pw-bot", sync_timeout_ms=500, store_path=store)
        await again.start()
        assert again.encrypted and room in again.client.rooms
        assert again.transaction_id("broadcast:1:user:1") == key, "the same transaction id after a restart"
        with bot.database.session() as session:
            broadcast_id = create_broadcast(
                session, "Koffieochtend vrijdag", "all", "events", created_by=None, now=datetime.now(UTC)
            ).id
            session.commit()
        await drain_outbox(
            bot.database,
            broadcast_id,
            OutboxSender(bot.database, "matrix", again.send_outbox, Limits(), keyed=True),
            rounds=50,
        )
        assert "Koffieochtend vrijdag" in (await bea.replies(room, bot_user, 2))[1]
        await again.stop()
        await bea.client.close()

    asyncio.run(scenario())


# --- exactly once after a crash ---------------------------------------------------------------------


async def send_until_held(hold_after: int) -> None:
    """The process that crashes (run by the test below as `python -c`): `wijkbot run`'s own Matrix
    channel and outbox sender deliver the outbox, configured from the environment as `wijkbot run` is.
    When Synapse has confirmed the `hold_after`-th row, this process prints the row's key and waits
    there, before the sender marks the row sent, until it is killed. Nothing of the product is replaced:
    the wait stands for the moment of the crash, made exact."""
    from bot.runner import configured_channels

    settings = Settings()
    database = open_database(settings)
    channel = configured_channels(Wijkbot(database, settings=settings), settings)[0]
    await channel.start()
    confirmed = 0

    async def send_then_hold(chat_id, text, buttons, *, key):
        nonlocal confirmed
        result = await channel.send_outbox(chat_id, text, buttons, key=key)
        confirmed += 1
        if confirmed == hold_after:
            print(f"held {key} ok={result.ok}", flush=True)
            await asyncio.Event().wait()  # SIGKILL arrives here
        return result

    sender = OutboxSender(
        database, channel.name, send_then_hold, Limits(per_second=settings.broadcast_rate), keyed=channel.keyed_outbox
    )
    await sender.run(asyncio.Event())


async def copies_in_room(resident: Resident, room_id: str, sender: str, text: str) -> int:
    """How often `text` from `sender` is in the room, read back from Synapse as the resident."""
    response = await resident.client.room_messages(room_id, start="", limit=100)
    return sum(1 for e in response.chunk if isinstance(e, RoomMessageText) and e.sender == sender and e.body == text)


def test_a_broadcast_killed_between_sent_and_marked_sent_arrives_exactly_once(bot, synapse, tmp_path):
    """A broadcast to six residents; the sending process is killed with SIGKILL after Synapse confirmed
    the third row and before that row was marked sent (two rows sent and marked, one sent and still
    queued, three queued). `wijkbot run` is started on the same data and drains the outbox: it sends the
    third row again under the same transaction id, and every resident's room holds the message once."""
    bot.clock = SystemClock()  # Synapse and the other processes live in real time
    bot_user = synapse.register("once" + uuid.uuid4().hex[:6], "pw-bot")
    recipients, hold_after = 6, 3
    text = "Buurtfeest zaterdag 19 december vanaf 14 uur in De Vlinderhof"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WIJKBOT_")},
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "WIJKBOT_DATA_DIR": str(bot.settings.data_dir),
        "WIJKBOT_CACHE_DIR": str(bot.settings.cache_dir),
        "WIJKBOT_MATRIX_HOMESERVER": synapse.url,
        "WIJKBOT_MATRIX_USER": bot_user,
        "WIJKBOT_MATRIX_PASSWORD": "pw-bot",
    }
    errors = tmp_path / "stderr.log"

    def status():
        with bot.database.session() as session:
            return broadcast_status(session, broadcast_id)

    async def scenario():
        nonlocal broadcast_id
        # residents open a chat with the bot and subscribe; the bot logs in here for the first time
        channel = MatrixChannel(
            bot,
            synapse.url,
            bot_user,
            password="pw-bot",
            sync_timeout_ms=500,
            store_path=bot.settings.data_dir / "matrix-store",
        )
        await channel.start()
        device = channel.client.device_id
        residents = []
        for n in range(recipients):
            resident = Resident(synapse, f"buur{n}" + uuid.uuid4().hex[:6])
            await resident.login()
            room = await resident.open_chat(bot_user)
            assert await resident.joined(room, bot_user)
            await resident.say(room, "/abonneren events")
            assert await resident.replies(room, bot_user, 1), "subscribed"
            residents.append((resident, room))
        await channel.stop()
        with bot.database.session() as session:
            broadcast_id = create_broadcast(session, text, "all", "events", created_by=None, now=datetime.now(UTC)).id
            session.commit()
        assert status().queued == recipients

        # the first process sends until Synapse confirmed row 3, and is killed before it marks it sent
        with open(errors, "ab") as log:
            crashing = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "import asyncio, sys; from tests.test_matrix import send_until_held; "
                "asyncio.run(send_until_held(int(sys.argv[1])))",
                str(hold_after),
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        line = (await asyncio.wait_for(crashing.stdout.readline(), timeout=120)).decode()
        assert line.startswith("held broadcast:") and "ok=True" in line, errors.read_text()[-3000:]
        held_key = line.split()[1]
        # the kill point, seen from outside: the database has 2 sent and the held row still queued;
        # Synapse already holds the message in 3 rooms
        with bot.database.session() as session:
            held = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == held_key))
            assert (held.status, held.attempts) == ("queued", 0)
        assert (status().sent, status().queued) == (hold_after - 1, recipients - hold_after + 1)
        before = [await copies_in_room(r, room, bot_user, text) for r, room in residents]
        assert sorted(before) == [0] * (recipients - hold_after) + [1] * hold_after
        crashing.send_signal(signal.SIGKILL)
        assert await crashing.wait() == -signal.SIGKILL

        # `wijkbot run` on the same data drains the outbox, the held row included
        with open(errors, "ab") as log:
            running = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=tmp_path,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 120
        while status().queued and time.monotonic() < deadline and running.returncode is None:
            await asyncio.sleep(0.2)
        assert status().sent == recipients, errors.read_text()[-3000:]
        running.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(running.wait(), timeout=60) == 0

        after = [await copies_in_room(r, room, bot_user, text) for r, room in residents]
        assert after == [1] * recipients, f"copies per room: {after}"
        with bot.database.session() as session:
            held = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == held_key))
            assert held.status == "sent"  # sent again by the second process, kept once by Synapse

        # all three processes used the one device the bot logged in with (the transaction ids' scope)
        session = state.load(bot.database, "matrix", "session")
        assert session["device_id"] == device
        request = urllib.request.Request(
            synapse.url + "/_matrix/client/v3/devices", headers={"Authorization": "Bearer " + session["access_token"]}
        )
        with urllib.request.urlopen(request) as response:
            named = [d for d in json.loads(response.read())["devices"] if d.get("display_name") == "wijkbot"]
        assert [d["device_id"] for d in named] == [device]
        for resident, _ in residents:
            await resident.client.close()

    broadcast_id = 0
    asyncio.run(scenario())
