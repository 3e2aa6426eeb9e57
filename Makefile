# The two commands of the README: `make run` and `make test`. Both set up .venv first when needed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test test-fast lint bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/wijkbot chat

# lint: style and format, the layer contract of docs/architecture.md, the floor's types
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

# test-fast: the loop while working: no Synapse, no PostgreSQL and none of the tests that take more than
# about 2 s each (markers set in tests/conftest.py). `make test` runs everything.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not synapse and not postgres and not slow"

bench: $(STAMP)
	$(PY) benchmarks/search_quality.py ../shared/eval
	$(PY) benchmarks/search_speed.py
