# chiso — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
UV_VERSION     ?= 0.13.8
TOOLS          := .tools
UV             := $(TOOLS)/bin/uv
VENV           := .venv
BIN            := $(VENV)/bin
STAMP          := $(VENV)/.synced
# Apache Superset (make bi) in a virtualenv of its own: its pins fight Airflow's
BI_VENV        := .venv-superset
BI_STAMP       := $(BI_VENV)/.synced
BI_REQUIREMENTS := infra/superset/requirements.txt

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export PYTHONDONTWRITEBYTECODE := 1
# Byte-compile the venv at install time: with PYTHONDONTWRITEBYTECODE (set above, and by many CI
# shells) Python never caches .pyc, so every `dbt`, Airflow task or GX run would compile its
# libraries from source again: 4.4 s instead of 2.6 s to import dbt, on every monthly build.
export UV_COMPILE_BYTECODE := 1

.PHONY: help setup demo bi test test-long test-unit lint lint-python lint-dbt generate generate-check airflow stop clean bench

help:
	@echo "make demo    set up, start the embedded PostgreSQL, run the demo months through Airflow"
	@echo "make test    set up and run every test (unit, dbt, lint, end-to-end, Airflow)"
	@echo "make test-long  the tests of an hour and more (five years backfilled through Airflow)"
	@echo "make bi      start Superset (http://127.0.0.1:8088) with the leaders' dashboard on the demo's marts"
	@echo "make airflow start Airflow (UI on http://127.0.0.1:8080) with the demo's data"
	@echo "make stop    stop Airflow, the simulator and the embedded PostgreSQL"
	@echo "make bench   run the benchmarks in bench/"
	@echo "make generate  rewrite the generated seeds, GX suites and doc sections (commit them)"
	@echo "make clean   stop everything and delete local state (.var)"

# uv itself lives in a project-local tools venv, so a fresh machine needs only python3.
$(UV):
	python$(PYTHON_VERSION) -m venv $(TOOLS) 2>/dev/null || python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Re-sync only when the lock or the project metadata changed: `make setup` is quick when idle.
$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON_VERSION)
	@touch $(STAMP)

# Superset's environment, from its compiled requirements (infra/superset/requirements.in says
# how to compile them): `uv pip sync` makes it exactly that list, whatever was there before.
$(BI_STAMP): $(UV) $(BI_REQUIREMENTS)
	[ -x $(BI_VENV)/bin/python ] || $(UV) venv --quiet --python $(PYTHON_VERSION) $(BI_VENV)
	$(UV) pip sync --quiet --python $(BI_VENV)/bin/python $(BI_REQUIREMENTS)
	@touch $(BI_STAMP)

setup: $(STAMP) $(BI_STAMP)

demo: setup
	$(BIN)/chiso demo

airflow: setup
	$(BIN)/chiso airflow up

bi: setup
	$(BIN)/chiso bi up

stop:
	-@[ -x $(BIN)/chiso ] && $(BIN)/chiso bi down
	-@[ -x $(BIN)/chiso ] && $(BIN)/chiso airflow down
	-@[ -x $(BIN)/chiso ] && $(BIN)/chiso db stop

# The dbt project is linted without a database: sqlfluff uses the jinja templater (see
# dbt_project/.sqlfluff) and dbt-score runs `dbt parse`, which only renders profiles.yml, hence
# the placeholder credentials. dbt writes only to the git-ignored dbt_project/{target,logs}.
PY_DIRS := chiso sim dags tests bench

# `make lint` checks everything without a database; `make test` runs the same checks (its
# sqlfluff run is a test, tests/test_sql_style.py, beside the others).
lint: lint-python lint-dbt
	cd dbt_project && $(CURDIR)/$(BIN)/sqlfluff lint models tests --disable-progress-bar

lint-python: setup
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

lint-dbt: setup
	cd dbt_project && DBT_PROFILES_DIR=. \
		CHISO_DBT_USER=$${CHISO_DBT_USER:-lint} CHISO_DBT_PASSWORD=$${CHISO_DBT_PASSWORD:-lint} \
		$(CURDIR)/$(BIN)/dbt-score lint --run-dbt-parse

# Seeds, GX suites and doc sections generated from code and data (sim/chiso_sim/generate/):
# rewrite them all, or check they are current (the test suite checks too).
generate: setup
	$(BIN)/chiso-sim generate

generate-check: setup
	$(BIN)/chiso-sim generate --check

# Four workers on two cores: the Airflow and Celery modules mostly wait on their schedulers,
# and the first modules wait for the built warehouse while another process builds it
# (tests/conftest.py); the CPUs were busy about half of a three-worker run. The long modules
# that need no built warehouse run beside its build at a lower priority (fixture
# second_in_line). Measured from a fresh clone with the Celery test in a module of its own:
# 3 workers 16m03s, 4 workers 16m09s (the built warehouse ready after 6 minutes instead of 4,
# every build beside it competing). Each test module runs whole on one worker (its warehouse is
# module-scoped); the slowest tests are listed at the end of every run.
TEST_WORKERS ?= 4
test: setup lint-python lint-dbt
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

# Tests too long for make test's fifteen minutes (tests/long/: five years backfilled through
# Airflow against the same months closed one by one, hours on two cores).
test-long: setup
	$(BIN)/pytest --long -m long tests/long --durations=5 -s

test-unit: setup
	$(BIN)/pytest -n $(TEST_WORKERS) tests/unit tests/test_architecture.py tests/test_dag_integrity.py sim/tests

bench: setup
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.incremental
	$(BIN)/python -m bench.daily
	$(BIN)/python -m bench.readers
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.national

clean: stop
	rm -rf .var dbt_project/target dbt_project/logs
