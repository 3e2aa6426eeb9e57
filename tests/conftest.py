"""Shared fixtures: a fresh database per test on SQLite and, where available, PostgreSQL.

PostgreSQL: ``WIJKBOT_TEST_POSTGRES_URL`` (as ``.ci/run`` sets it) or, failing that, a throwaway
cluster started here from the Debian packages. Without either the PostgreSQL cases are skipped,
unless ``WIJKBOT_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.app import open_database
from bot.core import Wijkbot
from bot.floor.clock import LOCAL_TZ, FixedClock
from bot.floor.config import Settings
from bot.floor.db import Database
from intents.nlu import NLU

ROOT = Path(__file__).resolve().parents[1]
DEMO_MAP = ROOT / "socialekaart" / "data" / "demo_map.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_cluster():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = bins[-1] if bins else shutil.which("initdb")
    if not initdb:
        return None, None
    bindir = Path(initdb).parent
    base = Path(tempfile.mkdtemp(prefix="wijkbot-pg-"))
    (base / "sock").mkdir()
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(base / "sock", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(base / "data"), "-U", "postgres",
                    "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-w", "-l",
                    str(base / "log"), "start", "-o",
                    f"-p {port} -k {base / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off"],
                   check=True, capture_output=True)

    def stop():
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("WIJKBOT_TEST_POSTGRES_URL")
    stop = None
    if not url:
        try:
            url, stop = _start_cluster()
        except subprocess.CalledProcessError as exc:
            pytest.fail(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}")
    if not url:
        if os.environ.get("WIJKBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (WIJKBOT_REQUIRE_POSTGRES=1) but not installed")
        pytest.skip("PostgreSQL is not installed here")
    yield url
    if stop:
        stop()


def _sqlite_checkpointed(db: Database) -> None:
    with db.engine.connect() as conn:  # everything in the main file, so that a copy of it is whole
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory) -> dict[str, Path]:
    """Migrated SQLite files, made once: empty, and with the demo map. A test copies one (migrating and
    importing the map per test cost seconds each)."""
    from socialekaart.demo import seed_demo_map

    base = tmp_path_factory.mktemp("templates")
    empty, demo = base / "empty.sqlite3", base / "demo.sqlite3"
    _sqlite_checkpointed(Database(f"sqlite:///{empty}"))
    shutil.copy(empty, demo)
    db = Database(f"sqlite:///{demo}")
    seed_demo_map(db)
    _sqlite_checkpointed(db)
    return {"empty": empty, "demo": demo}


@pytest.fixture(scope="session")
def postgres_templates(postgres_server) -> dict[str, str]:
    """Template databases on the test cluster, made once: empty (migrated) and with the demo map."""
    from socialekaart.demo import seed_demo_map

    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    names = {"empty": "tmpl_empty_" + uuid.uuid4().hex[:8], "demo": "tmpl_demo_" + uuid.uuid4().hex[:8]}
    base = postgres_server.rsplit("/", 1)[0]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{names["empty"]}"'))
    Database(f"{base}/{names['empty']}").dispose()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{names["demo"]}" TEMPLATE "{names["empty"]}"'))
    db = Database(f"{base}/{names['demo']}")
    seed_demo_map(db)
    db.dispose()
    admin.dispose()
    return names


def _database_url(request, tmp_path, template: str):
    """A fresh database for one test, copied from a template: SQLite or PostgreSQL (the fixture's param)."""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_templates")[template], tmp_path / "wijkbot.sqlite3")
        yield f"sqlite:///{tmp_path / 'wijkbot.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    source = request.getfixturevalue("postgres_templates")[template]
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
    yield server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty, migrated database."""
    yield from _database_url(request, tmp_path, "empty")


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_db_url(request, tmp_path):
    """A migrated database holding the demo map."""
    yield from _database_url(request, tmp_path, "demo")


@pytest.fixture
def database(db_url):
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def demo_records() -> list[dict]:
    return json.loads(DEMO_MAP.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def nlu():
    # the models depend on the shipped data alone: the same cache as every `wijkbot` process uses
    return NLU(Settings().cache_dir)


@pytest.fixture
def clock():
    return FixedClock(datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ))  # a Tuesday morning


@pytest.fixture
def bot(tmp_path, nlu, clock, sqlite_templates):
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    shutil.copy(sqlite_templates["demo"], settings.data_dir / "wijkbot.sqlite3")  # as the first run leaves it
    database = open_database(settings)  # the embedded default: SQLite + the demo map
    yield Wijkbot(database, clock=clock, settings=settings, nlu=nlu)
    database.dispose()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory):
    """A real Synapse on 127.0.0.1 (matrix-synapse is in the dev extras)."""
    from tests.synapse import Synapse

    server = Synapse(tmp_path_factory.mktemp("synapse")).start()
    yield server
    server.stop()
