"""The console chat: the embedded default channel. Buttons are shown as numbered options.

The console is a channel like the others: what the outbox holds for this console user (reminders with
their RSVP buttons, announcements) is shown between turns, and a number then answers its buttons.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from bot.floor.messages import Button, Incoming, Outgoing, numbered
from bot.floor.outbox import due_messages, mark_sent
from bot.floor.texts import catalogue


def render(out: Outgoing) -> str:
    lines = [out.text]
    for n, button in enumerate(out.buttons, 1):
        lines.append(f"  [{n}] {button.label}")
    return "\n".join(lines)


def deliver_outbox(bot, chat_id: str) -> list[Outgoing]:
    """Take the console's due outbox messages for this chat: marked sent, returned to be shown."""
    now = bot.clock.now()
    with bot.database.session() as session:
        rows = due_messages(session, "console", now, chat_id=chat_id)
        out = [
            Outgoing(channel="console", chat_id=chat_id, text=m.text, buttons=[Button(**b) for b in m.buttons or []])
            for m in rows
        ]
        for m in rows:
            mark_sent(session, m.id, now)
        session.commit()
    return out


def run_console(bot, stdin: TextIO | None = None, stdout: TextIO | None = None, *, user: str | None = None) -> None:
    """Chat on stdin/stdout until end of input or /stop. A number answers the last buttons."""
    catalogue()  # a broken texts.*.yaml stops the start (CatalogueError), not the first reminder
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    user = user or getpass.getuser()
    interactive = stdin.isatty()
    buttons: list[Button] = []

    def show(replies: list[Outgoing]) -> None:
        """Print the replies, then what arrived for this user; numbers answer the last buttons shown."""
        nonlocal buttons
        delivered = deliver_outbox(bot, user)
        for out in [*replies, *delivered]:
            print(render(out), file=stdout, flush=True)
        with_buttons = [out for out in delivered if out.buttons]
        buttons = with_buttons[-1].buttons if with_buttons else (replies[-1].buttons if replies else [])

    show(bot.handle(Incoming(channel="console", chat_id=user, user_id=user, text="/start")))
    warm_up = getattr(bot, "warm_up", None)
    if warm_up is not None:  # the rest is made now the greeting is shown; a message waits for what it needs
        warm_up.start()
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.rstrip("\r\n")
        incoming = Incoming(channel="console", chat_id=user, user_id=user, text=text)
        pressed = numbered(text.strip(), [b.value for b in buttons])
        if pressed is not None:
            incoming = Incoming(channel="console", chat_id=user, user_id=user, button=pressed)
        show(bot.handle(incoming))
        print(file=stdout, flush=True)
        if text.strip().lower() == "/stop":
            break
