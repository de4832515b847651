"""Thin helpers that the workshop notebooks call; the engine in `markov` does the work."""
