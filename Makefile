# Tessera developer commands. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
PHOTOPRINT_PORT ?= 8080
LOG_FORMAT ?= $(or $(FLASK_LOG_FORMAT),text)
PYTEST_ARGS ?=

.PHONY: help install run migrate test check config-table lint fmt typecheck bench bench-overhead bench-scale bench-dpop profile fuzz demo photoprint screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install Tessera with its dev tools

migrate: install  ## apply database migrations (flask db upgrade)
	$(BIN)/flask --app wsgi db upgrade

run: migrate  ## install, migrate, serve with gunicorn on http://$(HOST):$(PORT)
	FLASK_BIND=$(HOST):$(PORT) FLASK_LOG_FORMAT=$(LOG_FORMAT) $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) --preload --no-control-socket wsgi:app

test: install  ## install and run every test (what CI runs)
	$(BIN)/pytest $(PYTEST_ARGS)

check: install  ## the fast lane, 2 workers: SQLite only; no gunicorn, browser, fuzz, Redis
	$(BIN)/pytest --fast -n 2 $(PYTEST_ARGS)

config-table: install  ## regenerate the settings table of docs/configuration.md
	$(BIN)/python -m app.config_doc

lint: install  ## ruff, mypy and the import layers contract
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd examples/photoprint && $(abspath $(BIN))/mypy --strict photoprint launch.py

fmt: install  ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install  ## mypy only
	$(BIN)/mypy

demo: migrate  ## seed bob, alice, their photos and the PhotoPrint client
	$(BIN)/flask --app wsgi demo

photoprint: migrate  ## Tessera on HOST:PORT and the PhotoPrint example on PHOTOPRINT_PORT; bob's story
	cd examples/photoprint && FLASK_LOG_FORMAT=$(LOG_FORMAT) $(abspath $(BIN))/python launch.py --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --photoprint-port $(PHOTOPRINT_PORT)

bench: install  ## wrk + auth code flows on SQLite and PostgreSQL vs bare Flask; bench/results/latest.md
	@command -v wrk >/dev/null || { echo "make bench needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m bench.run

bench-overhead: install  ## a toggle's cost on the hot paths, interleaved off/on rounds: TOGGLE=metrics|request_log, or ON="K=V" OFF="K=V"; PAIRS, SECONDS, POSTGRESQL=1, IN_PROCESS=CALLS
	@command -v wrk >/dev/null || { echo "make bench-overhead needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m bench.overhead $(if $(TOGGLE),--toggle $(TOGGLE)) \
		$(foreach v,$(ON),--on $(v)) $(foreach v,$(OFF),--off $(v)) \
		$(if $(PAIRS),--pairs $(PAIRS)) $(if $(SECONDS),--seconds $(SECONDS)) \
		$(if $(POSTGRESQL),--postgresql) $(if $(IN_PROCESS),--in-process $(IN_PROCESS))

bench-scale: install  ## the same scenarios on an empty and a 1M-row PostgreSQL; bench/results/scale.md
	@command -v wrk >/dev/null || { echo "make bench-scale needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m bench.scale

profile: install  ## py-spy profile of one bench scenario: make profile SCENARIO=client_credentials
	$(BIN)/python -m pip install --quiet py-spy
	$(BIN)/python -m bench.profile $(or $(SCENARIO),client_credentials)

bench-dpop: install  ## in process: a DPoP-bound photo API call next to a Bearer one (database and Redis cache)
	$(BIN)/python -m bench.dpop

fuzz: install  ## long fuzzing run (-m fuzz): 500 examples per strategy, 6,000 schemathesis cases
	FUZZ_EXAMPLES=500 $(BIN)/pytest -m fuzz $(PYTEST_ARGS)

screenshots: install  ## PNGs of the main pages (desktop and phone) in docs/screenshots/
	$(BIN)/python docs/make_screenshots.py

clean:  ## remove the virtualenv and caches (keeps instance/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
