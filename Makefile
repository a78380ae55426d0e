# Sada: `make demo` runs the pipeline on the embedded local services; `make test` runs every test.
# Everything installs from scratch: the venv and Python packages here, the Kafka and
# Elasticsearch artifacts from Maven Central into ~/.cache/sada (or /var/lib/sada) on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser demo test unit chaos bench services down lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

services: install
	$(PY) -m sada services up

down: install
	$(PY) -m sada services down

demo: install
	$(PY) -m sada demo

# The console's browser tests drive Debian's Chromium (never a downloaded build); as root this
# installs it when missing, elsewhere those tests skip saying so.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get install -y chromium chromium-driver; } || \
		echo "chromium not installed (needs root): the browser tests will skip"

test: install browser
	$(PY) -m pytest -q

# Every fault scenario at full length, on a Kafka and an Elasticsearch of its own (tests/chaos);
# `make test` runs the short versions.
chaos: install
	SADA_CHAOS=full $(PY) -m pytest -q -s --basetemp=/tmp/sada-chaos tests/chaos  # logs kept there

unit: install
	$(PY) -m pytest -q -m "not integration"

bench: install
	@for script in bench/bench_*.py; do \
		module=$$(basename $$script .py); echo "== $$module"; $(PY) -m bench.$$module || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core ingest processors sinks sada console tests bench
