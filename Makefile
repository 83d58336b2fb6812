# Two commands for a fresh machine:
#   make demo   install, then open the quickstart notebook in JupyterLab
#   make test   install everything the tests need (browser included), then run them all
#
# `make demo` takes variables for scripted use, e.g.
#   make demo PORT=8899 JUPYTER_ARGS="--no-browser --IdentityProvider.token=secret"
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?=
JUPYTER_ARGS ?=
DEMO_NOTEBOOK ?= notebooks/quickstart.ipynb
# JupyterLab refuses to start as root without --allow-root: pass it only when root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

.PHONY: demo test install-demo install-test browser postgres lint test-js test-py bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install-demo: $(PY)
	$(PIP) install --quiet -e ".[demo]"

install-test: $(PY)
	$(PIP) install --quiet -e ".[test]"
	npm ci --no-audit --no-fund
	npm run build
	bash scripts/fetch-export-runtime.sh

browser:
	bash scripts/ensure-browser.sh $(PY)

postgres:
	bash scripts/ensure-postgres.sh

demo: install-demo
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) $(if $(PORT),--ServerApp.port=$(PORT)) $(JUPYTER_ARGS) $(DEMO_NOTEBOOK)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test-js:
	npm test

test-py:
	$(PY) -m pytest

test: install-test browser postgres lint test-js test-py

bench: install-test
	$(PY) benchmarks/bench_loop.py

clean:
	rm -rf $(VENV) node_modules src/hitl_widgets/static
