"""Check the account's SageMaker training-instance quotas before any job starts.

Each training needs its instances at the same time: one in one-job mode, 1 + N in multi-job mode.
New and shared accounts often may run only 0-2 instances of a type. The Service Quotas API says
how many the account may run (``<type> for training job usage``, or ``... for spot training job
usage``); the running training jobs say how many are taken. When the quota cannot be read
(``servicequotas:ListServiceQuotas`` denied, or the API unreachable) the check says so and lets
the start go on: SageMaker then refuses with ResourceLimitExceeded and the backend stops what it
had started.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from workshop_helpers.backends.aws.session import AwsContext

SERVICE_CODE = "sagemaker"
SINGLE_ATTEMPT = Config(retries={"total_max_attempts": 1})


class QuotaExceeded(RuntimeError):
    """The account may not run the instances a training needs; nothing was started."""


def quota_name(instance_type: str, spot: bool) -> str:
    """The Service Quotas name of the training-instance quota of ``instance_type``."""
    kind = "spot training job usage" if spot else "training job usage"
    return f"{instance_type} for {kind}"


@dataclass(frozen=True)
class QuotaCheck:
    """One instance type: how many a training needs, may run and already runs."""

    instance_type: str
    needed: int
    quota_name: str
    limit: int | None
    quota_code: str = ""
    in_use: int = 0
    note: str = ""

    @property
    def enough(self) -> bool:
        """True when the quota allows the training (or is unknown)."""
        return self.limit is None or self.in_use + self.needed <= self.limit

    def refusal(self) -> str:
        """What to tell the learner when the quota is too small."""
        request = (
            f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} "
            f"--quota-code {self.quota_code} --desired-value {self.in_use + self.needed}"
            if self.quota_code
            else "the Service Quotas console"
        )
        return (
            f"This training needs {self.needed} {self.instance_type} instance(s) at once, but "
            f"your account may run {self.limit} ({self.in_use} in use): Service Quotas, Amazon "
            f"SageMaker, '{self.quota_name}'. Nothing was started. Use fewer rollout workers or "
            f"the one-job mode (DR_JOB_MODE=one-job), stop other training jobs, or request "
            f"{self.in_use + self.needed} in the Service Quotas console (Amazon SageMaker, "
            f"'{self.quota_name}', Request increase) or with: {request}"
        )


def read_quotas(context: AwsContext, names: set[str]) -> tuple[dict[str, tuple[int, str]], str]:
    """{quota name: (value, code)} for ``names``, and why nothing could be read ('' if read)."""
    client = context.session.client(
        "service-quotas", region_name=context.region, config=SINGLE_ATTEMPT
    )
    found: dict[str, tuple[int, str]] = {}
    try:
        for page in client.get_paginator("list_service_quotas").paginate(
            ServiceCode=SERVICE_CODE
        ):
            for quota in page.get("Quotas", []):
                if quota.get("QuotaName") in names:
                    found[quota["QuotaName"]] = (int(quota["Value"]), quota.get("QuotaCode", ""))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        return {}, f"the quota could not be read ({code}; needs servicequotas:ListServiceQuotas)"
    except BotoCoreError as error:
        return {}, f"the quota could not be read ({type(error).__name__})"
    return found, ""


def instances_in_use(sagemaker: Any) -> Counter[str]:
    """Instances per type of the account's training jobs that are running now."""
    counts: Counter[str] = Counter()
    pages = sagemaker.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress")
    for page in pages:
        for summary in page["TrainingJobSummaries"]:
            reply = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
            config = reply.get("ResourceConfig", {})
            if config.get("InstanceType"):
                counts[config["InstanceType"]] += int(config.get("InstanceCount", 1))
    return counts


def check_quotas(
    context: AwsContext, needed: Mapping[str, int], spot: bool = False
) -> list[QuotaCheck]:
    """One check per instance type the training needs."""
    names = {instance_type: quota_name(instance_type, spot) for instance_type in needed}
    quotas, problem = read_quotas(context, set(names.values()))
    in_use = instances_in_use(context.client("sagemaker")) if quotas else Counter()
    checks = []
    for instance_type, count in needed.items():
        name = names[instance_type]
        if name in quotas:
            value, code = quotas[name]
            checks.append(
                QuotaCheck(instance_type, count, name, value, code, in_use[instance_type])
            )
        else:
            note = problem or "the quota is not listed for this region"
            checks.append(QuotaCheck(instance_type, count, name, None, note=note))
    return checks


def require_quotas(
    context: AwsContext, needed: Mapping[str, int], spot: bool = False
) -> list[QuotaCheck]:
    """The checks; raises QuotaExceeded naming the first quota that is too small."""
    checks = check_quotas(context, needed, spot)
    for check in checks:
        if not check.enough:
            raise QuotaExceeded(check.refusal())
    return checks
