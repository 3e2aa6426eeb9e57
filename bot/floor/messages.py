"""What flows between the channels and the core: protocol-free pydantic models."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Button(BaseModel):
    label: str
    value: str


class Incoming(BaseModel):
    channel: str = Field(min_length=1, max_length=32)
    chat_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    text: str = ""
    button: str | None = None  # the value of a pressed quick-reply button
    locale: str | None = None
    group: bool = False  # a group chat: others read the replies, so no coordinator flows, no contact persons


def numbered(choice: str, values: list[str]) -> str | None:
    """The button value a typed number ("2") picks from the buttons last shown, where a channel has no
    buttons to press (console, Matrix); None for anything else, "²" and "٢" included."""
    if choice.isascii() and choice.isdigit() and len(choice) <= 2 and 1 <= int(choice) <= len(values):
        return values[int(choice) - 1]
    return None


class Outgoing(BaseModel):
    channel: str
    chat_id: str
    text: str
    buttons: list[Button] = []
