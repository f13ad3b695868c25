"""Instance-type changes of an autoscaled endpoint: deregister, update, register again.

"Update endpoints that use auto scaling" (SageMaker Developer Guide): an UpdateEndpoint that changes the
instance type of a production variant registered as a scalable target fails; the variant must be
deregistered (DeregisterScalableTarget, which also deletes its scaling policies, Application Auto Scaling
API Reference) before the update, and registered again after it.

`instance_type_change` does that around a `terraform apply`: it compares the live endpoint with the
environment about to be deployed, and when a registered variant changes its instance type it records the
scalable target and its policies, deregisters the target and lets the apply run. The stack declares the
target and its policies after the endpoint (they name it), so the apply that updates the endpoint registers
them again with the environment's settings. If the apply fails, or leaves the variant unregistered, the
recorded target and policies are registered again: the endpoint then still runs the old instance type and
keeps scaling as before.

    with instance_type_change(env) as change:   # around the plan too: a plan made before the deregistration
        planned = terraform_plan(...)             # would not create the target again
        applied = terraform_apply(planned)
        if not applied.ok:
            change.apply_failed()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tritonform.config.environment import EnvironmentConfig
from tritonform.errors import UserError
from tritonform.release import aws

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# PutScalingPolicy accepts these members of a described policy as they are (Application Auto Scaling API
# Reference); Alarms, PolicyARN and CreationTime are the service's own.
POLICY_SETTINGS = (
    "PolicyType",
    "StepScalingPolicyConfiguration",
    "TargetTrackingScalingPolicyConfiguration",
    "PredictiveScalingPolicyConfiguration",
)


def resource_id(endpoint_name: str, variant_name: str) -> str:
    """A SageMaker variant's scalable target (RegisterScalableTarget, ResourceId)."""
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


@dataclass(frozen=True)
class RecordedTarget:
    """A scalable target and its scaling policies as DescribeScalableTargets and DescribeScalingPolicies give
    them, kept to register them again."""

    resource_id: str
    min_capacity: int
    max_capacity: int
    suspended_state: dict[str, bool] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    policies: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class InstanceTypeChange:
    endpoint_name: str
    variant_name: str
    live_instance_type: str
    new_instance_type: str
    target: RecordedTarget

    def describe(self) -> str:
        return (
            f"{self.endpoint_name}/{self.variant_name}: instance type {self.live_instance_type} -> "
            f"{self.new_instance_type} on a variant registered for autoscaling (min {self.target.min_capacity}, "
            f"max {self.target.max_capacity}, {len(self.target.policies)} scaling policies)"
        )


@dataclass
class ScalingPause:
    """What `instance_type_change` did: `change` is None when nothing needed deregistering."""

    change: InstanceTypeChange | None
    failed: bool = False
    restored: bool = False

    def apply_failed(self) -> None:
        """Tell the context that the apply failed: the recorded target is registered again on exit."""
        self.failed = True


def live_instance_type(sagemaker: Any, endpoint_name: str, variant_name: str) -> str | None:
    """The instance type the endpoint's configuration in service gives the variant; None without the endpoint,
    the variant, or an instance type (serverless)."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as err:
        message = str(err.response.get("Error", {}).get("Message", err))
        if aws.error_code(err) == "ValidationException" and "Could not find endpoint" in message:
            return None  # the first deploy creates it: nothing is registered yet
        raise UserError.single(f"describe the endpoint {endpoint_name}: {aws.error_code(err)}: {message}") from None
    configuration = aws.call(
        f"read the configuration of {endpoint_name}",
        lambda: sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"]),
    )
    for variant in configuration.get("ProductionVariants", []):
        if variant.get("VariantName") == variant_name:
            found = variant.get("InstanceType")
            return str(found) if found else None
    return None


def registered_target(autoscaling: Any, endpoint_name: str, variant_name: str) -> RecordedTarget | None:
    """The variant's scalable target with its policies and tags, or None when it is not registered."""
    rid = resource_id(endpoint_name, variant_name)
    targets = aws.call(
        f"read the scalable target {rid}",
        lambda: autoscaling.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[rid]),
    ).get("ScalableTargets", [])
    target = next((t for t in targets if t.get("ScalableDimension") == DIMENSION), None)
    if target is None:
        return None
    policies = aws.call(
        f"read the scaling policies of {rid}",
        lambda: autoscaling.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=rid),
    ).get("ScalingPolicies", [])
    tags: dict[str, str] = {}
    if target.get("ScalableTargetARN"):
        tags = aws.call(
            f"read the tags of {rid}",
            lambda: autoscaling.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"]),
        ).get("Tags", {})
    return RecordedTarget(
        resource_id=rid,
        min_capacity=int(target["MinCapacity"]),
        max_capacity=int(target["MaxCapacity"]),
        suspended_state=dict(target.get("SuspendedState") or {}),
        tags=dict(tags),
        policies=tuple(
            {"PolicyName": p["PolicyName"], **{k: p[k] for k in POLICY_SETTINGS if k in p}}
            for p in policies
            if p.get("ScalableDimension") == DIMENSION
        ),
    )


