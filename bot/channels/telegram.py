"""Telegram adapter (python-telegram-bot 22, long polling). Thin: translate, send, retry.

Interactive replies are sent at once; broadcasts go through the outbox sender with a budget below
Telegram's 30 messages/s. Every dynamic text is HTML-escaped for the HTML parse mode, long texts are
split at 4,096 characters, buttons become inline keyboards, and updates are de-duplicated by id.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
from collections import OrderedDict
from datetime import timedelta

os.environ.setdefault("PTB_TIMEDELTA", "true")  # opt in to RetryAfter.retry_after as a timedelta (PTB 23)

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.delivery import SendResult
from bot.floor.messages import Button, Incoming, Outgoing
from bot.flows import commands

log = logging.getLogger(__name__)
MAX_LENGTH = 4096


def split_text(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """Escape for HTML and cut into pieces of at most `limit`, at line or word boundaries, never in an entity."""
    escaped = html.escape(text, quote=False)
    chunks: list[str] = []
    while len(escaped) > limit:
        cut = escaped.rfind("\n", 0, limit)
        if cut <= 0:
            cut = escaped.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        amp = escaped.rfind("&", 0, cut)
        if amp != -1 and ";" not in escaped[amp:cut]:
            cut = amp
        chunks.append(escaped[:cut].rstrip())
        escaped = escaped[cut:].lstrip()
    chunks.append(escaped)
    return [c for c in chunks if c] or [""]


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    name = "telegram"

    def __init__(self, core, token: str, *, base_url: str | None = None, poll_timeout: int = 10):
        builder = Application.builder().token(token).get_updates_read_timeout(poll_timeout + 5)
        if base_url:
            builder = builder.base_url(base_url)  # e.g. http://127.0.0.1:8081/bot; PTB appends token and method
        self.app = builder.build()
        self.core = core
        self.poll_timeout = poll_timeout
        self._seen: OrderedDict[int, None] = OrderedDict()
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_handler(MessageHandler(filters.ALL, self._on_message))

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.app.initialize()
        await self.app.bot.set_my_commands([BotCommand(c, d) for c, d in commands.menu()])
        await self.app.start()
        await self.app.updater.start_polling(timeout=self.poll_timeout, poll_interval=0.0)
        log.info("telegram: polling")

    async def stop(self) -> None:
        if self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    # --- incoming ----------------------------------------------------------------------------------

    def _first_time(self, update: Update) -> bool:
        if update.update_id in self._seen:
            log.info("telegram: duplicate update skipped")
            return False
        self._seen[update.update_id] = None
        while len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        return True

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_user is None or not self._first_time(update):
            return
        text = message.text or message.caption or ""
        await self._handle(
            Incoming(
                channel=self.name,
                chat_id=str(update.effective_chat.id),
                user_id=str(update.effective_user.id),
                text=text,
                group=update.effective_chat.type != "private",
            )
        )

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or not self._first_time(update):
            return
        await query.answer()
        chat_id = str(query.message.chat.id) if query.message else str(query.from_user.id)
        group = bool(query.message) and query.message.chat.type != "private"
        await self._handle(
            Incoming(
                channel=self.name,
                chat_id=chat_id,
                user_id=str(query.from_user.id),
                button=query.data or "",
                group=group,
            )
        )

    async def _handle(self, incoming: Incoming) -> None:
        replies = await asyncio.to_thread(self.core.handle, incoming)
        for out in replies:
            await self.send(out)

    # --- outgoing ----------------------------------------------------------------------------------

    @staticmethod
    def keyboard(buttons: list[Button]) -> InlineKeyboardMarkup | None:
        return (
            InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.value)] for b in buttons])
            if buttons
            else None
        )

    async def send(self, out: Outgoing) -> None:
        """An interactive reply: sent now, retried briefly on 429/5xx."""
        chunks = split_text(out.text)
        keyboard = self.keyboard(out.buttons)
        for n, chunk in enumerate(chunks):
            markup = keyboard if n == len(chunks) - 1 else None
            for attempt in range(3):
                result = await self._send_once(out.chat_id, chunk, markup)
                if result.ok or result.blocked:
                    break
                await asyncio.sleep(result.retry_after if result.retry_after is not None else 0.5 * (attempt + 1))

    async def send_outbox(self, chat_id: str, text: str, buttons: list[Button] | None = None) -> SendResult:
        """One outbox message (a broadcast or reminder, buttons under its last part); the sender
        decides about retries."""
        result = SendResult(ok=True)
        chunks = split_text(text)
        for n, chunk in enumerate(chunks):
            result = await self._send_once(chat_id, chunk, self.keyboard(buttons) if n == len(chunks) - 1 else None)
            if not result.ok:
                return result
        return result

    async def _send_once(self, chat_id: str, escaped: str, markup) -> SendResult:
        try:
            await self.app.bot.send_message(
                chat_id=int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
                text=escaped,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
            return SendResult(ok=True)
        except RetryAfter as exc:
            return SendResult(retry_after=_seconds(exc.retry_after), error="429")
        except Forbidden as exc:
            return SendResult(blocked=True, error=f"403 {exc.message}"[:200])
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                return SendResult(blocked=True, error=f"400 {exc.message}"[:200])
            return SendResult(error=f"400 {exc.message}"[:200])
        except (TimedOut, NetworkError) as exc:
            return SendResult(error=f"network {type(exc).__name__}")

    @staticmethod
    def is_group(chat_id: str) -> bool:
        return chat_id.startswith("-")
