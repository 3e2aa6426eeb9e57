"""The console chat: the embedded default channel. Buttons are shown as numbered options."""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

from bot.messages import Button, Incoming, Outgoing


def render(out: Outgoing) -> str:
    lines = [out.text]
    for n, button in enumerate(out.buttons, 1):
        lines.append(f"  [{n}] {button.label}")
    return "\n".join(lines)


def run_console(bot, stdin: TextIO | None = None, stdout: TextIO | None = None, *, user: str | None = None) -> None:
    """Chat on stdin/stdout until end of input or /stop. A number answers the last buttons."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    user = user or getpass.getuser()
    interactive = stdin.isatty()
    buttons: list[Button] = []
    for out in bot.handle(Incoming(channel="console", chat_id=user, user_id=user, text="/start")):
        print(render(out), file=stdout, flush=True)
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.rstrip("\r\n")
        incoming = Incoming(channel="console", chat_id=user, user_id=user, text=text)
        if text.strip().isdigit() and 1 <= int(text) <= len(buttons):
            incoming = Incoming(channel="console", chat_id=user, user_id=user, button=buttons[int(text) - 1].value)
        replies = bot.handle(incoming)
        buttons = replies[-1].buttons if replies else []
        for out in replies:
            print(render(out), file=stdout, flush=True)
        print(file=stdout, flush=True)
        if text.strip().lower() == "/stop":
            break
