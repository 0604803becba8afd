# Newcomer's entry points: `make demo`, `make test`, `make dev`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install test lint demo dev bench clean

$(STAMP): setup.py pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dagster-home: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

test: $(STAMP)
	$(PY) -m ruff check intercom_assets intercom_assets_tests benchmarks
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(PY) -m ruff check intercom_assets intercom_assets_tests benchmarks

demo: dagster-home
	$(PY) -m intercom_assets_tests.demo

dev: dagster-home
	$(PY) -m intercom_assets_tests.dev

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) data .dagster_home
