"""A SageMaker real-time endpoint running NVIDIA Triton on GPU instances.

Endpoint configurations are immutable, so every change to what runs (a new model version, another
instance type) must produce a configuration with a new name; Terraform then creates it before it
destroys the old one, and SageMaker moves the endpoint over with a blue/green update. The name is
`<endpoint>-<version id>-<settings digest>`: readable in the console, and derived purely from the props.
The fallback release's model and configuration stay declared beside the current ones (see
tritonform/release/fallback.py for why), each under a construct id keyed by its version id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle, TerraformStack
from constructs import Construct

from tritonform.config.rollout import BlueGreenSettings, CompiledDeployment, RollingSettings
from tritonform.constructs._aws import (
    SagemakerEndpoint,
    SagemakerEndpointConfiguration,
    SagemakerEndpointConfigurationDataCaptureConfig,
    SagemakerEndpointConfigurationDataCaptureConfigCaptureContentTypeHeader,
    SagemakerEndpointConfigurationDataCaptureConfigCaptureOptions,
    SagemakerEndpointConfigurationProductionVariants,
    SagemakerEndpointDeploymentConfig,
    SagemakerEndpointDeploymentConfigAutoRollbackConfiguration,
    SagemakerEndpointDeploymentConfigAutoRollbackConfigurationAlarms,
    SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicy,
    SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfiguration,
    SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySize,
    SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSize,
    SagemakerEndpointDeploymentConfigRollingUpdatePolicy,
    SagemakerEndpointDeploymentConfigRollingUpdatePolicyMaximumBatchSize,
    SagemakerEndpointDeploymentConfigRollingUpdatePolicyRollbackMaximumBatchSize,
    SagemakerModel,
    SagemakerModelPrimaryContainer,
    SagemakerModelVpcConfig,
)
from tritonform.constructs.endpoint_props import DataCaptureProps, FallbackRelease, TritonEndpointProps

__all__ = ["DataCaptureProps", "FallbackRelease", "TritonEndpoint", "TritonEndpointProps"]


class TritonEndpoint(Construct):
    """Exposes `endpoint_name`, `configuration_name`, `fallback_configuration_name`, `variant_name`, the
    endpoint, and each declared release's model and configuration (the current one's as `model` and
    `configuration`)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        props: TritonEndpointProps,
        *,
        depends_on: Sequence[ITerraformDependable] = (),
        endpoint_depends_on: Sequence[ITerraformDependable] = (),
        instance_count: float | None = None,
    ) -> None:
        """`depends_on`: what must exist before the models (the role's policy: SageMaker checks access);
        `endpoint_depends_on`: before the endpoint (its rollback alarms: SageMaker looks them up);
        `instance_count`: the instance count a configuration is created with, a number or a token (a
        Terraform variable); default: the props' initial_instance_count."""
        super().__init__(scope, id_)
        self.props = props
        self.configuration_name = props.configuration_name()
        self.variant_name = props.variant_name
        count = props.initial_instance_count if instance_count is None else instance_count
        fallback = props.fallback_props()
        self.fallback_configuration_name = fallback.configuration_name() if fallback else None
        # Keyed by version id: a release adds its model and configuration next to the fallback's instead of
        # replacing them, so the fallback is destroyed only when a later synthesis no longer declares it.
        declared = [release for release in (fallback, props) if release is not None]
        self.models = {release.version_id: self._model(release, depends_on) for release in declared}
        self.configurations = {
            release.version_id: self._configuration(release, self.models[release.version_id], count)
            for release in declared
        }
        self.model = self.models[props.version_id]
        self.configuration = self.configurations[props.version_id]
        self._move_from_unkeyed_addresses()
        self.endpoint = SagemakerEndpoint(
            self,
            "endpoint",
            name=props.endpoint_name,
            endpoint_config_name=self.configuration.name,
            deployment_config=_deployment_config(props.deployment) if props.deployment else None,
            tags={"tritonform:version-id": props.version_id},
            # Every declared configuration: one that a later synthesis drops is destroyed only after the
            # endpoint has been updated (Terraform orders a removed resource's destroy after its dependents).
            depends_on=[*endpoint_depends_on, *self.configurations.values()],
        )
        self.endpoint_name: str = self.endpoint.name

    def _audit_tags(self, props: TritonEndpointProps) -> dict[str, str]:
        return {
            **self.props.tags,
            "tritonform:version-id": props.version_id,
            "tritonform:artifact-sha256": props.artifact_sha256,
        }

    def _model(self, props: TritonEndpointProps, depends_on: Sequence[ITerraformDependable]) -> SagemakerModel:
        """The container: the pinned image, the packaged repository, and the VPC when there is one."""
        vpc = (
            SagemakerModelVpcConfig(subnets=props.subnet_ids, security_group_ids=props.security_group_ids)
            if props.subnet_ids
            else None
        )
        return SagemakerModel(
            self,
            f"model-{props.version_id}",
            name=props.configuration_name(),
            execution_role_arn=props.execution_role_arn,
            enable_network_isolation=props.network_isolation,
            primary_container=SagemakerModelPrimaryContainer(
                image=props.image_uri,
                mode="SingleModel",
                model_data_url=props.artifact_s3_uri,
                environment=props.container_environment(),
            ),
            vpc_config=vpc,
            tags=self._audit_tags(props),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=list(depends_on) or None,
        )

    def _configuration(
        self, props: TritonEndpointProps, model: SagemakerModel, instance_count: float
    ) -> SagemakerEndpointConfiguration:
        """One production variant on the model, created before a configuration it replaces is destroyed.

        The instance count is what the variant runs when the configuration goes live (UpdateEndpoint's
        RetainAllVariantProperties defaults to false, and provider 5.100 does not expose it), so the deploy
        entry points give the live count. Changes to it are ignored once the configuration exists: SageMaker
        refuses a second configuration of the same name, and the count matters only when it goes live."""
        return SagemakerEndpointConfiguration(
            self,
            f"configuration-{props.version_id}",
            name=props.configuration_name(),
            production_variants=[
                SagemakerEndpointConfigurationProductionVariants(
                    variant_name=props.variant_name,
                    model_name=model.name,
                    instance_type=props.instance_type,
                    initial_instance_count=instance_count,
                    initial_variant_weight=1,
                    volume_size_in_gb=props.volume_size_gb,
                    model_data_download_timeout_in_seconds=props.model_data_download_timeout_s,
                    container_startup_health_check_timeout_in_seconds=props.container_startup_health_check_timeout_s,
                )
            ],
            kms_key_arn=props.volume_kms_key_arn,
            data_capture_config=_data_capture_config(props.data_capture) if props.data_capture else None,
            tags=self._audit_tags(props),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True, ignore_changes=[INSTANCE_COUNT_ATTRIBUTE]),
        )

    def _move_from_unkeyed_addresses(self) -> None:
        """Terraform `moved` blocks from the addresses earlier tritonform versions gave the one model and
        configuration (construct ids `model` and `configuration`) to the current release's: without them, an
        upgraded stack would create a configuration under the name that already exists, which SageMaker
        refuses. They move to the fallback's when there is one: the unkeyed address holds what was applied
        last, which is the release last seen live when the history names one (a fallback), or else the
        current one. A `from` that is not in the state is ignored, so they cost nothing once moved."""
        within_stack = self.node.path.split("/")[1:]
        version = (self.props.fallback or self.props).version_id
        moves = [
            {"from": f"{resource.terraform_resource_type}.{_logical_id([*within_stack, unkeyed])}",
             "to": f"{resource.terraform_resource_type}.{resource.friendly_unique_id}"}
            for unkeyed, resource in (("model", self.models[version]), ("configuration", self.configurations[version]))
        ]  # fmt: skip
        TerraformStack.of(self).add_override("moved", moves)


