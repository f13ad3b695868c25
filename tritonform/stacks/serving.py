"""The serving stack of one environment: artifact store, execution role, Triton endpoint, autoscaling."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from cdktf import TerraformOutput, TerraformStack, TerraformVariable, TerraformVariableValidationConfig, Token
from constructs import Construct
from pydantic import Field, model_validator

from tritonform.config import EnvironmentConfig, ReleaseConfig
from tritonform.config.alarms import compile_alarms
from tritonform.config.hardening import SECURITY_EXCEPTIONS_OUTPUT, security_exceptions_output
from tritonform.config.names import (
    FALLBACK_OUTPUT,
    LIVE_INSTANCES_VARIABLE,
    configuration_name,
    execution_role_name,
    image_repository_arn,
    partition_of,
    serving_stack_name,
)
from tritonform.config.rollout import CompiledDeployment
from tritonform.config.triton_images import parse_image_uri
from tritonform.constructs import (
    EndpointAutoscaling,
    EndpointAutoscalingProps,
    ExecutionRole,
    ExecutionRoleProps,
    ModelArtifactStore,
    RollbackAlarms,
    RollbackAlarmsProps,
    TritonEndpoint,
    configure_state_backend,
)
from tritonform.constructs._props import Props
from tritonform.constructs.endpoint_props import endpoint_props_for
from tritonform.stacks.shared import (
    artifact_store_props,
    environment_provider,
    state_backend_props,
)
from tritonform.standin import STAND_IN_URL

# What a local AWS stand-in (moto) cannot create, with the reason; left out of stand-in stacks and named.
NOT_ON_STAND_IN = {
    "aws_s3_bucket_policy (deny plain HTTP)": "moto ignores policy conditions, so the TLS-only deny would refuse "
    "every request",
}
# What moto alone cannot create but moto behind the local SageMaker can: left out of stand-in stacks without one.
NOT_ON_MOTO_ALONE = {
    "aws_appautoscaling_target, aws_appautoscaling_policy": "moto does not implement Application Auto Scaling's "
    "ListTagsForResource, which the provider calls after creating a scalable target (the local SageMaker answers it)",
}


class ServingStackProps(Props):
    environment: EnvironmentConfig
    release: ReleaseConfig
    deployment: CompiledDeployment
    """The rollout policy and alarms compiled for this environment (config layer)."""
    fallback: ReleaseConfig | None = None
    """The release whose model and configuration stay declared next to the release's: the last one the
    environment's history shows verified live (tritonform/release/fallback.py). Default None: none."""
    state_backend: Literal["s3", "local"] = "s3"
    """local keeps the state in a file beside the stack (tests, the stand-in demo). Default s3."""

    stand_in_endpoint: Annotated[str, Field(pattern=rf"^{STAND_IN_URL}$")] | None = None
    """Point the provider at a local AWS stand-in on loopback (the demo, end-to-end tests): test credentials,
    no account check, and no resources the stand-in cannot create (NOT_ON_STAND_IN). Default None."""

    sagemaker_endpoint: Annotated[str, Field(pattern=rf"^{STAND_IN_URL}$")] | None = None
    """With a stand-in only: the provider's SageMaker API goes to this local SageMaker on loopback
    (tritonform/localsagemaker, which deploys and rolls back as SageMaker does), the other services to the
    stand-in. Default None: SageMaker is on the stand-in too."""

    @model_validator(mode="after")
    def _sagemaker_needs_stand_in(self) -> Self:
        if self.sagemaker_endpoint is not None and self.stand_in_endpoint is None:
            raise ValueError("sagemaker_endpoint points SageMaker at a local SageMaker: give stand_in_endpoint too")
        return self


