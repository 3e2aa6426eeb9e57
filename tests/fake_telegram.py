"""A Bot-API-compatible HTTP server on 127.0.0.1 for tests: enough of Telegram for python-telegram-bot.

Implements getMe, deleteWebhook, getUpdates (offset + long-poll timeout), sendMessage,
answerCallbackQuery and setMyCommands. Tests push updates and can make sendMessage answer 429 (with
retry_after), 5xx, or 403 for chats that "blocked the bot".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTelegram:
    def __init__(self):
        self.updates: list[dict] = []
        self.sent: list[dict] = []  # every accepted sendMessage
        self.calls: list[str] = []
        self.answered: list[str] = []
        self.commands: list = []
        self.blocked: set[int] = set()
        self.fail_next: list[tuple[int, dict]] = []  # (status, body) answers for the next sendMessage calls
        self.fail_429_every = 0  # answer every Nth sendMessage with 429
        self.retry_after = 1
        self._send_count = 0
        self.count_429 = 0
        self._next_update = 1
        self._next_message = 1
        self._cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(body or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(body).items()}
                method = self.path.rsplit("/", 1)[-1]
                status, payload = fake.dispatch(method, params)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a long poll while shutting down

            do_GET = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- what tests do -------------------------------------------------------------------------------

    def push_message(self, chat_id: int, text: str, *, user_id: int | None = None, update_id: int | None = None):
        update = {
            "message": {
                "message_id": self._take_message_id(),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "Test"},
                "text": text,
            }
        }
        if text.startswith("/"):
            update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push(update, update_id)

    def push_button(self, chat_id: int, data: str, *, user_id: int | None = None):
        update = {
            "callback_query": {
                "id": f"cq{self._next_update}",
                "chat_instance": "ci",
                "data": data,
                "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "Test"},
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": "...",
                },
            }
        }
        return self._push(update, None)

    def wait_for(self, predicate, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if predicate(self):
                    return True
            time.sleep(0.02)
        raise AssertionError("the fake Telegram server did not see what was expected in time")

    def messages_to(self, chat_id: int) -> list[dict]:
        return [m for m in self.sent if int(m["chat_id"]) == chat_id]

    # --- the Bot API ---------------------------------------------------------------------------------

    def _push(self, update: dict, update_id: int | None) -> int:
        with self._cond:
            uid = update_id if update_id is not None else self._next_update
            self._next_update = max(self._next_update, uid + 1)
            self.updates.append({"update_id": uid, **update})
            self._cond.notify_all()
            return uid

    def _take_message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    def dispatch(self, method: str, params: dict):
        self.calls.append(method)
        ok = lambda result: (200, {"ok": True, "result": result})  # noqa: E731
        if method == "getMe":
            return ok(
                {
                    "id": 4242,
                    "is_bot": True,
                    "first_name": "Wijkbot",
                    "username": "wijkbot_test_bot",
                    "can_join_groups": True,
                    "can_read_all_group_messages": False,
                    "supports_inline_queries": False,
                }
            )
        if method in ("deleteWebhook", "close", "logOut"):
            return ok(True)
        if method == "setMyCommands":
            self.commands = json.loads(params.get("commands", "[]"))
            return ok(True)
        if method == "answerCallbackQuery":
            self.answered.append(params.get("callback_query_id"))
            return ok(True)
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            timeout = float(params.get("timeout") or 0)
            deadline = time.monotonic() + min(timeout, 2.0)
            with self._cond:
                while True:
                    pending = [u for u in self.updates if u["update_id"] >= offset]
                    if pending or time.monotonic() >= deadline:
                        return ok(pending)
                    self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
        if method == "sendMessage":
            with self._cond:
                self._send_count += 1
                chat_id = int(params["chat_id"])
                if self.fail_next:
                    status, body = self.fail_next.pop(0)
                    return status, body
                if self.fail_429_every and self._send_count % self.fail_429_every == 0:
                    self.count_429 += 1
                    return 429, {
                        "ok": False,
                        "error_code": 429,
                        "description": "Too Many Requests: retry later",
                        "parameters": {"retry_after": self.retry_after},
                    }
                if chat_id in self.blocked:
                    return 403, {
                        "ok": False,
                        "error_code": 403,
                        "description": "Forbidden: bot was blocked by the user",
                    }
                message = {
                    "message_id": self._take_message_id(),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": params.get("text", ""),
                }
                self.sent.append(
                    {
                        "chat_id": chat_id,
                        "text": params.get("text", ""),
                        "at": time.monotonic(),
                        "reply_markup": json.loads(params["reply_markup"]) if params.get("reply_markup") else None,
                        "parse_mode": params.get("parse_mode"),
                    }
                )
                return ok(message)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
