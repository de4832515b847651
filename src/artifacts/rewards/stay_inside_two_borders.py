"""Reward example: stay inside the two borders.

The idea: tell the car only one thing, "keep all four wheels on the road". Every step with the
wheels inside the borders is worth the same, wherever the car is on the road, so the car is free
to find its own line through the corners. Any step with a wheel outside is worth almost nothing.
This reward is simple to understand, but it says nothing about speed or a good racing line.

Params used: all_wheels_on_track, is_offtrack.
"""

INSIDE_REWARD = 1.0
OUTSIDE_REWARD = 1e-3


def reward_function(params):
    """Return 1.0 while all wheels are on the road, 0.001 as soon as one is outside."""
    if params["all_wheels_on_track"] and not params["is_offtrack"]:
        return INSIDE_REWARD
    return OUTSIDE_REWARD
