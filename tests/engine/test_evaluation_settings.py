"""One evaluation settings object read once from the YAML; one trial recorder for solo and
head-to-head evaluations; one name for the model metadata error and the default reward."""

from __future__ import annotations

import inspect

import pytest
import yaml

from markov.agents.export import export_model_archive
from markov.environment.model_metadata import ModelMetadataError
from markov.environment.scripted import CenterLineDriver
from markov.environment.world_config import WorldConfigError
from markov.races import head_to_head, trials
from markov.races.head_to_head import race
from markov.races.settings import EvaluationSettings
from markov.races.trials import EvaluationResult, TrialRecorder, evaluate, scripted_policy
from markov.rewards import default as default_reward
from markov.store import open_store
from markov.workers.evaluation import job_from_environment
from workshop_helpers.reward import list_reward_examples, load_reward_example

TRACK = "Workshop_Oval"
EVALUATION_YAML = """\
WORLD_NAME: "Workshop_Oval"
MODEL_S3_PREFIX: "exp"
EVAL_CHECKPOINT: "best"
NUMBER_OF_TRIALS: "4"
IS_CONTINUOUS: "true"
NUMBER_OF_RESETS: "2"
OFF_TRACK_PENALTY: "1.5"
COLLISION_PENALTY: "3.0"
REVERSE_DIR: "false"
RACE_TYPE: "OBJECT_AVOIDANCE"
NUMBER_OF_OBSTACLES: "2"
START_POSITION_OFFSET: "0.25"
"""


def test_the_worker_reads_every_evaluation_setting_once_from_the_yaml(tmp_path) -> None:
    store = open_store(tmp_path)
    store.put_bytes("eval.yaml", EVALUATION_YAML.encode())
    environ = {"S3_YAML_NAME": "eval.yaml", "EVALUATION_ID": "20260101120000"}

    job = job_from_environment(store, environ)

    assert job.settings == EvaluationSettings(
        number_of_trials=4,
        is_continuous=True,
        number_of_resets=2,
        off_track_penalty=1.5,
        collision_penalty=3.0,
        reverse_dir=False,
        race_type="OBJECT_AVOIDANCE",
        world_params={
            "WORLD_NAME": "Workshop_Oval",
            "NUMBER_OF_OBSTACLES": "2",
            "START_POSITION_OFFSET": "0.25",
        },
    )
    assert job.settings.world.obstacle_count == 2
    assert job.settings.world.start_position_offset == 0.25
    assert job.models[0].checkpoint == "best"  # the model's own key, not an evaluation setting


def test_settings_from_the_yaml_give_the_environment_the_values_of_the_yaml() -> None:
    settings = EvaluationSettings.from_params(yaml.safe_load(EVALUATION_YAML))

    params = settings.env_params()
    assert {key: params[key] for key in ("NUMBER_OF_TRIALS", "IS_CONTINUOUS", "RACE_TYPE")} == {
        "NUMBER_OF_TRIALS": 4,
        "IS_CONTINUOUS": True,
        "RACE_TYPE": "OBJECT_AVOIDANCE",
    }
    assert "EVAL_CHECKPOINT" not in params and "MODEL_S3_PREFIX" not in params
    assert settings.episodes == 1  # continuous: one episode of four laps
    assert EvaluationSettings.from_params({}).number_of_trials == 10  # the simapp's default


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"NUMBER_OF_TRIALS": "0"}, r"NUMBER_OF_TRIALS is 0; use a whole number >= 1"),
        ({"IS_CONTINUOUS": "maybe"}, r"IS_CONTINUOUS is 'maybe'; use \"true\" or \"false\""),
        ({"OFF_TRACK_PENALTY": "-1"}, r"OFF_TRACK_PENALTY is -1.0; a penalty is seconds >= 0"),
        ({"RACE_TYPE": "DRAG"}, r"RACE_TYPE is 'DRAG'; use one of TIME_TRIAL"),
        ({"NUMBER_OF_TRAILS": "3"}, r"'NUMBER_OF_TRAILS'.*Did you mean 'NUMBER_OF_TRIALS'"),
    ],
)
def test_bad_yaml_values_are_named_with_their_value_and_fix(params, message) -> None:
    with pytest.raises(WorldConfigError, match=message):
        EvaluationSettings.from_params(params)


def test_settings_built_in_code_are_checked_like_the_yaml() -> None:
    with pytest.raises(WorldConfigError, match=r"NUMBER_OF_TRIALS is '3'; use a whole number"):
        EvaluationSettings(number_of_trials="3")  # type: ignore[arg-type]
    with pytest.raises(WorldConfigError, match=r"world_params repeats \['RACE_TYPE'\].*race_type"):
        EvaluationSettings(world_params={"RACE_TYPE": "TIME_TRIAL"})
    with pytest.raises(WorldConfigError, match="NUMBER_OF_RESETS is -1; use a whole number >= 0"):
        EvaluationSettings(number_of_resets=-1)


def test_solo_and_head_to_head_trials_are_recorded_by_the_same_recorder(monkeypatch) -> None:
    made: list[TrialRecorder] = []

    class CountingRecorder(TrialRecorder):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(trials, "TrialRecorder", CountingRecorder)
    monkeypatch.setattr(head_to_head, "TrialRecorder", CountingRecorder)
    settings = EvaluationSettings(number_of_trials=1)
    driver = scripted_policy(CenterLineDriver(speed=1.5))

    solo = evaluate(driver, TRACK, None, settings)
    slower = scripted_policy(CenterLineDriver(speed=1.0))
    cars = race([driver, slower], TRACK, [None, None], settings)

    assert [id(recorder.result) for recorder in made] == [id(solo), *map(id, cars)]
    for result in (solo, *cars):
        assert [trial.episode_status for trial in result.trials] == ["Lap complete"]


def test_the_recorder_closes_a_trial_when_its_lap_is_complete() -> None:
    seen = []
    recorder = TrialRecorder(EvaluationResult(TRACK, True), lambda trial, rows: seen.append(rows))
    recorder.start(10.0)
    row = {"reward": 1.0, "episode_status": "in_progress", "progress": 50.0}
    recorder.end_trial_if_over(recorder.add(row), False, 10.5)
    last = recorder.add({**row, "episode_status": "lap_complete", "progress": 100.0})
    trial = recorder.end_trial_if_over(last, False, 11.0)

    assert trial is not None and trial.trial == 1 and trial.steps == 2
    assert (trial.start_time_s, trial.end_time_s, trial.total_reward) == (10.0, 11.0, 2.0)
    assert seen == [recorder.result.simtrace_rows]
    assert (recorder.trial, recorder.start_time_s, recorder.episode) == (2, 11.0, 1)


def test_an_archive_with_bad_metadata_raises_the_one_model_metadata_error(tmp_path) -> None:
    with pytest.raises(ModelMetadataError, match="model_metadata_json cannot be written as JSON"):
        export_model_archive(None, {"sensor": object()}, tmp_path / "model.tar.gz")  # type: ignore[arg-type]


def test_the_follow_center_line_example_is_the_engine_default_reward() -> None:
    source = load_reward_example("follow_center_line")

    assert source == inspect.getsource(default_reward)
    assert "follow_center_line" in list_reward_examples()
    with pytest.raises(FileNotFoundError, match="did you mean 'follow_center_line'"):
        load_reward_example("follow_centre_line")
