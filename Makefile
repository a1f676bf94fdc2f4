# The two commands of the README's quick start. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install dev lint focus-validator train-venv cross-encoder

$(BIN)/costops: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/costops

# The FinOps Foundation's focus-validator (tests/test_focus_export.py runs it on our FOCUS export).
# Its FOCUS 1.2 releases need Python 3.12+, so it lives in a venv of its own; its pyarrow is held
# below 21, the last releases that run on the NumPy 1.x it requires.
PY312 ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.1[23]*/bin/python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null && { command -v $$p || echo $$p; } && break; done)
FOCUS_VENV := .venv-focus
$(FOCUS_VENV)/bin/focus-validator:
	@test -n "$(PY312)" || { echo "focus-validator needs Python 3.12+: set PY312=/path/to/python3.12"; exit 1; }
	$(PY312) -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/pip install --quiet 'focus-validator==2.2.1' 'pyarrow<21'
	touch $@

focus-validator: $(FOCUS_VENV)/bin/focus-validator

# The semantic cache's cross-encoder is trained in a venv of its own: torch (2.13.0, the CPU build)
# and transformers are training tools only; the gateway runs the exported ONNX file with onnxruntime.
TRAIN_VENV := .venv-train
$(TRAIN_VENV)/bin/torchrun: pyproject.toml
	$(PY) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install --quiet -e '.[train]'
	touch $@

train-venv: $(TRAIN_VENV)/bin/torchrun

# Rewrites src/costops/cache/semantic/data/pair-model.{onnx,json} (about 10 minutes on 2 cores).
cross-encoder: train-venv
	nice -n 10 $(TRAIN_VENV)/bin/python bench/train_cross_encoder.py

demo: install
	$(BIN)/costops demo

test: install focus-validator
	bash .ci/services
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/pip install --quiet mypy
	$(BIN)/mypy src/costops --ignore-missing-imports
