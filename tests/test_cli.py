"""The `wijkbot` commands, run as a user runs them: in process through click's runner (fast), and a few
end to end as the installed command in a subprocess (``process=True``)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DEMO_MAP, ROOT
from tests.records import service


@dataclass
class Ran:
    returncode: int
    stdout: bytes
    stderr: bytes


def wijkbot(
    tmp_path: Path, *args: str, stdin: str | bytes | None = None, env: dict | None = None, process: bool = False
):
    """Run `wijkbot ARGS` with its data in tmp_path/data and tmp_path as the working directory."""
    environment = {k: None for k in os.environ if k.startswith("WIJKBOT_")}  # the test's own settings only
    environment["WIJKBOT_DATA_DIR"] = str(tmp_path / "data")
    environment.update(env or {})
    data = stdin.encode() if isinstance(stdin, str) else stdin
    if process:
        full = {k: v for k, v in {**os.environ, **environment}.items() if v is not None}
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            input=data,
            capture_output=True,
            env=full,
            cwd=tmp_path,
            timeout=120,
        )
        return Ran(done.returncode, done.stdout, done.stderr)
    from bot.cli import main

    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(main, list(args), input=data, env=environment, prog_name="wijkbot")
    stderr = result.stderr_bytes or b""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # what the installed command would print: an uncaught error is a traceback on stderr
        stderr += "".join(traceback.format_exception(result.exception)).encode()
    return Ran(result.exit_code, result.stdout_bytes, stderr)


def out(result) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


GROUPS = [
    "agenda",
    "api",
    "broadcast",
    "chat",
    "feedback",
    "handoff",
    "invite",
    "jobs",
    "kaart",
    "nlu",
    "run",
    "serve",
    "triage",
    "user",
]


def listed_commands(help_text: str) -> dict[str, str]:
    """The Commands section of a --help: name -> the summary shown beside it."""
    section = help_text.split("Commands:\n", 1)[1]
    return dict(line.split(maxsplit=1) for line in section.splitlines() if line.strip())


def test_help_lists_every_command_group_as_the_group_describes_itself(tmp_path):
    """`wijkbot --help` lists the groups without importing them, from summaries of their own (a fresh process,
    so no group is loaded yet); each must agree with the group's own help."""
    listed = listed_commands(out(wijkbot(tmp_path, "--help", process=True)))
    assert list(listed) == GROUPS
    for name, summary in listed.items():
        own = " ".join(out(wijkbot(tmp_path, name, "--help")).split())
        assert summary.removesuffix("...") in own, name


def imported_after(tmp_path: Path, *args: str) -> set[str]:
    """Which of spaCy, the SQLAlchemy ORM, APScheduler and FastAPI a fresh `wijkbot ARGS` process has imported."""
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"main({list(args)!r}, prog_name='wijkbot', standalone_mode=False)\n"
        "print(' '.join(m for m in ('spacy', 'sqlalchemy.orm', 'apscheduler', 'fastapi') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "WIJKBOT_DATA_DIR": str(tmp_path / "data")},
        timeout=120,
    )
    assert done.returncode == 0 and "Commands:" in done.stdout, done.stderr
    return set(done.stdout.splitlines()[-1].split())


def test_help_loads_no_command_group_until_one_is_asked_for(tmp_path):
    assert imported_after(tmp_path, "--help") == set()
    assert "sqlalchemy.orm" in imported_after(tmp_path, "kaart", "--help")  # the probe sees a group's imports


def test_an_unknown_command_is_one_usage_error_naming_the_nearest(tmp_path):
    typo = wijkbot(tmp_path, "agnda")
    assert typo.returncode == 2
    assert "No such command 'agnda'. Did you mean 'agenda'?" in typo.stderr.decode()
    unknown = wijkbot(tmp_path, "nonsense", "--json")
    assert unknown.returncode == 2
    err = unknown.stderr.decode()
    assert "Usage: wijkbot" in err and "No such command 'nonsense'." in err and "Traceback" not in err


