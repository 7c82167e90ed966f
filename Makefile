# mlinfra-lab: every command a learner, an instructor or CI needs.
#   make lab     set up (once), bring the stack up, generate data, start JupyterLab
#   make test    set up (once), run the whole test suite against a separate test stack
# Run `make help` for the rest.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
# The stamp changes whenever the lock file or the project metadata changes, so a second
# `make lab` reinstalls nothing and a changed lock file reinstalls exactly once.
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
# Airflow only schedules (module 07), in its own virtualenv so its pins never fight the lab's.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-$(shell cat requirements-airflow.lock 2>/dev/null | cksum | cut -d' ' -f1)
# The embedded Kafka broker's jars, fetched once from the lock files in jvm/ and verified (SHA-256).
JARS_STAMP := $(VENV)/jars/.installed-$(shell cat jvm/*.lock 2>/dev/null | cksum | cut -d' ' -f1)
SCALE ?= small
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup java airflow system-deps up down status doctor reset data lab test test-quick lint bench labs notebooks clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@
	@echo "Python environment ready in $(VENV)"

$(AIRFLOW_STAMP): requirements-airflow.lock | $(STAMP)
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(BIN)/uv pip sync --quiet --python $(AIRFLOW_VENV)/bin/python --require-hashes requirements-airflow.lock
	@rm -f $(AIRFLOW_VENV)/.installed-* && touch $@
	@echo "Airflow environment ready in $(AIRFLOW_VENV)"

$(JARS_STAMP): $(wildcard jvm/*.lock) | $(STAMP) java
	$(BIN)/labkit jars install
	@rm -f $(VENV)/jars/.installed-* && touch $@

airflow: $(AIRFLOW_STAMP) ## create .venv-airflow from requirements-airflow.lock (module 07 runs its DAG there)

setup: $(STAMP) $(JARS_STAMP) $(AIRFLOW_STAMP) ## create the venvs and fetch the Kafka jars from their lock files (nothing when up to date)

java: # Java 17+ is the one system dependency: install it when it is missing (says what and why)
	@bash scripts/install-system-deps.sh --check || bash scripts/install-system-deps.sh

system-deps: ## install the one system package the lab needs, Java 17+ (Debian/Ubuntu: apt; macOS: brew)
	@bash scripts/install-system-deps.sh

up: setup ## start the stack (Docker Compose if a Docker engine answers, else embedded servers)
	$(BIN)/labkit up

down: setup ## stop the stack (data is kept)
	$(BIN)/labkit down

status: setup ## show what runs where, and whether each service answers
	$(BIN)/labkit status

doctor: setup ## check Java, ports, binaries and versions; print a fix for each problem
	$(BIN)/labkit doctor

reset: setup ## stop the stack and wipe the lab's data (keeps the installs)
	$(BIN)/labkit reset

data: up ## generate the synthetic world (SCALE=small|medium|large) and write it to the lake
	$(BIN)/labdata generate --scale $(SCALE) --to local,s3,delta

lab: up ## set up, start the stack, generate the small dataset, start JupyterLab on 127.0.0.1:8888
	$(BIN)/labdata generate --scale small --if-missing
	$(BIN)/labkit jupyter

test: setup ## run every test: unit, stack, notebooks, exercises (its own stack on separate ports)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-quick: setup ## unit tests only (no notebooks, no stack), for quick iteration
	$(BIN)/python -m pytest tests -m "not notebook and not stack and not slow and not spark" $(PYTEST_ARGS)

lint: setup ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: up ## run the benchmarks and write .lab/bench/report.md with its plots
	$(BIN)/labkit bench

labs: setup ## regenerate labs/ from solutions/ (never edit labs/ by hand)
	$(BIN)/labkit labs

notebooks: up ## re-execute the reference notebooks in place at small scale (refreshes committed outputs)
	$(BIN)/labkit run-notebooks --inplace --scale small

clean: ## stop the stack and remove .venv, .venv-airflow and .lab (everything `make lab` made)
	-@test -x $(BIN)/labkit && $(BIN)/labkit down
	rm -rf $(VENV) $(AIRFLOW_VENV) .lab
