"""How much compute a notebook spends: the full workshop, or a small budget for nbval tests.

``DR_WORKSHOP_BUDGET=small`` (set by the test suite) makes every notebook train and evaluate for
seconds instead of minutes; learners get the ``full`` budget by default. The small budget ends a
training by its iteration count and an evaluation by its step cap, so a test's outcome never
depends on how busy the machine is; its time limit is only a guard that a hang reaches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

BUDGET_VARIABLE = "DR_WORKSHOP_BUDGET"


@dataclass(frozen=True)
class Budget:
    """Training and evaluation sizes for one budget."""

    name: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    training_params: dict[str, str] = field(default_factory=dict)
    max_training_time_s: float = 1800.0
    stop_at_eval_progress: float | None = 100.0
    evaluation_trials: int = 3
    evaluation_params: dict[str, str] = field(default_factory=dict)


BUDGETS = {
    "full": Budget("full"),
    "small": Budget(
        "small",
        hyperparameters={
            "num_episodes_between_training": 4,
            "num_epochs": 1,
            "batch_size": 32,
            "term_cond_max_episodes": 2,
        },
        training_params={"MIN_EVAL_TRIALS": "1"},
        max_training_time_s=3600.0,
        stop_at_eval_progress=None,
        evaluation_trials=1,
        # a barely trained car with many resets could otherwise drive for a long time
        evaluation_params={"MAX_EPISODE_STEPS": "3000"},
    ),
}


def workshop_budget() -> Budget:
    """The budget named by ``DR_WORKSHOP_BUDGET`` (``full`` when unset)."""
    name = os.environ.get(BUDGET_VARIABLE, "full").strip().lower() or "full"
    if name not in BUDGETS:
        raise ValueError(f"{BUDGET_VARIABLE} is {name!r}; use one of {', '.join(BUDGETS)}.")
    return BUDGETS[name]
