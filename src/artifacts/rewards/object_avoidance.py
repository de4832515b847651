"""Object avoidance: drive the lane away from the next obstacle, keep clear of every object."""

import math

AVOID_RANGE_M = 1.5  # along the track: start moving over when the next object is this close
SAFE_GAP_M = 0.5  # straight-line distance below which any object costs reward


def reward_function(params):
    """Reward staying on the track, and using the free lane when an obstacle is coming.

    Far from objects the car earns more the closer it stays to the centre line. Once the next
    object along the track (``closest_objects[1]``) is within AVOID_RANGE_M of the car's own
    centre-line position, the reward favours the side of the centre line opposite the object
    (the further into the free lane, the better) and punishes the object's side. Getting closer
    than SAFE_GAP_M to any object scales the reward down, so the car learns to keep its
    distance before a crash ends the episode.
    """
    if params["is_crashed"] or params["is_offtrack"] or not params["all_wheels_on_track"]:
        return 1e-3
    half_width = 0.5 * params["track_width"]
    offset = min(params["distance_from_center"] / half_width, 1.0)  # 0 centre .. 1 edge
    reward = 1.0 - 0.5 * offset

    locations = params["objects_location"]
    if not locations:
        return float(reward)
    ahead = params["closest_objects"][1]
    gap_along = params["objects_distance"][ahead] - params["projection_distance"]
    gap_along %= params["track_length"]
    if gap_along < AVOID_RANGE_M:
        free_side = params["is_left_of_center"] != params["objects_left_of_center"][ahead]
        reward = 1.0 + offset if free_side else 0.1

    car = (params["x"], params["y"])
    nearest = min(math.dist(car, location) for location in locations)
    if nearest < SAFE_GAP_M:
        reward *= nearest / SAFE_GAP_M
    return float(max(reward, 1e-3))