def test_first_run_loads_the_demo_map_into_the_embedded_default(tmp_path):
    stats = json.loads(out(wijkbot(tmp_path, "kaart", "stats", "--json", process=True)))
    demo = json.loads(DEMO_MAP.read_text(encoding="utf-8"))
    assert stats["services"] == len(demo)
    assert stats["active"] == sum(r["status"] == "active" for r in demo)
    assert stats["organizations"] == len({r["organization"]["id"] for r in demo})
    assert (tmp_path / "data" / "wijkbot.sqlite3").exists()


def test_import_replace_export_round_trip(tmp_path):
    own = tmp_path / "own.json"
    own.write_text(json.dumps([service("Koffieochtend"), service("Wandelclub")]), encoding="utf-8")
    assert "2 new" in out(wijkbot(tmp_path, "kaart", "import", str(own), "--replace"))
    assert json.loads(out(wijkbot(tmp_path, "kaart", "stats", "--json")))["services"] == 2
    exported = tmp_path / "export.json"
    out(wijkbot(tmp_path, "kaart", "export", str(exported)))
    again = out(wijkbot(tmp_path, "kaart", "import", str(exported)))
    assert "0 new, 2 updated" in again
    second = tmp_path / "export2.json"
    out(wijkbot(tmp_path, "kaart", "export", str(second)))
    assert json.loads(second.read_text()) == json.loads(exported.read_text())
    assert json.loads(out(wijkbot(tmp_path, "kaart", "export", "-"))) == json.loads(exported.read_text())
    # the demo map is not loaded again into a map that was replaced
    assert json.loads(out(wijkbot(tmp_path, "kaart", "stats", "--json")))["services"] == 2


