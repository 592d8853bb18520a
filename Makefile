# airflow_sync — every target self-installs into .venv (Python 3.11).
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: install demo demo-stop test test-unit lint bench bench-api cluster cluster-status cluster-stop clean \
	ui-deps ui-build ui-test ui-codegen chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip uv

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --python $(BIN)/python -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: a local Airflow (SQLite, LocalExecutor) running a demo replication job end to end
demo: $(STAMP)
	$(BIN)/airflow-sync demo

demo-stop: $(STAMP)
	$(BIN)/airflow-sync demo --stop

## make test: the whole suite (unit, integration with real services, end to end, the UI's unit tests and the
## browser tests in Debian's Chromium, installed here when missing)
test: $(STAMP) chromium ui-test
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests $(PYTEST_ARGS)

## The Sync Jobs page (ui/ -> airflow_sync/www/dist). Node is needed only to change it, never to install it.
UI_STAMP := ui/node_modules/.installed
$(UI_STAMP): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $(UI_STAMP)

ui-deps: $(UI_STAMP)

## make ui-build: rebuild the bundle shipped in the package (commit airflow_sync/www/dist afterwards)
ui-build: $(UI_STAMP)
	cd ui && npm run build

## make ui-codegen: regenerate the typed API client from the app's OpenAPI document
ui-codegen: $(STAMP) $(UI_STAMP)
	cd ui && PYTHON="$(abspath $(BIN))/python" npm run codegen

## make ui-test: type check, unit tests (vitest), and the shipped bundle = a fresh build from the lockfile
ui-test: $(UI_STAMP)
	cd ui && npm run typecheck && npm test -- --reporter=dot
	cd ui && npm run check-hash
	rm -rf .artifacts/ui-rebuild && cd ui && npx vite build --logLevel warn --outDir ../.artifacts/ui-rebuild
	cmp .artifacts/ui-rebuild/sync-jobs.umd.cjs airflow_sync/www/dist/sync-jobs.umd.cjs || \
		(echo "the shipped bundle differs from a fresh build of ui/: run make ui-build" && exit 1)

## make chromium: Debian's Chromium for the browser tests (as root; Playwright cannot download browsers here)
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check airflow_sync tests bench scripts
	$(BIN)/ruff format --check airflow_sync tests bench scripts
	$(BIN)/mypy

bench: $(STAMP)
	@# GenericTransfer's MariaDB peer needs MySqlHook; its mysqlclient dependency cannot build without system
	@# headers, so the provider goes in without it and uses mysql-connector-python (pinned: 9.7 has a C extension
	@# that works with this OpenSSL).
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps apache-airflow-providers-mysql aiomysql
	$(BIN)/uv pip install --python $(BIN)/python -q apache-airflow-providers-sqlite mysql-connector-python==9.7.0
	@# sling and dlt get a virtualenv of their own (.venv-peers): their dependencies must not move the project's
	test -x .venv-peers/bin/python || $(BIN)/uv venv -q -p $(BIN)/python .venv-peers
	$(BIN)/uv pip install --python .venv-peers/bin/python -q sling-linux-amd64==1.4.11 "dlt[postgres,sqlalchemy,sql_database]==1.31.0" connectorx==0.4.6 pyarrow pymysql psycopg2-binary
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m bench $(BENCH_ARGS)

## make bench-api: the Job Management API at 1,000 jobs and 10,000 runs against the spec's latency targets
## (its own PostgreSQL metadata DB, created and dropped; see bench/README.md, "The API at scale")
bench-api: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m bench.api_scale $(BENCH_API_ARGS)

cluster: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/cluster.py start --fresh

cluster-status: $(STAMP)
	$(BIN)/python scripts/cluster.py status

cluster-stop:
	$(BIN)/python scripts/cluster.py stop

clean:
	rm -rf $(VENV) .venv-peers .demo .cluster build *.egg-info ui/node_modules .artifacts
