"""Endpoint metrics and alarm evaluation, as CloudWatch does them, on the stand-in's scaled clock.

Every invocation is counted as SageMaker counts it ("Amazon SageMaker metrics in Amazon CloudWatch",
SageMaker Developer Guide, endpoint invocation metrics): Invocations, Invocation4XXErrors,
Invocation5XXErrors and InvocationModelErrors (1 or 0 per request; InvocationModelErrors counts every answer
that is not 2XX, client errors included), ModelLatency and OverheadLatency (in microseconds), in the
AWS/SageMaker namespace. Each is published with the dimension sets SageMaker uses for an endpoint's
variant: EndpointName and VariantName, and EndpointName, VariantName and EndpointConfigName for the fleet
that served it ("Auto-Rollback Configuration and Monitoring", SageMaker Developer Guide: the metrics with
the dimension EndpointConfigName of the new fleet appear once it takes traffic). They are sent to moto with
PutMetricData, stamped with model time.

Alarms are evaluated as the CloudWatch User Guide describes ("Using Amazon CloudWatch alarms", "Evaluating
an alarm": Period, EvaluationPeriods, DatapointsToAlarm, statistic or percentile, ComparisonOperator;
"Configuring how CloudWatch alarms treat missing data"), single-metric alarms and metric math alarms alike
("Create a CloudWatch alarm based on a metric math expression"; the expressions as metricmath.py
evaluates them), and their states set in moto with SetAlarmState when they change. CloudWatch matches a
metric by its exact dimension set, so an alarm on a dimension set SageMaker does not publish sees no data.
Choice (the docs are silent on moto's gaps): the statistics are computed from the datapoints the stand-in
emitted, because moto 5.2.5 computes no percentiles (it ignores ExtendedStatistics and fails on a p99
GetMetricData). Alarms in AWS/SageMaker on an endpoint this stand-in serves are evaluated; an alarm whose
expression or queries the stand-in cannot evaluate is set to INSUFFICIENT_DATA with the reason and logged,
never skipped in silence; alarms on other namespaces or endpoints are left alone.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tritonform.localsagemaker.backing import Backing
from tritonform.localsagemaker.metricmath import Node, Point, UnsupportedError, parse
from tritonform.localsagemaker.metricmath import evaluate as evaluate_expression

LOG = logging.getLogger("tritonform.localsagemaker")
NAMESPACE = "AWS/SageMaker"
MAX_POINTS = 200_000
TICK_MODEL_S = 5.0
MIN_TICK_REAL_S = 0.02
State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Dimensions = frozenset[tuple[str, str]]
Series = tuple[str, str, Dimensions]  # region, metric, dimensions


@dataclass(frozen=True)
class Invocation:
    region: str
    endpoint: str
    variant: str
    status: int
    """The model's HTTP status; 0 when the container did not answer."""
    model_us: float
    overhead_us: float
    config: str = ""
    """The endpoint configuration of the fleet that served it ("" when not known)."""

    def values(self) -> dict[str, tuple[float, str]]:
        client_error, server_error = 400 <= self.status < 500, self.status >= 500 or self.status == 0
        return {
            "Invocations": (1.0, "None"), "Invocation4XXErrors": (float(client_error), "None"),
            "Invocation5XXErrors": (float(server_error), "None"),
            "InvocationModelErrors": (float(not 200 <= self.status < 300), "None"),
            "ModelLatency": (self.model_us, "Microseconds"), "OverheadLatency": (self.overhead_us, "Microseconds"),
        }  # fmt: skip

    def dimension_sets(self) -> list[Dimensions]:
        variant = {("EndpointName", self.endpoint), ("VariantName", self.variant)}
        sets = [frozenset(variant)]
        if self.config:
            sets.append(frozenset(variant | {("EndpointConfigName", self.config)}))
        return sets


def statistic(name: str, values: list[float]) -> float:
    """A CloudWatch statistic of one period's values: SampleCount, Sum, Average, Minimum, Maximum or pNN
    (nearest rank, "CloudWatch statistics definitions", CloudWatch User Guide)."""
    if name == "SampleCount":
        return float(len(values))
    if name == "Sum":
        return sum(values)
    if name == "Average":
        return sum(values) / len(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(name[1:]) / 100 * len(ordered) - 1e-9)
        return ordered[max(rank, 1) - 1]
    raise UnsupportedError(f"statistic {name} is not supported by the local SageMaker")


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def evaluate(datapoints: list[float | None], *, threshold: float, comparison: str, datapoints_to_alarm: int,
             treat_missing: str, current: State) -> State:  # fmt: skip
    """The state for the N most recent periods' datapoints (None: no data in that period).

    "Configuring how CloudWatch alarms treat missing data": notBreaching counts a missing point as good,
    breaching as bad, ignore keeps the current state when every point is missing, missing goes to
    INSUFFICIENT_DATA when every point is missing. The alarm is in ALARM when at least DatapointsToAlarm
    (M) of the N points breach. Choice (the docs' table is finer): with missing or ignore and some points
    present, fewer than M breaching points mean OK.
    """
    breaches = COMPARISONS[comparison]
    present = [point for point in datapoints if point is not None]
    missing = len(datapoints) - len(present)
    breaching = sum(1 for point in present if breaches(point, threshold))
    if treat_missing == "breaching":
        breaching += missing
    elif not present and treat_missing != "notBreaching":
        return current if treat_missing == "ignore" else "INSUFFICIENT_DATA"
    return "ALARM" if breaching >= datapoints_to_alarm else "OK"


