"""Judges of a metric math rollback alarm's metric_query: the guard, the statistic, the periods and the
dimensions of each query, matched by id (the provider keeps metric_query as a set, so the plan lists its
blocks in no meaningful order: aws_cloudwatch_metric_alarm, Terraform AWS provider 5.100.0).

What the queries mean: PutMetricAlarm's Metrics and MetricDataQuery
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html), and the dimensions
SageMaker publishes during a blue/green update ("Auto-Rollback Configuration and Monitoring", SageMaker
Developer Guide: EndpointConfigName names the new fleet's configuration). tritonform/config/alarms.py
declares them.
"""

from __future__ import annotations

import re

from tritonform.review.judgement import Judgement, Observed, unchecked, weakens
from tritonform.review.values import JsonValue, at

NOT_JUDGED = "changed, not judged"
GUARD = re.compile(r"^\s*IF\(\s*(?P<metric>\w+)\s*>=\s*(?P<minimum>[0-9]+(?:\.[0-9]+)?)\s*,(?P<value>.*),\s*0\s*\)\s*$")
"""The minimum-traffic guard of a metric math alarm (tritonform/config/alarms.py): IF(invocations >= min, value, 0)."""
PERCENTILE = re.compile(r"^p(?P<rank>[0-9]{1,2}(?:\.[0-9]+)?)$")


def _not_judged(what: str) -> Judgement:
    return unchecked(f"{NOT_JUDGED}: {what}")


def query_kept(seen: Observed) -> Judgement | None:
    """A metric query (matched by id) that appears or goes changes what the alarm computes."""
    query = seen.keys[-1] if seen.keys else "?"
    if seen.old is not None and seen.new is None:
        return _not_judged(f"metric query {query} is removed")
    if seen.old is None and seen.new is not None:
        return _not_judged(f"metric query {query} is added")
    return None


def expression_kept(seen: Observed) -> Judgement | None:
    """Only the guard's minimum is judged (a higher one ignores more quiet periods); any other rewrite of
    the expression changes what the alarm compares, which cannot be judged mechanically."""
    old, new = str(seen.old or ""), str(seen.new or "")
    old_guard, new_guard = GUARD.match(old), GUARD.match(new)
    if (
        old_guard
        and new_guard
        and (old_guard["metric"], old_guard["value"].strip()) == (new_guard["metric"], new_guard["value"].strip())
    ):
        low, high = float(old_guard["minimum"]), float(new_guard["minimum"])
        if high > low:
            return weakens(f"the minimum-traffic guard rises from {low:g} to {high:g} {old_guard['metric']} a "
                            "period: periods with less traffic can no longer breach")  # fmt: skip
        return None
    if old_guard and not new_guard:
        return _not_judged("the expression is rewritten and its minimum-traffic guard is gone or changed")
    return _not_judged("the expression is rewritten: check what the alarm now compares")


def _returned_expression(values: JsonValue) -> tuple[str | None, str | None]:
    """The id and expression of the query an alarm compares (return_data true)."""
    queries = at(values, ("metric_query",))
    for query in queries if isinstance(queries, list) else []:
        if at(query, ("return_data",)) is True:
            expression = at(query, ("expression",))
            return str(at(query, ("id",))), str(expression) if expression else None
    return None, None


def _measured(query_id: str, values: JsonValue) -> bool:
    """Whether the alarm's value rises with the metric `query_id`: it is the value returned, or it appears in
    the returned expression's value outside the guard's condition and not as a divisor."""
    returned, expression = _returned_expression(values)
    if expression is None:
        return returned == query_id
    guarded = GUARD.match(expression)
    value = guarded["value"] if guarded else expression
    word = re.escape(query_id)
    if re.search(rf"/\s*(?:FILL\(\s*)?{word}\b", value):
        return False
    return re.search(rf"\b{word}\b", value) is not None


def stat_kept(seen: Observed) -> Judgement | None:
    """A lower percentile of what a greater-than alarm measures (a higher one for less-than) fires later:
    p99 -> p50 no longer sees the slowest requests. Other statistic changes are not judged."""
    old, new = str(seen.old or ""), str(seen.new or "")
    old_rank, new_rank = PERCENTILE.match(old), PERCENTILE.match(new)
    query = seen.keys[0] if seen.keys else ""
    if old_rank and new_rank and _measured(query, dict(seen.sides.after)):
        low, high = float(old_rank["rank"]), float(new_rank["rank"])
        rising = "Greater" in str(at(dict(seen.sides.after), ("comparison_operator",)))
        if (high < low) if rising else (high > low):
            return weakens(f"the alarm watches the {new} of {query} instead of the {old}: it fires only when "
                            "more requests are worse")  # fmt: skip
        return None
    return _not_judged(f"the statistic of {query or 'the metric'} changes from {old or 'none'} to {new or 'none'}")


FLEET_DIMENSION = "EndpointConfigName"
ENDPOINT_DIMENSIONS = ("EndpointName", "VariantName")


def dimension_kept(seen: Observed) -> Judgement | None:
    """What an alarm watches is the metric with exactly these dimensions. EndpointConfigName names the fleet
    of one configuration: during a blue/green update the new fleet's is published with it, so the built-in
    alarms name the release's configuration and change with every release; naming the configuration the
    plan's endpoint runs after apply is that normal change. Without it the alarm sees the endpoint's total,
    the old fleet's healthy traffic included; with another configuration it watches a fleet the update does
    not bring. EndpointName or VariantName changed or dropped: another endpoint's metric, or one SageMaker
    does not publish (the alarm never fires)."""
    key = seen.keys[-1] if seen.keys else ""
    old, new = seen.old, seen.new
    if key == FLEET_DIMENSION:
        release = seen.context.release_configuration
        if new is None:
            return weakens("the alarm no longer names the new fleet's configuration: it sees the old fleet's "
                            "traffic again, which dilutes the new fleet's errors and latency")  # fmt: skip
        if release is not None and new == release:
            return None
        return weakens(f"the alarm watches the fleet of configuration {new}, not the one this plan's endpoint runs "
                        f"({release or 'not known'}): it does not see the release's fleet")  # fmt: skip
    if key in ENDPOINT_DIMENSIONS and old is not None:
        return weakens(f"the alarm watches another {key} ({'dropped' if new is None else new}): another endpoint's "
                        "metric or one SageMaker does not publish, so it may never fire")  # fmt: skip
    return _not_judged(f"dimension {key} changes what the alarm watches")
