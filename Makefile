# Two entry points, both from a bare machine with Python 3.11 and make:
#   make demo   - virtual environment, install, run the sample shop end to end
#   make test   - install the test dependencies and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint install install-test clean

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

test: install-test lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info demo-workspace
