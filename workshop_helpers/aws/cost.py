"""What a set of SageMaker training jobs can cost at most, shown before they start.

The estimate is an upper bound: every job is charged per second while it runs, and
MaxRuntimeInSeconds stops it at the latest. Storage (a 30 GB volume per job) and S3 requests
are not included; they are cents.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2025-06"
PRICE_NOTE = (
    f"prices as of {PRICES_AS_OF}, us-east-1 on-demand SageMaker training; other regions "
    "differ, check the AWS price list (https://aws.amazon.com/sagemaker/pricing/)"
)
HOURLY_USD = {
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.c7i.4xlarge": 0.857,
    "ml.g4dn.xlarge": 0.736,
}
"""US dollars per instance-hour for the instance types the workshop supports."""


class UnknownInstanceType(ValueError):
    """No price is known for an instance type."""


@dataclass(frozen=True)
class CostEstimate:
    """``count`` jobs of ``instance_type`` for at most ``max_runtime_s`` each."""

    instance_type: str
    count: int
    max_runtime_s: int
    hourly_usd: float

    @property
    def hours(self) -> float:
        """The longest a job can run, in hours."""
        return self.max_runtime_s / 3600

    @property
    def total_usd(self) -> float:
        """count x hours x hourly price."""
        return self.count * self.hours * self.hourly_usd

    def __str__(self) -> str:
        return (
            f"Cost estimate: {self.count} job(s) x {self.instance_type} x at most "
            f"{self.hours:.2f} h x ${self.hourly_usd:.3f}/h = at most ${self.total_usd:.2f} "
            f"({PRICE_NOTE})."
        )


def estimate(instance_type: str, count: int, max_runtime_s: int) -> CostEstimate:
    """The most ``count`` jobs on ``instance_type`` can cost within ``max_runtime_s``."""
    if instance_type not in HOURLY_USD:
        raise UnknownInstanceType(
            f"No price is known for {instance_type!r}; the workshop lists "
            f"{', '.join(HOURLY_USD)}. Set DR_INSTANCE_TYPE to one of them, or check the price "
            "of your type in the AWS price list before you start."
        )
    return CostEstimate(instance_type, count, max_runtime_s, HOURLY_USD[instance_type])
