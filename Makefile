# Two commands on a fresh machine: `make up` runs the lab with the agent, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install up test bench demo lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	bash scripts/install-system-deps
	$(BIN)/pip install -q torch==2.13.0  # the CPU build, before the semantic extra can pull a CUDA one
	$(BIN)/pip install -q -e '.[dev,semantic,lab]'  # the agent alone: pip install .

up: install
	$(BIN)/python -m lab up

test: install
	bash scripts/run-tests  # the long pole beside the rest (two workers): see the script

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy agent lab exporters

bench: install
	$(BIN)/python -m lab bench

demo: install
	$(BIN)/python -m lab demo
