"""Reward functions under the watchdog: time limits, sys.exit/KeyboardInterrupt, capped output.

The in-process tests use small limits so that they are quick; nothing asserts how fast anything
runs. The worker tests start real rollout worker processes on a store with checkpoint 0 and
check what the learner sees: the failure block, their own code line, and exit status 3.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from markov.agents.restore import build_agent, checkpoint_files
from markov.environment.model_metadata import default_model_metadata
from markov.environment.reward_function import RewardFunctionError, reward_function_from_source
from markov.environment.reward_watchdog import RewardLimits, RewardLimitsError
from markov.formats.checkpoints import CheckpointPublisher
from markov.formats.run_inputs import write_run_inputs
from markov.presets.preset import Hyperparameters
from markov.store import open_store
from markov.workers.failure import EXIT_DETERMINISTIC_FAILURE, failure_block

TRACK = "Workshop_Oval"
PREFIX = "exp"
WORKER_WAIT_S = 600
"""Only a hung worker reaches this."""


def guarded(code: str, **limits: float) -> object:
    reward = reward_function_from_source(textwrap.dedent(code), "my_reward.py")
    reward.guard(RewardLimits(**limits))
    return reward


def failure_of(reward, params=None) -> str:
    with pytest.raises(RewardFunctionError) as caught:
        reward(params or {"progress": 1.0})
    return str(caught.value)


# ------------------------------------------------------------------ in-process
def test_a_slow_call_is_stopped_at_the_per_call_limit_showing_the_users_line() -> None:
    reward = guarded(
        """
        import time
        def reward_function(params):
            time.sleep(60)
            return 1.0
        """,
        call_timeout_s=0.2,
    )
    message = failure_of(reward)
    assert message.startswith("reward_function (my_reward.py, line 3) did not return within")
    assert "per-call limit of 0.2 s (REWARD_CALL_TIMEOUT_S) on call 1 of this episode" in message
    assert 'File "my_reward.py", line 4, in reward_function\n    time.sleep(60)' in message


def test_an_infinite_loop_is_stopped_even_when_it_catches_exception() -> None:
    reward = guarded(
        """
        def reward_function(params):
            while True:
                try:
                    pass
                except Exception:
                    pass
        """,
        call_timeout_s=0.2,
    )
    message = failure_of(reward)
    assert "per-call limit of 0.2 s" in message
    assert "look for a loop that never ends" in message
    assert "my_reward.py" in message


def test_the_episode_budget_counts_calls_and_restarts_with_each_episode() -> None:
    reward = guarded(
        """
        import time
        def reward_function(params):
            time.sleep(0.05)
            return 1.0
        """,
        episode_budget_s=0.12,
    )
    with pytest.raises(RewardFunctionError) as caught:
        for _ in range(100):
            reward({"progress": 1.0})
    message = str(caught.value)
    calls = int(re.search(r"in (\d+) calls this episode", message).group(1))
    assert calls >= 1
    assert "over the per-episode budget of 0.12 s (REWARD_EPISODE_BUDGET_S)" in message
    reward.new_episode()
    assert reward.watchdog.calls == 0 and reward.watchdog.episode_seconds == 0.0


def test_off_the_main_thread_an_overrun_is_found_when_the_call_returns() -> None:
    reward = guarded(
        """
        import time
        def reward_function(params):
            time.sleep(0.3)
            return 1.0
        """,
        call_timeout_s=0.05,
    )
    errors: list[str] = []

    def call() -> None:
        try:
            reward({"progress": 1.0})
        except RewardFunctionError as error:
            errors.append(str(error))

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(WORKER_WAIT_S)
    assert len(errors) == 1 and "per-call limit of 0.05 s" in errors[0]


@pytest.mark.parametrize(
    ("statement", "shown"),
    [("sys.exit(0)", "SystemExit: 0"), ("raise KeyboardInterrupt", "KeyboardInterrupt")],
)
def test_sys_exit_and_keyboard_interrupt_in_a_reward_are_errors(statement, shown) -> None:
    reward = guarded(
        f"""
        import sys
        def reward_function(params):
            {statement}
        """
    )
    message = failure_of(reward)
    assert message.startswith("reward_function (my_reward.py, line 3) raised")
    assert "cannot stop training from inside reward_function" in message
    assert f"line 4, in reward_function\n    {statement}\n{shown}" in message


def test_without_a_watchdog_sys_exit_is_an_error_and_an_interrupt_stays_an_interrupt() -> None:
    exits = reward_function_from_source(
        "import sys\ndef reward_function(params):\n    sys.exit()\n"
    )
    with pytest.raises(RewardFunctionError, match="raised SystemExit"):
        exits({"progress": 1.0})
    interrupted = reward_function_from_source(
        "def reward_function(params):\n    raise KeyboardInterrupt\n"
    )
    with pytest.raises(KeyboardInterrupt):
        interrupted({"progress": 1.0})


def test_a_chatty_reward_is_capped_per_call_and_per_episode_and_the_drop_is_reported(
    capsys,
) -> None:
    reward = guarded(
        """
        def reward_function(params):
            print("x" * 1_000_000)
            return 1.0
        """,
        output_call_chars=1000,
        output_episode_chars=2500,
    )
    for _ in range(5):
        assert reward({"progress": 1.0}) == 1.0
    reward.new_episode()
    captured = capsys.readouterr()
    assert captured.out.count("x") == 2500
    assert all(len(line) <= 1000 for line in captured.out.splitlines())
    dropped = 5 * 1_000_001 - 2500
    assert f"{dropped} characters of output dropped from 5 calls in the last episode" in (
        captured.err
    )
    assert "REWARD_OUTPUT_CALL_CHARS" in captured.err
    assert reward({"progress": 1.0}) == 1.0  # a new episode has its own budget
    assert capsys.readouterr().out.count("x") == 1000


def test_a_timer_that_was_pending_before_the_call_is_restored() -> None:
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no interval timers on this platform")
    reward = guarded("def reward_function(params):\n    return 1.0\n")
    previous = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    try:
        signal.setitimer(signal.ITIMER_REAL, 500.0)
        reward({"progress": 1.0})
        remaining, _ = signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert remaining > 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REWARD_CALL_TIMEOUT_S", "soon"),
        ("REWARD_EPISODE_BUDGET_S", "-1"),
        ("REWARD_OUTPUT_CALL_CHARS", "1.5"),
    ],
)
def test_bad_limit_variables_are_refused_naming_the_variable(variable, value) -> None:
    with pytest.raises(RewardLimitsError, match=rf"{variable} is '{re.escape(value)}'; set it"):
        RewardLimits.from_environment({variable: value})


def test_a_reward_that_ignores_the_stop_ends_the_worker_process_with_the_failure_block(
    tmp_path,
) -> None:
    script = textwrap.dedent(
        """
        import sys
        from markov.environment.reward_function import reward_function_from_source
        from markov.environment.reward_watchdog import RewardLimits
        code = '''
        def reward_function(params):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        '''
        reward = reward_function_from_source(code, "stubborn.py")
        reward.guard(RewardLimits(call_timeout_s=0.2), hard_stop=True)
        reward({"progress": 1.0})
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WORKER_WAIT_S
    )
    assert result.returncode == EXIT_DETERMINISTIC_FAILURE
    block = failure_block(result.stderr)
    assert block is not None and "did not stop when asked" in block
    assert 'File "stubborn.py"' in block


