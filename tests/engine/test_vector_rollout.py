"""Batched rollouts keep every episode, its number, start and simtrace exactly as one env would."""

import numpy as np
import pytest

from markov.agents.restore import build_agent
from markov.environment import DeepRacerRacetrackEnv
from markov.environment.model_metadata import default_model_metadata
from markov.presets import Hyperparameters
from markov.workers.rollout import play_episode
from markov.workers.vector_rollout import NumEnvsError, num_envs_setting, play_episodes_lockstep

TRACK = "Workshop_Oval"


def environments(count: int, seed: int = 5) -> list[DeepRacerRacetrackEnv]:
    envs = [DeepRacerRacetrackEnv(TRACK, default_model_metadata()) for _ in range(count)]
    for index, env in enumerate(envs):
        env.reset(seed=seed + index)
    return envs


def agent():
    return build_agent(default_model_metadata(), Hyperparameters(), seed=3, num_threads=1)


def without_wall_clock(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_clock"} for row in rows]


class RowCollector:
    """Stands in for SimtraceWriter: keeps the rows play_episode adds."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add_row(self, row) -> None:
        self.rows.append(row)


def test_one_environment_plays_exactly_what_the_single_episode_loop_plays():
    sequential_env, sequential_agent = environments(1)[0], agent()
    expected = []
    for number in range(7, 10):
        rows = RowCollector()
        record = play_episode(
            sequential_env, sequential_agent, deterministic=False, simtrace=rows,
            episode_number=number,
        )
        expected.append((record, rows.rows))
    played = play_episodes_lockstep(
        environments(1), agent(), first_episode=7, count=3, first_start=0
    )
    assert [episode.number for episode in played] == [7, 8, 9]
    for episode, (record, rows) in zip(played, expected, strict=True):
        assert episode.steps == record.steps and episode.status == record.status
        assert episode.total_reward == record.total_reward
        assert (episode.start_time, episode.end_time) == (record.start_time, record.end_time)
        np.testing.assert_array_equal(episode.arrays.actions, record.arrays.actions)
        np.testing.assert_array_equal(episode.arrays.rewards, record.arrays.rewards)
        for name, values in record.arrays.observations.items():
            np.testing.assert_array_equal(episode.arrays.observations[name], values)
        assert without_wall_clock(episode.simtrace_rows) == without_wall_clock(rows)


def test_several_environments_keep_the_episode_split_and_each_episode_whole():
    played = play_episodes_lockstep(environments(3), agent(), first_episode=4, count=5)
    assert [episode.number for episode in played] == [4, 5, 6, 7, 8]
    reference_env = environments(1)[0]
    for episode in played:
        rows = episode.simtrace_rows
        assert len(rows) == episode.steps == len(episode.arrays.rewards)
        assert len(episode.arrays.observations["FRONT_FACING_CAMERA"]) == episode.steps
        assert {row["episode"] for row in rows} == {episode.number}
        assert [row["steps"] for row in rows] == list(range(1, episode.steps + 1))
        assert rows[-1]["episode_status"] == episode.status
        assert sum(row["reward"] for row in rows) == pytest.approx(episode.total_reward)
        # The round-robin start depends on the episode number only, as with one environment.
        reference_env.reset(options={"evaluation": False, "start_index": episode.number})
        *_, info = reference_env.step(int(episode.arrays.actions[0]))
        start = {key: info["simtrace"][key] for key in ("X", "Y", "yaw", "closest_waypoint")}
        assert {key: rows[0][key] for key in start} == start


def test_fewer_episodes_than_environments_leave_the_spare_ones_idle():
    played = play_episodes_lockstep(environments(4), agent(), first_episode=0, count=2)
    assert [episode.number for episode in played] == [0, 1]


def test_num_envs_comes_from_the_environment_then_the_yaml_then_the_default():
    assert num_envs_setting({}, {}) == 4
    assert num_envs_setting({}, {"NUM_ENVS_PER_WORKER": "2"}) == 2
    assert num_envs_setting({"NUM_ENVS_PER_WORKER": "8"}, {"NUM_ENVS_PER_WORKER": "2"}) == 8


@pytest.mark.parametrize("value", ["0", "many", "65"])
def test_bad_num_envs_names_the_setting_and_the_range(value):
    with pytest.raises(NumEnvsError, match="NUM_ENVS_PER_WORKER") as error:
        num_envs_setting({"NUM_ENVS_PER_WORKER": value}, {})
    assert repr(value) in str(error.value) and "1 to 64" in str(error.value)
