"""Delivering the outbox on one channel: rate limits, backoff on 429 and 5xx, blocked users.

The sender is the only place that turns outbox rows into network calls. It runs as its own task,
beside the interactive handler, with a rate budget below the channel's limit so that replies to
people who are chatting are never queued behind a broadcast.

Delivery after a crash: a row is marked sent after the channel confirmed it, so a crash in between
leaves it queued and it is sent again. The sender awaits one send at a time, so at most one row per
channel is in that state. A channel that can make a repeated send harmless gets the row's idempotency
key (`keyed=True`; Matrix uses it for its transaction id, and the homeserver returns the first event
instead of a second); Telegram has no such key, so there a crash can repeat that one row
(all of its parts, when a long text was split).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.floor.clock import Clock, SystemClock
from bot.floor.messages import Button
from bot.floor.outbox import due_messages, mark_blocked, mark_retry, mark_sent

log = logging.getLogger(__name__)


@dataclass
class SendResult:
    ok: bool = False
    retry_after: float | None = None  # the server asked to wait (429)
    blocked: bool = False  # the recipient blocked the bot (403)
    error: str = ""


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. Monotonic time; sans-I/O."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def wait_time(self, now: float | None = None) -> float:
        """Seconds until a token is free; takes it when that is now (returns 0)."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class SlidingWindow:
    """At most `limit` events in any window of `seconds`: holds a rate exactly, yet lets a sender
    that was slowed down (a send that took long, a pause) catch up within the window."""

    def __init__(self, limit: float, seconds: float = 1.0):
        self.limit = max(1, int(limit))
        self.seconds = seconds
        self.stamps: deque[float] = deque()

    def wait_time(self, now: float | None = None) -> float:
        """Seconds until the next event is allowed; records the event when that is now (returns 0)."""
        now = time.monotonic() if now is None else now
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            self.stamps.append(now)
            return 0.0
        return self.stamps[0] + self.seconds - now


@dataclass
class Limits:
    per_second: float = 25.0  # Telegram allows 30/s overall: keep headroom for interactive replies
    per_chat_interval: float = 1.0  # at most one message a second to one chat
    group_per_minute: float = 20.0  # groups: 20 a minute


class OutboxSender:
    def __init__(
        self,
        database,
        channel: str,
        send: Callable[..., Awaitable[SendResult]],
        limits: Limits | None = None,
        *,
        is_group: Callable[[str], bool] = lambda chat: False,
        clock: Clock | None = None,
        keyed: bool = False,
    ):
        """`send(chat_id, text, buttons)` delivers one row; with `keyed` it is also given the row's
        idempotency key (`key=`) and promises that sending one key twice delivers it once."""
        self.database = database
        self.clock = clock or SystemClock()
        self.channel = channel
        self.send = send
        self.limits = limits or Limits()
        self.is_group = is_group
        self.keyed = keyed
        # never more than the limit in any second, with 1% margin for jitter between us and the server
        self.window = SlidingWindow(self.limits.per_second, seconds=1.01)
        self.last_to_chat: dict[str, float] = {}
        self.group_buckets: dict[str, TokenBucket] = {}
        self.paused_until = 0.0
        self.sent = 0

    async def _wait_for_budget(self, chat_id: str) -> None:
        while True:
            now = time.monotonic()
            waits = [self.paused_until - now]
            last = self.last_to_chat.get(chat_id)
            if last is not None:
                waits.append(last + self.limits.per_chat_interval - now)
            wait = max(waits)
            if wait <= 0:
                if self.is_group(chat_id):
                    bucket = self.group_buckets.setdefault(chat_id, TokenBucket(self.limits.group_per_minute / 60, 1))
                    group_wait = bucket.wait_time()
                    if group_wait > 0:
                        await asyncio.sleep(group_wait)
                        continue
                wait = self.window.wait_time()
                if wait <= 0:
                    return
            await asyncio.sleep(wait)

    async def run_once(self, batch: int = 200, stop: asyncio.Event | None = None) -> int:
        """Send what is due now; returns how many rows were handled. Stops between messages when told."""
        now = self.clock.now()
        with self.database.session() as session:
            rows = [
                (m.id, m.chat_id, m.text, [Button(**b) for b in m.buttons or []], m.idempotency_key)
                for m in due_messages(session, self.channel, now, batch)
            ]
        handled = 0
        # one message per chat per pass keeps the per-chat interval from stalling the others
        seen: set[str] = set()
        for message_id, chat_id, text, buttons, key in rows:
            if stop is not None and stop.is_set():
                break
            if chat_id in seen:
                continue
            seen.add(chat_id)
            await self._wait_for_budget(chat_id)
            # one send at a time: a crash leaves at most this one row sent but not marked
            keyword = {"key": key} if self.keyed else {}
            result = await self.send(chat_id, text, buttons, **keyword)
            self.last_to_chat[chat_id] = time.monotonic()
            with self.database.session() as session:
                stamp = self.clock.now()
                if result.ok:
                    mark_sent(session, message_id, stamp)
                    self.sent += 1
                elif result.blocked:
                    mark_blocked(session, message_id, result.error or "blocked")
                elif result.retry_after is not None:
                    self.paused_until = time.monotonic() + result.retry_after
                    mark_retry(session, message_id, stamp, timedelta(seconds=result.retry_after), "429")
                    log.info("%s: rate limited by the server for %.1f s", self.channel, result.retry_after)
                else:  # 5xx or network: back off exponentially, per message
                    mark_retry(session, message_id, stamp, None, result.error or "error")
                session.commit()
            handled += 1
        return handled

    async def run(self, stop: asyncio.Event, idle: float = 0.5) -> None:
        while not stop.is_set():
            handled = await self.run_once(stop=stop)
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)
