"""`wijkbot run`: one asyncio process with every configured channel and its outbox sender.

SIGTERM and SIGINT stop it gracefully: polling stops, messages being handled are finished, the
outbox senders finish the message in hand; everything not yet sent stays queued in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.app import open_database
from bot.core import Wijkbot
from bot.delivery import Limits, OutboxSender
from bot.floor.config import Settings
from bot.floor.texts import catalogue

log = logging.getLogger(__name__)

HOW_TO_CONFIGURE = """No channel is configured, so there is nothing to run.

Configure one in the environment or in a .env file:
  Telegram: WIJKBOT_TELEGRAM_TOKEN=123456:ABC...   (optional: WIJKBOT_TELEGRAM_BASE_URL for a self-hosted Bot API)
  Matrix:   WIJKBOT_MATRIX_HOMESERVER=https://matrix.example.nl
            WIJKBOT_MATRIX_USER=@wijkbot:example.nl
            WIJKBOT_MATRIX_PASSWORD=...  or  WIJKBOT_MATRIX_TOKEN=...

To try Wijkbot without any of these, chat in the console: wijkbot chat"""


def configured_channels(core: Wijkbot, settings: Settings) -> list:
    channels = []
    if settings.telegram_token:
        from bot.channels.telegram import TelegramChannel

        channels.append(TelegramChannel(core, settings.telegram_token, base_url=settings.telegram_base_url))
    if settings.matrix_homeserver and settings.matrix_user:
        from bot.channels.matrix import MatrixChannel

        channels.append(
            MatrixChannel(
                core,
                settings.matrix_homeserver,
                settings.matrix_user,
                password=settings.matrix_password,
                token=settings.matrix_token,
                allow=settings.matrix_allow,
                store_path=settings.data_dir / "matrix-store",
            )
        )
    return channels


async def run(settings: Settings, stop: asyncio.Event | None = None) -> int:
    catalogue()  # a broken texts.*.yaml stops the start (CatalogueError), not the first reminder
    database = open_database(settings)
    core = Wijkbot(database, settings=settings)
    core.warm_up.start()  # the NLU, knowledge and indexes load while the channels connect
    channels = configured_channels(core, settings)
    if not channels:
        print(HOW_TO_CONFIGURE)
        return 1
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not in the main thread (tests)
            loop.add_signal_handler(sig, stop.set)
    started = []
    try:
        for channel in channels:
            await channel.start()
            started.append(channel)
        from jobs.scheduler import ReminderScheduler

        reminders = ReminderScheduler(database, settings=settings)
        reminders.start()
        core.on_agenda_change = reminders.changed  # a change made in chat: new jobs at once
        senders = [
            OutboxSender(
                database,
                c.name,
                c.send_outbox,
                Limits(per_second=settings.broadcast_rate),
                is_group=c.is_group,
                keyed=getattr(c, "keyed_outbox", False),
            )
            for c in started
        ]
        tasks = [asyncio.create_task(s.run(stop)) for s in senders]
        print(f"Wijkbot runs on: {', '.join(c.name for c in started)}. Stop with Ctrl+C.", flush=True)
        await stop.wait()
        await asyncio.gather(*tasks)
        reminders.shutdown()
    finally:
        for channel in reversed(started):
            await channel.stop()
        database.dispose()
    log.info("stopped")
    return 0
