"""Application wiring shared by the CLI and the channels."""

from __future__ import annotations

import logging

from bot.floor.config import Settings
from bot.floor.db import Database

log = logging.getLogger(__name__)


def open_database(settings: Settings | None = None) -> Database:
    """The configured database, migrated, with the demo map on the embedded default."""
    settings = settings or Settings()
    database = Database.from_settings(settings)
    if settings.uses_embedded_default and settings.demo_map:
        from socialekaart.demo import seed_demo_map

        if seed_demo_map(database):
            log.info("loaded the demo social map into the new embedded database")
    return database
