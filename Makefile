# make run   : install into .venv if needed, migrate, load the demo area, serve on :8000
# make test  : install the test extras, run the whole default suite on SQLite and PostgreSQL,
#              then the shared contract checks (../shared/contract) on both databases

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/test
CONTRACT_DIR := ../shared/contract

.PHONY: run test test-slow lint contract bench bench-reports install install-test postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/triage db upgrade
	$(BIN)/triage demo --referrals 25
	$(BIN)/triage serve --host 127.0.0.1 --port 8000

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@pg_isready -h 127.0.0.1 -p 5432

test: install-test postgres
	$(BIN)/ruff check triage adapters tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/triage rules check
	$(BIN)/pytest -q -m "not slow"
	$(MAKE) --no-print-directory contract

# Every ../shared/contract/check_*.py, each against a fresh SQLite file and a fresh
# PostgreSQL database; skipped only when ../shared/contract does not exist.
contract: install
	@if [ -d $(CONTRACT_DIR) ]; then \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/run_contract.py $(CONTRACT_DIR) --pg-admin-url $(PG_ADMIN_URL); \
	else echo "no $(CONTRACT_DIR): contract checks skipped"; fi

test-slow: install-test postgres
	$(BIN)/pytest -q -m slow

lint: install-test
	$(BIN)/ruff check triage adapters tests benchmarks
	$(BIN)/ruff format --check triage adapters tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

bench: install-test postgres
	$(BIN)/python benchmarks/intake.py

# Reports against a naive GROUP BY on 5,000,000 synthetic referrals (fills its own database;
# long: the fill runs at about 1,000-1,500 referrals/s on 2 cores; see benchmarks/README.md).
bench-reports: install-test postgres
	$(BIN)/python benchmarks/reports.py
