"""The one rule both runners apply to stop a training's workers when another worker ended."""

from __future__ import annotations

from markov.runners.stop_rule import StopCause, WorkerView, workers_to_stop

TRAINER = WorkerView("trainer", running=True)


def rollout(
    index: int, *, running: bool = True, failed: bool = False, lasting: bool = False
) -> WorkerView:
    return WorkerView(f"rollout-{index}", running, failed, lasting)


def test_all_running_stops_nothing() -> None:
    assert workers_to_stop(TRAINER, [rollout(0), rollout(1)], training_finished=False) is None


def test_a_failed_trainer_stops_the_rollout_workers_still_running() -> None:
    trainer = WorkerView("trainer", running=False, failed=True)

    decision = workers_to_stop(trainer, [rollout(0), rollout(1, running=False)], False)

    assert decision is not None
    assert decision.cause is StopCause.TRAINER_FAILED
    assert decision.stop == ("rollout-0",)
    assert decision.culprit == "trainer"


def test_a_failed_trainer_fails_the_training_even_with_no_worker_left_to_stop() -> None:
    trainer = WorkerView("trainer", running=False, failed=True)

    decision = workers_to_stop(trainer, [rollout(0, running=False)], False)

    assert decision is not None and decision.cause is StopCause.TRAINER_FAILED
    assert decision.stop == ()


def test_a_lasting_rollout_failure_stops_the_trainer_and_the_other_workers() -> None:
    broken = rollout(1, running=False, failed=True, lasting=True)

    decision = workers_to_stop(TRAINER, [rollout(0), broken, rollout(2)], False)

    assert decision is not None
    assert decision.cause is StopCause.LASTING_FAILURE
    assert decision.stop == ("trainer", "rollout-0", "rollout-2")
    assert decision.culprit == "rollout-1"


def test_a_passing_rollout_failure_stops_nothing_while_others_play() -> None:
    crashed = rollout(1, running=False, failed=True)

    assert workers_to_stop(TRAINER, [rollout(0), crashed], False) is None


def test_with_no_rollout_worker_left_the_waiting_trainer_is_stopped() -> None:
    gone = [rollout(0, running=False), rollout(1, running=False, failed=True)]

    decision = workers_to_stop(TRAINER, gone, training_finished=False)

    assert decision is not None
    assert decision.cause is StopCause.NO_ROLLOUT_WORKER_LEFT
    assert decision.stop == ("trainer",)


def test_a_finished_training_lets_its_workers_end_in_peace() -> None:
    gone = [rollout(0, running=False), rollout(1, running=False)]

    assert workers_to_stop(TRAINER, gone, training_finished=True) is None


def test_a_trainer_that_ended_well_stops_nothing() -> None:
    trainer = WorkerView("trainer", running=False)

    assert workers_to_stop(trainer, [rollout(0), rollout(1, running=False)], False) is None
