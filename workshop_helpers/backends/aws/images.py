"""Which image the jobs run: AWS's prebuilt PyTorch training image (default) or the engine image.

* ``prebuilt``: the AWS Deep Learning Container for PyTorch CPU training in the jobs' region. Its
  training toolkit downloads the experiment's bundle (``sagemaker_submit_directory``) and runs
  its launcher (``sagemaker_program``), which installs the few packages the image lacks and
  starts the worker. No Docker, no ECR repository of your own. The URI comes from the SageMaker
  SDK's own table (``sagemaker-core``, the ``[aws]`` extra), which works offline.
* ``engine``: the repository's ``Dockerfile`` built and pushed to your ECR
  (``workshop_helpers.backends.aws.image``), for a pinned image.

Both start the same entry point (``markov.runners.job``) with SageMaker's ``train`` argument;
the worker to run travels in the job's ``DR_WORKER`` environment variable.
"""

from __future__ import annotations

from workshop_helpers.backends.aws.config import ENGINE, PREBUILT, AwsSettings
from workshop_helpers.backends.aws.image import parse_ecr_uri
from workshop_helpers.backends.aws.session import AwsSetupError

PYTORCH_VERSION = "2.8.0"
"""The PyTorch training container version the workshop was checked with (Python 3.12, CPU)."""
LAUNCHER = "dr_launcher.py"
"""The bundle's launcher, at the bundle's top level (``sagemaker_program``)."""
REQUIREMENTS = "dr_requirements.txt"
"""The engine's dependencies, at the bundle's top level; the launcher installs missing ones."""
PREBUILT_REPOSITORY = "pytorch-training"
INSTALL_HINT = (
    "install the AWS extra (pip install 'deepracer-workshop[aws]', which brings sagemaker-core), "
    "or set DR_IMAGE_URI to the PyTorch CPU training image of your region"
)


def prebuilt_image_uri(region: str, instance_type: str, version: str = PYTORCH_VERSION) -> str:
    """The URI of AWS's PyTorch CPU (or GPU, for GPU instances) training image in ``region``."""
    try:
        from sagemaker.core import image_uris
    except ImportError:
        raise AwsSetupError(f"The prebuilt image's address is unknown: {INSTALL_HINT}.") from None
    try:
        return image_uris.retrieve(
            "pytorch",
            region,
            version=version,
            instance_type=instance_type,
            image_scope="training",
        )
    except ValueError as error:
        raise AwsSetupError(
            f"No PyTorch {version} training image is listed for {region} and {instance_type} "
            f"({error}); choose another region or instance type, or set DR_IMAGE_URI."
        ) from None


def is_prebuilt(uri: str) -> bool:
    """True for an AWS Deep Learning Container training image (another account's ECR)."""
    image = parse_ecr_uri(uri)
    return image is not None and image.repository == PREBUILT_REPOSITORY


def choose_mode(requested: str | None, image_uri: str | None, account: str) -> str:
    """The image mode: as requested, else ``engine`` for an image in your own ECR, else
    ``prebuilt``."""
    if requested:
        return requested
    image = parse_ecr_uri(image_uri or "")
    if image is not None and image.account == account:
        return ENGINE
    return PREBUILT


def submitted_code(settings: AwsSettings, bundle_key: str) -> dict[str, str]:
    """The hyperparameters that make the training toolkit run the bundle's launcher."""
    if settings.image_mode != PREBUILT:
        return {}
    return {
        "sagemaker_program": LAUNCHER,
        "sagemaker_submit_directory": f"{settings.store_url}/{bundle_key}",
        "sagemaker_region": settings.region,
    }
