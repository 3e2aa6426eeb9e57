"""Matrix adapter (matrix-nio). Thin: translate, send, retry.

- Login with a password or an access token; the sync token (`next_batch`) is saved in the database
  after every sync and passed as `since` at start, so a restart neither replays old messages nor
  misses new ones. The very first start skips the history it finds.
- Invites are accepted automatically (optionally only from an allow-list of users or :servers).
- Buttons become numbered options; a reply with just that number presses the button. The options
  of the last reply per room are saved, so numbers still work after a restart.
- Outbox rows are sent exactly once: the transaction id of a row's send is a function of its
  idempotency key (`transaction_id`), and Matrix makes a repeated PUT of one transaction id from one
  device idempotent: the homeserver answers with the first event instead of storing a second.
  Synapse remembers a transaction id for 24 hours (table event_txn_id_device_id; besides a
  30-60 minute cache in memory); a row resent later than that after a crash can arrive twice. This
  holds because the device is kept across restarts (the saved session below).
- End-to-end encryption when matrix-nio's e2e extra is installed (vodozemac): the crypto store lives
  in the data directory and the device (id + access token) is saved, so a restart keeps the same
  device and its keys. Unencrypted rooms work without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import secrets
import uuid

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginError,
    MatrixRoom,
    MegolmEvent,
    RoomMessageText,
    RoomSendError,
    SendRetryError,
    SyncError,
    SyncResponse,
    WhoamiError,
)
from nio.crypto import ENCRYPTION_ENABLED

from bot.channels import state
from bot.delivery import SendResult
from bot.floor.messages import Button, Incoming, Outgoing, numbered
from bot.floor.texts import say

log = logging.getLogger(__name__)


async def keep_keys(client: AsyncClient) -> None:
    """Keep a device's encryption keys in step with the server: upload ours, learn and claim others'."""
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())


class MatrixChannel:
    name = "matrix"
    keyed_outbox = True  # send_outbox takes the row's idempotency key (OutboxSender(keyed=True))

    def __init__(
        self,
        core,
        homeserver: str,
        user_id: str,
        *,
        password: str | None = None,
        token: str | None = None,
        allow: str = "",
        sync_timeout_ms: int = 3000,
        store_path=None,
    ):
        self.core = core
        self.database = core.database
        self.encrypted = ENCRYPTION_ENABLED and store_path is not None
        if self.encrypted:
            store_path.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            homeserver,
            user_id,
            store_path=str(store_path) if self.encrypted else "",
            config=AsyncClientConfig(encryption_enabled=self.encrypted, store_sync_tokens=False),
        )
        self.password, self.token = password, token
        self.allow = [a.strip() for a in allow.split(",") if a.strip()]
        self.sync_timeout_ms = sync_timeout_ms
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._txn_scope = ""

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._log_in()
        self._txn_scope = state.load(self.database, self.name, "txn_scope") or self._new_txn_scope()
        await self._keys()
        since = state.load(self.database, self.name, "next_batch")
        if since is None:  # first start: take the current position, do not answer history
            first = await self.client.sync(timeout=0, full_state=True)
            if isinstance(first, SyncError):
                raise RuntimeError(f"matrix: first sync failed ({first.message})")
            for room_id in first.rooms.invite:
                await self._join(room_id, None)
            state.save(self.database, self.name, "next_batch", first.next_batch)
        self.client.add_event_callback(self._on_message, RoomMessageText)
        self.client.add_event_callback(self._on_undecryptable, MegolmEvent)
        self.client.add_event_callback(self._on_invite, InviteMemberEvent)
        if since is not None:
            await self._catch_up(since)
        self._stop.clear()
        self._task = asyncio.create_task(self._sync_forever())
        log.info("matrix: syncing")

    async def _log_in(self) -> None:
        """The device saved last time, else a new login whose device is saved: a restart keeps the device,
        and with it its encryption keys and the scope of the transaction ids (exactly-once sends)."""
        session = state.load(self.database, self.name, "session")
        if session and session.get("user_id") == self.client.user:
            self.client.restore_login(session["user_id"], session["device_id"], session["access_token"])
        elif self.token:
            self.client.access_token = self.token
            who = await self.client.whoami()
            if isinstance(who, WhoamiError):
                raise RuntimeError(f"matrix: the access token was refused ({who.message})")
            self.client.restore_login(who.user_id, who.device_id or "", self.token)
        elif self.password:
            login = await self.client.login(self.password, device_name="wijkbot")
            if isinstance(login, LoginError):
                raise RuntimeError(f"matrix: login failed ({login.message})")
        else:
            raise RuntimeError("matrix: set WIJKBOT_MATRIX_PASSWORD or WIJKBOT_MATRIX_TOKEN")
        state.save(
            self.database,
            self.name,
            "session",
            {
                "user_id": self.client.user_id,
                "device_id": self.client.device_id,
                "access_token": self.client.access_token,
            },
        )

    async def _catch_up(self, since: str) -> None:
        """After a restart, before anything is sent: what came in meanwhile is answered, and with encryption
        the full state of every joined room is loaded. nio then sends only to rooms it knows, and an
        incremental sync names only the rooms that changed: a broadcast to a room that was quiet since the
        restart would fail."""
        response = await self.client.sync(timeout=0, since=since, full_state=self.encrypted)
        if isinstance(response, SyncError):
            raise RuntimeError(f"matrix: sync after the restart failed ({response.message})")
        state.save(self.database, self.name, "next_batch", response.next_batch)
        await self._keys()

    def _new_txn_scope(self) -> str:
        scope = secrets.token_hex(4)
        state.save(self.database, self.name, "txn_scope", scope)
        return scope

    def transaction_id(self, key: str) -> str:
        """The Matrix transaction id of an outbox row: the same for every send of one idempotency key,
        URL-safe and short (`wb.` + this database's scope + `.` + 32 hex digits of SHA-256 of the key).
        The scope is random once per database: a fresh database that reuses the bot's device (an
        access token in the settings) starts its keys at broadcast:1 again and must not collide."""
        return f"wb.{self._txn_scope}.{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            await self._task
        await self.client.close()

    async def _sync_forever(self) -> None:
        since = state.load(self.database, self.name, "next_batch")
        while not self._stop.is_set():
            response = await self.client.sync(timeout=self.sync_timeout_ms, since=since)
            if isinstance(response, SyncResponse):
                since = response.next_batch
                state.save(self.database, self.name, "next_batch", since)
                await self._keys()
            else:
                log.warning("matrix: sync failed, retrying")
                await asyncio.sleep(1)

    async def _keys(self) -> None:
        if self.encrypted:
            await keep_keys(self.client)

    # --- incoming ----------------------------------------------------------------------------------

    async def _on_undecryptable(self, room: MatrixRoom, event: MegolmEvent) -> None:
        log.warning("matrix: a message could not be decrypted; asking for the key")
        with contextlib.suppress(Exception):
            await self.client.request_room_key(event)

    def _allowed(self, sender: str) -> bool:
        if not self.allow:
            return True
        server = ":" + sender.split(":", 1)[-1]
        return sender in self.allow or server in self.allow

    async def _on_invite(self, room: MatrixRoom, event: InviteMemberEvent) -> None:
        if event.state_key == self.client.user_id and event.membership == "invite":
            await self._join(room.room_id, event.sender)

    async def _join(self, room_id: str, sender: str | None) -> None:
        if sender is not None and not self._allowed(sender):
            log.info("matrix: invite refused by the allow-list")
            return
        result = await self.client.join(room_id)
        if isinstance(result, JoinError):
            log.warning("matrix: could not join a room")

    async def _on_message(self, room: MatrixRoom, event: RoomMessageText) -> None:
        if event.sender == self.client.user_id:
            return
        text = event.body or ""
        group = room.member_count > 2  # more than the bot and one person: others read along
        key = f"{room.room_id}|{event.sender}" if group else room.room_id  # a number answers one's own buttons
        buttons = state.load(self.database, self.name, f"buttons:{key}", [])
        pressed = numbered(text.strip().rstrip(".)"), buttons)
        if pressed is not None:
            incoming = Incoming(
                channel=self.name, chat_id=room.room_id, user_id=event.sender, button=pressed, group=group
            )
        else:
            incoming = Incoming(channel=self.name, chat_id=room.room_id, user_id=event.sender, text=text, group=group)
        replies = await asyncio.to_thread(self.core.handle, incoming)
        for out in replies:
            await self.send(out)
        self._remember_buttons(key, replies[-1].buttons if replies else [])

    def _remember_buttons(self, room_id: str, buttons: list[Button]) -> None:
        """A number typed next in this room presses one of these (also after a restart)."""
        state.save(self.database, self.name, f"buttons:{room_id}", [b.value for b in buttons])

    # --- outgoing ----------------------------------------------------------------------------------

    @staticmethod
    def render(out: Outgoing) -> dict:
        plain = out.text
        rich = html.escape(out.text).replace("\n", "<br>")
        if out.buttons:
            plain += "\n" + "\n".join(f"{n}. {b.label}" for n, b in enumerate(out.buttons, 1))
            plain += "\n" + say("matrix.choose")
            rich += "<ol>" + "".join(f"<li>{html.escape(b.label)}</li>" for b in out.buttons) + "</ol>"
            rich += html.escape(say("matrix.choose"))
        return {"msgtype": "m.text", "body": plain, "format": "org.matrix.custom.html", "formatted_body": rich}

    async def send(self, out: Outgoing) -> None:
        tx_id = str(uuid.uuid4())  # one reply, one transaction: a retry after a lost answer is not a second reply
        for attempt in range(3):
            result = await self._send_once(out.chat_id, self.render(out), tx_id)
            if result.ok or result.blocked:
                return
            await asyncio.sleep(result.retry_after if result.retry_after is not None else 0.5 * (attempt + 1))

    async def send_outbox(
        self, chat_id: str, text: str, buttons: list[Button] | None = None, *, key: str | None = None
    ) -> SendResult:
        """One outbox message; numbered options when it has buttons (an RSVP), answered by number.
        With the row's idempotency key a repeated send (after a crash) is delivered once."""
        out = Outgoing(channel=self.name, chat_id=chat_id, text=text, buttons=buttons or [])
        result = await self._send_once(chat_id, self.render(out), self.transaction_id(key) if key else None)
        if result.ok and out.buttons:
            self._remember_buttons(chat_id, out.buttons)
        return result

    async def _send_once(self, room_id: str, content: dict, tx_id: str | None = None) -> SendResult:
        try:
            response = await self.client.room_send(
                room_id, "m.room.message", content, tx_id=tx_id, ignore_unverified_devices=True
            )
        except (LocalProtocolError, SendRetryError) as exc:  # e.g. a room the bot is not in (any more)
            return SendResult(error=type(exc).__name__)
        if isinstance(response, RoomSendError):
            if response.status_code == "M_LIMIT_EXCEEDED":
                return SendResult(retry_after=(response.retry_after_ms or 1000) / 1000, error="M_LIMIT_EXCEEDED")
            if response.status_code == "M_FORBIDDEN":
                return SendResult(blocked=True, error="M_FORBIDDEN")
            return SendResult(error=f"{response.status_code}"[:200])
        return SendResult(ok=True)

    @staticmethod
    def is_group(chat_id: str) -> bool:
        return False
