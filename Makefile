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

.PHONY: run test test-busy test-aws-modes aws-smoke browser-test notebooks bench kernel lab clean tracks

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

test: $(STAMP)
	$(PY) -m ruff check --no-cache src workshop_helpers tests bench conftest.py
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval notebooks
	@# the same notebooks on the AWS backend, against a moto server whose jobs run locally
	DR_TEST_AWS=1 $(PY) -m pytest --nbval-lax notebooks
	$(MAKE) browser-test

# make test while eight busy loops compete for the cores (the suite must not need idle CPUs)
test-busy: $(STAMP)
	$(PY) tests/with_busy_loops.py 8 -- $(MAKE) test

# The notebooks on the AWS backend in the other modes (the default pass above is prebuilt image,
# one job). Each pass takes about 1.5 min; make test runs only the default one, and
# tests/aws/test_aws_backend.py covers the engine image and multi-job modes.
test-aws-modes: $(STAMP)
	DR_TEST_AWS=1 DR_JOB_MODE=multi-job $(PY) -m pytest --nbval-lax notebooks
	DR_TEST_AWS=1 DR_IMAGE_MODE=engine $(PY) -m pytest --nbval-lax notebooks

# A 5-minute one-job training on your real AWS account (credentials and AWS_DEFAULT_REGION
# needed): prints the cost and deletes the experiment's data. Not part of CI.
aws-smoke: $(STAMP)
	$(PY) -m workshop_helpers.aws.smoke

# Every notebook run through JupyterLab in headless Chromium, as an attendee runs it.
# Screenshots of each notebook go to build/browser-test/.
browser-test: $(STAMP)
	@test -n "$$DR_CHROMIUM" || command -v chromium >/dev/null 2>&1 \
		|| command -v chromium-browser >/dev/null 2>&1 || { echo "$(CHROMIUM_HELP)"; exit 1; }
	$(PY) -m pytest -m browser tests/browser

bench: $(STAMP)
	$(PY) bench/sim_throughput.py

# Re-run every notebook with the full workshop budget and store its outputs: the lesson that
# attendees open (a car that learns, its first lap, real evaluation laps). About 2 minutes on
# 2 busy cores, as each training stops at its first evaluation lap (at most 30 minutes); run it
# before committing notebooks. nbval then compares the cells whose output
# does not depend on the budget (the others carry the nbval-ignore-output tag).
notebooks: $(STAMP)
	DR_WORKSHOP_BUDGET=full DR_RUNS_DIR=$$(mktemp -d -t dr-notebook-runs-XXXX) \
		$(PY) tests/execute_notebooks.py notebooks/*.ipynb

# Fetch the 12 workshop tracks into the cache ahead of a class (needs the internet once).
tracks: $(STAMP)
	$(PY) -m markov.tracks.fetch

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
