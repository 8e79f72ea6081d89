# Convergio Core — the two commands a newcomer needs:
#   make run    set up the virtualenv and start the embedded Durable host on ./function_app.py
#   make test   set up the dev tools and run lint, type checks and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 7071

RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed

.PHONY: run test lint typecheck pytest bench clean

$(RUNTIME): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(RUNTIME)
	$(BIN)/python -m convergio start --port $(PORT)

test: lint typecheck pytest

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check convergio tests benchmarks orchestrations activities function_app.py

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV)
	$(BIN)/python -m pytest

bench: $(DEV)
	$(BIN)/python -m benchmarks.engine

clean:
	rm -rf $(VENV) .convergio .mypy_cache .ruff_cache
