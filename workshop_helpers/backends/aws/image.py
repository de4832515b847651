"""The engine image in Amazon ECR: the repository, a build-and-push seam, and existence checks.

The image only carries Python and the engine's dependencies (see the repository's
``Dockerfile``); each job runs the code of its experiment's bundle, so the image is rebuilt
only when ``Dockerfile``, ``pyproject.toml`` or the entry point change. Its tag is a hash of
those files. Building needs the ``docker`` command and a running Docker daemon; without them
``ensure_image`` explains how to pass an image built elsewhere through ``DR_IMAGE_URI``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from botocore.exceptions import ClientError

from workshop_helpers.backends.aws.config import partition_of
from workshop_helpers.backends.aws.session import (
    AwsContext,
    AwsSetupError,
    error_code,
    explain,
    explained,
)
from workshop_helpers.paths import repo_root

REPOSITORY = "sagemaker-deepracer-workshop"
"""Named so that AmazonSageMakerFullAccess may push to it."""
IMAGE_INPUTS = ("Dockerfile", "pyproject.toml", "src/markov/runners/job.py")
DOCKER_TIMEOUT_S = 3600
_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[\w][\w.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class EcrImage:
    """An image URI in a private ECR registry."""

    account: str
    region: str
    repository: str
    tag: str
    digest: str

    @property
    def repository_arn(self) -> str:
        partition = partition_of(self.region)
        return f"arn:{partition}:ecr:{self.region}:{self.account}:repository/{self.repository}"

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag}


def parse_ecr_uri(uri: str) -> EcrImage | None:
    """The parts of an ECR image URI, or None when ``uri`` is not one."""
    match = _ECR_URI.match(uri.strip())
    if match is None:
        return None
    parts = match.groupdict()
    return EcrImage(
        parts["account"],
        parts["region"],
        parts["repository"],
        parts["tag"] or ("" if parts["digest"] else "latest"),
        parts["digest"] or "",
    )


def check_image(context: AwsContext, uri: str) -> EcrImage:
    """Make sure ``uri`` names an image that exists in ECR in the jobs' region."""
    image = parse_ecr_uri(uri)
    if image is None:
        raise AwsSetupError(
            f"DR_IMAGE_URI is {uri!r}, which is not an Amazon ECR image. SageMaker training jobs "
            "pull their image from ECR: push the engine image there and set DR_IMAGE_URI to "
            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>."
        )
    if image.region != context.region:
        raise AwsSetupError(
            f"The image {uri} is in {image.region} but the jobs run in {context.region}; "
            f"SageMaker needs the image in the jobs' region. Push it to ECR in {context.region} "
            f"or set AWS_DEFAULT_REGION={image.region}."
        )
    ecr = context.client("ecr")
    try:
        ecr.describe_images(
            registryId=image.account, repositoryName=image.repository, imageIds=[image.image_id]
        )
    except ClientError as error:
        code = error_code(error)
        if code == "RepositoryNotFoundException":
            raise AwsSetupError(
                f"The image {uri} does not exist: account {image.account} has no ECR repository "
                f"{image.repository!r} in {image.region}. Build and push it (setup_workshop() "
                "does this where Docker runs) or fix DR_IMAGE_URI."
            ) from None
        if code == "ImageNotFoundException":
            raise AwsSetupError(
                f"The image {uri} does not exist: the repository {image.repository!r} has no "
                f"image {image.tag or image.digest!r} (it has: {_tags(context, image)}). Push "
                "the image or fix DR_IMAGE_URI."
            ) from None
        raise AwsSetupError(
            explain(error, "ecr:DescribeImages", f"check the image {uri}")
        ) from None
    return image


def ensure_repository(context: AwsContext, name: str = REPOSITORY) -> tuple[str, bool]:
    """The URI of the ECR repository ``name``, created if missing; and whether it was created."""
    ecr = context.client("ecr")
    try:
        reply = ecr.describe_repositories(repositoryNames=[name])
        return reply["repositories"][0]["repositoryUri"], False
    except ClientError as error:
        if error_code(error) != "RepositoryNotFoundException":
            raise AwsSetupError(
                explain(error, "ecr:DescribeRepositories", f"look up the ECR repository {name}")
            ) from None
    with explained("ecr:CreateRepository", f"create the ECR repository {name}"):
        reply = ecr.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": True},
            tags=[{"Key": "deepracer-workshop", "Value": "engine-image"}],
        )
    return reply["repository"]["repositoryUri"], True


