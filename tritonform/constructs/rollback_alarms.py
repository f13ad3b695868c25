"""CloudWatch alarms that make SageMaker roll a new model version back by itself.

Which fleet each alarm observes during a blue/green update: SageMaker publishes endpoint metrics per
endpoint and variant, and the new (green) fleet keeps the variant name, so every alarm here sees the
traffic of both fleets together, weighted by the share each serves. That is right for these signals:
- 5xx and model-error alarms count errors (Sum per period): errors from a 10% canary are not diluted by
  the old fleet's healthy traffic, so a broken canary trips the alarm as fast as a broken fleet would.
- the latency alarm watches p99: as soon as more than 1% of requests go to a slow new version, the
  endpoint's p99 is a new-version latency, so a canary of 1% or more is enough to trip it (p50 would not).
- before the first shift and after the last, all traffic is on one fleet, so the alarm sees exactly it.
An alarm on a whole-endpoint average (not used here) would be diluted by the old fleet: avoid those for
rollback. Missing data (no traffic) is treated as not breaching: an idle endpoint is not a failure.
"""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field

from tritonform.config.environment import AlarmWindow, CountAlarm
from tritonform.config.environment import RollbackAlarms as RollbackAlarmsConfig
from tritonform.config.names import BUILT_IN_ALARM_SUFFIXES, alarm_name
from tritonform.constructs._aws import CloudwatchMetricAlarm
from tritonform.constructs._props import Props

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
MICROSECONDS_PER_MS = 1000
# Error counts per period (Sum): the environment's field, SageMaker's metric, what a breach means.
COUNT_ALARMS = (
    ("invocation_5xx_errors", "Invocation5XXErrors", "SageMaker answered with 5xx: the new version fails requests"),
    ("model_errors", "InvocationModelErrors", "Triton answered with an error or not at all"),
)


class RollbackAlarmsProps(Props):
    endpoint_name: Annotated[str, Field(min_length=1, max_length=63)]
    """The endpoint's name (plain text: alarm names must not change between versions)."""

    variant_name: Annotated[str, Field(min_length=1)] = "AllTraffic"
    """Default AllTraffic."""

    alarms: RollbackAlarmsConfig
    """Thresholds and windows from the environment."""


class RollbackAlarms(Construct):
    """Exposes `alarm_names`, in the order SageMaker's auto_rollback_configuration lists them."""

    def __init__(self, scope: Construct, id_: str, props: RollbackAlarmsProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.alarms: list[CloudwatchMetricAlarm] = []
        self._dimensions = {"EndpointName": props.endpoint_name, "VariantName": props.variant_name}
        self._error_count_alarms()
        self._latency_alarm()
        self._extra_alarms()
        self.alarm_names: list[str] = [alarm_name(props.endpoint_name, a.node.id) for a in self.alarms]

    def _error_count_alarms(self) -> None:
        for attribute, metric_name, description in COUNT_ALARMS:
            count: CountAlarm | None = getattr(self.props.alarms, attribute)
            if count is not None:
                self._alarm(
                    BUILT_IN_ALARM_SUFFIXES[attribute],
                    count,
                    metric_name,
                    SAGEMAKER_NAMESPACE,
                    self._dimensions,
                    threshold=count.threshold,
                    statistic="Sum",
                    comparison="GreaterThanOrEqualToThreshold",
                    description=description,
                )

    def _latency_alarm(self) -> None:
        latency = self.props.alarms.model_latency_p99
        if latency is not None:
            self._alarm(
                BUILT_IN_ALARM_SUFFIXES["model_latency_p99"],
                latency,
                "ModelLatency",
                SAGEMAKER_NAMESPACE,
                self._dimensions,
                threshold=latency.threshold_ms * MICROSECONDS_PER_MS,  # ModelLatency is in µs
                statistic="p99",
                comparison="GreaterThanThreshold",
                description=f"p99 model latency above {latency.threshold_ms} ms",
            )

    def _extra_alarms(self) -> None:
        for extra in self.props.alarms.extra:
            self._alarm(
                extra.name,
                extra,
                extra.metric_name,
                extra.namespace,
                self._dimensions if extra.endpoint_dimensions else {},
                threshold=extra.threshold,
                statistic=extra.statistic,
                comparison=extra.comparison,
                description=f"{extra.namespace} {extra.metric_name} {extra.statistic} vs {extra.threshold}",
            )

    def _alarm(
        self,
        suffix: str,
        window: AlarmWindow,
        metric_name: str,
        namespace: str,
        dimensions: dict[str, str],
        *,
        threshold: float,
        statistic: str,
        comparison: str,
        description: str,
    ) -> None:
        percentile = statistic.startswith("p")
        self.alarms.append(
            CloudwatchMetricAlarm(
                self,
                suffix,
                alarm_name=alarm_name(self.props.endpoint_name, suffix),
                alarm_description=f"tritonform rollback alarm: {description}",
                namespace=namespace,
                metric_name=metric_name,
                dimensions=dimensions or None,
                statistic=None if percentile else statistic,
                extended_statistic=statistic if percentile else None,
                comparison_operator=comparison,
                threshold=threshold,
                period=window.period_s,
                evaluation_periods=window.evaluation_periods,
                datapoints_to_alarm=window.datapoints,
                treat_missing_data="notBreaching",
            )
        )