INSTANCE_COUNT_ATTRIBUTE = "production_variants[0].initial_instance_count"


def _logical_id(path: list[str]) -> str:
    """The logical id cdktf 0.21 allocates a resource at `path` within its stack (its makeUniqueId: the
    path's components joined by '_' and the first 8 hex digits of the MD5 of the path)."""
    digest = hashlib.md5("/".join(path).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    return "_".join([*path, digest])


def _data_capture_config(capture: DataCaptureProps) -> SagemakerEndpointConfigurationDataCaptureConfig:
    return SagemakerEndpointConfigurationDataCaptureConfig(
        enable_capture=True,
        initial_sampling_percentage=capture.sampling_percent,
        destination_s3_uri=capture.destination_s3_uri,
        kms_key_id=capture.kms_key_arn,
        capture_options=[
            SagemakerEndpointConfigurationDataCaptureConfigCaptureOptions(capture_mode=mode) for mode in capture.modes
        ],
        capture_content_type_header=SagemakerEndpointConfigurationDataCaptureConfigCaptureContentTypeHeader(
            json_content_types=["application/json"]
        ),
    )


def _deployment_config(compiled: CompiledDeployment) -> SagemakerEndpointDeploymentConfig:
    """SageMaker's DeploymentConfig as the provider's structs (lists of blocks must be structs, not dicts)."""
    rollback = (
        SagemakerEndpointDeploymentConfigAutoRollbackConfiguration(
            alarms=[
                SagemakerEndpointDeploymentConfigAutoRollbackConfigurationAlarms(alarm_name=name)
                for name in compiled.alarm_names
            ]
        )
        if compiled.alarm_names
        else None
    )
    if compiled.rolling is not None:
        return SagemakerEndpointDeploymentConfig(
            rolling_update_policy=_rolling_update_policy(compiled.rolling), auto_rollback_configuration=rollback
        )
    assert compiled.blue_green is not None  # CompiledDeployment holds exactly one policy
    return SagemakerEndpointDeploymentConfig(
        blue_green_update_policy=_blue_green_update_policy(compiled.blue_green), auto_rollback_configuration=rollback
    )


def _rolling_update_policy(rolling: RollingSettings) -> SagemakerEndpointDeploymentConfigRollingUpdatePolicy:
    rollback_batch = rolling.rollback_maximum_batch_size
    return SagemakerEndpointDeploymentConfigRollingUpdatePolicy(
        maximum_batch_size=SagemakerEndpointDeploymentConfigRollingUpdatePolicyMaximumBatchSize(
            type=rolling.maximum_batch_size.type, value=rolling.maximum_batch_size.value
        ),
        wait_interval_in_seconds=rolling.wait_interval_s,
        maximum_execution_timeout_in_seconds=rolling.max_execution_timeout_s,
        rollback_maximum_batch_size=(
            SagemakerEndpointDeploymentConfigRollingUpdatePolicyRollbackMaximumBatchSize(
                type=rollback_batch.type, value=rollback_batch.value
            )
            if rollback_batch
            else None
        ),
    )


def _blue_green_update_policy(blue_green: BlueGreenSettings) -> SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicy:
    canary, linear = blue_green.canary_size, blue_green.linear_step_size
    routing = SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfiguration(
        type=blue_green.traffic_type,
        wait_interval_in_seconds=blue_green.wait_interval_s,
        canary_size=(
            SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySize(
                type=canary.type, value=canary.value
            )
            if canary
            else None
        ),
        linear_step_size=(
            SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSize(
                type=linear.type, value=linear.value
            )
            if linear
            else None
        ),
    )
    return SagemakerEndpointDeploymentConfigBlueGreenUpdatePolicy(
        traffic_routing_configuration=routing,
        maximum_execution_timeout_in_seconds=blue_green.max_execution_timeout_s,
        termination_wait_in_seconds=blue_green.termination_wait_s,
    )
