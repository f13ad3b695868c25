"""The local SageMaker's CloudWatch arithmetic, as pure functions: statistics, M out of N, missing data,
and the traffic shares a deployment config produces."""

from __future__ import annotations

import pytest

from tritonform.localsagemaker.api import DeploymentConfig
from tritonform.localsagemaker.metrics import State, evaluate, statistic
from tritonform.localsagemaker.plan import traffic_shares

pytestmark = pytest.mark.config

BAD, GOOD = 5.0, 0.0  # breaching and not breaching for "GreaterThanOrEqualToThreshold 1"


@pytest.mark.parametrize(
    ("points", "m", "treat", "current", "expected"),
    [
        ([BAD, BAD, BAD], 3, "missing", "OK", "ALARM"),
        ([BAD, GOOD, BAD], 3, "missing", "OK", "OK"),  # 2 of 3 is not 3 of 3
        ([BAD, GOOD, BAD], 2, "missing", "OK", "ALARM"),  # M out of N
        ([None, None, None], 3, "missing", "OK", "INSUFFICIENT_DATA"),
        ([None, None, None], 3, "ignore", "ALARM", "ALARM"),  # the current state is kept
        ([None, None, None], 3, "notBreaching", "ALARM", "OK"),
        ([None, None, None], 3, "breaching", "OK", "ALARM"),
        ([BAD, None, None], 3, "breaching", "OK", "ALARM"),
        ([BAD, None, None], 3, "notBreaching", "OK", "OK"),
        ([BAD, None, None], 1, "missing", "OK", "ALARM"),
    ],
)
def test_alarm_evaluation_follows_m_out_of_n_and_the_missing_data_treatment(
    points: list[float | None], m: int, treat: str, current: State, expected: State
) -> None:
    state = evaluate(points, threshold=1.0, comparison="GreaterThanOrEqualToThreshold", datapoints_to_alarm=m,
                     treat_missing=treat, current=current)  # fmt: skip
    assert state == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Sum", 5050.0), ("SampleCount", 100.0), ("Average", 50.5), ("Minimum", 1.0), ("Maximum", 100.0),
     ("p99", 99.0), ("p50", 50.0), ("p100", 100.0)],
)  # fmt: skip
def test_statistics_of_one_period(name: str, expected: float) -> None:
    assert statistic(name, [float(v) for v in range(100, 0, -1)]) == expected


def test_comparisons_are_strict_or_not_as_named() -> None:
    for comparison, expected in (("GreaterThanThreshold", "OK"), ("LessThanOrEqualToThreshold", "ALARM")):
        state = evaluate([1.0], threshold=1.0, comparison=comparison, datapoints_to_alarm=1, treat_missing="missing",
                         current="OK")  # fmt: skip
        assert state == expected


def _routing(kind: str, size: dict[str, object] | None = None) -> DeploymentConfig:
    routing: dict[str, object] = {"Type": kind, "WaitIntervalInSeconds": 0}
    if kind == "CANARY":
        routing["CanarySize"] = size
    if kind == "LINEAR":
        routing["LinearStepSize"] = size
    return DeploymentConfig.model_validate({"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}})


@pytest.mark.parametrize(
    ("config", "fleet", "expected"),
    [
        (_routing("ALL_AT_ONCE"), 4, [1.0]),
        (_routing("CANARY", {"Type": "CAPACITY_PERCENT", "Value": 10}), 10, [0.1, 1.0]),
        (_routing("CANARY", {"Type": "INSTANCE_COUNT", "Value": 2}), 8, [0.25, 1.0]),
        (_routing("LINEAR", {"Type": "CAPACITY_PERCENT", "Value": 40}), 5, [0.4, 0.8, 1.0]),  # the last step is smaller
        (_routing("LINEAR", {"Type": "INSTANCE_COUNT", "Value": 1}), 4, [0.25, 0.5, 0.75, 1.0]),
    ],
)
def test_traffic_shares_of_each_blue_green_kind(config: DeploymentConfig, fleet: int, expected: list[float]) -> None:
    assert traffic_shares(config, {"AllTraffic": fleet}) == expected
