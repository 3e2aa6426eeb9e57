#!/usr/bin/env bash
# The full test suite N times in a row (default 10) while `stress --cpu 2` keeps two cores busy: a test
# that depends on timing fails here first. Stops after the first failing run; prints each run's time and
# result, and keeps the logs.
#
#   benchmarks/stress_suite.sh [N] [pytest arguments...]
#
# PYTHON: the interpreter with the dev extras (default .venv/bin/python); STRESS_CPUS: the CPU hogs (2).
# Needs `stress` (Debian: apt-get install -y stress).
set -u
cd "$(dirname "$0")/.."
runs=${1:-10}
[ $# -gt 0 ] && shift
python=${PYTHON:-.venv/bin/python}
cpus=${STRESS_CPUS:-2}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's code, whichever venv installed it

command -v stress >/dev/null || { echo "stress is not installed (apt-get install -y stress)" >&2; exit 2; }
"$python" -c "import pytest" 2>/dev/null || { echo "$python has no pytest (set PYTHON)" >&2; exit 2; }
logs=$(mktemp -d "${TMPDIR:-/tmp}/stress-suite.XXXXXX")

# Its own session and process group, so that the hogs it forks go with it; --timeout in case this script
# is killed before its trap runs.
setsid stress --cpu "$cpus" --timeout "$((runs * 1800))s" >/dev/null 2>&1 &
stress_pid=$!
trap 'kill -TERM -- "-$stress_pid" 2>/dev/null; wait "$stress_pid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

echo "stress --cpu $cpus; $runs runs of: $python -m pytest -p no:cacheprovider $*; logs in $logs"
total_start=$(date +%s.%N)
for n in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    "$python" -m pytest -p no:cacheprovider "$@" >"$logs/run-$n.log" 2>&1
    status=$?
    seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    summary=$(tail -n 1 "$logs/run-$n.log" | tr -d "=")
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if [ "$status" -eq 0 ]; then
        printf 'run %2d/%d  pass  %6.1f s  load %s  %s\n' "$n" "$runs" "$seconds" "$load" "$summary"
    else
        printf 'run %2d/%d  FAIL  %6.1f s  load %s  %s\n' "$n" "$runs" "$seconds" "$load" "$summary"
        grep -E "^(FAILED|ERROR) " "$logs/run-$n.log"
        echo "stopped at the first failing run; its log: $logs/run-$n.log"
        exit 1
    fi
done
printf 'all %d runs passed in %.0f s\n' "$runs" "$(awk -v a="$total_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
