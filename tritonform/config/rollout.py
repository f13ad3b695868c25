"""Rollout policies: how a new model version reaches traffic, within SageMaker's and Terraform's limits.

A policy file (rollout_policies/<name>.yaml) is one of four kinds. Its own limits are checked when it is
loaded; the limits that depend on the environment using it (instance counts, alarm timing, the rules for
prod) are checked by `plan_rollout`, which also produces the timeline `tritonform policy explain` prints.

Timeline model (SageMaker deployment guardrails): for blue/green kinds SageMaker first provisions the
whole new (green) fleet next to the old (blue) one, then shifts traffic in steps, each followed by a
baking period of `WaitIntervalInSeconds` during which the rollback alarms are watched; after the last
step comes a final baking period of the same length, then `TerminationWaitInSeconds`, then the old fleet
is terminated. A rolling update replaces the fleet in batches, each followed by the same wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from tritonform.documents import FieldError, FrozenModel

# SageMaker API limits (BlueGreenUpdatePolicy, RollingUpdatePolicy, TrafficRoutingConfig).
WAIT_MAX_S = 3600
TIMEOUT_MIN_S = 600
TIMEOUT_API_MAX_S = 28800
# hashicorp/aws 5.100.0 refuses maximum_execution_timeout_in_seconds outside 600-14400 (`terraform validate`:
# "expected ... to be in the range (600 - 14400)"), below the 28800 the UpdateEndpoint API allows.
TIMEOUT_TERRAFORM_MAX_S = 14400
# hashicorp/aws 5.100.0 waits at most 60 minutes for an endpoint to be InService after CreateEndpoint or
# UpdateEndpoint (internal/service/sagemaker/endpoint.go, waitEndpointInService: `timeout = 60 * time.Minute`),
# and its aws_sagemaker_endpoint has no timeouts block to lengthen that. Past it, `terraform apply` fails while
# SageMaker carries on with the update.
TERRAFORM_ENDPOINT_WAIT_S = 3600
# Choice (the SageMaker documentation gives no figure): the part of that wait the timeline does not count.
# Its provisioning is the model download and the container start-up timeouts (ModelDataDownloadTimeoutInSeconds,
# ContainerStartupHealthCheckTimeoutInSeconds); before them SageMaker launches the GPU instances and pulls the
# Triton image (several GB), and after the last wait it terminates the old fleet.
PROVISIONING_MARGIN_S = 600
ROLLOUT_LIMIT_S = TERRAFORM_ENDPOINT_WAIT_S - PROVISIONING_MARGIN_S
LINEAR_STEP_MIN_PERCENT = 10  # TrafficRoutingConfig.LinearStepSize: 10-50% of the instance count
ROLLING_BATCH_MIN_PERCENT = 5  # RollingUpdatePolicy.MaximumBatchSize: 5-50% of the instance count

WaitSeconds = Annotated[int, Field(ge=0, le=WAIT_MAX_S)]
TimeoutSeconds = Annotated[int, Field(ge=TIMEOUT_MIN_S, le=TIMEOUT_TERRAFORM_MAX_S)]


class Size(FrozenModel):
    """A share of the fleet: exactly one of `percent` (of the instance count) or `instances`."""

    percent: Annotated[int, Field(ge=1, le=100)] | None = None
    """Share of the variant's instance count, in percent."""

    instances: Annotated[int, Field(ge=1, le=100)] | None = None
    """A fixed number of instances."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.percent is None) == (self.instances is None):
            raise FieldError("percent", "give exactly one of percent or instances")
        return self

    def instances_of(self, fleet: int) -> int:
        """Whole instances this size means for a fleet; a percentage is rounded down."""
        if self.instances is not None:
            return self.instances
        assert self.percent is not None
        return fleet * self.percent // 100

    def api(self) -> tuple[str, int]:
        if self.instances is not None:
            return "INSTANCE_COUNT", self.instances
        assert self.percent is not None
        return "CAPACITY_PERCENT", self.percent

    def describe(self) -> str:
        return f"{self.percent}%" if self.percent is not None else f"{self.instances} instance(s)"


def _size_within(size: Size, low: int, high: int, what: str) -> Size:
    """Field-level, so that it is reported together with the policy's other problems."""
    if size.percent is not None and not low <= size.percent <= high:
        raise FieldError("percent", f"{what} must be {low}-{high}% of the fleet (SageMaker), got {size.percent}%")
    return size


