"""The core under a state machine of people, roles, channels and a group chat (tests/fuzzing.py), with
a fixed seed so CI is deterministic; benchmarks/fuzz_core.py runs it long with random seeds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests import fuzzing


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory, sqlite_templates):
    fuzzing._world = None
    made = fuzzing.world(tmp_path_factory.mktemp("fuzz") / "data", sqlite_templates["demo"])
    yield made
    made.bot.database.dispose()
    fuzzing._world = None


def test_no_input_crashes_leaks_or_escalates(fuzz_world):
    run_state_machine_as_test(
        fuzzing.CoreMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=25,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert fuzz_world.crashes == []
    assert fuzz_world.inputs >= 300