def test_a_bad_file_exits_non_zero_lists_problems_and_changes_nothing(tmp_path):
    before = out(wijkbot(tmp_path, "kaart", "stats", "--json"))
    bad = tmp_path / "bad.json"
    broken = service()
    broken["phones"][0]["number"] = ""
    bad.write_text(json.dumps([service(), broken, {"name": ""}]), encoding="utf-8")
    result = wijkbot(tmp_path, "kaart", "import", str(bad), "--replace")
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "record 2" in err and "phones[0].number" in err
    assert "record 3: id: Field required" in err and "record 3: name" in err
    assert "Traceback" not in err
    assert out(wijkbot(tmp_path, "kaart", "stats", "--json")) == before
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("name,organization,postcode\nA,B,12\n", encoding="utf-8")
    result = wijkbot(tmp_path, "kaart", "import", str(csv_file))
    assert result.returncode == 1 and "line 2: postcode:" in result.stderr.decode()
    missing = wijkbot(tmp_path, "kaart", "import", str(tmp_path / "nope.json"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr.decode()


def test_csv_template_imports_from_the_command_line(tmp_path):
    template = ROOT / "docs" / "kaart-template.csv"
    assert "3 new" in out(wijkbot(tmp_path, "kaart", "import", str(template), process=True))


def test_search_json_and_batch_from_stdin(tmp_path):
    single = json.loads(out(wijkbot(tmp_path, "kaart", "search", "schulden", "--json", "--limit", "3")))
    assert single["query"] == "schulden" and 1 <= len(single["hits"]) <= 3
    assert set(single["hits"][0]) == {"id", "name", "organization", "score", "why"}
    lines = out(
        wijkbot(tmp_path, "kaart", "search", "-", "--limit", "2", stdin="huisarts\n\nI need a dentist\n😀\n")
    ).splitlines()
    parsed = [json.loads(line) for line in lines]
    assert [p["query"] for p in parsed] == ["huisarts", "", "I need a dentist", "😀"]
    assert parsed[0]["hits"] and parsed[1]["hits"] == []
    free = json.loads(
        out(
            wijkbot(
                tmp_path,
                "kaart",
                "search",
                "bewegen",
                "--free",
                "--language",
                "nl",
                "--open-now",
                "--postcode",
                "7543AB",
                "--json",
            )
        )
    )
    assert isinstance(free["hits"], list)


def test_duplicates_json(tmp_path):
    assert json.loads(out(wijkbot(tmp_path, "kaart", "duplicates", "--json"))) == []


@pytest.mark.parametrize("args", [["kaart", "nonsense"], ["kaart", "search"], ["kaart", "search", "x", "--limit", "0"]])
def test_unknown_commands_and_options_get_a_usage_line(tmp_path, args):
    result = wijkbot(tmp_path, *args)
    assert result.returncode == 2
    assert "Usage:" in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_a_bad_database_url_is_one_clear_line(tmp_path):
    result = wijkbot(tmp_path, "kaart", "stats", env={"WIJKBOT_DATABASE_URL": "nonsense://"})
    assert result.returncode == 1
    err = result.stderr.decode()
    assert err.startswith("error:") and "Traceback" not in err


def test_triage_json_and_batch(tmp_path):
    result = json.loads(out(wijkbot(tmp_path, "triage", "ik zie het niet meer zitten", "--json")))
    assert result["escalation"] == "113" and result["stream"] == "care"
    assert set(result) == {"stream", "escalation", "safety_check", "intent", "entities", "next_question"}
    asked = json.loads(out(wijkbot(tmp_path, "triage", "ik voel me een last voor mijn kinderen", "--json")))
    assert asked["escalation"] is None and asked["safety_check"] == "113"
    late = "mijn dochter van 3 heeft 40 graden koorts en drinkt bijna niks"
    night = json.loads(out(wijkbot(tmp_path, "triage", late, "--json", "--at", "2026-12-05T23:30")))
    day = json.loads(out(wijkbot(tmp_path, "triage", late, "--json", "--at", "2026-12-01T10:30")))
    assert night["escalation"] == "huisartsenpost" and day["escalation"] == "huisartsenpost"
    messages = "ik wil meer bewegen\nmijn zoon van 4 praat onduidelijk, 7543AB\nmijn partner slaat me\n"
    lines = out(wijkbot(tmp_path, "triage", "-", stdin=messages)).splitlines()
    parsed = [json.loads(line) for line in lines]
    assert [p["escalation"] for p in parsed] == [None, None, "veilig-thuis"]
    assert parsed[0]["stream"] == "health" and parsed[0]["next_question"]
    assert parsed[1]["entities"]["postcode"] == "7543AB" and parsed[1]["entities"]["age"] == 4


def test_chat_reads_piped_stdin_like_the_run_command(tmp_path):
    text = out(wijkbot(tmp_path, "chat", stdin="hulp bij schulden\n1\n/stop\n", process=True))
    assert "automatische assistent" in text and "Dit kan u helpen" in text


def test_user_role_command(tmp_path):
    assert "professional" in out(wijkbot(tmp_path, "user", "role", "console", "anna", "professional"))
    # chatting as that console user: a professional sees the "wie doet wat" answers with contact persons
    assert "Wie doet wat" in out(wijkbot(tmp_path, "chat", "--user", "anna", stdin="wie doet schuldhulp?\n/stop\n"))
    assert wijkbot(tmp_path, "user", "role", "console", "anna", "king").returncode == 2


def test_invite_create_prints_a_code_and_notes_an_organisation_not_on_the_map(tmp_path):
    made = wijkbot(tmp_path, "invite", "create", "--role", "professional", "--organization", "Huisarts De Vlinderhof")
    assert made.returncode == 0 and len(made.stdout.decode().strip()) == 9  # ABCD-EFGH
    assert "did you mean: Huisartsenpraktijk De Vlinderhof" in made.stderr.decode()
    exact = wijkbot(
        tmp_path, "invite", "create", "--role", "professional", "--organization", "Huisartsenpraktijk De Vlinderhof"
    )
    assert exact.returncode == 0 and exact.stderr.decode() == ""
    resident = wijkbot(tmp_path, "invite", "create", "--role", "resident")  # a resident needs no invite
    assert resident.returncode == 2
    assert "'resident' is not one of 'professional', 'coordinator'" in resident.stderr.decode()