class _PolicyBase(FrozenModel):
    termination_wait_s: WaitSeconds = 0
    """Seconds the old fleet is kept after the update completes, for a fast manual switch back (0-3600).
    Default 0."""

    max_execution_timeout_s: TimeoutSeconds | None = None
    """Upper bound of the whole update (600-14400 s; Terraform caps SageMaker's 28800). Default: derived
    from the waits plus the environment's download and start-up timeouts."""

    def waits(self) -> list[int]:
        raise NotImplementedError

    @model_validator(mode="after")
    def _timeout_above_waits(self) -> Self:
        total = sum(self.waits()) + self.termination_wait_s
        if self.max_execution_timeout_s is not None and self.max_execution_timeout_s <= total:
            raise FieldError(
                "max_execution_timeout_s",
                f"must be larger than the sum of the waits and termination_wait_s ({total} s), "
                f"got {self.max_execution_timeout_s}",
            )
        return self


class CanaryPolicy(_PolicyBase):
    """A small part of the new fleet takes traffic first; the rest follows after the bake."""

    kind: Literal["canary"]
    canary: Size
    """Size of the canary: at most 50% of the fleet."""

    bake_s: WaitSeconds
    """Baking period after the canary step and after the full shift (WaitIntervalInSeconds, 0-3600)."""

    @field_validator("canary")
    @classmethod
    def _limits(cls, size: Size) -> Size:
        return _size_within(size, 1, 50, "a canary")

    def waits(self) -> list[int]:
        return [self.bake_s, self.bake_s]


class LinearPolicy(_PolicyBase):
    """Traffic moves to the new fleet in equal steps."""

    kind: Literal["linear"]
    step: Size
    """Size of each step: 10-50% of the fleet."""

    step_wait_s: WaitSeconds
    """Baking period after each step and after the last (WaitIntervalInSeconds, 0-3600)."""

    @field_validator("step")
    @classmethod
    def _limits(cls, size: Size) -> Size:
        return _size_within(size, LINEAR_STEP_MIN_PERCENT, 50, "a linear step")

    def steps(self, fleet: int) -> int:
        return math.ceil(fleet / max(self.step.instances_of(fleet), 1))

    def waits(self) -> list[int]:
        if self.step.percent is not None:
            return [self.step_wait_s] * (math.ceil(100 / self.step.percent) + 1)
        return [self.step_wait_s, self.step_wait_s]  # at least one step and the final bake


class AllAtOncePolicy(_PolicyBase):
    """Blue/green: all traffic moves at once, then the new fleet bakes with the old one standing by."""

    kind: Literal["all-at-once"]
    bake_s: WaitSeconds
    """Baking period after the shift (WaitIntervalInSeconds, 0-3600)."""

    def waits(self) -> list[int]:
        return [self.bake_s]


class RollingPolicy(_PolicyBase):
    """The fleet is replaced in batches: for large GPU fleets that cannot afford a second full fleet."""

    kind: Literal["rolling"]
    batch: Size
    """Instances replaced per batch: 5-50% of the fleet."""

    batch_wait_s: WaitSeconds
    """Baking period after each batch (WaitIntervalInSeconds, 0-3600)."""

    rollback_batch: Size | None = None
    """Instances restored per batch on rollback. Default: the whole fleet at once (SageMaker's default)."""

    @field_validator("batch")
    @classmethod
    def _limits(cls, size: Size) -> Size:
        return _size_within(size, ROLLING_BATCH_MIN_PERCENT, 50, "a rolling batch")

    @model_validator(mode="after")
    def _no_termination_wait(self) -> Self:
        # RollingUpdatePolicy (SageMaker API Reference) has no termination wait: each batch's old instances
        # are terminated as the batch completes, so a value here would be silently dropped.
        if self.termination_wait_s:
            raise FieldError(
                "termination_wait_s",
                "a rolling update has no termination wait (old instances go batch by batch); remove it, or use "
                "a blue/green policy (canary, linear, all-at-once) to keep the old fleet after the update",
            )
        return self

    def waits(self) -> list[int]:
        if self.batch.percent is not None:
            return [self.batch_wait_s] * math.ceil(100 / self.batch.percent)
        return [self.batch_wait_s]


