# The two commands: `make run` (set up, load the sample catalog, serve on :8000)
# and `make test` (set up, run the test suite). Everything installs from this repo.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE_SOURCE := hangzhou-sample
SAMPLE_FILE := data/sample/zhejiang_hangzhou.json

# Message catalogs: edited as .po, compiled to .mo here (the .mo files are not in git).
CATALOGS := $(wildcard config/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test test-all lint setup setup-test bench demo clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.setup: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

%.mo: %.po $(VENV)/.setup
	$(BIN)/pybabel compile -i $< -o $@

$(VENV)/.setup-test: $(VENV)/.setup
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.setup $(COMPILED)
setup-test: $(VENV)/.setup-test $(COMPILED)
	bash scripts/bootstrap-browser
	bash scripts/fetch-axe

run: setup
	$(BIN)/scenewatch init
	$(BIN)/scenewatch harvest $(SAMPLE_SOURCE) $(SAMPLE_FILE) --if-empty
	$(BIN)/scenewatch serve

test: setup-test
	$(BIN)/python -m pytest -m "not realdata and not postgres and not redis and not production"

# Style and import order (ruff), then types (mypy); settings in pyproject.toml.
lint: $(VENV)/.setup-test
	$(BIN)/ruff check .
	$(BIN)/mypy

# Everything, as CI runs it (needs PostgreSQL, Redis and ../shared/data).
test-all: setup-test
	bash .ci/run

demo: $(VENV)/.setup
	$(BIN)/scenewatch demo

bench: setup-test
	$(BIN)/python bench/harvest_throughput.py
	$(BIN)/python bench/search_latency.py
	$(BIN)/python bench/search_latency_es.py
	$(BIN)/python bench/harvest_conditional.py
	$(BIN)/python bench/search_gunicorn.py

# After adding or changing a user-visible string: new ids into both catalogs.
messages: $(VENV)/.setup
	$(BIN)/python scripts/messages.py

clean:
	rm -rf $(VENV) instance build *.egg-info
