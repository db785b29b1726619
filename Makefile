# leadbridge: two commands after cloning.
#   make demo   creates .venv, installs leadbridge, runs the whole pipeline on the embedded default,
#               then serves the cockpit and partner inbox on http://127.0.0.1:8000 (Ctrl+C stops)
#   make test   installs what the tests need and runs the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/leadbridge demo --serve

test: install-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check leadbridge tests bench
	$(BIN)/ruff format --check leadbridge tests bench
	$(BIN)/mypy leadbridge
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info test-artifacts .pytest_cache .mypy_cache .ruff_cache