RolloutPolicy = CanaryPolicy | LinearPolicy | AllAtOncePolicy | RollingPolicy


POLICY_KINDS: dict[str, type[RolloutPolicy]] = {
    "canary": CanaryPolicy,
    "linear": LinearPolicy,
    "all-at-once": AllAtOncePolicy,
    "rolling": RollingPolicy,
}


# --- the plan: a policy applied to an environment ------------------------------------------------------


@dataclass(frozen=True)
class AlarmTiming:
    """When a rollback alarm can reach ALARM after a failure starts (continuous failure)."""

    name: str
    period_s: int
    datapoints: int
    metric_delay_s: int

    @property
    def earliest_s(self) -> int:
        return self.datapoints * self.period_s + self.metric_delay_s

    @property
    def latest_s(self) -> int:
        # the failure may start just after a period began: one more period before M full ones have passed
        return (self.datapoints + 1) * self.period_s + self.metric_delay_s


@dataclass(frozen=True)
class Step:
    at_s: int
    action: str
    new_traffic_percent: int
    new_instances: int
    old_instances: int
    bake_s: int


@dataclass(frozen=True)
class RolloutPlan:
    """A policy applied to one environment: the SageMaker settings and the timeline they produce."""

    policy_name: str
    policy: RolloutPolicy
    fleet: int
    gpus_per_instance: int
    provisioning_s: int
    max_execution_timeout_s: int
    steps: list[Step]
    alarms: list[AlarmTiming]
    problems: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)

    @property
    def peak_extra_instances(self) -> int:
        return max((s.new_instances + s.old_instances - self.fleet for s in self.steps), default=0)

    @property
    def total_s(self) -> int:
        last = self.steps[-1] if self.steps else None
        end = (last.at_s + last.bake_s) if last else 0
        return end + self.policy.termination_wait_s

    @property
    def slowest_alarm(self) -> AlarmTiming | None:
        return max(self.alarms, key=lambda a: a.latest_s, default=None)


def plan_rollout(
    policy_name: str,
    policy: RolloutPolicy,
    *,
    fleet: int,
    gpus_per_instance: int,
    provisioning_s: int,
    alarms: list[AlarmTiming],
    strict: bool,
) -> RolloutPlan:
    """Apply `policy` to a fleet; `strict` turns the rollback-timing warnings into problems (prod)."""
    problems: list[FieldError] = []
    warnings: list[FieldError] = []
    steps = _steps(policy, fleet, provisioning_s, problems)

    # the whole timeline, provisioning included (a rolling update provisions every batch)
    needed = (steps[-1].at_s + steps[-1].bake_s if steps else provisioning_s) + policy.termination_wait_s
    derived = max(TIMEOUT_MIN_S, needed)
    timeout = policy.max_execution_timeout_s or derived
    if needed > ROLLOUT_LIMIT_S:
        problems.append(_beyond_terraforms_wait(policy_name, needed, provisioning_s))

    if policy.max_execution_timeout_s is not None and policy.max_execution_timeout_s < needed:
        warnings.append(
            FieldError(
                "rollout_policy",
                f"max_execution_timeout_s ({policy.max_execution_timeout_s} s) is shorter than the worst-case update "
                f"({needed} s): a slow start-up makes SageMaker stop the update and roll it back",
            )
        )
    slowest = max(alarms, key=lambda a: a.latest_s, default=None)
    if slowest is not None:
        short = [s for s in steps if s.bake_s < slowest.latest_s]
        if short:
            message = (
                f"a bake of {short[0].bake_s} s is shorter than the {slowest.latest_s} s the alarm "
                f"{slowest.name!r} may need to reach ALARM ({slowest.datapoints} x {slowest.period_s} s periods, "
                f"+1 period for a failure that starts mid-period, +{slowest.metric_delay_s} s metric delay): the "
                "traffic shift moves on before a bad version can be caught"
            )
            (problems if strict else warnings).append(FieldError("rollout_policy", message))
    return RolloutPlan(
        policy_name, policy, fleet, gpus_per_instance, provisioning_s, timeout, steps, list(alarms), problems, warnings
    )


