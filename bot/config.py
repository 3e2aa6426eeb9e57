"""Stable embedding API: Wijkbot's settings (defined in bot/floor/config.py)."""

from bot.floor.config import Settings

__all__ = ["Settings"]
