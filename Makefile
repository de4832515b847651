# The two README commands. Both bootstrap .venv on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench lab clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# A CPU wheel of torch 2.13.0 is what the workshop machines carry; ask for exactly that
	@# version when no torch is installed so pip never pulls multi-GB CUDA wheels.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m markov.main

test: $(STAMP)
	$(PY) -m ruff check src workshop_helpers tests bench
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/sim_throughput.py

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf build runs .pytest_cache
