"""Reward functions shipped with the engine: the default one used when none is given."""
