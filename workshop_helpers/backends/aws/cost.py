"""What a set of SageMaker training jobs can cost at most, shown before they start.

The estimate is an upper bound: every job is charged per second while it runs, and
MaxRuntimeInSeconds stops it at the latest. A training's S3 requests are added, counted from
the workers' polling and live-frame rates on S3 (``markov.workers.polling``): the trainer's LIST
requests at its fastest poll rate, each rollout worker's checkpoint polls (GET/HEAD) and live
frames (three PUTs each), all for the whole runtime. Storage (a 30 GB volume per job and the
model's few MB in S3) is not included; it is cents. With Managed Spot the likely saving is
shown from an assumed typical discount, which is not a quote.
"""

from __future__ import annotations

from dataclasses import dataclass

from markov.workers.polling import S3_PLAN, PollPlan

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
S3_WRITE_USD_PER_1000 = 0.005
"""PUT, COPY, POST and LIST requests, S3 Standard, us-east-1 (as of PRICES_AS_OF)."""
S3_READ_USD_PER_1000 = 0.0004
"""GET, HEAD and other read requests, S3 Standard, us-east-1 (as of PRICES_AS_OF)."""
LIVE_FRAME_PUTS = 3
"""Objects per live-frame publication: camera and top-down PNGs and status.json."""
CHECKPOINT_POLL_READS = 3
"""Requests per checkpoint poll of a rollout worker: .finished, the pointer and .lock."""
SPOT_DISCOUNT = 0.70
SPOT_DISCOUNT_AS_OF = "2025-06"
SPOT_NOTE = (
    f"ASSUMED typical Managed Spot discount {SPOT_DISCOUNT:.0%} (as of {SPOT_DISCOUNT_AS_OF}; "
    "AWS says up to 90%; the real discount varies by instance type, region and time)"
)


@dataclass(frozen=True)
class RequestEstimate:
    """The S3 requests of a training with ``workers`` rollout workers for ``seconds``."""

    writes: int
    reads: int

    @property
    def total_usd(self) -> float:
        """Writes and reads at their prices per 1000 requests."""
        return (self.writes * S3_WRITE_USD_PER_1000 + self.reads * S3_READ_USD_PER_1000) / 1000

    def __str__(self) -> str:
        return (
            f"S3 requests at most {self.writes:,} PUT/LIST + {self.reads:,} GET/HEAD = "
            f"${self.total_usd:.2f}"
        )


def training_requests(
    workers: int, seconds: float, plan: PollPlan = S3_PLAN, live_frames: bool = True
) -> RequestEstimate:
    """The most S3 requests the trainer's polls and the workers' polls and frames make."""
    lists = seconds / plan.poll_s
    frames = workers * LIVE_FRAME_PUTS * seconds / plan.live_frame_s if live_frames else 0
    reads = workers * CHECKPOINT_POLL_READS * seconds / plan.wait_poll_s
    return RequestEstimate(round(lists + frames), round(reads))


class UnknownInstanceType(ValueError):
    """No price is known for an instance type."""


@dataclass(frozen=True)
class CostEstimate:
    """``count`` jobs of ``instance_type`` for at most ``max_runtime_s`` each."""

    instance_type: str
    count: int
    max_runtime_s: int
    hourly_usd: float
    requests: RequestEstimate | None = None
    spot: bool = False

    @property
    def hours(self) -> float:
        """The longest a job can run, in hours."""
        return self.max_runtime_s / 3600

    @property
    def total_usd(self) -> float:
        """count x hours x hourly price."""
        return self.count * self.hours * self.hourly_usd

    @property
    def requests_usd(self) -> float:
        """The S3 requests' share (0 when not counted)."""
        return self.requests.total_usd if self.requests is not None else 0.0

    @property
    def spot_usd(self) -> float:
        """The likely compute cost with Managed Spot, at the assumed typical discount."""
        return self.total_usd * (1 - SPOT_DISCOUNT)

    def __str__(self) -> str:
        text = (
            f"Cost estimate: {self.count} job(s) x {self.instance_type} x at most "
            f"{self.hours:.2f} h x ${self.hourly_usd:.3f}/h = at most ${self.total_usd:.2f}"
        )
        if self.requests is not None:
            text += f"; {self.requests}; in all at most ${self.total_usd + self.requests_usd:.2f}"
        text += f" ({PRICE_NOTE})."
        if self.spot:
            text += (
                f" Managed Spot: compute likely about ${self.spot_usd:.2f} instead of "
                f"${self.total_usd:.2f}, saving about ${self.total_usd - self.spot_usd:.2f} "
                f"({SPOT_NOTE})."
            )
        return text


def estimate(
    instance_type: str,
    count: int,
    max_runtime_s: int,
    *,
    requests: RequestEstimate | None = None,
    spot: bool = False,
) -> CostEstimate:
    """The most ``count`` jobs on ``instance_type`` can cost within ``max_runtime_s``, with a
    training's S3 requests when given."""
    if instance_type not in HOURLY_USD:
        raise UnknownInstanceType(
            f"No price is known for {instance_type!r}; the workshop lists "
            f"{', '.join(HOURLY_USD)}. Set DR_INSTANCE_TYPE to one of them, or check the price "
            "of your type in the AWS price list before you start."
        )
    return CostEstimate(
        instance_type, count, max_runtime_s, HOURLY_USD[instance_type], requests, spot
    )
