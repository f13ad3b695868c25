"""Target-tracking autoscaling for a Triton endpoint's variant: request rate and GPU utilisation.

SageMaker reports GPUUtilization per instance as the sum over its GPUs (0-100 x number of GPUs), so the
target given per GPU is multiplied by the instance's GPU count here.
"""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field, model_validator

from tritonform.constructs._aws import (
    AppautoscalingPolicy,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensions,
    AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification,
    AppautoscalingTarget,
)
from tritonform.constructs._props import Props


class EndpointAutoscalingProps(Props):
    endpoint_name: Annotated[str, Field(min_length=1)]
    """The endpoint (its token, so the target waits for the endpoint to exist)."""

    variant_name: Annotated[str, Field(min_length=1)] = "AllTraffic"
    """Default AllTraffic."""

    min_instances: Annotated[int, Field(ge=1, le=100)]
    max_instances: Annotated[int, Field(ge=1, le=100)]
    invocations_per_instance: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Target invocations per instance per minute. Default 100."""

    gpu_utilization_percent: Annotated[int, Field(ge=10, le=95)] | None = 70
    """Target utilisation per GPU; None turns GPU tracking off. Default 70."""

    gpus_per_instance: Annotated[int, Field(ge=1, le=16)] = 1
    """GPUs on each instance. Default 1."""

    scale_in_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 600
    scale_out_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 120
    disable_scale_in: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> EndpointAutoscalingProps:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances must not exceed max_instances")
        return self


class EndpointAutoscaling(Construct):
    """Exposes the scalable target and one target-tracking policy per signal."""

    def __init__(self, scope: Construct, id_: str, props: EndpointAutoscalingProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.target = AppautoscalingTarget(
            self,
            "target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            resource_id=f"endpoint/{props.endpoint_name}/variant/{props.variant_name}",
            min_capacity=props.min_instances,
            max_capacity=props.max_instances,
        )
        self.invocations_policy = self._track(
            "invocations-per-instance",
            target_value=props.invocations_per_instance,
            predefined_metric_specification=(
                AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                )
            ),
        )
        percent = props.gpu_utilization_percent
        self.gpu_policy = self._gpu_policy(percent) if percent is not None else None

    def _gpu_policy(self, percent_per_gpu: int) -> AppautoscalingPolicy:
        """Tracks GPUUtilization, which SageMaker reports per instance as the sum over its GPUs."""
        props = self.props
        dimension = AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensions
        return self._track(
            "gpu-utilization",
            target_value=percent_per_gpu * props.gpus_per_instance,
            customized_metric_specification=(
                AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification(
                    namespace="/aws/sagemaker/Endpoints",
                    metric_name="GPUUtilization",
                    statistic="Average",
                    unit="Percent",
                    dimensions=[
                        dimension(name="EndpointName", value=props.endpoint_name),
                        dimension(name="VariantName", value=props.variant_name),
                    ],
                )
            ),
        )

    def _track(
        self,
        name: str,
        *,
        target_value: float,
        predefined_metric_specification: (
            AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification | None
        ) = None,
        customized_metric_specification: (
            AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecification | None
        ) = None,
    ) -> AppautoscalingPolicy:
        """One target-tracking policy on the variant; the cooldowns are shared by every signal."""
        return AppautoscalingPolicy(
            self,
            name,
            name=name,
            policy_type="TargetTrackingScaling",
            service_namespace=self.target.service_namespace,
            scalable_dimension=self.target.scalable_dimension,
            resource_id=self.target.resource_id,
            target_tracking_scaling_policy_configuration=AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration(
                target_value=target_value,
                predefined_metric_specification=predefined_metric_specification,
                customized_metric_specification=customized_metric_specification,
                scale_in_cooldown=self.props.scale_in_cooldown_s,
                scale_out_cooldown=self.props.scale_out_cooldown_s,
                disable_scale_in=self.props.disable_scale_in,
            ),
        )
