# Two commands for a fresh machine:
#   make demo   install, then open the quickstart notebook in JupyterLab
#   make test   install everything the tests need (browser included), then run them all
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

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

browser:
	bash scripts/ensure-browser.sh $(PY)

postgres:
	bash scripts/ensure-postgres.sh

demo: install-demo
	$(VENV)/bin/jupyter lab notebooks/quickstart.ipynb

lint:
	$(VENV)/bin/ruff check .

test-js:
	npm test

test-py:
	$(PY) -m pytest

test: install-test browser postgres lint test-js test-py

bench: install-test
	$(PY) benchmarks/bench_loop.py

clean:
	rm -rf $(VENV) node_modules src/hitl_widgets/static
