"""The props of a TritonEndpoint, and how an environment and its release become them.

The configuration's name comes from tritonform.config.names, from the same inputs the release commands
derive it from; the props only say which of their fields are those inputs.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from tritonform.config.environment import EnvironmentConfig
from tritonform.config.names import (
    ConfigurationInputs,
    DataCaptureInputs,
    configuration_inputs,
    endpoint_configuration_name,
)
from tritonform.config.release import ReleaseConfig
from tritonform.config.rollout import CompiledDeployment
from tritonform.constructs._props import Props, Tags


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


class FallbackRelease(Props):
    """The release the stack keeps declared next to the current one (the last one verified live), so that the
    configuration SageMaker rolls back to, or an emergency rollback switches to, still exists. Only what
    differs between releases; every other setting is the current one's."""

    version_id: Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
    """Release version id (first 12 hex digits of the artifact's sha256)."""

    model_name: Annotated[str, Field(min_length=1, max_length=63)]
    """Triton model served by default."""

    artifact_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """sha256 of model.tar.gz."""

    artifact_s3_uri: Annotated[str, Field(pattern=r"^s3://\S+/model\.tar\.gz$")]
    """The packaged model repository."""

    image_uri: Annotated[str, Field(min_length=1)]
    """Pinned SageMaker Triton image."""


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

    triton_log_verbose: Annotated[int, Field(ge=0, le=3)] = 0
    """SAGEMAKER_TRITON_LOG_VERBOSE (Triton's --log-verbose level). Default 0: off."""

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

    fallback: FallbackRelease | None = None
    """The release whose model and configuration stay declared next to this one's. Default None: none (a
    release with no other release verified live)."""

    @model_validator(mode="after")
    def _fallback_is_another_release(self) -> Self:
        if self.fallback is not None and self.fallback.version_id == self.version_id:
            raise ValueError(f"the fallback is version {self.version_id}, the release itself")
        return self

    def fallback_props(self) -> TritonEndpointProps | None:
        """The props of the fallback release: this endpoint's settings with the fallback's release fields."""
        if self.fallback is None:
            return None
        return self.model_copy(update={**self.fallback.model_dump(), "fallback": None})

    def inputs(self) -> ConfigurationInputs:
        """The inputs that make Terraform replace the model and the configuration (IN_SETTINGS_DIGEST)."""
        capture = self.data_capture
        return ConfigurationInputs(
            variant_name=self.variant_name,
            model_name=self.model_name,
            artifact_sha256=self.artifact_sha256,
            artifact_s3_uri=self.artifact_s3_uri,
            image_uri=self.image_uri,
            instance_type=self.instance_type,
            initial_instance_count=self.initial_instance_count,
            volume_size_gb=self.volume_size_gb,
            volume_kms_key_arn=self.volume_kms_key_arn,
            model_data_download_timeout_s=self.model_data_download_timeout_s,
            container_startup_health_check_timeout_s=self.container_startup_health_check_timeout_s,
            network_isolation=self.network_isolation,
            subnet_ids=tuple(self.subnet_ids),
            security_group_ids=tuple(self.security_group_ids),
            data_capture=DataCaptureInputs(
                destination_s3_uri=capture.destination_s3_uri,
                sampling_percent=capture.sampling_percent,
                modes=tuple(capture.modes),
                kms_key_arn=capture.kms_key_arn,
            )
            if capture
            else None,
            triton_log_verbose=self.triton_log_verbose,
        )

    def container_environment(self) -> dict[str, str]:
        return self.inputs().container_environment

    def configuration_name(self) -> str:
        return endpoint_configuration_name(self.endpoint_name, self.version_id, self.inputs())


# Every field of TritonEndpointProps is in one of these two (tests/test_names.py checks): a field that
# reaches the model or the configuration replaces them when it changes, so it must rename them.
IN_SETTINGS_DIGEST = frozenset(field.name for field in fields(ConfigurationInputs))
NOT_IN_SETTINGS_DIGEST = {
    "endpoint_name": "the configuration name starts with it",
    "version_id": "the configuration name carries it",
    "execution_role_arn": "a token for the execution role of the same stack, whose ARN is fixed by the "
    "account, the partition and the endpoint name: it cannot change while the name stays",
    "tags": "tags are updated in place, not by replacing the model or the configuration",
    "deployment": "an argument of the endpoint, which SageMaker updates in place, not of the configuration",
    "fallback": "the fallback's model and configuration are named from its own version id and settings",
}


def endpoint_props_for(
    env: EnvironmentConfig,
    release: ReleaseConfig,
    *,
    execution_role_arn: str,
    kms_key_arn: str | None,
    deployment: CompiledDeployment | None,
    fallback: ReleaseConfig | None = None,
) -> TritonEndpointProps:
    """The endpoint an environment declares for a release and its fallback (role and key may be tokens)."""
    inputs = configuration_inputs(env, release, kms_key_arn=kms_key_arn)
    capture = inputs.data_capture
    return TritonEndpointProps(
        endpoint_name=env.endpoint.name,
        variant_name=inputs.variant_name,
        model_name=inputs.model_name,
        version_id=release.version_id,
        artifact_sha256=inputs.artifact_sha256,
        artifact_s3_uri=inputs.artifact_s3_uri,
        image_uri=inputs.image_uri,
        execution_role_arn=execution_role_arn,
        instance_type=inputs.instance_type,
        initial_instance_count=inputs.initial_instance_count,
        volume_size_gb=inputs.volume_size_gb,
        volume_kms_key_arn=inputs.volume_kms_key_arn,
        model_data_download_timeout_s=inputs.model_data_download_timeout_s,
        container_startup_health_check_timeout_s=inputs.container_startup_health_check_timeout_s,
        triton_log_verbose=inputs.triton_log_verbose,
        network_isolation=inputs.network_isolation,
        subnet_ids=list(inputs.subnet_ids),
        security_group_ids=list(inputs.security_group_ids),
        data_capture=DataCaptureProps(
            destination_s3_uri=capture.destination_s3_uri,
            sampling_percent=capture.sampling_percent,
            modes=list(capture.modes),
            kms_key_arn=capture.kms_key_arn,
        )
        if capture
        else None,
        deployment=deployment,
        fallback=FallbackRelease(
            version_id=fallback.version_id,
            model_name=fallback.model_name,
            artifact_sha256=fallback.artifact.sha256,
            artifact_s3_uri=fallback.artifact.s3_uri,
            image_uri=fallback.triton_image.uri,
        )
        if fallback
        else None,
    )
