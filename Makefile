# One front door. `make dev` runs the service's main job; `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The shared copy of ml-100k beside the checkout, when there is one; otherwise settings
# fall back to the official download (cached and checked against its MD5).
SHARED_DATA := $(abspath ../shared/data/ml-100k)
ifneq ($(wildcard $(SHARED_DATA)/u.data),)
export MOVIELENS_SOURCE ?= $(SHARED_DATA)
export MOVIELENS_DIR ?= $(SHARED_DATA)
endif

.PHONY: help install dev migrate ingest train gate test check lint format typecheck \
        lint-docker test-faults bench bench-ingest bench-auth bench-scoring bench-scale loadtest \
        fuzz up clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/\$$(PORT)/$(PORT)/g' \
	  | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON_BIN) >/dev/null || { echo "$(PYTHON_BIN) not found: install Python 3.11 or pass PYTHON_BIN=..."; exit 1; }
	$(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing the pinned requirements into $(VENV) (the first time takes a few minutes)"
	$(PY) -m pip install --progress-bar on -r requirements-dev.txt
	touch $@

# Development settings for this checkout, read by manage.py (movierec/env.py: load_local_env)
# for what the environment does not set: written once, git-ignored, never in CI (CI sets its
# own environment). The image and gunicorn never read it, so production still needs a secret.
LOCAL_ENV := .env.local
LOCAL_ENV_FILE := $(if $(CI),,$(LOCAL_ENV))

$(LOCAL_ENV):
	@umask 077 && { \
	  echo "# Development settings for this checkout, written once by make (git-ignored)."; \
	  echo "# manage.py reads them for variables the environment does not set, unless"; \
	  echo "# DJANGO_DEBUG is set in the environment. Delete the file to get a new secret."; \
	  echo "DJANGO_DEBUG=1"; \
	  echo "DJANGO_SECRET_KEY=$$($(PYTHON_BIN) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	  $(if $(wildcard $(SHARED_DATA)/u.data),echo "MOVIELENS_SOURCE=$(SHARED_DATA)";) \
	} >$@.tmp && mv $@.tmp $@
	@echo "wrote $@: DJANGO_DEBUG=1 and a random DJANGO_SECRET_KEY for local commands"

install: $(VENV)/.installed ## Create the virtualenv and install pinned requirements

# A second `make dev` on unchanged data keeps the model it has (train --if-stale).
dev: install $(LOCAL_ENV_FILE) ## Main job: migrate, ingest ml-100k, train, serve on http://127.0.0.1:$(PORT) (SQLite unless DATABASE_URL)
	@$(MAKE) --no-print-directory migrate ingest train
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

migrate: install $(LOCAL_ENV_FILE) ## Apply database migrations
	$(PY) manage.py migrate --no-input

ingest: install $(LOCAL_ENV_FILE) ## Load ml-100k into the database (idempotent)
	$(PY) manage.py ingest_movielens

train: install $(LOCAL_ENV_FILE) ## Train and activate through the gate, unless the active version was trained on this data
	$(PY) manage.py train_model --if-stale

gate: install $(LOCAL_ENV_FILE) ## Train a candidate, print candidate vs champion vs baselines; non-zero if refused
	$(PY) manage.py train_model --no-activate --report

test: install ## Run the whole test suite (SQLite, or Postgres when DATABASE_URL is set)
	$(PY) -m pytest

test-faults: install ## Fault suite: Redis/Postgres stopped and frozen, slow clients through nginx (own servers, ~5 min)
	$(PY) -m pytest -m faults -p no:xdist movierec/tests/test_faults.py movierec/tests/test_proxy.py

# A fixed seed keeps CI repeatable; `make fuzz FUZZ_SEED=random` explores new cases.
FUZZ_SEED ?= 20261127
fuzz: install ## Schemathesis against a running server: zero server errors
	$(PY) benchmarks/fuzz_api.py $(if $(filter random,$(FUZZ_SEED)),,--seed $(FUZZ_SEED))

check: install lint typecheck ## Lint, types, migrations and Django system checks
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=1 $(PY) manage.py check

lint: install ## ruff (lint + format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install ## mypy with the Django and DRF plugins
	DJANGO_DEBUG=1 $(VENV)/bin/mypy .

lint-docker: install ## hadolint on the Dockerfile
	$(VENV)/bin/hadolint Dockerfile

bench-ingest: install ## Time a full ingest into an empty database and a no-change re-run
	$(PY) benchmarks/bench_ingest.py

bench-auth: install ## Authenticate latency and per-request auth overhead (cached vs not)
	$(PY) benchmarks/bench_auth.py

bench-scoring: install ## Scoring all 1682 movies for one profile (microseconds)
	$(PY) -m benchmarks.bench_scoring

bench-options: install ## CPU per /api/recommend in process, plain vs with options (needs ingest + train)
	$(PY) -m benchmarks.bench_recommend_options

# Scale 100 (10 million ratings) takes minutes and a few GB of disk: opt in with SCALES="1 10 100".
SCALES ?= 1 10
bench-scale: install ## Generate, ingest, train, load, score at each of SCALES (Postgres); time, memory, growth
	$(PY) benchmarks/bench_scale.py --scales $(SCALES)

bench: bench-scoring bench-auth bench-ingest ## All micro-benchmarks

loadtest: install ## /api/recommend vs the bare DRF+JWT reference under gunicorn (wrk, Postgres, Redis, a model)
	$(PY) benchmarks/loadtest.py $(LOADTEST_ARGS)

up: ## Build and start the compose stack (needs a Docker engine)
	docker compose up --build

clean: ## Remove the virtualenv, the SQLite database and caches
	rm -rf $(VENV) db.sqlite3 var .pytest_cache .mypy_cache .ruff_cache
	@echo "kept $(LOCAL_ENV) (delete it by hand for a new development secret)"
