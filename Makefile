# The two commands of the README's quick start. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install dev lint

$(BIN)/costops: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/costops

demo: install
	$(BIN)/costops demo

test: install
	bash .ci/services
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/pip install --quiet mypy
	$(BIN)/mypy src/costops --ignore-missing-imports
