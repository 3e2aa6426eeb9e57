"""Stable embedding API: the messages between a channel and the core (defined in bot/floor/messages.py)."""

from bot.floor.messages import Button, Incoming, Outgoing, numbered

__all__ = ["Button", "Incoming", "Outgoing", "numbered"]
