"""Every chat command in one table: the core dispatches by it, `/help` lists it (per role), and the
Telegram menu is built from it. A command's description is the text `commands.<name>` in
bot/floor/data/commands.nl.yaml (and .en.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.floor.models import User
from bot.floor.texts import say


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    role: str = "resident"  # the lowest role that may use it
    private: bool = False  # only in a private chat: codes and coordinator flows
    menu: bool = True  # in the Telegram menu (everyone sees that menu, so only commands for everyone)

    @property
    def slash(self) -> str:
        return f"/{self.name}"

    def describe(self, lang: str = "nl") -> str:
        return say(f"commands.{self.name}", lang)


COMMANDS = (
    Command("start"),
    Command("help"),
    Command("opnieuw"),
    Command("stop"),
    Command("vergeet"),
    Command("abonneren"),
    Command("afmelden"),
    Command("aanmelden", private=True),
    Command("koppel", private=True),
    Command("agenda"),
    Command("aankondiging", role="coordinator", private=True, menu=False),
    Command("terugkoppeling", role="coordinator", private=True, menu=False),
    Command("doorverwijzingen", role="coordinator", private=True, menu=False),
    Command("aanbod", role="professional", private=True, menu=False),
)
BY_NAME = {c.slash: c for c in COMMANDS}


def find(text: str) -> tuple[Command | None, str]:
    """The command a message starts with (``/Agenda@wijkbot nieuw`` too) and the rest of the message."""
    word, _, rest = text.partition(" ")
    return BY_NAME.get(word.lower().split("@")[0]), rest.strip()


def menu(lang: str = "nl") -> list[tuple[str, str]]:
    """(command, description) for the Telegram menu."""
    return [(c.name, c.describe(lang)) for c in COMMANDS if c.menu]


def help_lines(user: User, lang: str = "nl") -> list[str]:
    """The commands this user may use, one line each, for `/help`."""
    return [
        say("help.line", lang, command=c.slash, description=c.describe(lang))
        for c in COMMANDS
        if user.at_least(c.role) and c.name != "start"
    ]