# ------------------------------------------------------------------ real rollout workers
@pytest.fixture(scope="module")
def checkpoint_zero() -> dict[str, bytes]:
    agent = build_agent(default_model_metadata(), Hyperparameters(), seed=0)
    return checkpoint_files(agent, {"iteration": 0})


def run_rollout_worker(
    store_dir: Path, reward_source: str, checkpoint: dict[str, bytes], **env: str
) -> subprocess.CompletedProcess[str]:
    """One rollout worker on a store with the run's inputs and checkpoint 0 (no trainer)."""
    store = open_store(store_dir)
    hyperparameters = Hyperparameters(num_episodes_between_training=1, num_epochs=1)
    write_run_inputs(
        store,
        PREFIX,
        world_name=TRACK,
        num_workers=1,
        model_metadata=default_model_metadata(),
        hyperparameters=hyperparameters,
        reward_source=textwrap.dedent(reward_source),
        params={"MIN_EVAL_TRIALS": "0"},
    )
    publisher = CheckpointPublisher(store, PREFIX)
    publisher.write_ip_files(hyperparameters.to_json_dict())
    publisher.publish(0, 0, checkpoint)
    publisher.mark_ready()
    environment = {
        **os.environ,
        "MODEL_STORE_URL": store_dir.as_uri(),
        "SAGEMAKER_SHARED_S3_PREFIX": PREFIX,
        "ROLLOUT_IDX": "0",
        "LIVE_FRAMES": "false",
        "OMP_NUM_THREADS": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "markov.workers.rollout"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=WORKER_WAIT_S,
    )


