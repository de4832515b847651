"""``make aws-smoke``: a 5-minute one-job training on a real AWS account, its cost, clean-up.

Needs credentials and a region (``AWS_DEFAULT_REGION``). Runs the set-up, trains a tiny model
with one rollout worker on ``ml.c5.xlarge`` for at most 5 minutes in one job, prints the state
and the billed seconds with their cost, then deletes the experiment's data. Not part of CI.
"""

from __future__ import annotations

import os
import sys
import time

from workshop_helpers.backends import TrainingRequest
from workshop_helpers.backends.aws.backend import AwsBackend
from workshop_helpers.backends.aws.cleanup import stop_jobs_and_delete
from workshop_helpers.backends.aws.cost import HOURLY_USD
from workshop_helpers.backends.aws.setup import setup_workshop
from workshop_helpers.bundle import upload_run_inputs
from workshop_helpers.experiment import new_experiment
from workshop_helpers.model_config import load_action_preset, write_model_metadata
from workshop_helpers.reward import load_reward_example, write_reward_function

INSTANCE_TYPE = "ml.c5.xlarge"
TRACK = "Workshop_Oval"
WAIT_LIMIT_S = 3600


def main() -> int:
    """Run the smoke test; returns 0 when the training completed."""
    os.environ.setdefault("DR_INSTANCE_TYPE", INSTANCE_TYPE)
    report = setup_workshop()
    print(report)
    settings = report.settings
    experiment = new_experiment("smoke", "aws", world_name=TRACK, store_url=settings.store_url)
    write_model_metadata(experiment, load_action_preset("drfc_default"))
    write_reward_function(experiment, load_reward_example("follow_center_line"))
    upload_run_inputs(experiment, world_name=TRACK, num_workers=1)
    backend = AwsBackend(settings)
    states = backend.start_training(experiment, TrainingRequest(num_workers=1, max_time_s=300))
    deadline = time.monotonic() + WAIT_LIMIT_S
    try:
        while not all(state.done for state in states):
            if time.monotonic() > deadline:
                print(f"The job did not end within {WAIT_LIMIT_S} s; stopping it.")
                states = backend.stop_training(experiment)
                break
            time.sleep(30)
            states = backend.training_jobs(experiment)
            print(", ".join(f"{state.name}: {state.state} {state.detail}" for state in states))
    finally:
        seconds = [info.seconds or 0 for info in backend._current_attempt(experiment)[1]]
        price = HOURLY_USD.get(settings.instance_type, 0.0)
        print(
            f"Billed about {sum(seconds):.0f} s on {settings.instance_type}: "
            f"${sum(seconds) / 3600 * price:.3f} (plus cents of S3 requests)."
        )
        print(
            stop_jobs_and_delete(backend.context, settings, [experiment], delete_data="experiments")
        )
    return 0 if all(state.state == "completed" for state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