def image_tag(root: Path | None = None) -> str:
    """A tag that changes only when the files the image is built from change."""
    digest = hashlib.sha256()
    base = root or repo_root()
    for name in IMAGE_INPUTS:
        path = base / name
        if not path.is_file():
            raise AwsSetupError(
                f"{path} is missing: the engine image is built from a checkout of the workshop "
                "repository; run the set-up from one, or set DR_IMAGE_URI to a pushed image."
            )
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class ImageBuilder(Protocol):
    """Builds and pushes the engine image (the Docker CLI, or a test double)."""

    def available(self) -> bool:
        """True when images can be built here."""
        ...

    def build_and_push(self, uri: str, context_dir: Path, username: str, password: str) -> None:
        """Build ``context_dir`` as ``uri``, log in to its registry and push it."""
        ...


class DockerCli:
    """The ``docker`` command: only usable when it is on PATH and its daemon answers."""

    def available(self) -> bool:
        if shutil.which("docker") is None:
            return False
        try:
            result = subprocess.run(
                ["docker", "info"], capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0

    def build_and_push(self, uri: str, context_dir: Path, username: str, password: str) -> None:
        registry = uri.split("/", 1)[0]
        self._run(
            ["docker", "login", "--username", username, "--password-stdin", registry], password
        )
        self._run(["docker", "build", "--platform", "linux/amd64", "-t", uri, str(context_dir)])
        self._run(["docker", "push", uri])

    @staticmethod
    def _run(command: list[str], stdin: str | None = None) -> None:
        result = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise AwsSetupError(f"`{' '.join(command[:2])}` failed:\n{tail}")


def ensure_image(
    context: AwsContext,
    builder: ImageBuilder | None = None,
    printer: Callable[[str], None] = print,
) -> str:
    """The URI of the engine image in this account's ECR, built and pushed when missing."""
    repository_uri, _ = ensure_repository(context)
    uri = f"{repository_uri}:{image_tag()}"
    image = parse_ecr_uri(uri)
    if image is not None and _exists(context, image):
        printer(f"Engine image {uri} is already in ECR.")
        return uri
    builder = builder or DockerCli()
    if not builder.available():
        raise AwsSetupError(
            "The engine image is not in ECR yet and it cannot be built here: Docker is not "
            "installed or its daemon is not running. On a machine with Docker, from the "
            "repository folder run:\n"
            f"  aws ecr get-login-password --region {context.region} | docker login --username "
            f"AWS --password-stdin {repository_uri.split('/')[0]}\n"
            f"  docker build --platform linux/amd64 -t {uri} .\n"
            f"  docker push {uri}\n"
            f"then set DR_IMAGE_URI={uri} and run the set-up again."
        )
    with explained("ecr:GetAuthorizationToken", "log in to ECR"):
        token = context.client("ecr").get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    printer(f"Building and pushing the engine image {uri} (several minutes the first time) ...")
    builder.build_and_push(uri, repo_root(), username, password)
    check_image(context, uri)
    return uri


def _exists(context: AwsContext, image: EcrImage) -> bool:
    try:
        context.client("ecr").describe_images(
            registryId=image.account, repositoryName=image.repository, imageIds=[image.image_id]
        )
    except ClientError as error:
        if error_code(error) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return False
        raise AwsSetupError(
            explain(error, "ecr:DescribeImages", f"look up the image {image.repository}")
        ) from None
    return True


def _tags(context: AwsContext, image: EcrImage) -> str:
    try:
        reply = context.client("ecr").list_images(
            registryId=image.account, repositoryName=image.repository, maxResults=20
        )
    except ClientError:
        return "unknown"
    tags = sorted({entry["imageTag"] for entry in reply["imageIds"] if entry.get("imageTag")})
    return ", ".join(tags) or "no tagged images"
