"""Default reward: stay close to the centre line (used when no reward function is given)."""


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
