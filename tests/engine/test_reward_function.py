"""Loading the user's reward function and checking its results (docs/simulator-contract.md §2.6)."""

import textwrap

import numpy as np
import pytest

from markov.environment.reward_function import (
    RewardFunctionError,
    load_reward_function,
    reward_function_from_source,
)

WAYPOINTS = [(float(i), float(i) / 2) for i in range(120)]


def make_params(**overrides):
    params = {
        "all_wheels_on_track": True,
        "progress": 42.5,
        "speed": 1.0,
        "steps": 3.0,
        "waypoints": list(WAYPOINTS),
        "closest_waypoints": [3, 4],
        "objects_location": [[1.0, 2.0]],
    }
    params.update(overrides)
    return params


def write(tmp_path, code, name="reward_function.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def test_a_valid_file_returns_a_float(tmp_path):
    path = write(
        tmp_path,
        """
        def reward_function(params):
            return 1 if params["all_wheels_on_track"] else 0
        """,
    )
    reward_fn = load_reward_function(path)
    assert reward_fn(make_params()) == 1.0
    assert type(reward_fn(make_params())) is float
    assert reward_fn.source_path == path
    assert "def reward_function" in reward_fn.source_code


def test_a_callable_is_wrapped_and_checked():
    reward_fn = load_reward_function(lambda params: params["progress"] / 100)
    assert reward_fn(make_params()) == pytest.approx(0.425)
    assert load_reward_function(reward_fn) is reward_fn


def test_mutating_params_inside_the_function_does_not_leak():
    def vandal(params):
        params["progress"] = -1
        params["waypoints"].clear()
        params["closest_waypoints"][0] = 99
        params["objects_location"][0][0] = 99.0
        return 1.0

    params = make_params()
    load_reward_function(vandal)(params)
    assert params == make_params()


def test_nonexistent_file_says_the_path_and_what_to_pass(tmp_path):
    missing = tmp_path / "rewards" / "mine.py"
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(missing)
    message = str(caught.value)
    assert str(missing) in message and "does not exist" in message
    assert "defines reward_function(params)" in message


def test_syntax_error_shows_line_number_and_text(tmp_path):
    path = write(
        tmp_path,
        """
        def reward_function(params):
            if params["progress"] > 50
                return 1.0
            return 0.5
        """,
    )
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(path)
    message = str(caught.value)
    assert "line 3" in message
    assert 'if params["progress"] > 50' in message
    assert "^" in message


def test_error_inside_the_function_shows_the_users_line_and_the_params(tmp_path):
    path = write(
        tmp_path,
        """
        def helper(progress):
            return progress / 0

        def reward_function(params):
            return helper(params["progress"])
        """,
    )
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(path)(make_params())
    message = str(caught.value)
    assert "ZeroDivisionError" in message
    assert "return progress / 0" in message and "line 3" in message
    assert 'return helper(params["progress"])' in message
    assert "'progress': 42.5" in message
    assert 'reward_function.py", line' in message
    assert "__call__" not in message  # our wrapper frames are hidden
    assert "... 116 more ..." in message  # waypoints are shortened


def test_source_from_a_notebook_cell_shows_its_lines_in_errors():
    reward_fn = reward_function_from_source(
        "def reward_function(params):\n    return params['missing_key']\n", filename="cell_7.py"
    )
    with pytest.raises(RewardFunctionError) as caught:
        reward_fn(make_params())
    message = str(caught.value)
    assert 'File "cell_7.py", line 2' in message
    assert "return params['missing_key']" in message
    assert "'missing_key' is not a params key" in message


def test_misspelt_params_key_gets_a_suggestion():
    reward_fn = load_reward_function(lambda params: params["progres"])
    with pytest.raises(RewardFunctionError, match="did you mean 'progress'"):
        reward_fn(make_params())


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("float('nan')", "NaN"),
        ("float('inf')", "infinity"),
        ("'fast'", "not text"),
        ("None", "return statement is missing"),
        ("1e9", "scale the reward down"),
        ("-1e9", "scale the reward down"),
        ("[1.0, 2.0]", "single number"),
    ],
)
def test_invalid_returns_say_the_allowed_range(returned, expected):
    reward_fn = reward_function_from_source(
        f"def reward_function(params):\n    return {returned}\n"
    )
    with pytest.raises(RewardFunctionError) as caught:
        reward_fn(make_params())
    message = str(caught.value)
    assert "between -100000 and 100000" in message
    assert expected in message
    assert "'progress': 42.5" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", 1.5), (np.float32(0.25), 0.25), (np.float64(1e5), 1e5), (True, 1.0)],
)
def test_numeric_strings_and_numpy_numbers_are_accepted(value, expected):
    assert load_reward_function(lambda params: value)(make_params()) == expected


def test_missing_reward_function_suggests_a_close_name(tmp_path):
    path = write(tmp_path, "def reward_fn(params):\n    return 1.0\n")
    with pytest.raises(RewardFunctionError, match="did you mean 'reward_fn'"):
        load_reward_function(path)


def test_reward_function_that_is_not_callable_is_rejected():
    with pytest.raises(RewardFunctionError, match="is a float, not a function"):
        reward_function_from_source("reward_function = 1.0\n")


def test_wrong_signature_is_rejected():
    with pytest.raises(RewardFunctionError, match="exactly one positional argument"):
        reward_function_from_source("def reward_function(params, progress):\n    return 1.0\n")
    with pytest.raises(RewardFunctionError, match="exactly one positional argument"):
        load_reward_function(lambda: 1.0)


def test_error_at_import_time_shows_the_module_line(tmp_path):
    path = write(
        tmp_path, "import math\nSCALE = math.sqrt(-1)\n\ndef reward_function(p):\n    return 1\n"
    )
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(path)
    message = str(caught.value)
    assert "while being imported" in message and "line 2" in message
    assert "SCALE = math.sqrt(-1)" in message


def test_source_text_with_a_line_break_is_loaded_as_code() -> None:
    from markov.environment.reward_function import load_reward_function

    reward = load_reward_function("def reward_function(params):\n    return 2.5\n")
    assert reward({"progress": 1.0}) == 2.5
