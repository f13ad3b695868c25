"""Endpoint metrics and alarm evaluation, as CloudWatch does them, on the stand-in's scaled clock.

Every invocation is counted as SageMaker counts it ("Amazon SageMaker metrics in Amazon CloudWatch",
SageMaker Developer Guide, endpoint invocation metrics): Invocations, Invocation4XXErrors,
Invocation5XXErrors and InvocationModelErrors (1 or 0 per request), ModelLatency and OverheadLatency (in
microseconds), in the AWS/SageMaker namespace with the dimensions EndpointName and VariantName. They are
sent to moto with PutMetricData, stamped with model time.

Alarms are evaluated as the CloudWatch User Guide describes ("Using Amazon CloudWatch alarms": Period,
EvaluationPeriods, DatapointsToAlarm, statistic, ComparisonOperator; "Configuring how CloudWatch alarms
treat missing data"), and their states set in moto with SetAlarmState when they change. Choice: the
statistics are computed from the datapoints the stand-in emitted, because moto 5.2.5 computes no
percentiles (it ignores ExtendedStatistics and fails on a p99 GetMetricData); only alarms whose
dimensions are exactly an endpoint variant this stand-in emitted for are evaluated.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tritonform.localsagemaker.backing import Backing

LOG = logging.getLogger("tritonform.localsagemaker")
NAMESPACE = "AWS/SageMaker"
MAX_POINTS = 200_000
TICK_MODEL_S = 5.0
MIN_TICK_REAL_S = 0.02
State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Series = tuple[str, str, str, str]  # region, endpoint, variant, metric


@dataclass(frozen=True)
class Invocation:
    region: str
    endpoint: str
    variant: str
    status: int
    """The model's HTTP status; 0 when the container did not answer."""
    model_us: float
    overhead_us: float

    def values(self) -> dict[str, tuple[float, str]]:
        client_error, server_error = 400 <= self.status < 500, self.status >= 500 or self.status == 0
        return {
            "Invocations": (1.0, "None"), "Invocation4XXErrors": (float(client_error), "None"),
            "Invocation5XXErrors": (float(server_error), "None"),
            "InvocationModelErrors": (float(not 200 <= self.status < 300), "None"),
            "ModelLatency": (self.model_us, "Microseconds"), "OverheadLatency": (self.overhead_us, "Microseconds"),
        }  # fmt: skip


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
        rank = math.ceil(float(name[1:]) / 100 * len(ordered))
        return ordered[max(rank, 1) - 1]
    raise ValueError(f"statistic {name} is not supported by the local SageMaker")


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
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def record(self, invocation: Invocation) -> None:
        at = self.model_now()
        with self.lock:
            for metric, (value, unit) in invocation.values().items():
                series = self.points[(invocation.region, invocation.endpoint, invocation.variant, metric)]
                series.append((at, value))
                del series[:-MAX_POINTS]
                self.outbox[invocation.region].append({
                    "MetricName": metric, "Value": value, "Unit": unit,
                    "Timestamp": datetime.fromtimestamp(at, UTC),
                    "Dimensions": [{"Name": "EndpointName", "Value": invocation.endpoint},
                                   {"Name": "VariantName", "Value": invocation.variant}],
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
            return [value for at, value in self.points.get(series, []) if start <= at < end]

    def _evaluate_alarms(self) -> None:
        with self.lock:
            regions = {region for region, *_ in self.points}
        for region in sorted(regions):
            self._evaluate_region(region)

    def _evaluate_region(self, region: str) -> None:
        cloudwatch = self.backing.client("cloudwatch", region)
        with self.lock:
            known = {(endpoint, variant) for where, endpoint, variant, _ in self.points if where == region}
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        now = self.model_now()
        for alarm in (a for page in pages for a in page.get("MetricAlarms", [])):
            dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
            if alarm.get("Namespace") != NAMESPACE or set(dimensions) != {"EndpointName", "VariantName"}:
                continue
            key = (dimensions["EndpointName"], dimensions["VariantName"])
            if key not in known or alarm.get("ComparisonOperator") not in COMPARISONS:
                continue
            period = float(alarm["Period"])
            last_end = math.floor(now / period) * period  # the most recent complete period
            if self.evaluated.get(alarm["AlarmName"]) == last_end:
                continue
            self.evaluated[alarm["AlarmName"]] = last_end
            self._evaluate_one(cloudwatch, alarm, (region, *key, alarm["MetricName"]), last_end, period)

    def _evaluate_one(self, cloudwatch: Any, alarm: dict[str, Any], series: Series, last_end: float,
                      period: float) -> None:  # fmt: skip
        periods = int(alarm["EvaluationPeriods"])
        name = alarm.get("ExtendedStatistic") or alarm["Statistic"]
        datapoints: list[float | None] = []
        for index in range(periods, 0, -1):
            values = self._period_values(series, last_end - index * period, last_end - (index - 1) * period)
            datapoints.append(statistic(name, values) if values else None)
        current: State = alarm.get("StateValue", "INSUFFICIENT_DATA")
        state = evaluate(datapoints, threshold=float(alarm["Threshold"]), comparison=alarm["ComparisonOperator"],
                         datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or periods),
                         treat_missing=alarm.get("TreatMissingData", "missing"), current=current)  # fmt: skip
        if state != current:
            shown = [round(point, 3) if point is not None else None for point in datapoints]
            # The reason reads like CloudWatch's ("Threshold Crossed: ...").
            reason = (f"Threshold Crossed: datapoints {shown} of the last {periods} period(s) of {period:.0f} s "
                      f"evaluated against {alarm['ComparisonOperator']} {alarm['Threshold']} ({name})")  # fmt: skip
            cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason)
            LOG.info("alarm %s: %s -> %s", alarm["AlarmName"], current, state)
