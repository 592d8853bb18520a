# airflow_sync — every target self-installs into .venv (Python 3.11).
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: install demo demo-stop test test-unit lint bench cluster cluster-status cluster-stop clean

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

## make test: the whole suite (unit, integration with real services, end to end)
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest tests $(PYTEST_ARGS)

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
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m bench $(BENCH_ARGS)

cluster: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python scripts/cluster.py start --fresh

cluster-status: $(STAMP)
	$(BIN)/python scripts/cluster.py status

cluster-stop:
	$(BIN)/python scripts/cluster.py stop

clean:
	rm -rf $(VENV) .demo .cluster build *.egg-info
