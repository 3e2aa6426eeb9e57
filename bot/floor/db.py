"""Engine and sessions. Alembic migrations are applied automatically on start."""

from __future__ import annotations

import ast
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from bot.floor.config import Settings
from bot.floor.errors import ConfigError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent.parent / "migrations"  # bot/migrations: the schema of every layer
# the tables that can hold something of a person (docs/privacy.md): scrubbed after an erasure
PERSONAL_TABLES = (
    "wijkbot_user",
    "conversation",
    "outbox",
    "subscription",
    "rsvp",
    "series_participant",
    "throttle",
    "channel_state",
    "invite",
    "handoff",
)


class Base(DeclarativeBase):
    """The declarative base of every table (social map, users, conversations, ...)."""


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; read back aware on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Wijkbot stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: safe against a crashed process, fewer fsyncs
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted row is overwritten, not left in a free page
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"WIJKBOT_DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"WIJKBOT_DATABASE_URL names a database this installation cannot use: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_ASSIGNED = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*(?:#.*)?$", re.MULTILINE)


def _revisions(path: Path) -> tuple[str, tuple[str, ...]]:
    """(revision, down revisions) of one migration file, read as text: the module-level `revision` and
    `down_revision` assignments alembic's ScriptDirectory reads (after importing the module); ValueError
    when they are not there once each as plain literals."""
    found: dict = {}
    for name, value in _ASSIGNED.findall(path.read_text(encoding="utf-8")):
        if name in found:
            raise ValueError(f"{path.name}: {name} assigned twice")
        try:
            found[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"{path.name}: {name} is not a literal") from exc
    revision, down = found.get("revision"), found.get("down_revision")
    down = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    if not isinstance(revision, str) or not all(isinstance(d, str) for d in down):
        raise ValueError(f"{path.name}: no revision")
    return revision, down


def head_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the migration files, found without importing alembic (half a second at every
    start): every revision no other one revises. None when a file cannot be read so: alembic decides.
    tests/test_start.py checks this against alembic's own ScriptDirectory."""
    revisions: set[str] = set()
    revised: set[str] = set()
    try:
        for path in versions.glob("*.py"):
            if path.name == "__init__.py" or path.name.startswith(".#"):  # as alembic skips them
                continue
            revision, down = _revisions(path)
            revisions.add(revision)
            revised.update(down)
    except (OSError, ValueError, SyntaxError):
        return None
    heads = frozenset(revisions - revised)
    return heads or None


def at_head(engine: Engine) -> bool:
    """The database's alembic_version rows are exactly the heads of the migration files (no upgrade to do)."""
    heads = head_revisions()
    if heads is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:  # no such table yet (or no database): alembic makes it
        return False
    return frozenset(row[0] for row in rows) == heads


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent). A database already there is only read, and
    alembic is imported only when there is something to upgrade."""
    if at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise ConfigError(f"cannot open the database ({engine.url.render_as_string()}): {exc.orig}") from exc


class Database:
    """The application's database: an engine, migrated, and a session factory."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.effective_database_url)

    def session(self) -> Session:
        return self.sessions()

    def scrub(self) -> None:
        """After an erasure: no copy of deleted rows left in a file. SQLite: the write-ahead log is
        checkpointed into the (secure_delete) database and truncated. PostgreSQL: the dead rows of the
        tables with personal data are vacuumed away instead of waiting for autovacuum."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM " + ", ".join(PERSONAL_TABLES))

    def dispose(self) -> None:
        self.engine.dispose()
