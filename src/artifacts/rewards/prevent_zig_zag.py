"""Reward example: prevent zig-zag driving.

The idea: a car that only follows the centre line often learns to weave left and right around
it. Weaving wastes time and looks nervous. This reward starts from the centre-line reward and
takes a part of it away whenever the car steers harder than a chosen limit, so smooth driving
with small steering corrections pays more than zig-zagging.

Params used: all_wheels_on_track, track_width, distance_from_center, steering_angle.
"""

OFF_TRACK_REWARD = 1e-3
STEERING_LIMIT_DEG = 15.0
HARD_STEERING_FACTOR = 0.8


def reward_function(params):
    """Centre-line reward, reduced by 20 % when the steering angle exceeds 15 degrees."""
    if not params["all_wheels_on_track"]:
        return OFF_TRACK_REWARD
    half_width = 0.5 * params["track_width"]
    closeness = 1.0 - min(params["distance_from_center"] / half_width, 1.0)
    reward = closeness
    if abs(params["steering_angle"]) > STEERING_LIMIT_DEG:
        reward *= HARD_STEERING_FACTOR
    return max(reward, OFF_TRACK_REWARD)
