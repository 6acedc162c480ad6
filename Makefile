# DURC Exchange. Two commands on a fresh machine with Python 3.11 and make:
#   make run    install, migrate the embedded SQLite database, bootstrap the admin, serve
#   make test   install, run every test on SQLite, and on PostgreSQL when one is reachable
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

# Development default for `make run` only; override any EXCHANGE_* in the environment.
run: export EXCHANGE_BOOTSTRAP_ADMIN_EMAIL ?= admin@example.org

.PHONY: run test install lint typecheck openapi bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/exchange migrate
	$(BIN)/exchange serve --host 127.0.0.1 --port 8000 --no-migrate

test: $(STAMP)
	@rm -f .coverage
	@echo "== test suite on SQLite =="
	$(BIN)/python -m pytest -p no:cacheprovider --cov=app --cov-report= $(PYTEST_ARGS)
	@if $(BIN)/python -m tests.pgcheck "$(PG_TEST_URL)"; then \
		echo "== test suite on PostgreSQL ($(PG_TEST_URL)) =="; \
		EXCHANGE_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/python -m pytest -p no:cacheprovider \
			--cov=app --cov-append --cov-report= $(PYTEST_ARGS) || exit $$?; \
	elif [ -n "$$EXCHANGE_REQUIRE_POSTGRES" ]; then \
		echo "PostgreSQL is required here (EXCHANGE_REQUIRE_POSTGRES) but not reachable at $(PG_TEST_URL)"; \
		exit 1; \
	else \
		echo "PostgreSQL not reachable at $(PG_TEST_URL): SKIPPING the PostgreSQL half of the suite"; \
	fi
	@echo "== line coverage of app/ (both runs combined) =="
	$(BIN)/python -m coverage report --include='app/*'

lint: $(STAMP)
	$(BIN)/ruff check app tests bench migrations
	$(BIN)/mypy

openapi: $(STAMP)
	$(BIN)/exchange openapi --output openapi/openapi.json

clean:
	rm -rf $(VENV) .coverage .pytest_cache .mypy_cache .ruff_cache
