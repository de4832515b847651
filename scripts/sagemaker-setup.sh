#!/bin/bash
# Build the workshop's environment on a SageMaker notebook instance and register it as the
# Jupyter kernel "DeepRacer workshop (Python 3)": bash scripts/sagemaker-setup.sh
#
# The instance's own Pythons are older than the 3.11 the workshop needs, so a Python 3.11 is
# made once with conda on the persistent volume (~/SageMaker), then `make kernel` builds .venv
# from it (CPU torch), registers the kernel and trusts the notebooks. Run again after a restart
# (the lifecycle script does): what is already there is kept, so it then takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_PREFIX="${DR_PYTHON_PREFIX:-$HOME/SageMaker/.deepracer-python311}"
CONDA="${CONDA_EXE:-$(command -v conda || echo "$HOME/anaconda3/bin/conda")}"

if ! "$PYTHON_PREFIX/bin/python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null
then
  "$CONDA" create --yes --quiet --prefix "$PYTHON_PREFIX" python=3.11
fi
make kernel PYTHON="$PYTHON_PREFIX/bin/python"
