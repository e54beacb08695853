# Outreach: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
PRISM_VERSION := 5.14.2
# What `make demo` / `make run` pass to `flask outreach demo` (empty: no sample activity).
DEMO_FLAGS ?= --with-activity
AXE_VERSION := 4.10.3
export FLASK_APP := wsgi

.PHONY: run test test-fast lint format bench clean venv install install-dev migrate demo worker prism axe browsers translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask outreach demo $(DEMO_FLAGS)

## make run: set up everything and serve http://127.0.0.1:$(PORT) with the scheduler and console channels
run: demo
	OUTREACH_SCHEDULER=1 $(BIN)/flask run --host 127.0.0.1 --port $(PORT) --no-reload

worker: migrate
	$(BIN)/flask outreach worker

# Stoplight Prism serves validating mocks of the provider APIs (../shared/specs).
.tools/node_modules/.bin/prism:
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --prefix .tools @stoplight/prism-cli@$(PRISM_VERSION) || echo "prism not installed: provider-spec tests will be skipped"; \
	else echo "npm not found: provider-spec tests will be skipped"; fi

prism: .tools/node_modules/.bin/prism

# axe-core checks the pages' accessibility from the browser tests (tests/accessibility).
.tools/node_modules/axe-core/axe.min.js:
	@if command -v npm >/dev/null; then \
	  npm install --silent --no-audit --no-fund --save-exact --prefix .tools axe-core@$(AXE_VERSION) || echo "axe-core not installed: accessibility tests will be skipped"; \
	else echo "npm not found: accessibility tests will be skipped"; fi

## make axe: install axe-core $(AXE_VERSION) into .tools for the accessibility tests
axe: .tools/node_modules/axe-core/axe.min.js

## make test: install the dev extras and run the whole suite (SQLite, or PostgreSQL via OUTREACH_TEST_DATABASE_URL)
test: install-dev prism axe
	@if [ -z "$$OUTREACH_BROWSER" ] && ! command -v chromium >/dev/null; then \
	  echo "NOTE: Chromium is absent (/usr/bin/chromium): browser tests will be SKIPPED. Install with: apt-get install -y chromium"; fi
	$(BIN)/python -m pytest -n 2 --dist loadfile -p no:cacheprovider $(PYTEST_ARGS)

test-fast: install-dev
	$(BIN)/python -m pytest -x -q -p no:cacheprovider -m "not browser and not slow" $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

translations: install-dev  ## re-extract the pages' messages, update and compile the catalogues
	$(BIN)/pybabel extract -F babel.cfg --sort-by-file --omit-header -o outreach/translations/messages.pot .
	$(BIN)/pybabel update -i outreach/translations/messages.pot -d outreach/translations -w 96 --no-fuzzy-matching
	$(BIN)/pybabel compile -d outreach/translations --statistics

bench: install-dev
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) .tools instance .pytest_cache .ruff_cache
