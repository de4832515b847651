"""The AWS session the workshop uses: region and credentials checked, errors explained.

Credentials come from boto3's usual chain (a SageMaker notebook's execution role, ``aws
configure``, environment variables, SSO). They are never printed; messages name only the
region, the account and the identity's ARN. No endpoint is hard-coded: boto3 honours
``AWS_ENDPOINT_URL``, which is how the tests point everything at a moto server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
POLICY_HELP = (
    "docs/aws.md, 'IAM permissions' (linked from the README's 'On AWS'), lists the IAM policy the"
    " workshop needs"
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
REJECTED_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
    }
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
NO_CREDENTIALS = (
    "No AWS credentials found. On a SageMaker notebook they come from its execution role; "
    "elsewhere run `aws configure` (or `aws sso login`), or set AWS_PROFILE, then run this "
    "cell again."
)


class AwsSetupError(RuntimeError):
    """AWS refused or cannot do what the workshop asked; the message says what to do."""


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError (e.g. ``AccessDenied``)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def explain(error: ClientError, action: str, doing: str) -> str:
    """A message for a failed call: what failed, why, and what to do about it."""
    code = error_code(error)
    text = error.response.get("Error", {}).get("Message", "")
    if code in DENIED_CODES or "not authorized" in text:
        return (
            f"AWS denied the permission to {doing}: your identity lacks {action}. Add it to your "
            f"user or role (or ask your administrator); {POLICY_HELP}. AWS said: {text}"
        )
    if code in EXPIRED_CODES:
        return f"Your AWS credentials have expired ({code}); refresh them and run the cell again."
    if code in REJECTED_CODES:
        return (
            f"AWS rejected your credentials ({code}) while trying to {doing}; check AWS_PROFILE "
            "or `aws configure`, or that the keys belong to this partition and region."
        )
    return f"Could not {doing}: {code or 'error'}: {text}"


@contextmanager
def explained(action: str, doing: str) -> Iterator[None]:
    """Turn AWS errors inside the block into an AwsSetupError that explains them."""
    try:
        yield
    except ClientError as error:
        raise AwsSetupError(explain(error, action, doing)) from None
    except (NoCredentialsError, PartialCredentialsError):
        raise AwsSetupError(NO_CREDENTIALS) from None
    except EndpointConnectionError as error:
        raise AwsSetupError(
            f"Could not reach AWS to {doing} ({error}); check the network and the region."
        ) from None


@dataclass
class AwsContext:
    """A boto3 session bound to one region, with clients made on demand."""

    session: boto3.Session
    region: str
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _identity: dict[str, str] | None = field(default=None, repr=False)

    def client(self, service: str) -> Any:
        """A client for ``service`` in this region (created once)."""
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, config=CLIENT_CONFIG
            )
        return self._clients[service]

    def identity(self) -> dict[str, str]:
        """``Account`` and ``Arn`` of the caller (sts:GetCallerIdentity; asked once)."""
        if self._identity is None:
            with explained("sts:GetCallerIdentity", "check who you are signed in as"):
                reply = self.client("sts").get_caller_identity()
            self._identity = {"Account": reply["Account"], "Arn": reply["Arn"]}
        return self._identity

    @property
    def account(self) -> str:
        """The 12-digit account id."""
        return self.identity()["Account"]


def known_regions(session: boto3.Session) -> list[str]:
    """Regions in any partition where SageMaker exists, from botocore's data (no network)."""
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sagemaker", partition_name=partition))
    return sorted(regions)


def connect(region: str | None = None, *, verify: bool = True) -> AwsContext:
    """An AwsContext for ``region`` (default: AWS_DEFAULT_REGION / the profile's region).

    Checks that the region is a SageMaker region and that credentials exist; with ``verify``
    also asks STS who the caller is, so bad or expired credentials are reported here.
    """
    try:
        session = boto3.Session(region_name=region) if region else boto3.Session()
    except BotoCoreError as error:
        raise AwsSetupError(f"Could not open an AWS session: {error}") from None
    chosen = session.region_name
    if not chosen:
        raise AwsSetupError(
            "No AWS region is set. Set AWS_DEFAULT_REGION (e.g. us-east-1) or the region of "
            "your AWS profile, then run the cell again."
        )
    regions = known_regions(session)
    if chosen not in regions:
        raise AwsSetupError(
            f"{chosen!r} is not a region where SageMaker runs. Set AWS_DEFAULT_REGION to one of "
            f"{', '.join(regions)}."
        )
    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:
        raise AwsSetupError(f"Could not load AWS credentials ({error}). {NO_CREDENTIALS}") from None
    if credentials is None:
        raise AwsSetupError(NO_CREDENTIALS)
    context = AwsContext(session, chosen)
    if verify:
        context.identity()
    return context
