# The two commands: `make demo` and `make test`. Everything else is set up on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MANAGE := $(BIN)/python manage.py
DEMO_SUBJECTS ?= 2000
PG_TEST_URL ?= postgres://bias_audit:bias_audit@127.0.0.1:5432/bias_audit

.PHONY: demo test test-postgres serve bench lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) seed_demo --subjects $(DEMO_SUBJECTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/pytest

test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(PG_TEST_URL)} $(BIN)/pytest

serve: $(STAMP)
	$(MANAGE) migrate --no-input -v 0
	$(MANAGE) runserver 127.0.0.1:8000

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
