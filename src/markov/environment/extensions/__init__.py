"""Extra reward params: every module in this package is imported when an environment is created.

A module here registers builders with ``markov.environment.extra_params.register_params_builder``;
see that module for the contract. The bundle packs this folder with the engine, so the AWS jobs
load the same extensions as the local workers.
"""
