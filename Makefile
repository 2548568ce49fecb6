# make run   : install into .venv if needed (and the pages' assets from npm), migrate, load
#              the demo area with a year of history, serve on http://127.0.0.1:8000
# make test  : install the test extras (and Debian's Chromium for the browser tests), run the
#              whole default suite on SQLite and PostgreSQL, then the shared contract checks
#              (../shared/contract) on both databases

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_ADMIN_URL ?= postgresql://postgres@127.0.0.1:5432/test
CONTRACT_DIR := ../shared/contract
NODE_MODULES := node_modules/.package-lock.json
CSS := triage/web/static/build/app.css
CHROMIUM := /usr/bin/chromium
DEMO_REFERRALS ?= 6000
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -y -qq

.PHONY: run test test-slow lint contract bench bench-reports bench-pages bench-throttle bench-import bench-retention bench-fold \
	install install-test postgres assets browser screenshots

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

# The pages' assets come from the npm registry (package-lock.json), never from the repository:
# GOV.UK Frontend, HTMX, Swagger UI; the stylesheet is built from triage/web/scss with Sass.
$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing Node.js and npm"; \
	  $(APT_GET) install nodejs npm || { $(APT_GET) update && $(APT_GET) install nodejs npm; }; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CSS): triage/web/scss/app.scss $(NODE_MODULES)
	node_modules/.bin/sass --load-path=node_modules --style=compressed --no-source-map \
	  --quiet-deps triage/web/scss/app.scss $@

assets: $(CSS)

# The browser tests drive Debian's Chromium; nothing downloads a browser.
$(CHROMIUM):
	$(APT_GET) install chromium || { $(APT_GET) update && $(APT_GET) install chromium; }

browser: $(CHROMIUM)

run: install assets
	$(BIN)/triage db upgrade
	$(BIN)/triage demo --referrals $(DEMO_REFERRALS) --days 365
	@echo
	@echo "Open http://127.0.0.1:8000/ and sign in as a demo user above:"
	@echo "  demo-triage (the triage unit's queue), demo-provider (Core General's offers),"
	@echo "  demo-commissioner (the dashboard), demo-admin (users and providers)."
	@echo "  A password shown before is not shown again: .venv/bin/triage user reset-password demo-triage"
	@echo "The API and its documentation: http://127.0.0.1:8000/docs"
	@echo
	$(BIN)/triage serve --host 127.0.0.1 --port 8000

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@pg_isready -h 127.0.0.1 -p 5432

# Two workers (pytest-xdist): each starts on its half of the tests in order (few database
# and server set-ups), and one that runs out takes tests from the other's end (--dist
# worksteal), so neither sits idle at the end.
test: install-test assets browser postgres
	$(BIN)/ruff check triage adapters tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/triage rules check
	$(BIN)/pytest -q -m "not slow and not serial" -n 2 --dist worksteal --durations=15
	$(BIN)/pytest -q -m "serial and not slow"
	$(MAKE) --no-print-directory contract

# Every ../shared/contract/check_*.py, each against a fresh SQLite file and a fresh
# PostgreSQL database; skipped only when ../shared/contract does not exist.
contract: install
	@if [ -d $(CONTRACT_DIR) ]; then \
	  PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python scripts/run_contract.py $(CONTRACT_DIR) --pg-admin-url $(PG_ADMIN_URL); \
	else echo "no $(CONTRACT_DIR): contract checks skipped"; fi

# The slow tier: long property runs, load tests, schemathesis with a large budget (its
# stateful run included), arbitrary bytes to every route.
test-slow: install-test assets browser postgres
	SCHEMATHESIS_EXAMPLES=200 $(BIN)/pytest -q -m slow
	SCHEMATHESIS_EXAMPLES=100 SCHEMATHESIS_COVERAGE=1 $(BIN)/pytest -q -s tests/api/test_schemathesis.py
	ANY_BYTES_EXAMPLES=200 $(BIN)/pytest -q -s tests/api/test_hostile.py -k AnyBytes

lint: install-test
	$(BIN)/ruff check triage adapters tests benchmarks
	$(BIN)/ruff format --check triage adapters tests benchmarks
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

bench: install-test postgres
	$(BIN)/python benchmarks/intake.py

# The role guides' screenshots (docs/screenshots), taken by the browser tests on SQLite.
screenshots: install-test assets browser
	TRIAGE_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/e2e -k sqlite -p no:cacheprovider

# The queue page with 100,000 open referrals and the case page, against bare Jinja pages of
# the same size (PostgreSQL, one worker).
bench-pages: install-test assets postgres
	$(BIN)/python benchmarks/pages.py

# Reports against a naive GROUP BY on 5,000,000 synthetic referrals (fills its own database;
# long: the fill runs at about 1,000-1,500 referrals/s on 2 cores; see benchmarks/README.md).
bench-reports: install-test postgres
	$(BIN)/python benchmarks/reports.py

# A referral read's p95 while 16 clients send wrong passwords (one address, then a botnet of
# addresses), with password_checks 2 and 1 and with the throttle off; about 9 minutes.
bench-throttle: install-test postgres
	$(BIN)/python benchmarks/throttle.py

bench-import: install-test postgres
	$(BIN)/python benchmarks/import.py

bench-retention: install-test postgres
	$(BIN)/python benchmarks/retention.py

# The report fold of 10,000 new referrals, CPU per referral against a bare read of their rows.
bench-fold: install-test postgres
	$(BIN)/python benchmarks/fold.py
