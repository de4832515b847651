"""The processes of a run: trainer, rollout workers, evaluation worker, and what they share."""
