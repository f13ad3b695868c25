"""Rollback alarms on rates of the new fleet: the config fields and their errors, the metric math the local
SageMaker evaluates (as "Using metric math" in the CloudWatch User Guide describes it), and the detection
numbers `policy explain` prints, recomputed here from the environment files by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, CliRun, Editor, copy_project
from tritonform.config import ProjectLayout
from tritonform.config.alarms import compile_alarms
from tritonform.config.loader import load_deployment
from tritonform.errors import UserError
from tritonform.localsagemaker.metricmath import Point, UnsupportedError, evaluate, parse
from tritonform.localsagemaker.metrics import Invocation, alarm_queries, alarm_value
from tritonform.rehearsal import stage

pytestmark = pytest.mark.config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def problems_of(project: Path, environment: str) -> str:
    with pytest.raises(UserError) as raised:
        load_deployment(ProjectLayout(project), environment)
    return raised.value.render(relative_to=project)


# --- metric math, one period at a time -------------------------------------------------------------------


def value(expression: str, **values: Point) -> Point:
    return evaluate(parse(expression), values)


GUARD = "IF(invocations >= 40, 100 * FILL(errors, 0) / invocations, 0)"


@pytest.mark.parametrize(
    ("invocations", "errors", "expected"),
    [
        (100.0, 6.0, 6.0),  # a rate, in percent
        (100.0, None, 0.0),  # requests but no 5XX datapoint: FILL makes it 0 errors
        (39.0, 39.0, 0.0),  # under the minimum traffic: judged healthy, however many failed
        (40.0, 2.0, 5.0),
        (None, None, None),  # no traffic at all: no data point (the missing-data treatment decides)
    ],
)
def test_the_error_rate_expression_with_its_minimum_traffic_guard(
    invocations: Point, errors: Point, expected: Point
) -> None:
    assert value(GUARD, invocations=invocations, errors=errors) == expected


def test_if_follows_the_user_guides_examples() -> None:
    # "Using IF expressions": metric1 [1, 1, 0, 0, -], metric2 [30, -, 0, 0, 30], metric3 [0, 0, 20, -, 20]
    metric1, metric2, metric3 = [1, 1, 0, 0, None], [30, None, 0, 0, 30], [0, 0, 20, None, 20]
    points = list(zip(metric1, metric2, metric3, strict=True))
    assert [value("IF(m1, m2, m3)", m1=a, m2=b, m3=c) for a, b, c in points] == [30, 0, 20, None, None]
    assert [value("IF(m1, 5, m3)", m1=a, m3=c) for a, _, c in points] == [5, 5, 20, None, None]
    assert [value("IF(m1, m2, 5)", m1=a, m2=b) for a, b, _ in points] == [30, 0, 5, 5, None]
    assert value("IF(m1 < 400, m1)", m1=500.0) is None  # false without a false value: dropped


def test_comparisons_and_logic_treat_one_missing_series_as_zero() -> None:
    # "Comparison and logical operators": metric1 [30, 20, 0, 0], metric2 [20, -, 20, -]
    metric1, metric2 = [30.0, 20.0, 0.0, 0.0], [20.0, None, 20.0, None]
    pairs = list(zip(metric1, metric2, strict=True))
    assert [value("m1 < m2", m1=a, m2=b) for a, b in pairs] == [0, 0, 1, 0]
    assert [value("m1 >= 30", m1=a) for a in metric1] == [1, 0, 0, 0]
    assert [value("m1 > 15 AND m2 > 15", m1=a, m2=b) for a, b in pairs] == [1, 0, 0, 0]
    assert value("m1 > 15 || m2 > 15", m1=1.0, m2=20.0) == 1


def test_arithmetic_drops_a_division_by_zero_and_keeps_precedence() -> None:
    assert value("errors / invocations", errors=1.0, invocations=0.0) is None
    assert value("2 + 3 * 4 ^ 2 - -1", **{}) == 2 + 3 * 16 + 1
    assert value("ABS(m1 - m2) / 1000", m1=1000.0, m2=3000.0) == 2.0


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("AVG(m1)", "AVG(1 argument(s))"),
        ("FILL(m1, REPEAT)", "needs earlier periods"),
        ("SEARCH('{AWS/SageMaker}', 'Sum', 60)", "cannot read"),
        ("m1 +", "cannot read"),
    ],
)
def test_an_unsupported_expression_is_refused_with_its_reason(expression: str, words: str) -> None:
    with pytest.raises(UnsupportedError) as raised:
        parse(expression)
    assert words in str(raised.value)


# --- the compiled alarms as the local SageMaker reads them ------------------------------------------------


def _prod() -> Any:
    return load_deployment(ProjectLayout(REPO_ROOT), "prod")


def test_the_local_sagemaker_evaluates_the_alarms_the_stack_declares() -> None:
    definitions = {d["AlarmName"]: d for d in stage.alarm_definitions(compile_alarms(_prod().environment, "green"))}
    # DescribeAlarms returns what PutMetricAlarm was given; the evaluator reads that shape.
    rate = alarm_queries(definitions["text-embedder-prod-rollback-5xx-rate"])
    latency = alarm_queries(definitions["text-embedder-prod-rollback-latency-p99"])

    assert {metric.dimensions for metric in rate.metrics} == {
        frozenset(
            {("EndpointName", "text-embedder-prod"), ("VariantName", "AllTraffic"), ("EndpointConfigName", "green")}
        )
    }
    assert alarm_value(rate, {"invocations": [1.0] * 60, "errors": [1.0] * 3 + [0.0] * 57}) == 5.0
    assert alarm_value(rate, {"invocations": [1.0] * 20, "errors": [1.0] * 20}) == 0.0
    slow = [10_000.0] * 59 + [250_000.0]  # microseconds: one request of 60 at 250 ms
    assert alarm_value(latency, {"invocations": [1.0] * 60, "latency": slow}) == 250.0  # p99 of 60 is the maximum


def test_an_alarm_with_an_expression_the_stand_in_cannot_evaluate_says_so() -> None:
    alarm = {
        "AlarmName": "a",
        "Metrics": [
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations"},
                                        "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "e1", "Expression": "RATE(m1)", "ReturnData": True},
        ],
    }  # fmt: skip
    with pytest.raises(UnsupportedError, match=r"RATE\(1 argument\(s\)\) in 'RATE\(m1\)' is not supported"):
        alarm_queries(alarm)


def test_sagemaker_publishes_the_fleet_dimension_and_counts_4xx_as_model_errors() -> None:
    invocation = Invocation("us-east-1", "e", "AllTraffic", 400, 1.0, 1.0, config="green")
    values = invocation.values()

    assert (values["Invocation4XXErrors"][0], values["InvocationModelErrors"][0]) == (1.0, 1.0)
    assert values["Invocation5XXErrors"][0] == 0.0  # a bad client request is no server error
    assert [dict(d) for d in invocation.dimension_sets()] == [
        {"EndpointName": "e", "VariantName": "AllTraffic"},
        {"EndpointName": "e", "VariantName": "AllTraffic", "EndpointConfigName": "green"},
    ]


# --- the config fields --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alarms", "field", "words"),
    [
        ({"model_errors": {"threshold": 3}}, "rollback_alarms.model_errors",
         "InvocationModelErrors counts the model's 4XX answers too"),
        ({"invocation_5xx_errors": {"threshold": 3}}, "rollback_alarms.invocation_5xx_errors",
         "write server_error_rate (threshold_percent, min_invocations"),
        ({"server_error_rate": {"threshold_percent": 5, "min_invocations": 20}},
         "rollback_alarms.server_error_rate.min_invocations",
         "breaches on a single 5XX answer; raise min_invocations to at least 40"),
        ({"server_error_rate": {"threshold_percent": 0}}, "rollback_alarms.server_error_rate.threshold_percent",
         "greater than 0"),
        ({"server_error_rate": {"min_invocations": 100}}, "rollback_alarms.server_error_rate.min_invocations",
         "at expected_rps 1 a 60 s period holds 60 requests, fewer than min_invocations (100)"),
    ],
    ids=["model errors retired", "5xx count retired", "one error would fire", "zero threshold", "too little traffic"],
)  # fmt: skip
def test_alarm_settings_are_refused_with_the_file_the_field_and_what_to_write(
    project: Path, edit: Editor, alarms: dict[str, Any], field: str, words: str
) -> None:
    edit(project / "environments/dev.yaml", lambda d: d.update(rollback_alarms=alarms))

    rendered = problems_of(project, "dev")

    assert "environments/dev.yaml:" in rendered
    assert f": {field}: " in rendered, rendered
    assert words in rendered, rendered


def test_expected_rps_is_bounded(project: Path, edit: Editor) -> None:
    edit(project / "environments/dev.yaml", lambda d: d.update(expected_rps=0))

    assert ": expected_rps: " in problems_of(project, "dev")


# --- explain's numbers, recomputed from the environment file ----------------------------------------------


def _by_hand(environment: str) -> dict[str, Any]:
    """What the prod and staging alarms catch on the canary step, from the YAML alone: the canary's instances
    take their share of the expected traffic; a period breaches at ceil(threshold% of its requests) 5XX
    answers; the nearest-rank p99 of n requests is exceeded once n - ceil(0.99 n) + 1 of them are slow."""
    data = yaml.safe_load((REPO_ROOT / "environments" / f"{environment}.yaml").read_text())
    policy = yaml.safe_load((REPO_ROOT / "rollout_policies" / f"{data['rollout_policy']}.yaml").read_text())
    fleet = data["capacity"]["initial_instances"]
    canary = policy["canary"]["instances"]
    rate = data["rollback_alarms"]["server_error_rate"]
    latency = data["rollback_alarms"]["model_latency_p99"]
    requests = math.floor(data["expected_rps"] * canary / fleet * rate.get("period_s", 60))
    errors = math.ceil(rate["threshold_percent"] * requests / 100)
    delay = data["rollback_alarms"].get("metric_delay_s", 60)
    return {
        "requests": requests,
        "errors": errors,
        "smallest": errors / requests,
        "slow": requests - math.ceil(0.99 * requests) + 1,
        "rate_soonest": rate.get("datapoints", 2) * rate.get("period_s", 60) + delay,
        "latency_soonest": latency.get("datapoints", 2) * latency.get("period_s", 60) + delay,
    }


def _clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_explain_says_what_each_alarm_catches_at_the_expected_traffic(
    run_cli: Callable[..., CliRun], environment: str
) -> None:
    hand = _by_hand(environment)

    result = run_cli("--root", str(REPO_ROOT), "policy", "explain", "--env", environment)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    first_step = [line.strip() for line in lines if line.strip().startswith("first step (")]
    rate_line, latency_line = first_step
    assert (
        f"catches a new version failing {hand['smallest']:.1%} of requests or more with 5XX "
        f"({hand['errors']} of {hand['requests']} a period); ALARM {_clock(hand['rate_soonest'])}-"
    ) in rate_line
    assert f"{hand['slow']} of {hand['requests']} requests a period slower than that" in latency_line
    assert f"ALARM {_clock(hand['latency_soonest'])}-" in latency_line
    assert "4XX answers (malformed client requests) by design" in result.out
    assert "EndpointConfigName dimension" in result.out


def test_explain_says_when_the_first_step_is_too_quiet_for_an_alarm(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    # staging's canary takes 1 of 2 instances: at 1 request/s that is 30 requests a minute, under 40
    edit(project / "environments/staging.yaml", lambda d: d.update(expected_rps=1))

    result = run_cli("--root", str(project), "policy", "explain", "--env", "staging")

    assert result.code == 0, result.err
    assert "catches nothing: 30 requests a period on the new fleet, fewer than min_invocations (40)" in result.out