@dataclass(frozen=True)
class MetricQuery:
    """One metric an alarm reads: PutMetricAlarm's single metric, or a MetricDataQuery with a MetricStat."""

    id: str
    metric_name: str
    dimensions: Dimensions
    stat: str
    namespace: str


@dataclass(frozen=True)
class AlarmQueries:
    """What one alarm compares with its threshold, per period."""

    period: float
    metrics: tuple[MetricQuery, ...]
    expressions: tuple[tuple[str, Node], ...]
    """Expression queries in the order they may be computed (each uses metrics or earlier expressions)."""
    returned: str
    description: str


def _dimensions(raw: list[dict[str, str]] | None) -> Dimensions:
    return frozenset((item["Name"], item["Value"]) for item in raw or [])


def alarm_queries(alarm: dict[str, Any]) -> AlarmQueries:
    """The alarm as DescribeAlarms returns it, read into queries; UnsupportedError when it cannot be evaluated."""
    if not alarm.get("Metrics"):
        statistic_name = alarm.get("ExtendedStatistic") or alarm.get("Statistic")
        if not statistic_name or "Period" not in alarm:
            raise UnsupportedError("a single-metric alarm needs a statistic and a period")
        query = MetricQuery("m", alarm["MetricName"], _dimensions(alarm.get("Dimensions")), statistic_name,
                            alarm.get("Namespace", ""))  # fmt: skip
        return AlarmQueries(float(alarm["Period"]), (query,), (), "m", f"{alarm['MetricName']} ({statistic_name})")
    metrics: list[MetricQuery] = []
    expressions: dict[str, Node] = {}
    returned: list[str] = []
    periods: set[float] = set()
    texts: dict[str, str] = {}
    for raw in alarm["Metrics"]:
        if raw.get("ReturnData"):
            returned.append(raw["Id"])
        if "MetricStat" in raw:
            stat = raw["MetricStat"]
            metric = stat["Metric"]
            periods.add(float(stat["Period"]))
            metrics.append(MetricQuery(raw["Id"], metric["MetricName"], _dimensions(metric.get("Dimensions")),
                                       stat["Stat"], metric.get("Namespace", "")))  # fmt: skip
        elif "Expression" in raw:
            expressions[raw["Id"]] = parse(raw["Expression"])
            texts[raw["Id"]] = raw["Expression"]
        else:
            raise UnsupportedError(f"query {raw['Id']!r} has neither a MetricStat nor an Expression")
    if len(returned) != 1:
        raise UnsupportedError(f"{len(returned)} queries return data; an alarm compares exactly one")
    if len(periods) != 1:
        raise UnsupportedError(f"the metrics use the periods {sorted(periods)}; the local SageMaker needs one period")
    ordered: list[tuple[str, Node]] = []
    known = {metric.id for metric in metrics}
    while expressions:
        ready = [query_id for query_id, node in expressions.items() if node.ids() <= known]
        if not ready:
            raise UnsupportedError(
                f"the expressions {sorted(expressions)} use ids no query defines, or each other in a loop"
            )
        for query_id in ready:
            ordered.append((query_id, expressions.pop(query_id)))
            known.add(query_id)
    return AlarmQueries(periods.pop(), tuple(metrics), tuple(ordered), returned[0],
                        texts.get(returned[0], returned[0]))  # fmt: skip


def alarm_value(queries: AlarmQueries, metric_values: dict[str, list[float]]) -> Point:
    """The returned query's value in one period, from each metric query's raw values in that period."""
    values: dict[str, Point] = {}
    for metric in queries.metrics:
        raw = metric_values.get(metric.id, [])
        values[metric.id] = statistic(metric.stat, raw) if raw else None
    for query, node in queries.expressions:
        values[query] = evaluate_expression(node, values)
    return values[queries.returned]


def _time(point: tuple[float, float]) -> float:
    return point[0]


