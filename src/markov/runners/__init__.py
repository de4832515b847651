"""Runners start a training's processes and supervise them: locally, or inside a SageMaker job."""
