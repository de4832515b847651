"""Default reward, and the workshop's reward example "follow_center_line".

The idea: the car earns the most when it drives close to the centre line. Three bands around
the line, at a tenth, a quarter and a half of the track width, pay 1.0, 0.5 and 0.1; further out,
or with a wheel off the road, the car earns almost nothing. This is the function the simulator
uses when a run has no reward function of its own.

Params used: all_wheels_on_track, track_width, distance_from_center.
"""


def reward_function(params: dict) -> float:
    """Reward 1.0 near the centre line, less towards the edges, almost nothing off track."""
    if not params["all_wheels_on_track"]:
        return 1e-3
    half_width = 0.5 * params["track_width"]
    distance = params["distance_from_center"]
    if distance <= 0.1 * half_width:
        return 1.0
    if distance <= 0.25 * half_width:
        return 0.5
    if distance <= 0.5 * half_width:
        return 0.1
    return 1e-3
