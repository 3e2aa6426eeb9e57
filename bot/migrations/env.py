"""Alembic environment: run with a connection handed over by ``bot.floor.db.migrate``."""

from alembic import context

import bot.floor.models  # noqa: F401 - registers the tables
import jobs.handoffs
import jobs.models  # noqa: F401
import socialekaart.models  # noqa: F401
from bot.floor.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # invoked from the alembic CLI for autogenerate
        from bot.floor.config import Settings
        from bot.floor.db import make_engine

        engine = make_engine(Settings().effective_database_url)
        with engine.begin() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