def _beyond_terraforms_wait(policy_name: str, needed_s: int, provisioning_s: int) -> FieldError:
    """An update Terraform stops waiting for: `terraform apply` would report a failure (and a deploy act on it)
    while SageMaker is still performing the update, which may yet succeed or roll back."""
    return FieldError(
        "rollout_policy",
        f"the rollout with policy {policy_name!r} may take up to {needed_s} s (provisioning {provisioning_s} s "
        f"per fleet or batch: the endpoint's model download and start-up timeouts, plus the policy's waits), more "
        f"than the {ROLLOUT_LIMIT_S} s allowed: the Terraform AWS provider waits at most {TERRAFORM_ENDPOINT_WAIT_S} s "
        f"for an endpoint update, {PROVISIONING_MARGIN_S} s of which are kept for launching the instances and "
        "pulling the Triton image; shorten the policy's waits or termination_wait_s, use larger steps or batches, "
        "or lower endpoint.model_data_download_timeout_s / container_startup_health_check_timeout_s",
    )


def _steps(
    policy: RolloutPolicy,
    fleet: int,
    provisioning_s: int,
    problems: list[FieldError],
) -> list[Step]:
    t = provisioning_s
    if isinstance(policy, AllAtOncePolicy):
        return [Step(t, "shift all traffic to the new fleet", 100, fleet, fleet, policy.bake_s)]

    if isinstance(policy, CanaryPolicy):
        canary = _whole_instances(policy.canary, fleet, "canary", 0, problems)
        if canary is None:
            return []
        share = round(100 * canary / fleet)
        return [
            Step(t, f"canary: {canary} of {fleet} new instance(s) take traffic", share, fleet, fleet, policy.bake_s),
            Step(t + policy.bake_s, "shift the rest of the traffic", 100, fleet, fleet, policy.bake_s),
        ]

    if isinstance(policy, LinearPolicy):
        step = _whole_instances(policy.step, fleet, "linear step", LINEAR_STEP_MIN_PERCENT, problems)
        if step is None:
            return []
        steps, moved = [], 0
        while moved < fleet:
            moved = min(fleet, moved + step)
            share = round(100 * moved / fleet)
            steps.append(
                Step(t, f"shift to {moved} of {fleet} new instance(s)", share, fleet, fleet, policy.step_wait_s)
            )
            t += policy.step_wait_s
        return steps

    batch = _whole_instances(policy.batch, fleet, "rolling batch", ROLLING_BATCH_MIN_PERCENT, problems)
    if batch is None:
        return []
    steps, replaced = [], 0
    while replaced < fleet:
        size = min(batch, fleet - replaced)
        replaced += size
        share = round(100 * replaced / fleet)
        steps.append(
            Step(t, f"replace a batch of {size}: {replaced} of {fleet} instance(s) new", share, replaced,
                 fleet - replaced + size, policy.batch_wait_s)
        )  # fmt: skip
        t += policy.batch_wait_s + (provisioning_s if replaced < fleet else 0)
    return steps