class ServingStack(TerraformStack):
    def __init__(self, scope: Construct, props: ServingStackProps) -> None:
        env, release = props.environment, props.release
        super().__init__(scope, serving_stack_name(env.name))
        self.props = props
        partition = partition_of(env.region)
        image = parse_image_uri(release.triton_image.uri)
        assert image is not None  # validated in the config layer

        configure_state_backend(self, state_backend_props(env, props.state_backend))
        stand_in = props.stand_in_endpoint
        environment_provider(self, env, stand_in=stand_in, sagemaker_endpoint=props.sagemaker_endpoint)

        self.artifacts = ModelArtifactStore(
            self,
            "artifacts",
            artifact_store_props(env, stand_in=stand_in),
        )
        capture = env.data_capture
        key_arn = self.artifacts.key_arn
        self.execution_role = ExecutionRole(
            self,
            "execution-role",
            ExecutionRoleProps(
                role_name=execution_role_name(env),
                account_id=env.account_id,
                region=env.region,
                partition=partition,
                endpoint_name=env.endpoint.name,
                artifact_bucket_arn=self.artifacts.bucket_arn,
                model_name=release.model_name,
                artifacts_kms_key_arn=key_arn if env.encryption.artifacts else None,
                data_capture_kms_key_arn=key_arn if env.encryption.data_capture else None,
                image_repository_arn=image_repository_arn(image),
                data_capture_prefix=capture.prefix if capture else None,
                subnet_ids=list(env.network.subnet_ids),
                security_group_ids=list(env.network.security_group_ids),
            ),
        )
        self.rollback_alarms = RollbackAlarms(
            self,
            "rollback-alarms",
            RollbackAlarmsProps(alarms=compile_alarms(env, configuration_name(env, release))),
        )
        self.endpoint = TritonEndpoint(
            self,
            "triton",
            endpoint_props_for(
                env,
                release,
                execution_role_arn=self.execution_role.role_arn,
                kms_key_arn=key_arn,
                deployment=props.deployment,
                fallback=props.fallback,
            ),
            depends_on=[self.execution_role.policy],
            endpoint_depends_on=self.rollback_alarms.alarms,
            instance_count=self._live_instances(env).number_value,
        )

        self.autoscaling: EndpointAutoscaling | None = None
        if env.autoscaling is not None and (not stand_in or props.sagemaker_endpoint is not None):
            self.autoscaling = EndpointAutoscaling(
                self,
                "autoscaling",
                EndpointAutoscalingProps(
                    endpoint_name=self.endpoint.endpoint_name,
                    variant_name=env.endpoint.variant_name,
                    min_instances=env.capacity.min_instances,
                    max_instances=env.capacity.max_instances,
                    invocations_per_instance=env.autoscaling.invocations_per_instance,
                    gpu_utilization_percent=env.autoscaling.gpu_utilization_percent,
                    gpus_per_instance=env.endpoint.instance.gpus,
                    scale_in_cooldown_s=env.autoscaling.scale_in_cooldown_s,
                    scale_out_cooldown_s=env.autoscaling.scale_out_cooldown_s,
                    disable_scale_in=env.autoscaling.disable_scale_in,
                ),
            )

        TerraformOutput(self, "endpoint_name", value=self.endpoint.endpoint_name)
        TerraformOutput(self, "endpoint_configuration_name", value=self.endpoint.configuration_name)
        TerraformOutput(
            self,
            FALLBACK_OUTPUT,
            description="The configuration kept declared for an emergency rollback and for SageMaker to roll back "
            "to (the last release verified live); null: none, no other release of this environment was verified live",
            value=self.endpoint.fallback_configuration_name or Token.null_value(),
        )
        TerraformOutput(self, "version_id", value=release.version_id)
        TerraformOutput(self, "artifact_bucket", value=self.artifacts.bucket_name)
        TerraformOutput(self, "execution_role_arn", value=self.execution_role.role_arn)
        TerraformOutput(
            self,
            SECURITY_EXCEPTIONS_OUTPUT,
            description="Hardening controls this environment runs without, and the recorded exception for each",
            value=security_exceptions_output(env),
        )

    def _live_instances(self, env: EnvironmentConfig) -> TerraformVariable:
        """The instance count a new configuration starts with. UpdateEndpoint replaces the variant's instance
        count with the new configuration's (RetainAllVariantProperties defaults to false; provider 5.100 does
        not expose it), so `tritonform deploy` passes the live count here; a plain apply uses the default."""
        capacity = env.capacity
        return TerraformVariable(
            self,
            LIVE_INSTANCES_VARIABLE,
            type="number",
            default=capacity.initial_instances,
            description="Instances a new endpoint configuration starts with. tritonform deploy sets it to the "
            "endpoint's live instance count (within capacity.min_instances and max_instances); without it, "
            "capacity.initial_instances, and autoscaling scales the new fleet back up",
            validation=[
                TerraformVariableValidationConfig(
                    condition=f"${{var.{LIVE_INSTANCES_VARIABLE} >= 1 && var.{LIVE_INSTANCES_VARIABLE} <= "
                    f"{capacity.max_instances} && floor(var.{LIVE_INSTANCES_VARIABLE}) == "
                    f"var.{LIVE_INSTANCES_VARIABLE}}}",
                    error_message=f"live_instances must be a whole number from 1 to {capacity.max_instances} "
                    "(capacity.max_instances).",
                )
            ],
        )
