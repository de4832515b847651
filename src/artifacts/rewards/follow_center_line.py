"""Reward example: follow the centre line.

The idea: the car earns the most when it drives right on the centre line, and a little less for
every centimetre it drifts towards a border. Because the reward falls smoothly (not in a few
steps), the car can feel which way is "better" everywhere on the road. Leaving the road earns
almost nothing, so going off track is never worth it.

Params used: all_wheels_on_track, track_width, distance_from_center.
"""

OFF_TRACK_REWARD = 1e-3


def reward_function(params):
    """Return 1.0 on the centre line, falling towards 0 at a border, 0.001 off the road."""
    if not params["all_wheels_on_track"]:
        return OFF_TRACK_REWARD
    half_width = 0.5 * params["track_width"]
    drift = min(params["distance_from_center"] / half_width, 1.0)
    closeness = 1.0 - drift
    return max(closeness * closeness, OFF_TRACK_REWARD)
