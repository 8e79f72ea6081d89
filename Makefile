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

# Every virtualenv installs a lock file with hashes (ADR 0015): pip refuses any file whose sha256
# is not in the lock, and wheels only, so no unhashed build dependency is fetched either.
PIP_LOCKED = -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: -r

RUNTIME := $(VENV)/.runtime-installed
DEV     := $(VENV)/.dev-installed
INFRA_VENV ?= .infra-venv
INFRA   := $(INFRA_VENV)/.installed
# uv (make lock) and cyclonedx-py (make sbom), in their own virtualenv (ADR 0015).
TOOLS_VENV ?= .tools-venv
TOOLS   := $(TOOLS_VENV)/.installed
# Real Azure emulators for the tests (Azurite, the npm Cosmos DB server), from tests/emulators.
EMULATORS := tests/emulators/node_modules/.installed

.PHONY: run serve serve-emulated test web web-test web-e2e plugins edu bench-plugins lint typecheck pytest checkov bench bench-scaleout bench-peers lock sbom package clean

$(RUNTIME): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP_LOCKED) requirements.lock
	touch $@

# requirements-dev.lock is the app's lock plus the dev tools, at the same versions.
$(DEV): $(RUNTIME) requirements-dev.lock
	$(BIN)/python $(PIP_LOCKED) requirements-dev.lock
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

# $(TOOLS): tests/test_supply_chain.py also regenerates the SBOM with the pinned generator.
pytest: $(DEV) $(EMULATORS) $(TOOLS) web/build/index.html
	$(BIN)/python -m pytest

$(EMULATORS): tests/emulators/package.json tests/emulators/package-lock.json
	cd tests/emulators && npm ci --no-audit --no-fund
	touch $@

# checkov lives in its own virtualenv: its dependency tree must not touch the app's pins.
$(INFRA): requirements-infra.lock
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python $(PIP_LOCKED) requirements-infra.lock
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
web-e2e: web/build/index.html $(RUNTIME) $(EMULATORS)
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

bench-scaleout: $(DEV)
	$(BIN)/python -m benchmarks.scaleout

# Convergio against LangGraph and Microsoft Agent Framework. The peers live in their own
# virtualenv; Convergio's side runs in a subprocess on the product's ($(VENV)).
PEERS_VENV := benchmarks/.venv-peers
PEERS      := $(PEERS_VENV)/.installed

$(PEERS): benchmarks/requirements.lock
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python $(PIP_LOCKED) benchmarks/requirements.lock
	touch $@

bench-peers: $(RUNTIME) $(PEERS)
	$(PEERS_VENV)/bin/python -m benchmarks.peers --chart docs/performance-per-node.png --markdown

# Supply chain (ADR 0015). The human-edited requirements*.txt pin the top level; `make lock`
# resolves each one, with a pinned uv, into a .lock with every transitive pin and its sha256
# hashes, for Linux x86_64 CPython 3.11. A lock keeps the versions it has unless a pin changes:
# `make lock LOCK_FLAGS=--upgrade` moves every unpinned transitive to its newest release.
# `make sbom` writes the CycloneDX SBOM of the deployed package (the app lock, not the dev tools).
SBOM       := dist/sbom.cdx.json
LOCK_FLAGS ?=
UV_COMPILE  = $(TOOLS_VENV)/bin/uv pip compile --no-config --quiet --generate-hashes \
	--python-version 3.11 --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" $(LOCK_FLAGS)

$(TOOLS): requirements-tools.lock
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python $(PIP_LOCKED) requirements-tools.lock
	touch $@

# $(call relock,INPUT,LOCK[,MORE]): resolve INPUT into LOCK (keeping LOCK's versions where they
# still fit); LOCK is rewritten only when it changes, so an unchanged lock reinstalls nothing.
define relock
	cp $(2) $(TOOLS_VENV)/next.lock 2>/dev/null || rm -f $(TOOLS_VENV)/next.lock
	$(UV_COMPILE) $(1) $(3) -o $(TOOLS_VENV)/next.lock
	cmp -s $(TOOLS_VENV)/next.lock $(2) || cp $(TOOLS_VENV)/next.lock $(2)
endef

SBOM_CMD = $(TOOLS_VENV)/bin/cyclonedx-py requirements requirements.lock --pyproject pyproject.toml \
	--mc-type application --sv 1.6 --of JSON --output-reproducible -o $(SBOM)

# The dev lock is constrained by the app lock: the app's packages at the same versions.
lock: $(TOOLS)
	$(call relock,requirements.txt,requirements.lock)
	$(call relock,requirements-dev.txt,requirements-dev.lock,-c requirements.lock)
	$(call relock,requirements-infra.txt,requirements-infra.lock)
	$(call relock,benchmarks/requirements.txt,benchmarks/requirements.lock)
	$(call relock,requirements-tools.txt,requirements-tools.lock)
	mkdir -p $(dir $(SBOM))
	$(SBOM_CMD)

sbom: $(TOOLS)
	mkdir -p $(dir $(SBOM))
	$(SBOM_CMD)

# The deployable zip the templates deploy from packageUri (ADR 0019): the app, the plugins' runtime
# parts, the example graphs and the built console, with the locked dependencies pre-installed for
# Linux x86_64 CPython 3.11 in .python_packages (wheels only, hashes checked; kept per lock digest
# under dist/). Byte-identical for the same inputs. PACKAGE_FLAGS=--remote-build: app files only.
PACKAGE       ?= dist/convergio-app.zip
PACKAGE_FLAGS ?=
package: web/build/index.html $(RUNTIME)
	$(BIN)/python infra/package.py --out $(PACKAGE) $(PACKAGE_FLAGS)

clean:
	rm -rf $(VENV) $(INFRA_VENV) $(TOOLS_VENV) .convergio .mypy_cache .ruff_cache web/node_modules web/build web/.svelte-kit