class Metrics:
    """The datapoints the stand-in emitted, their delivery to moto, and the alarm evaluator."""

    def __init__(self, backing: Backing, model_now: Callable[[], float], scale: float) -> None:
        self.backing = backing
        self.model_now = model_now
        self.scale = scale
        self.lock = threading.Lock()
        self.points: dict[Series, list[tuple[float, float]]] = defaultdict(list)
        self.outbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.evaluated: dict[str, float] = {}
        self.reported: dict[str, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def record(self, invocation: Invocation) -> None:
        at = self.model_now()
        with self.lock:
            for dimensions in invocation.dimension_sets():
                for metric, (value, unit) in invocation.values().items():
                    series = self.points[(invocation.region, metric, dimensions)]
                    bisect.insort(series, (at, value), key=_time)  # kept in time order: periods are sliced
                    del series[:-MAX_POINTS]
                    self.outbox[invocation.region].append({
                        "MetricName": metric, "Value": value, "Unit": unit,
                        "Timestamp": datetime.fromtimestamp(at, UTC),
                        "Dimensions": [{"Name": name, "Value": item} for name, item in sorted(dimensions)],
                    })  # fmt: skip

    def _loop(self) -> None:
        tick = max(MIN_TICK_REAL_S, TICK_MODEL_S / self.scale)
        while not self.stop.wait(tick):
            try:
                self._flush()
                self._evaluate_alarms()
            except Exception:  # the evaluator must outlive a moto hiccup
                LOG.exception("metrics and alarm evaluation failed")

    def _flush(self) -> None:
        with self.lock:
            outbox, self.outbox = self.outbox, defaultdict(list)
        for region, data in outbox.items():
            cloudwatch = self.backing.client("cloudwatch", region)
            for start in range(0, len(data), 500):
                cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + 500])

    def _period_values(self, series: Series, start: float, end: float) -> list[float]:
        with self.lock:
            points = self.points.get(series, [])
            first, last = bisect.bisect_left(points, start, key=_time), bisect.bisect_left(points, end, key=_time)
            return [value for _, value in points[first:last]]

    def _evaluate_alarms(self) -> None:
        with self.lock:
            regions = {region for region, *_ in self.points}
        for region in sorted(regions):
            self._evaluate_region(region)

    def _ours(self, region: str, alarm: dict[str, Any]) -> bool:
        """An alarm on AWS/SageMaker metrics of an endpoint this stand-in served."""
        with self.lock:
            endpoints = {value for where, _, dims in self.points if where == region
                         for name, value in dims if name == "EndpointName"}  # fmt: skip
        queries = alarm.get("Metrics") or [{"MetricStat": {"Metric": alarm}}]
        metrics = [query["MetricStat"]["Metric"] for query in queries if "MetricStat" in query]
        return bool(metrics) and all(
            metric.get("Namespace") == NAMESPACE
            and any(d["Name"] == "EndpointName" and d["Value"] in endpoints for d in metric.get("Dimensions", []))
            for metric in metrics
        )

    def _evaluate_region(self, region: str) -> None:
        cloudwatch = self.backing.client("cloudwatch", region)
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        now = self.model_now()
        for alarm in (a for page in pages for a in page.get("MetricAlarms", [])):
            if not self._ours(region, alarm):
                continue
            name = alarm["AlarmName"]
            try:
                if alarm.get("ComparisonOperator") not in COMPARISONS:
                    raise UnsupportedError(f"the comparison {alarm.get('ComparisonOperator')} (anomaly detection bands "
                                      "are not evaluated)")  # fmt: skip
                queries = alarm_queries(alarm)
            except (UnsupportedError, KeyError) as err:
                self._report(cloudwatch, alarm, f"the local SageMaker cannot evaluate this alarm: {err}")
                continue
            last_end = math.floor(now / queries.period) * queries.period  # the most recent complete period
            if self.evaluated.get(name) == last_end:
                continue
            self.evaluated[name] = last_end
            try:
                self._evaluate_one(cloudwatch, alarm, queries, region, last_end)
            except UnsupportedError as err:
                self._report(cloudwatch, alarm, f"the local SageMaker cannot evaluate this alarm: {err}")

    def _report(self, cloudwatch: Any, alarm: dict[str, Any], reason: str) -> None:
        name = alarm["AlarmName"]
        if self.reported.get(name) == reason:
            return
        self.reported[name] = reason
        LOG.warning("alarm %s: %s", name, reason)
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason=reason[:1023])

    def _evaluate_one(self, cloudwatch: Any, alarm: dict[str, Any], queries: AlarmQueries, region: str,
                      last_end: float) -> None:  # fmt: skip
        periods = int(alarm["EvaluationPeriods"])
        period = queries.period
        datapoints: list[float | None] = []
        for index in range(periods, 0, -1):
            start, end = last_end - index * period, last_end - (index - 1) * period
            raw = {metric.id: self._period_values((region, metric.metric_name, metric.dimensions), start, end)
                   for metric in queries.metrics}  # fmt: skip
            datapoints.append(alarm_value(queries, raw))
        current: State = alarm.get("StateValue", "INSUFFICIENT_DATA")
        state = evaluate(datapoints, threshold=float(alarm["Threshold"]), comparison=alarm["ComparisonOperator"],
                         datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or periods),
                         treat_missing=alarm.get("TreatMissingData", "missing"), current=current)  # fmt: skip
        if state != current:
            shown = [round(point, 3) if point is not None else None for point in datapoints]
            # The reason reads like CloudWatch's ("Threshold Crossed: ...").
            reason = (f"Threshold Crossed: datapoints {shown} of the last {periods} period(s) of {period:.0f} s "
                      f"evaluated against {alarm['ComparisonOperator']} {alarm['Threshold']} "
                      f"({queries.description})")  # fmt: skip
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason[:1023])
            LOG.info("alarm %s: %s -> %s", alarm["AlarmName"], current, state)
