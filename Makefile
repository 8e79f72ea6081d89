# Convergio Core — the two commands a newcomer needs:
#   make run    set up the virtualenv and run a sample graph of agents end to end, with live progress
#   make test   set up the dev tools and run lint, type checks and the test suite
# and:
#   make serve  start the embedded Durable host on ./function_app.py (the HTTP API on port $(PORT))
#   make serve-emulated  the same on the shared control plane, with Cosmos DB and Blob emulators
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 7071

RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed
INFRA_VENV ?= .infra-venv
INFRA   := $(INFRA_VENV)/.installed
# Real Azure emulators for the tests (Azurite, the npm Cosmos DB server), from tests/emulators.
EMULATORS := tests/emulators/node_modules/.installed

.PHONY: run serve serve-emulated test web web-test web-e2e plugins edu bench-plugins lint typecheck pytest checkov bench bench-peers clean

$(RUNTIME): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

GRAPH ?= examples/graphs/lesson-plan.yaml
INPUT ?= {"topic": "fractions", "grade": 4}

run: $(RUNTIME)
	$(BIN)/python -m convergio run $(GRAPH) --input '$(INPUT)'

serve: $(RUNTIME)
	$(BIN)/python -m convergio start --port $(PORT)

# The app on the shared control plane (Cosmos DB + Blob), on real emulators started on loopback.
serve-emulated: $(RUNTIME) $(EMULATORS)
	$(BIN)/python -m tests.emulators.serve --port $(PORT)

test: lint typecheck pytest checkov web-test web-e2e

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check convergio tests benchmarks orchestrations activities function_app.py

typecheck: $(DEV)
	$(BIN)/mypy

pytest: $(DEV) $(EMULATORS)
	$(BIN)/python -m pytest

$(EMULATORS): tests/emulators/package.json tests/emulators/package-lock.json
	cd tests/emulators && npm ci --no-audit --no-fund
	touch $@

# checkov lives in its own virtualenv: its dependency tree must not touch the app's pins.
$(INFRA): requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
	touch $@

checkov: $(INFRA)
	$(INFRA_VENV)/bin/checkov -d infra --framework bicep arm --skip-download --quiet --compact

# The web console (SvelteKit, built to static files served by the app at /api/app/).
web/build/index.html: web/package.json web/package-lock.json $(shell find web/src -type f 2>/dev/null)
	cd web && npm ci --no-audit --no-fund && npm run build

web: web/build/index.html

web-test: web/build/index.html
	cd web && npm test

# End-to-end in Debian's Chromium against the embedded host (installed when missing).
web-e2e: web/build/index.html $(RUNTIME)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	cd web && npm run e2e

# Example WebAssembly plugins: WAT source to .wasm (the host also compiles .wat on load).
plugins: $(DEV)
	$(BIN)/python -m convergio.plugins build plugins/examples
	$(BIN)/python plugins/education/build.py

# An education graph end to end on the offline provider: install the education plugins for the
# tenant "local", then run the tutor; the student's name, e-mail and phone never reach the model.
EDU_INPUT ?= {"age": 9, "topic": "why the sky is blue", "student": "Maria Rossi", "question": "Hi, my name is Maria Rossi (maria.rossi@example.com, +39 333 123 4567). Why is the sky blue?", "accessibility": {"dyslexia": true}}
edu: $(RUNTIME)
	for p in edu-safety edu-format edu-quiz; do $(BIN)/python -m convergio plugins install plugins/education/$$p --tenant local || exit 1; done
	$(BIN)/python -m convergio run examples/graphs/education/edu-tutor.yaml --tenant local --input '$(EDU_INPUT)'

bench-plugins: $(DEV)
	$(BIN)/python -m benchmarks.plugins

bench: $(DEV)
	$(BIN)/python -m benchmarks.engine

# Convergio against LangGraph and Microsoft Agent Framework. The peers live in their own
# virtualenv; Convergio's side runs in a subprocess on the product's ($(VENV)).
PEERS_VENV := benchmarks/.venv-peers
PEERS      := $(PEERS_VENV)/.installed

$(PEERS): benchmarks/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	touch $@

bench-peers: $(RUNTIME) $(PEERS)
	$(PEERS_VENV)/bin/python -m benchmarks.peers --chart docs/performance-per-node.png --markdown

clean:
	rm -rf $(VENV) $(INFRA_VENV) .convergio .mypy_cache .ruff_cache web/node_modules web/build web/.svelte-kit
