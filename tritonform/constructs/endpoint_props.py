"""The props of a TritonEndpoint, and how an environment and its release become them.

Kept apart from the construct (no cdktf import) because the release commands need the same derived
names as synthesis: the endpoint configuration a release runs under is `configuration_name()`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import Field

from tritonform.config.environment import EnvironmentConfig
from tritonform.config.instances import GPU_INSTANCES
from tritonform.config.release import ReleaseConfig
from tritonform.config.rollout import CompiledDeployment
from tritonform.constructs._props import Props, Tags

SETTINGS_DIGEST_LENGTH = 8


class DataCaptureProps(Props):
    destination_s3_uri: str
    """s3://<bucket>/<prefix> the captured requests go to."""

    sampling_percent: Annotated[int, Field(ge=1, le=100)] = 10
    """Share of requests captured. Default 10."""

    modes: Annotated[list[Literal["Input", "Output"]], Field(min_length=1, max_length=2)] = [
        "Input",
        "Output",
    ]
    """What is captured. Default both."""

    kms_key_arn: str | None = None
    """Key the captured objects are encrypted with (a token is fine). Default None: S3-managed keys."""


class TritonEndpointProps(Props):
    endpoint_name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,35}[a-zA-Z0-9])?$")]
    """SageMaker endpoint name, at most 37 characters so that derived names fit in 63."""

    variant_name: Annotated[str, Field(min_length=1, max_length=63)] = "AllTraffic"
    """Production variant; kept across versions (blue/green needs the same name). Default AllTraffic."""

    model_name: Annotated[str, Field(min_length=1, max_length=63)]
    """Triton model served by default: SAGEMAKER_TRITON_DEFAULT_MODEL_NAME."""

    version_id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
    """Release version id (first 12 hex digits of the artifact's sha256)."""

    artifact_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """sha256 of model.tar.gz, recorded as a tag for audits."""

    artifact_s3_uri: Annotated[str, Field(pattern=r"^s3://\S+/model\.tar\.gz$")]
    """The packaged model repository."""

    image_uri: Annotated[str, Field(min_length=1)]
    """Pinned SageMaker Triton image."""

    execution_role_arn: str
    """Role SageMaker runs the container with (a token is fine)."""

    instance_type: Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[0-9]*x?large$")]
    """GPU instance type (validated against the GPU catalogue in the config layer)."""

    initial_instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    """Instances each new configuration starts with. Default 1."""

    volume_size_gb: Annotated[int, Field(ge=1, le=512)] | None = None
    """EBS volume per instance; None for instance types with local NVMe. Default None."""

    volume_kms_key_arn: str | None = None
    """Key for the EBS volume; None for instance types with local NVMe (SageMaker refuses it) or when the
    environment turned volume encryption off. Default None."""

    model_data_download_timeout_s: Annotated[int, Field(ge=60, le=3600)] = 1200
    """Default 1200."""

    container_startup_health_check_timeout_s: Annotated[int, Field(ge=60, le=3600)] = 600
    """Default 600."""

    network_isolation: bool = True
    """No outbound network from the container. Default true."""

    subnet_ids: list[str] = []
    """VPC subnets. Default none."""

    security_group_ids: list[str] = []
    """VPC security groups. Default none."""

    data_capture: DataCaptureProps | None = None
    """Default: no capture."""

    tags: Tags = {}
    """Extra tags on the model and configuration (provider default tags apply as well). Default none."""

    deployment: CompiledDeployment | None = None
    """How SageMaker moves traffic to a new configuration and which alarms roll it back. Default None:
    SageMaker's own default (blue/green, all at once, no automatic rollback)."""

    def container_environment(self) -> dict[str, str]:
        return {
            "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": self.model_name,
            # /ping reports ready only once Triton has loaded the models, so a traffic shift never reaches
            # an instance that is still loading (or failed to load) them.
            "SAGEMAKER_TRITON_PING_MODE": "ready",
        }

    def settings_digest(self) -> str:
        """Digest of everything that decides what the configuration runs, apart from the version id.

        Tokens (role and key ARNs) are left out: they are placeholders, and they name resources of this
        same stack. Everything here is plain data from the config layer.
        """
        settings = self.model_dump(
            exclude={"execution_role_arn", "volume_kms_key_arn", "tags", "endpoint_name", "version_id", "deployment"},
        )
        # Which keys are used decides the configuration too. Recorded only when one is left out, so the
        # names of configurations that use every key stay what they have always been.
        unencrypted = []
        if self.data_capture and self.data_capture.kms_key_arn is None:
            unencrypted.append("data_capture")
        if settings.get("data_capture"):
            settings["data_capture"].pop("kms_key_arn", None)
        if self.volume_kms_key_arn is None and not GPU_INSTANCES[self.instance_type].local_nvme:
            unencrypted.append("volume")
        if unencrypted:
            settings["without_kms"] = unencrypted
        settings["container_environment"] = self.container_environment()
        canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:SETTINGS_DIGEST_LENGTH]

    def configuration_name(self) -> str:
        return f"{self.endpoint_name}-{self.version_id}-{self.settings_digest()}"


def endpoint_props_for(
    env: EnvironmentConfig,
    release: ReleaseConfig,
    *,
    execution_role_arn: str,
    kms_key_arn: str | None,
    deployment: CompiledDeployment | None,
) -> TritonEndpointProps:
    """The endpoint an environment declares for a release (role and key may be tokens)."""
    capture = env.data_capture
    ebs_volume = not env.endpoint.instance.local_nvme
    return TritonEndpointProps(
        endpoint_name=env.endpoint.name,
        variant_name=env.endpoint.variant_name,
        model_name=release.model_name,
        version_id=release.version_id,
        artifact_sha256=release.artifact.sha256,
        artifact_s3_uri=release.artifact.s3_uri,
        image_uri=release.triton_image.uri,
        execution_role_arn=execution_role_arn,
        instance_type=env.endpoint.instance_type,
        initial_instance_count=env.capacity.initial_instances,
        volume_size_gb=env.endpoint.volume_size_gb,
        volume_kms_key_arn=kms_key_arn if ebs_volume and env.encryption.volume else None,
        model_data_download_timeout_s=env.endpoint.model_data_download_timeout_s,
        container_startup_health_check_timeout_s=env.endpoint.container_startup_health_check_timeout_s,
        network_isolation=env.network.network_isolation,
        subnet_ids=list(env.network.subnet_ids),
        security_group_ids=list(env.network.security_group_ids),
        data_capture=DataCaptureProps(
            destination_s3_uri=f"s3://{env.artifacts.bucket}/{capture.prefix}{env.endpoint.name}",
            sampling_percent=capture.sampling_percent,
            modes=["Input" if mode == "input" else "Output" for mode in capture.capture],
            kms_key_arn=kms_key_arn if env.encryption.data_capture else None,
        )
        if capture
        else None,
        deployment=deployment,
    )


def configuration_name(env: EnvironmentConfig, release: ReleaseConfig) -> str:
    """The endpoint configuration (and model) name synthesis gives `release` in `env`."""
    return endpoint_props_for(
        env, release, execution_role_arn="(token)", kms_key_arn="(token)", deployment=None
    ).configuration_name()
