# The two README commands. Both bootstrap .venv on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-busy test-aws-modes aws-smoke notebooks bench lab clean tracks

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
	$(PY) -m ruff check --no-cache src workshop_helpers tests bench conftest.py
	$(PY) -m pytest tests
	$(PY) -m pytest --nbval notebooks
	@# the same notebooks on the AWS backend, against a moto server whose jobs run locally
	DR_TEST_AWS=1 $(PY) -m pytest --nbval-lax notebooks

# make test while eight busy loops compete for the cores (the suite must not need idle CPUs)
test-busy: $(STAMP)
	$(PY) tests/with_busy_loops.py 8 -- $(MAKE) test

# The notebooks on the AWS backend in the other modes (the default pass above is prebuilt image,
# one job). Each pass takes about 1.5 min; make test runs only the default one, and
# tests/test_aws_backend.py covers the engine image and multi-job modes.
test-aws-modes: $(STAMP)
	DR_TEST_AWS=1 DR_JOB_MODE=multi-job $(PY) -m pytest --nbval-lax notebooks
	DR_TEST_AWS=1 DR_IMAGE_MODE=engine $(PY) -m pytest --nbval-lax notebooks

# A 5-minute one-job training on your real AWS account (credentials and AWS_DEFAULT_REGION
# needed): prints the cost and deletes the experiment's data. Not part of CI.
aws-smoke: $(STAMP)
	$(PY) -m workshop_helpers.aws.smoke

bench: $(STAMP)
	$(PY) bench/sim_throughput.py

# Re-run every notebook with the small budget and store its outputs (nbval's references).
notebooks: $(STAMP)
	DR_WORKSHOP_BUDGET=small DR_RUNS_DIR=$$(mktemp -d -t dr-notebook-runs-XXXX) \
		$(PY) tests/execute_notebooks.py notebooks/*.ipynb

# Fetch the 12 workshop tracks into the cache ahead of a class (needs the internet once).
tracks: $(STAMP)
	$(PY) -m markov.tracks.fetch

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf build runs .pytest_cache
