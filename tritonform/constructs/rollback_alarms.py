"""CloudWatch alarms that make SageMaker roll a new model version back by itself.

What each alarm watches, and why, is decided once in tritonform/config/alarms.py (the compiled alarms the
rehearsal and `policy explain` use too); this construct only declares them. AutoRollbackConfiguration takes
any CloudWatch alarm of the account by name, metric math alarms included (AutoRollbackConfig and Alarm,
SageMaker API Reference). A metric math alarm is declared with `metric_query` blocks: one per metric (a
`metric` block with its period and stat) and one `expression` with `return_data`; the top-level metric_name,
namespace, period, statistic and dimensions conflict with it (aws_cloudwatch_metric_alarm, Terraform AWS
provider 5.100.0, internal/service/cloudwatch/metric_alarm.go).
"""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field

from tritonform.config.alarms import CompiledAlarm
from tritonform.constructs._aws import (
    CloudwatchMetricAlarm,
    CloudwatchMetricAlarmMetricQuery,
    CloudwatchMetricAlarmMetricQueryMetric,
)
from tritonform.constructs._props import Props


class RollbackAlarmsProps(Props):
    alarms: Annotated[list[CompiledAlarm], Field(max_length=10)]
    """The environment's compiled rollback alarms (tritonform.config.alarms.compile_alarms), in the order
    SageMaker's auto_rollback_configuration lists them (1-10; none is allowed outside prod)."""


def metric_queries(alarm: CompiledAlarm) -> list[CloudwatchMetricAlarmMetricQuery]:
    queries = [
        CloudwatchMetricAlarmMetricQuery(
            id=metric.id,
            metric=CloudwatchMetricAlarmMetricQueryMetric(
                metric_name=metric.metric_name,
                namespace=metric.namespace,
                period=alarm.period_s,
                stat=metric.stat,
                dimensions=dict(metric.dimensions) or None,
            ),
            return_data=metric.id == alarm.returned_id,
        )
        for metric in alarm.metrics
    ]
    if alarm.expression is not None:
        queries.append(
            CloudwatchMetricAlarmMetricQuery(
                id=alarm.returned_id, expression=alarm.expression, label=alarm.kind, return_data=True
            )
        )
    return queries


class RollbackAlarms(Construct):
    """Exposes `alarm_names`, in the order SageMaker's auto_rollback_configuration lists them."""

    def __init__(self, scope: Construct, id_: str, props: RollbackAlarmsProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.alarms: list[CloudwatchMetricAlarm] = [
            CloudwatchMetricAlarm(
                self,
                alarm.name.rsplit("-rollback-", 1)[1],
                alarm_name=alarm.name,
                alarm_description=alarm.description,
                metric_query=metric_queries(alarm),
                comparison_operator=alarm.comparison,
                threshold=alarm.threshold,
                evaluation_periods=alarm.evaluation_periods,
                datapoints_to_alarm=alarm.datapoints,
                treat_missing_data=alarm.treat_missing_data,
            )
            for alarm in props.alarms
        ]
        self.alarm_names: list[str] = [alarm.name for alarm in props.alarms]
