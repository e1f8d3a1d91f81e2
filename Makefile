# The two commands: `make demo` and `make test`. Everything else is set up on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MANAGE := $(BIN)/python manage.py
DEMO_SUBJECTS ?= 2000
PG_TEST_URL ?= postgres://bias_audit:bias_audit@127.0.0.1:5432/bias_audit

.PHONY: demo test test-postgres serve serve-demo bench lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The demo lives in its own folder (database and files), rebuilt on every run. Its commands run as production
# does, with DEBUG off: a secret key made for the demo (kept in its folder, so `make serve-demo` signs the same
# sessions) and the local host names.
DEMO_VAR := var/demo
DEMO_SECRET := $(DEMO_VAR)/secret-key
DEMO_ENV := VAR_DIR=$(DEMO_VAR) DATABASE_URL=sqlite:///$(CURDIR)/$(DEMO_VAR)/platform.sqlite3 \
	SECRET_KEY="$$(cat $(DEMO_SECRET))" ALLOWED_HOSTS=localhost,127.0.0.1

demo: $(STAMP)
	rm -rf $(DEMO_VAR)
	mkdir -p $(DEMO_VAR)
	$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $(DEMO_SECRET)
	$(DEMO_ENV) $(MANAGE) migrate --no-input -v 0
	$(DEMO_ENV) $(MANAGE) seed_demo --subjects $(DEMO_SUBJECTS) --demo-users
	$(DEMO_ENV) $(MANAGE) train_demo_model
	$(DEMO_ENV) $(MANAGE) build_evaluation_set --name demo-2026-Q4 --dataset demo-faces --kind tabular --stratify skin_tone:monk_3 --stratify sex --per-stratum 150 --seed 1 --freeze
	$(DEMO_ENV) $(MANAGE) define_policy --name demo-quarterly --attribute skin_tone:monk_3 --attribute sex --threshold 0.05 --bootstrap 1000 --check-against demo-2026-Q4
	@# A real worker executes the run; it stops when the demo does.
	$(DEMO_ENV) $(MANAGE) db_worker --no-startup-delay --interval 0.2 --no-reload -v 0 & worker=$$!; \
	$(DEMO_ENV) $(MANAGE) run_audit --model demo-tabular-mlp:2026.4 --evaluation-set demo-2026-Q4 --policy demo-quarterly --period 2026-Q4 --wait --poll 0.2; \
	status=$$?; kill $$worker; wait $$worker 2>/dev/null; exit $$status
	$(DEMO_ENV) $(MANAGE) create_signing_key --common-name "Demo report signing"
	$(DEMO_ENV) $(MANAGE) render_report --quarter 2026-Q4 --out $(DEMO_VAR)/draft-report-2026-Q4.pdf --as-user officer
	$(DEMO_ENV) $(MANAGE) review_report BR-2026-Q4-0001 --as-user auditor \
	    --comment-on "skin_tone:monk_3 / mean_score_gap=The dark band scores lower; the interval lies wholly above the threshold."
	$(DEMO_ENV) $(MANAGE) review_report BR-2026-Q4-0001 --approve --as-user officer --comment "Approved for the Q4 filing."
	$(DEMO_ENV) $(MANAGE) export_report BR-2026-Q4-0001 --out $(DEMO_VAR)/bias-report-2026-Q4.pdf
	$(DEMO_ENV) $(MANAGE) verify_report $(DEMO_VAR)/bias-report-2026-Q4.pdf
	@echo "The approved, signed quarterly report: $(CURDIR)/$(DEMO_VAR)/bias-report-2026-Q4.pdf"
	@echo "Browse it: make serve-demo, then sign in at http://127.0.0.1:8000/ as steward, officer or auditor (password: demo)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/pytest

test-postgres: $(STAMP)
	DATABASE_URL=$${DATABASE_URL:-$(PG_TEST_URL)} $(BIN)/pytest

# The development server is the one place DEBUG is on (config/settings.py defaults it to off).
serve: $(STAMP)
	DEBUG=1 $(MANAGE) migrate --no-input -v 0
	DEBUG=1 $(MANAGE) runserver 127.0.0.1:8000

serve-demo: $(STAMP)
	@test -f $(DEMO_SECRET) || { echo "No demo yet: run make demo first"; exit 1; }
	DEBUG=1 $(DEMO_ENV) $(MANAGE) runserver 127.0.0.1:8000

# The benchmarks import the settings themselves; they keep running under the development settings.
bench: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
