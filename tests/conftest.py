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
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(base / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "pg_ctl"),
            "-D",
            str(base / "data"),
            "-w",
            "-l",
            str(base / "log"),
            "start",
            "-o",
            f"-p {port} -k {base / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off",
        ],
        check=True,
        capture_output=True,
    )

    def stop():
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "fast", "stop"], capture_output=True
        )
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


# --- markers: what a test needs, for `make test-fast` (pytest -m "not synapse and not postgres and not slow") ---

# Tests that take more than about 2 s on their own on a 2-core machine, by "file::function" (every
# parametrization): listed here rather than marked in their files, so that files other work is editing
# need no change. A listed function that no longer exists is an error, so the list cannot rot quietly.
FRESH = "wijkbot commands on a fresh data dir: migrations and the demo map"
AGENDA = "wijkbot agenda commands on a fresh data dir: migrations and the demo map on first run"
HYPOTHESIS = "hypothesis: dozens of imports, each checked row by row afterwards"
OPENED = "open_database on a fresh data dir (migrations and the demo map) and a Wijkbot"
SLOW_BY_FILE: dict[str, dict[str, str]] = {
    "tests/test_cli.py": {
        "test_chat_reads_piped_stdin_like_the_run_command": "`wijkbot chat` as a process: imports and models load",
        "test_triage_json_and_batch": "four wijkbot commands on a fresh data dir: the demo map, the models",
        "test_search_json_and_batch_from_stdin": FRESH,
        "test_user_role_command": "wijkbot commands on a fresh data dir, then a chat: the models load",
        "test_first_run_loads_the_demo_map_into_the_embedded_default": "`wijkbot kaart stats` as a process, first run",
        "test_csv_template_imports_from_the_command_line": FRESH,
        "test_duplicates_json": FRESH,
        "test_import_replace_export_round_trip": FRESH,
        "test_a_bad_file_exits_non_zero_lists_problems_and_changes_nothing": FRESH,
        "test_invite_create_prints_a_code_and_notes_an_organisation_not_on_the_map": FRESH,
        "test_help_loads_no_command_group_until_one_is_asked_for": "two `wijkbot` processes",
    },
    "tests/test_agenda.py": {
        "test_a_monthly_mdo_stays_at_14_00_local_on_both_sides_of_dst": AGENDA,
        "test_weekly_series_across_the_autumn_change_and_holidays": AGENDA,
        "test_cancel_and_move_one_occurrence": AGENDA,
        "test_deadlines_and_done": AGENDA,
        "test_bad_agenda_input_is_one_clear_line": AGENDA,
        "test_ics_round_trip_and_bad_files": AGENDA,
        "test_an_occurrence_moved_far_is_found_where_it_went_and_can_then_be_cancelled": AGENDA,
        "test_participants_from_the_social_map_with_suggestions_and_rsvp_tallies": AGENDA,
    },
    "tests/test_reminders.py": {
        "test_retention_deletes_old_conversations_and_freshness_reports_stale_services": OPENED,
        "test_agenda_in_chat": OPENED,
        "test_rsvp_buttons_record_one_answer_per_person_and_the_coordinator_sees_the_tally": OPENED,
        "test_cancel_and_move_tell_who_was_reminded_and_cancel_waiting_reminders": OPENED,
    },
    "tests/test_import.py": {
        "test_import_demo_map_and_stats": "imports the whole demo map",
        "test_export_imports_again_to_the_same_content": "imports the demo map three times",
    },
    "tests/test_search.py": {"test_index_follows_changes_to_the_map": "builds the search index twice"},
    "tests/test_start.py": {
        "test_classifiers_read_without_spacy_give_spacys_numbers": "spaCy and numpy on 7,300 texts, four models"
    },
    "tests/test_architecture.py": {
        "test_the_stable_api_example_of_the_document_runs": "a fresh data dir as the document opens it: migrations, "
        "the demo map, a Wijkbot",
    },
    "tests/test_fuzz_imports.py": {
        "test_csv_import_succeeds_or_says_clearly_why_and_changes_nothing": HYPOTHESIS,
        "test_hsds_import_succeeds_or_says_clearly_why_and_changes_nothing": HYPOTHESIS,
        "test_calendar_import_succeeds_or_says_clearly_why_and_changes_nothing": HYPOTHESIS,
    },
    "tests/test_fuzz_core.py": {
        "test_no_input_crashes_leaks_or_escalates": "hypothesis examples through the whole bot"
    },
    "tests/test_api.py": {
        "test_wijkbot_serve_answers_on_localhost_and_logs_no_query": "`wijkbot serve` as a process, until SIGTERM",
    },
    "tests/test_telegram.py": {
        "test_wijkbot_run_answers_on_telegram_delivers_queued_broadcasts_and_stops_on_sigterm": "`wijkbot run` as a "
        "process against the fake Telegram server, until SIGTERM",
        "test_a_conversation_with_buttons_and_callbacks": "python-telegram-bot polling the fake server",
        "test_broadcast_through_the_outbox_with_429_and_blocked_users": "the sender honours the fake server's 429s "
        "(retry_after 1 s) in real time",
    },
}
SLOW = {f"{path}::{name}": why for path, tests in SLOW_BY_FILE.items() for name, why in tests.items()}


def _on_postgres(item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec else ()
    return "postgres_server" in getattr(item, "fixturenames", ()) or any(
        isinstance(v, str) and v == "postgresql" for v in params
    )


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so that these markers select
def pytest_configure(config):
    """Every Settings() of the run, and every `wijkbot` process it starts, keeps its data dir (the SQLite
    default, the saved search index) in a temporary directory, never in the checkout's ./data."""
    if "WIJKBOT_DATA_DIR" not in os.environ:
        config._wijkbot_data_dir = tempfile.mkdtemp(prefix="wijkbot-tests-")
        os.environ["WIJKBOT_DATA_DIR"] = config._wijkbot_data_dir


def pytest_unconfigure(config):
    made = getattr(config, "_wijkbot_data_dir", None)
    if made:
        os.environ.pop("WIJKBOT_DATA_DIR", None)
        shutil.rmtree(made, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Mark each test by what it uses: `synapse` (the fixture, directly or through another fixture),
    `postgres` (the postgresql case of a backend-parametrized fixture such as db_url, or the server
    itself) and `slow` (SLOW)."""
    modules = {}
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "synapse" in fixtures:
            item.add_marker(pytest.mark.synapse)
        if _on_postgres(item):
            item.add_marker(pytest.mark.postgres)
        path = item.path.relative_to(ROOT).as_posix()
        name = getattr(item, "originalname", item.name)
        if f"{path}::{name}" in SLOW:
            item.add_marker(pytest.mark.slow)
        if getattr(item, "module", None) is not None:
            modules[path] = item.module
    for key in SLOW:
        path, name = key.split("::")
        if path in modules and not hasattr(modules[path], name):
            raise pytest.UsageError(f"tests/conftest.py SLOW names {key}, which does not exist (renamed?)")
