"""An environment's rollback alarms as CloudWatch takes them, and what they can detect.

One source: the stack declares these alarms (tritonform/constructs/rollback_alarms.py), the rehearsal creates
them with PutMetricAlarm, the local SageMaker evaluates them, and `policy explain` and the rehearsal's
verdict compute from them what they catch. Their names are in tritonform.config.names.

Which fleet they watch: during a blue/green update SageMaker publishes the endpoint metrics with an
EndpointConfigName dimension for the fleet that served each request ("Auto-Rollback Configuration and
Monitoring", SageMaker Developer Guide: "CloudWatch publishes the metrics with the dimension
EndpointConfigName:{New-Ep-Config} after the new fleet starts receiving traffic"). The built-in alarms name
the release's own configuration there, so they see the new fleet only: a rate is not diluted by the old
fleet's healthy traffic, and the old fleet's trouble does not abort a good update. Extra alarms keep the
dimensions they are given (EndpointName and VariantName: both fleets).

Why rates: a count threshold fires on a few errors at high traffic and never at low traffic; a share of the
new fleet's requests means the same at any traffic. Why the 5XX class: InvocationModelErrors and
Invocation4XXErrors count the model's 4XX answers, which bad client requests cause ("SageMaker endpoint
invocation metrics", SageMaker Developer Guide). Metric math alarms ("Create a CloudWatch alarm based on a
metric math expression", CloudWatch User Guide; PutMetricAlarm's Metrics, CloudWatch API Reference) carry the
minimum-traffic guard: `IF(invocations >= min_invocations, value, 0)`. Choice: a quiet period yields 0 (a
healthy datapoint) rather than no datapoint, so the guard does not depend on the missing-data treatment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from tritonform.config.environment import EnvironmentConfig, ErrorRateAlarm, ExtraAlarm, GuardedAlarm, LatencyAlarm
from tritonform.config.names import BUILT_IN_ALARM_SUFFIXES, alarm_name, named_rollback_alarms
from tritonform.config.rollout import AlarmTiming, CanaryPolicy, RolloutPlan

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
MICROSECONDS_PER_MS = 1000
AlarmKind = Literal["server-error-rate", "latency-p99", "extra"]


@dataclass(frozen=True)
class MetricStat:
    """One metric of an alarm (PutMetricAlarm's MetricDataQuery with a MetricStat)."""

    id: str
    metric_name: str
    stat: str
    dimensions: tuple[tuple[str, str], ...]
    namespace: str = SAGEMAKER_NAMESPACE


@dataclass(frozen=True)
class CompiledAlarm:
    name: str
    kind: AlarmKind
    description: str
    """What a breach means, in words: the alarm's AlarmDescription."""
    period_s: int
    evaluation_periods: int
    datapoints: int
    comparison: str
    threshold: float
    metrics: tuple[MetricStat, ...]
    expression: str | None
    """The metric math expression the alarm compares (its id is EXPRESSION_ID); None: metrics[0] itself."""
    min_invocations: int | None = None
    treat_missing_data: str = "notBreaching"

    @property
    def returned_id(self) -> str:
        return EXPRESSION_ID if self.expression is not None else self.metrics[0].id


EXPRESSION_ID = "judged"


def fleet_dimensions(env: EnvironmentConfig, configuration: str) -> tuple[tuple[str, str], ...]:
    """The dimensions SageMaker publishes the new fleet's metrics with, by name (as Terraform orders a map)."""
    return (
        ("EndpointConfigName", configuration),
        ("EndpointName", env.endpoint.name),
        ("VariantName", env.endpoint.variant_name),
    )


def _guard(window: GuardedAlarm, value: str) -> str:
    return f"IF(invocations >= {window.min_invocations}, {value}, 0)"


def _error_rate(name: str, window: ErrorRateAlarm, dimensions: tuple[tuple[str, str], ...]) -> CompiledAlarm:
    return CompiledAlarm(
        name=name,
        kind="server-error-rate",
        description=(
            f"tritonform rollback alarm: at least {window.threshold_percent:g}% of the new fleet's requests "
            f"answered 5XX in {window.datapoints} of {window.evaluation_periods} periods of {window.period_s} s "
            f"with at least {window.min_invocations} requests (a broken release; 4XX from bad clients are not counted)"
        ),
        period_s=window.period_s,
        evaluation_periods=window.evaluation_periods,
        datapoints=window.datapoints,
        comparison="GreaterThanOrEqualToThreshold",
        threshold=float(window.threshold_percent),
        metrics=(
            MetricStat("invocations", "Invocations", "Sum", dimensions),
            MetricStat("errors", "Invocation5XXErrors", "Sum", dimensions),
        ),
        # FILL: a period with requests but no 5XX datapoint has no errors ("Using metric math", FILL).
        expression=_guard(window, "100 * FILL(errors, 0) / invocations"),
        min_invocations=window.min_invocations,
    )


def _latency(name: str, window: LatencyAlarm, dimensions: tuple[tuple[str, str], ...]) -> CompiledAlarm:
    return CompiledAlarm(
        name=name,
        kind="latency-p99",
        description=(
            f"tritonform rollback alarm: p99 model latency of the new fleet above {window.threshold_ms} ms in "
            f"{window.datapoints} of {window.evaluation_periods} periods of {window.period_s} s with at least "
            f"{window.min_invocations} requests (a slow release)"
        ),
        period_s=window.period_s,
        evaluation_periods=window.evaluation_periods,
        datapoints=window.datapoints,
        comparison="GreaterThanThreshold",
        threshold=float(window.threshold_ms),
        metrics=(
            MetricStat("invocations", "Invocations", "Sum", dimensions),
            MetricStat("latency", "ModelLatency", "p99", dimensions),  # microseconds
        ),
        expression=_guard(window, f"latency / {MICROSECONDS_PER_MS}"),
        min_invocations=window.min_invocations,
    )


def _extra(env: EnvironmentConfig, name: str, window: ExtraAlarm) -> CompiledAlarm:
    dimensions = (
        (("EndpointName", env.endpoint.name), ("VariantName", env.endpoint.variant_name))
        if window.endpoint_dimensions
        else ()
    )
    return CompiledAlarm(
        name=name,
        kind="extra",
        description=(
            f"tritonform rollback alarm: {window.namespace} {window.metric_name} {window.statistic} "
            f"{window.comparison} {window.threshold:g} (both fleets)"
        ),
        period_s=window.period_s,
        evaluation_periods=window.evaluation_periods,
        datapoints=window.datapoints,
        comparison=window.comparison,
        threshold=float(window.threshold),
        metrics=(MetricStat("metric", window.metric_name, window.statistic, dimensions, window.namespace),),
        expression=None,
    )


def compile_alarms(env: EnvironmentConfig, configuration: str) -> list[CompiledAlarm]:
    """Every rollback alarm of `env`, watching the fleet that runs the endpoint configuration `configuration`,
    in the order auto_rollback_configuration lists them."""
    dimensions = fleet_dimensions(env, configuration)
    alarms = env.rollback_alarms
    compiled: list[CompiledAlarm] = []
    if alarms.server_error_rate is not None:
        name = alarm_name(env.endpoint.name, BUILT_IN_ALARM_SUFFIXES["server_error_rate"])
        compiled.append(_error_rate(name, alarms.server_error_rate, dimensions))
    if alarms.model_latency_p99 is not None:
        name = alarm_name(env.endpoint.name, BUILT_IN_ALARM_SUFFIXES["model_latency_p99"])
        compiled.append(_latency(name, alarms.model_latency_p99, dimensions))
    compiled += [_extra(env, alarm_name(env.endpoint.name, extra.name), extra) for extra in alarms.extra]
    return compiled


def alarm_timings(env: EnvironmentConfig) -> list[AlarmTiming]:
    return [
        AlarmTiming(name, window.period_s, window.datapoints, env.rollback_alarms.metric_delay_s)
        for name, window in named_rollback_alarms(env)
    ]


# --- what the alarms can detect ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """What one alarm catches at one traffic level, for a new fleet that serves `share` of it."""

    alarm: CompiledAlarm
    rps: float
    share: float
    requests_per_period: float
    """Requests the new fleet serves in one period."""
    sees_traffic: bool
    """False: fewer requests than min_invocations per period, so no period can breach."""
    smallest_error_rate: float | None
    """server-error-rate: the smallest share of the new fleet's requests failing with 5XX that breaches."""
    slow_requests_needed: int | None
    """latency-p99: how many requests of a period must be slower than the threshold for the p99 to be."""
    earliest_s: int
    latest_s: int


def first_share(plan: RolloutPlan) -> float:
    """The share of traffic a rollout's first step gives the new fleet: a canary's instances of the fleet
    (SageMaker routes by capacity), else the step's percentage."""
    if not plan.steps:
        return 1.0
    if isinstance(plan.policy, CanaryPolicy):
        return plan.policy.canary.instances_of(plan.fleet) / plan.fleet
    return plan.steps[0].new_traffic_percent / 100


def percentile_rank(percentile: float, count: int) -> int:
    """The nearest-rank position (1-based, ascending) of a percentile among `count` values ("Percentiles",
    CloudWatch statistics definitions); the local SageMaker computes percentiles the same way."""
    return max(math.ceil(percentile / 100 * count - 1e-9), 1)


def detect(alarm: CompiledAlarm, rps: float, share: float, metric_delay_s: int) -> Detection:
    """What `alarm` catches when the endpoint serves `rps` requests a second and the new fleet `share` of them."""
    per_period = rps * share * alarm.period_s
    requests = math.floor(per_period + 1e-9)
    sees = alarm.min_invocations is None or requests >= alarm.min_invocations
    smallest: float | None = None
    slow: int | None = None
    if sees and alarm.kind == "server-error-rate" and requests > 0:
        errors = max(math.ceil(alarm.threshold * requests / 100 - 1e-9), 1)
        smallest = errors / requests if errors <= requests else None
    if sees and alarm.kind == "latency-p99" and requests > 0:
        slow = requests - percentile_rank(99, requests) + 1
    timing = AlarmTiming(alarm.name, alarm.period_s, alarm.datapoints, metric_delay_s)
    return Detection(
        alarm=alarm,
        rps=rps,
        share=share,
        requests_per_period=per_period,
        sees_traffic=sees,
        smallest_error_rate=smallest,
        slow_requests_needed=slow,
        earliest_s=timing.earliest_s,
        latest_s=timing.latest_s,
    )
