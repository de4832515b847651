"""Evaluation races: solo trials and head-to-head races, as the simapp runs them."""
