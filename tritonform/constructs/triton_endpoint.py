"""A SageMaker real-time endpoint running NVIDIA Triton on GPU instances.

Endpoint configurations are immutable, so every change to what runs (a new model version, another
instance type) must produce a configuration with a new name; Terraform then creates it before it
destroys the old one, and SageMaker moves the endpoint over with a blue/green update. The name is
`<endpoint>-<version id>-<settings digest>`: readable in the console, and derived purely from the props.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable, TerraformResourceLifecycle
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
from tritonform.constructs.endpoint_props import DataCaptureProps, TritonEndpointProps

__all__ = ["DataCaptureProps", "TritonEndpoint", "TritonEndpointProps"]


class TritonEndpoint(Construct):
    """Exposes `endpoint_name`, `configuration_name`, `variant_name` and the three resources."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        props: TritonEndpointProps,
        *,
        depends_on: Sequence[ITerraformDependable] = (),
        endpoint_depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """`depends_on`: what must exist before the model (the role's policy: SageMaker checks access);
        `endpoint_depends_on`: before the endpoint (its rollback alarms: SageMaker looks them up)."""
        super().__init__(scope, id_)
        self.props = props
        self.configuration_name = props.configuration_name()
        self.variant_name = props.variant_name
        self.model = self._model(depends_on)
        self.configuration = self._configuration()
        self.endpoint = SagemakerEndpoint(
            self,
            "endpoint",
            name=props.endpoint_name,
            endpoint_config_name=self.configuration.name,
            deployment_config=_deployment_config(props.deployment) if props.deployment else None,
            tags={"tritonform:version-id": props.version_id},
            depends_on=list(endpoint_depends_on) or None,
        )
        self.endpoint_name: str = self.endpoint.name

    def _audit_tags(self) -> dict[str, str]:
        return {
            **self.props.tags,
            "tritonform:version-id": self.props.version_id,
            "tritonform:artifact-sha256": self.props.artifact_sha256,
        }

    def _model(self, depends_on: Sequence[ITerraformDependable]) -> SagemakerModel:
        """The container: the pinned image, the packaged repository, and the VPC when there is one."""
        props = self.props
        vpc = (
            SagemakerModelVpcConfig(subnets=props.subnet_ids, security_group_ids=props.security_group_ids)
            if props.subnet_ids
            else None
        )
        return SagemakerModel(
            self,
            "model",
            name=self.configuration_name,
            execution_role_arn=props.execution_role_arn,
            enable_network_isolation=props.network_isolation,
            primary_container=SagemakerModelPrimaryContainer(
                image=props.image_uri,
                mode="SingleModel",
                model_data_url=props.artifact_s3_uri,
                environment=props.container_environment(),
            ),
            vpc_config=vpc,
            tags=self._audit_tags(),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=list(depends_on) or None,
        )

    def _configuration(self) -> SagemakerEndpointConfiguration:
        """One production variant on the model, created before the configuration it replaces is destroyed."""
        props = self.props
        return SagemakerEndpointConfiguration(
            self,
            "configuration",
            name=self.configuration_name,
            production_variants=[
                SagemakerEndpointConfigurationProductionVariants(
                    variant_name=props.variant_name,
                    model_name=self.model.name,
                    instance_type=props.instance_type,
                    initial_instance_count=props.initial_instance_count,
                    initial_variant_weight=1,
                    volume_size_in_gb=props.volume_size_gb,
                    model_data_download_timeout_in_seconds=props.model_data_download_timeout_s,
                    container_startup_health_check_timeout_in_seconds=props.container_startup_health_check_timeout_s,
                )
            ],
            kms_key_arn=props.volume_kms_key_arn,
            data_capture_config=_data_capture_config(props.data_capture) if props.data_capture else None,
            tags=self._audit_tags(),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )


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
