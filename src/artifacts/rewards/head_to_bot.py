"""Head-to-bot: pass the slower bot cars on the free lane and never run into one from behind."""

import math

PASSING_RANGE_M = 2.0  # along the track: plan the overtake when the next bot car is this close
LOOKAHEAD_S = 1.0  # how far ahead to predict a bot car's lane changes
TOP_SPEED = 3.0  # m/s; the speed bonus saturates here


def reward_function(params):
    """Reward speed on a clear road, and the lane the next bot car is not in when close to it.

    The base reward grows with the commanded speed. When the next bot car along the track is
    within PASSING_RANGE_M, the reward depends on the lanes: the bot car's side of the centre
    line is predicted LOOKAHEAD_S ahead from its heading (radians) relative to the track, so a
    bot car that is changing lanes counts on the side it is moving to. Sharing its lane scales
    the reward down the closer the car gets; holding the other lane earns a passing bonus.
    Crashes and leaving the track earn almost nothing.
    """
    if params["is_crashed"] or params["is_offtrack"] or not params["all_wheels_on_track"]:
        return 1e-3
    reward = 0.5 + 0.5 * min(params["speed"] / TOP_SPEED, 1.0)

    if not params["objects_location"]:
        return float(reward)
    ahead = params["closest_objects"][1]
    gap_along = params["objects_distance"][ahead] - params["projection_distance"]
    gap_along %= params["track_length"]
    if gap_along >= PASSING_RANGE_M:
        return float(reward)

    waypoints = params["waypoints"]
    previous, following = params["closest_waypoints"]
    track_direction = math.atan2(
        waypoints[following][1] - waypoints[previous][1],
        waypoints[following][0] - waypoints[previous][0],
    )
    drift = math.sin(params["objects_heading"][ahead] - track_direction)  # > 0: moving left
    sideways = params["objects_speed"][ahead] * drift * LOOKAHEAD_S
    bot_offset = params["objects_distance_from_center"][ahead]
    bot_left = params["objects_left_of_center"][ahead]
    signed = (bot_offset if bot_left else -bot_offset) + sideways
    bot_left_soon = signed > 0.0

    if params["is_left_of_center"] == bot_left_soon:
        reward *= 0.1 + 0.9 * gap_along / PASSING_RANGE_M
    else:
        reward *= 1.5
    return float(reward)