REWARDS = {
    "slow": (
        """
        import time
        def reward_function(params):
            time.sleep(30)
            return 1.0
        """,
        ["per-call limit of 0.5 s (REWARD_CALL_TIMEOUT_S) on call 1", "    time.sleep(30)"],
    ),
    "infinite loop": (
        """
        def reward_function(params):
            total = 0
            while True:
                total += 1
        """,
        ["per-call limit of 0.5 s", 'File "reward_function.py", line'],
    ),
    "sys.exit": (
        """
        import sys
        def reward_function(params):
            sys.exit(0)
        """,
        ["raised SystemExit: 0", "    sys.exit(0)", "cannot stop training"],
    ),
    "KeyboardInterrupt": (
        """
        def reward_function(params):
            raise KeyboardInterrupt
        """,
        ["raised KeyboardInterrupt", "    raise KeyboardInterrupt"],
    ),
}


@pytest.mark.parametrize("case", sorted(REWARDS))
def test_a_failing_reward_ends_the_rollout_worker_with_the_failure_block(
    tmp_path, checkpoint_zero, case
) -> None:
    source, expected = REWARDS[case]
    result = run_rollout_worker(
        tmp_path / "store", source, checkpoint_zero, REWARD_CALL_TIMEOUT_S="0.5"
    )
    assert result.returncode == EXIT_DETERMINISTIC_FAILURE, result.stderr[-3000:]
    block = failure_block(result.stderr)
    assert block is not None, result.stderr[-3000:]
    assert block.startswith("rollout worker 0 stopped: the reward function failed.\n")
    assert "reward_function (reward_function.py, line" in block
    for text in expected:
        assert text in block
    assert "markov/" not in block.split("params of the")[0]  # only the learner's frames


def test_a_chatty_reward_leaves_a_bounded_log_that_says_what_was_dropped(
    tmp_path, checkpoint_zero
) -> None:
    source = """
        calls = 0
        def reward_function(params):
            global calls
            calls += 1
            print("x" * 1_000_000)
            if calls == 30:
                raise RuntimeError("enough")
            return 1.0
        """
    result = run_rollout_worker(
        tmp_path / "store",
        source,
        checkpoint_zero,
        REWARD_OUTPUT_CALL_CHARS="2000",
        REWARD_OUTPUT_EPISODE_CHARS="10000",
    )
    assert result.returncode == EXIT_DETERMINISTIC_FAILURE
    assert result.stdout.count("x") <= 30 * 2000  # unbounded it would be 30 MB
    assert len(result.stdout) + len(result.stderr) < 200_000
    assert "characters of output dropped" in result.stderr
    assert "raised RuntimeError: enough" in failure_block(result.stderr)
