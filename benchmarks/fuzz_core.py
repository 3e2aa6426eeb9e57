"""A long run of the core's state machine (tests/fuzzing.py): people with roles on three channels and in
a group chat type realistic, hostile and random text, press shown and forged buttons, and time passes.
Random seeds, every crash counted (a missing reply, the "dat ging mis" fallback, user text in the
statistics, a changed role) instead of stopping at the first.

    python benchmarks/fuzz_core.py [--examples 400] [--steps 30]

Prints the inputs tried, crashes and their distinct kinds, and the rate against a baseline run in the
same process: one bare `handle` of "hallo" repeated as often.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from bot.floor.messages import Incoming
from tests import fuzzing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=400)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        w = fuzzing.world(Path(tmp) / "data")
        w.strict = False
        started = time.perf_counter()
        run_state_machine_as_test(
            fuzzing.CoreMachine,
            settings=settings(
                max_examples=args.examples,
                stateful_step_count=args.steps,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
        fuzzed = time.perf_counter() - started
        started = time.perf_counter()
        for n in range(w.inputs):
            w.bot.handle(Incoming(channel="bench", chat_id=f"b{n % 50}", user_id=f"b{n % 50}", text="hallo"))
        baseline = time.perf_counter() - started
        w.bot.database.dispose()
    kinds = Counter(c.split(":")[0] for c in w.crashes)
    print(f"inputs {w.inputs}, examples {args.examples} x up to {args.steps} steps, crashes {len(w.crashes)}")
    for kind, n in kinds.most_common():
        print(f"  {n:5d}  {kind}")
    for crash in w.crashes[:10]:
        print("   e.g.", crash[:200])
    print(f"{w.inputs / fuzzed:.0f} inputs/s; {fuzzed / baseline:.2f}x the time of as many plain 'hallo' messages")
    return 1 if w.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
