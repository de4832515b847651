# The two README commands. Both bootstrap .venv on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

KERNEL_NAME := deepracer-workshop
KERNEL_DISPLAY := DeepRacer workshop (Python 3)
TORCH_VERSION := 2.13.0
# PyTorch's own index of CPU-only wheels, an EXTRA source: where it cannot be reached, pip
# still finds the same version on PyPI (or a local wheel) after one short retry.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
CHROMIUM_HELP := the browser test needs Chromium: on Debian/Ubuntu run \
	'sudo apt-get install chromium'; elsewhere install Chromium and set DR_CHROMIUM=/path/to/it

.PHONY: run test browser-test notebooks bench kernel lab clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# Where no torch is installed, ask for the CPU build first so pip never pulls the
	@# multi-GB CUDA wheels by accident; a torch that is already there (a GPU build) is kept.
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet --timeout 20 \
		--retries 1 --extra-index-url $(TORCH_CPU_INDEX) "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m markov.main

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

test: $(STAMP)
	$(PY) -m ruff check --no-cache src workshop_helpers tests bench conftest.py
	$(PY) -m pytest tests
	$(PY) -m pytest $(NBVAL) notebooks
	@# the same notebooks on the AWS backend, against a moto server whose jobs run locally
	DR_TEST_AWS=1 $(PY) -m pytest --nbval-lax --nbval-current-env notebooks
	$(MAKE) browser-test

# Every notebook run through JupyterLab in headless Chromium, as an attendee runs it.
# Screenshots of each notebook go to build/browser-test/.
browser-test: $(STAMP)
	@test -n "$$DR_CHROMIUM" || command -v chromium >/dev/null 2>&1 \
		|| command -v chromium-browser >/dev/null 2>&1 || { echo "$(CHROMIUM_HELP)"; exit 1; }
	$(PY) -m pytest -m browser tests/browser

bench: $(STAMP)
	$(PY) bench/sim_throughput.py

# Re-run every notebook with the small budget and store its outputs (nbval's references).
notebooks: $(STAMP)
	DR_WORKSHOP_BUDGET=small DR_RUNS_DIR=$$(mktemp -d -t dr-notebook-runs-XXXX) \
		$(PY) tests/execute_notebooks.py notebooks/*.ipynb

# The environment as a Jupyter kernel of its own (e.g. on a SageMaker notebook instance), and
# the notebooks trusted, so their stored widgets draw before a cell is run.
kernel: $(STAMP)
	$(PY) -m ipykernel install --user --name $(KERNEL_NAME) --display-name "$(KERNEL_DISPLAY)"
	$(PY) -m jupyter trust notebooks/*.ipynb

lab: $(STAMP)
	$(PY) -m jupyter trust notebooks/*.ipynb
	$(PY) -m jupyterlab notebooks

clean:
	rm -rf build runs .pytest_cache