def _whole_instances(size: Size, fleet: int, what: str, min_percent: int, problems: list[FieldError]) -> int | None:
    """The instances `size` means for this fleet, or None (with the problem recorded) when that is no
    instance at all, less than `min_percent` of the fleet, or more than half of it.

    UpdateEndpoint applies the percentage bounds to the instance count the size stands for, also when it is
    given as INSTANCE_COUNT (TrafficRoutingConfig.LinearStepSize: 10-50%, RollingUpdatePolicy.MaximumBatchSize:
    5-50% of the variant's instance count; CanarySize: at most 50%; SageMaker API Reference)."""
    allowed = f"{min_percent}-50%" if min_percent else "at most 50%"
    instances = size.instances_of(fleet)
    if instances < 1:
        problems.append(FieldError(
            "rollout_policy",
            f"a {size.describe()} {what.rsplit(maxsplit=1)[-1]} of {fleet} instance(s) rounds to zero instances; "
            f"use at least {math.ceil(100 / fleet)}% or instances: 1",
        ))  # fmt: skip
        return None
    if instances * 100 < min_percent * fleet:
        problems.append(FieldError(
            "rollout_policy",
            f"a {what} of {instances} of {fleet} instance(s) is {100 * instances / fleet:.3g}% of the fleet: "
            f"SageMaker allows {allowed} of the instance count; use at least "
            f"{math.ceil(min_percent * fleet / 100)} instance(s)",
        ))  # fmt: skip
        return None
    if instances * 2 > fleet:
        lone = " and one instance out of one is not a canary; use all-at-once or grow the fleet"
        problems.append(FieldError(
            "rollout_policy",
            f"a {what} of {instances} of {fleet} instance(s) is more than half the fleet: SageMaker allows {allowed}"
            + (lone if what == "canary" and fleet == 1 else ""),
        ))  # fmt: skip
        return None
    return instances


# --- what the endpoint's deployment_config is compiled from -------------------------------------------


class SizeSetting(FrozenModel):
    type: Literal["CAPACITY_PERCENT", "INSTANCE_COUNT"]
    value: Annotated[int, Field(ge=1, le=100)]


class BlueGreenSettings(FrozenModel):
    traffic_type: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    wait_interval_s: WaitSeconds
    canary_size: SizeSetting | None = None
    linear_step_size: SizeSetting | None = None
    max_execution_timeout_s: TimeoutSeconds
    termination_wait_s: WaitSeconds = 0


class RollingSettings(FrozenModel):
    maximum_batch_size: SizeSetting
    wait_interval_s: WaitSeconds
    max_execution_timeout_s: TimeoutSeconds
    rollback_maximum_batch_size: SizeSetting | None = None


class CompiledDeployment(FrozenModel):
    """The SageMaker DeploymentConfig for one environment: exactly one update policy, plus the alarms."""

    blue_green: BlueGreenSettings | None = None
    rolling: RollingSettings | None = None
    alarm_names: Annotated[list[str], Field(max_length=10)] = []

    @model_validator(mode="after")
    def _one_policy(self) -> Self:
        if (self.blue_green is None) == (self.rolling is None):
            raise ValueError("exactly one of blue_green or rolling")
        return self


def _size_setting(size: Size) -> SizeSetting:
    kind, value = size.api()
    return SizeSetting(type=kind, value=value)  # type: ignore[arg-type]


def compile_deployment(plan: RolloutPlan, alarm_names: list[str]) -> CompiledDeployment:
    policy, timeout = plan.policy, plan.max_execution_timeout_s
    if isinstance(policy, RollingPolicy):
        return CompiledDeployment(
            rolling=RollingSettings(
                maximum_batch_size=_size_setting(policy.batch),
                wait_interval_s=policy.batch_wait_s,
                max_execution_timeout_s=timeout,
                rollback_maximum_batch_size=_size_setting(policy.rollback_batch) if policy.rollback_batch else None,
            ),
            alarm_names=alarm_names,
        )
    if isinstance(policy, CanaryPolicy):
        routing = {
            "traffic_type": "CANARY",
            "wait_interval_s": policy.bake_s,
            "canary_size": _size_setting(policy.canary),
        }
    elif isinstance(policy, LinearPolicy):
        routing = {"traffic_type": "LINEAR", "wait_interval_s": policy.step_wait_s,
                   "linear_step_size": _size_setting(policy.step)}  # fmt: skip
    else:
        routing = {"traffic_type": "ALL_AT_ONCE", "wait_interval_s": policy.bake_s}
    return CompiledDeployment(
        blue_green=BlueGreenSettings(
            **routing,  # type: ignore[arg-type]
            max_execution_timeout_s=timeout,
            termination_wait_s=policy.termination_wait_s,
        ),
        alarm_names=alarm_names,
    )
