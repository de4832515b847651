# The engine image of the workshop's SageMaker jobs: trainer, rollout and evaluation workers.
#
# Each job first runs the engine from its experiment's bundle in S3 (markov.job_entrypoint), so
# edits to src/markov reach the jobs without a rebuild; the engine installed here is the fallback
# and supplies the dependencies. Rebuild only when pyproject.toml or this file change.
#
#   docker build --platform linux/amd64 -t deepracer-workshop .          CPU torch (default)
#   docker build --platform linux/amd64 --build-arg GPU=true -t deepracer-workshop:gpu .
#       CUDA torch, for GPU instances such as ml.g4dn.xlarge (set DR_INSTANCE_TYPE to match);
#       CUDA_INDEX picks the PyTorch wheel index of the CUDA version you want.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG GPU=false
ARG CUDA_INDEX=https://download.pytorch.org/whl/cu128

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/deepracer

# torch first, from the CPU (or CUDA) wheel index, so pip never pulls the other variant.
RUN if [ "$GPU" = "true" ]; then index="$CUDA_INDEX"; \
    else index="https://download.pytorch.org/whl/cpu"; fi && \
    pip install "torch==${TORCH_VERSION}" --index-url "$index"

# The project's dependencies, read from pyproject.toml (a layer that survives code changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt && \
    pip install -r requirements.txt && \
    rm requirements.txt

# The engine itself (the fallback when a job finds no bundle).
COPY README.md ./
COPY src ./src
RUN pip install --no-deps . && python -c "import markov.job_entrypoint"

ENTRYPOINT ["python", "-m", "markov.job_entrypoint"]
