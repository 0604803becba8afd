# Newcomer's entry points: `make demo`, `make test`, `make dev`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

# The lock: the exact version of every package tested (Python 3.11, Linux), for setup.py with all its extras and
# for pyproject.toml's build requirements. `make lock` writes it. Every install takes it as pip constraints, so the
# venv's bundled pip has nothing left to resolve and needs no upgrade. It is passed as PIP_CONSTRAINT (not -c) so
# that it also reaches the isolated build of the editable install (setuptools).
LOCK := requirements/constraints.txt
PIP_INSTALL := PIP_CONSTRAINT=$(CURDIR)/$(LOCK) $(PY) -m pip install --quiet
# What `make demo` and `make dev` need: the product only (install_requires).
STAMP := $(VENV)/.installed
# What `make test`, `make lint` and `make bench` need: the product and the dev extra.
DEV_STAMP := $(VENV)/.installed-dev
# `make lock` installs this uv into the venv; `make lock UPGRADE=1` moves every pin to the newest allowed version.
UV_VERSION := 0.13.9

.PHONY: install install-dev lock test lint demo dev bench clean

$(VENV)/pyvenv.cfg:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.py pyproject.toml $(LOCK) | $(VENV)/pyvenv.cfg
	$(PIP_INSTALL) -e .
	touch $(STAMP)

# The dev set includes the product set, from the same lock: both stamps are then current.
$(DEV_STAMP): setup.py pyproject.toml $(LOCK) | $(VENV)/pyvenv.cfg
	$(PIP_INSTALL) -e '.[dev]'
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Re-resolve from setup.py, keeping every version already in the lock that still fits (UPGRADE=1: newest instead).
# The lock is rewritten only when its content changes, so an unchanged lock triggers no reinstall.
lock: | $(VENV)/pyvenv.cfg
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	cp $(LOCK) $(VENV)/lock.txt 2>/dev/null || : > $(VENV)/lock.txt
	$(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
	| $(VENV)/bin/uv pip compile --quiet --no-config setup.py - --all-extras \
	    --python-version 3.11 --python-platform linux --custom-compile-command 'make lock' \
	    $(if $(UPGRADE),--upgrade) --output-file $(VENV)/lock.txt
	@mkdir -p $(dir $(LOCK))
	@if cmp -s $(VENV)/lock.txt $(LOCK); then rm $(VENV)/lock.txt; echo "$(LOCK) unchanged"; \
	else mv $(VENV)/lock.txt $(LOCK) && echo "$(LOCK) written"; fi

dagster-home: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# Bytecode first: where PYTHONDONTWRITEBYTECODE is set (as on this project's machines), every process the suite
# starts (CLI runs, code servers, run workers: 60 or more) would otherwise compile the package again, about 0.4 s of
# CPU each. Four workers: see LANES in intercom_assets_tests/conftest.py.
test: $(DEV_STAMP)
	$(PY) -m ruff check intercom_assets intercom_assets_tests benchmarks
	$(PY) -m compileall -q intercom_assets intercom_assets_tests >/dev/null
	$(PY) -m pytest -q -n 4 --dist loadfile --no-loadscope-reorder

lint: $(DEV_STAMP)
	$(PY) -m ruff check intercom_assets intercom_assets_tests benchmarks

demo: dagster-home
	$(PY) -m intercom_assets_tests.demo

dev: dagster-home
	$(PY) -m intercom_assets_tests.dev

# `make bench BENCH_ARGS=--workspaces`: the two-workspace mode (benchmarks/workspaces_bench.py)
bench: $(DEV_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .dagster_home