def detect(env: EnvironmentConfig, *, sagemaker: Any, autoscaling: Any) -> InstanceTypeChange | None:
    """The instance-type change of a registered variant that deploying `env` would make, or None: no
    endpoint yet, the same instance type, or a variant that is not registered for autoscaling."""
    endpoint, variant = env.endpoint.name, env.endpoint.variant_name
    live = live_instance_type(sagemaker, endpoint, variant)
    if live is None or live == env.endpoint.instance_type:
        return None
    target = registered_target(autoscaling, endpoint, variant)
    if target is None:
        return None
    return InstanceTypeChange(endpoint, variant, live, env.endpoint.instance_type, target)


def deregister(autoscaling: Any, target: RecordedTarget) -> None:
    aws.call(
        f"deregister the scalable target {target.resource_id}",
        lambda: autoscaling.deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=target.resource_id, ScalableDimension=DIMENSION
        ),
    )


def register(autoscaling: Any, target: RecordedTarget) -> None:
    """Register the recorded target and put its policies back, as they were."""
    aws.call(
        f"register the scalable target {target.resource_id} again",
        lambda: autoscaling.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=target.resource_id,
            ScalableDimension=DIMENSION,
            MinCapacity=target.min_capacity,
            MaxCapacity=target.max_capacity,
            **({"SuspendedState": target.suspended_state} if target.suspended_state else {}),
            **({"Tags": target.tags} if target.tags else {}),
        ),
    )
    for policy in target.policies:
        _put_policy(autoscaling, target.resource_id, policy)


def _put_policy(autoscaling: Any, rid: str, policy: dict[str, Any]) -> None:
    aws.call(
        f"put the scaling policy {policy['PolicyName']} of {rid} back",
        lambda: autoscaling.put_scaling_policy(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION, **policy
        ),
    )


@contextmanager
def instance_type_change(
    env: EnvironmentConfig,
    *,
    sagemaker: Any | None = None,
    autoscaling: Any | None = None,
    say: Callable[[str], None] = print,
) -> Iterator[ScalingPause]:
    """Around the apply that deploys `env`: when it changes the instance type of a variant registered for
    autoscaling, record the target, deregister it, and after the apply register the recorded one again if the
    apply failed (the body raised or called `apply_failed()`) or left the variant unregistered although the
    environment scales. Clients default to the environment's region (AWS_ENDPOINT_URL may name a stand-in)."""
    sagemaker = sagemaker or aws.client("sagemaker", env.region)
    autoscaling = autoscaling or aws.client("application-autoscaling", env.region)
    change = detect(env, sagemaker=sagemaker, autoscaling=autoscaling)
    pause = ScalingPause(change)
    if change is None:
        yield pause
        return
    say(f"autoscaling: {change.describe()}: deregistering its scalable target before the update")
    deregister(autoscaling, change.target)
    try:
        yield pause
    except BaseException:
        pause.failed = True
        raise
    finally:
        missing = registered_target(autoscaling, change.endpoint_name, change.variant_name) is None
        if missing and (pause.failed or env.autoscaling is not None):
            register(autoscaling, change.target)
            pause.restored = True
            say(f"autoscaling: the recorded scalable target {change.target.resource_id} and its "
                f"{len(change.target.policies)} policies are registered again")  # fmt: skip
        elif not missing:
            say(f"autoscaling: {change.target.resource_id} is registered again (by the apply)")
