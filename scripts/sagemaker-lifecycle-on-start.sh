#!/bin/bash
# SageMaker notebook instance lifecycle configuration, "Start notebook" script.
#
# At every start of the instance: clone the workshop into ~/SageMaker (the persistent volume)
# if it is not there yet, then run scripts/sagemaker-setup.sh, which builds the environment and
# registers it as the Jupyter kernel "DeepRacer workshop (Python 3)". Paste this file into a
# lifecycle configuration (SageMaker console > Notebook > Lifecycle configurations > Start
# notebook), set WORKSHOP_REPO below, and attach it to the instance.
#
# A start script may run for 5 minutes and a first build takes longer, so the set-up runs in
# the background; its log is ~/SageMaker/deepracer-workshop-setup.log. Kernels are registered
# under /home/ec2-user, which is rebuilt at every start: hence a start script, not a create
# script. The environment itself stays on the volume, so later starts take seconds.
set -euo pipefail

WORKSHOP_REPO="${WORKSHOP_REPO:-https://github.com/YOUR-ORG/deepracer-workshop.git}"
WORKSHOP_DIR=/home/ec2-user/SageMaker/deepracer-workshop
LOG=/home/ec2-user/SageMaker/deepracer-workshop-setup.log

sudo -u ec2-user -i nohup bash -c "
  set -euo pipefail
  if [ ! -d '$WORKSHOP_DIR/.git' ]; then
    git clone '$WORKSHOP_REPO' '$WORKSHOP_DIR'
  fi
  bash '$WORKSHOP_DIR/scripts/sagemaker-setup.sh'
" > "$LOG" 2>&1 &
