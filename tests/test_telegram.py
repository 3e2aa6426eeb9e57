"""The Telegram channel against a Bot-API-compatible server on 127.0.0.1 (tests/fake_telegram.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.broadcasts import broadcast_status, create_broadcast
from bot.channels.telegram import TelegramChannel, split_text
from bot.delivery import Limits, OutboxSender
from bot.floor.models import User
from bot.floor.network import subscribe
from tests.fake_telegram import FakeTelegram
from tests.helpers import drain_outbox


def run(coro):
    return asyncio.run(coro)


def test_a_conversation_with_buttons_and_callbacks(bot):
    async def scenario(fake: FakeTelegram):
        channel = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
        await channel.start()
        try:
            assert {c["command"] for c in fake.commands} >= {"start", "help", "vergeet"}
            fake.push_message(501, "ik heb schulden <b>echt</b> & meer")
            await asyncio.to_thread(fake.wait_for, lambda f: f.messages_to(501))
            first = fake.messages_to(501)[0]
            assert "automatische assistent" in first["text"] and first["parse_mode"] == "HTML"
            buttons = [row[0]["callback_data"] for row in first["reply_markup"]["inline_keyboard"]]
            assert "dont_know" in buttons and "human" in buttons
            fake.push_button(501, "dont_know")
            await asyncio.to_thread(fake.wait_for, lambda f: len(f.messages_to(501)) >= 2)
            assert fake.answered, "the button press is acknowledged (answerCallbackQuery)"
            assert "Dit kan u helpen" in fake.messages_to(501)[1]["text"]
            # the same update delivered twice is handled once
            uid = fake.push_message(502, "hoi")
            fake.push_message(502, "hoi", update_id=uid)
            await asyncio.to_thread(fake.wait_for, lambda f: f.messages_to(502))
            fake.push_message(503, "hoi")  # updates are handled in order: once this one is answered, so was the copy
            await asyncio.to_thread(fake.wait_for, lambda f: f.messages_to(503))
            assert len(fake.messages_to(502)) == 1
        finally:
            await channel.stop()

    with FakeTelegram() as fake:
        run(scenario(fake))


def test_escaping_and_splitting():
    parts = split_text("a & b <script>" + "\n" + "x" * 5000)
    assert parts[0] == "a &amp; b &lt;script&gt;"
    assert all(len(p) <= 4096 for p in parts) and sum(len(p) for p in parts[1:]) == 5000
    long = "&" * 3000
    for part in split_text(long):
        assert len(part) <= 4096 and not part.endswith("&am") and part.count("&") == part.count("&amp;")


def test_broadcast_through_the_outbox_with_429_and_blocked_users(bot):
    with bot.database.session() as session:
        now = bot.clock.now()  # the sender's clock: a retry comes due when drain_outbox moves it on
        for n in range(1, 13):
            user = User(
                channel="telegram",
                channel_user_id=str(700 + n),
                chat_id=str(700 + n),
                role="resident",
                created_at=now,
                last_seen_at=now,
            )
            session.add(user)
            session.flush()
            subscribe(session, user, "events")
        broadcast_id = create_broadcast(
            session, "Gezondheidsmarkt <zaterdag> & zondag", "residents", "events", created_by=None, now=now
        ).id
        session.commit()

    async def scenario(fake: FakeTelegram):
        channel = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
        await channel.app.initialize()
        sender = OutboxSender(
            bot.database,
            "telegram",
            channel.send_outbox,
            Limits(per_second=30, per_chat_interval=1.0),
            is_group=channel.is_group,
            clock=bot.clock,
        )
        try:
            await drain_outbox(bot.database, broadcast_id, sender, clock=bot.clock)
        finally:
            await channel.app.shutdown()

    with FakeTelegram() as fake:
        fake.blocked = {703}
        fake.fail_429_every = 5
        fake.fail_next = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
        run(scenario(fake))
        delivered = [m["chat_id"] for m in fake.sent]
    with bot.database.session() as session:
        status = broadcast_status(session, broadcast_id)
        assert (status.sent, status.blocked, status.queued, status.failed) == (11, 1, 0, 0)
        assert session.scalar(select(User.blocked).where(User.channel_user_id == "703"))
    assert len(delivered) == len(set(delivered)) == 11
    assert "&lt;zaterdag&gt; &amp; zondag" in fake.sent[0]["text"]


def test_wijkbot_run_answers_on_telegram_delivers_queued_broadcasts_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKBOT_")}
    with FakeTelegram() as fake:
        env.update(
            WIJKBOT_DATA_DIR=str(tmp_path / "data"),
            WIJKBOT_TELEGRAM_TOKEN="123:ABC",
            WIJKBOT_TELEGRAM_BASE_URL=fake.base_url,
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            fake.wait_for(lambda f: "getUpdates" in f.calls, timeout=60)
            fake.push_message(31, "/abonneren events")
            fake.wait_for(lambda f: f.messages_to(31), timeout=30)
            assert "berichten over activiteiten" in fake.messages_to(31)[0]["text"]
            created = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bot.cli",
                    "broadcast",
                    "create",
                    "--audience",
                    "all",
                    "--text",
                    "Koffie in De Cocon",
                    "--json",
                ],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                check=True,
            )
            assert b'"queued": 1' in created.stdout
            fake.wait_for(lambda f: len(f.messages_to(31)) >= 2, timeout=30)
            assert "Koffie in De Cocon" in fake.messages_to(31)[1]["text"]
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()[-2000:]
        assert b"Wijkbot runs on: telegram" in out


def test_a_reminder_carries_rsvp_buttons_and_a_press_is_recorded(bot):
    from bot.floor.clock import LOCAL_TZ, SystemClock
    from jobs.changes import add_series
    from jobs.models import Rsvp
    from jobs.scheduler import ReminderScheduler

    clock = SystemClock()  # the fake server and PTB live in real time
    bot.clock = clock
    start = (clock.now() + timedelta(days=1, minutes=-2)).astimezone(LOCAL_TZ)  # its 1d reminder: 2 minutes ago
    with bot.database.session() as session:
        user = User(
            channel="telegram",
            channel_user_id="601",
            chat_id="601",
            role="professional",
            created_at=clock.now(),
            last_seen_at=clock.now(),
        )
        session.add(user)
        session.flush()
        subscribe(session, user, "meetings")
        add_series(
            session,
            title="MDO <ouderen>",
            rrule="FREQ=DAILY;COUNT=1",
            duration_minutes=60,
            remind=["1d"],
            start_local=start.replace(tzinfo=None).isoformat(timespec="minutes"),
            now=clock.now() - timedelta(minutes=5),
        )
        session.commit()
    assert ReminderScheduler(bot.database, clock).run_due() == (1, 0)

    async def scenario(fake: FakeTelegram):
        channel = TelegramChannel(bot, "123:ABC", base_url=fake.base_url, poll_timeout=1)
        await channel.start()
        sender = OutboxSender(bot.database, "telegram", channel.send_outbox, Limits())
        try:
            await sender.run_once()
            reminder = fake.messages_to(601)[0]
            assert "MDO &lt;ouderen&gt;" in reminder["text"] and "Komt u?" in reminder["text"]
            keyboard = [row[0] for row in reminder["reply_markup"]["inline_keyboard"]]
            assert [b["text"] for b in keyboard] == ["Ik kom", "Ik kom niet", "Misschien"]
            assert all(len(b["callback_data"].encode()) <= 64 for b in keyboard)  # Telegram's limit
            fake.push_button(601, keyboard[0]["callback_data"])
            await asyncio.to_thread(fake.wait_for, lambda f: len(f.messages_to(601)) >= 2)
            assert "Genoteerd: u komt naar MDO &lt;ouderen&gt;" in fake.messages_to(601)[1]["text"]
        finally:
            await channel.stop()

    with FakeTelegram() as fake:
        run(scenario(fake))
    with bot.database.session() as session:
        assert [r.answer for r in session.scalars(select(Rsvp))] == ["yes"]
