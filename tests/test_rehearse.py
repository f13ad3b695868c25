"""`tritonform rehearse`, end to end: the example environments' own rollouts against moto and the local
SageMaker with real Triton fleets, on loopback, at a high time scale.

The rate is in model time: at --time-scale 120, --rate 1 sends 120 requests per real second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, stack_document
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.alarms import compile_alarms
from tritonform.config.names import configuration_name
from tritonform.rehearsal import stage
from tritonform.triton import install

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not install.installed(), reason="the local tritonserver is not installed (scripts/bootstrap)"),
]

SCALE = "120"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("rehearse") / "project")


def rehearse(run_cli: Callable[..., CliRun], root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("--root", str(root), "rehearse", "--time-scale", SCALE, "--json", *args)
    assert "Traceback" not in result.err
    return result.code, json.loads(result.out)


def shares(report: dict[str, Any]) -> list[float]:
    return [event["new_share"] for event in report["timeline"]["observed"]]


def _put_metric_alarm(resource: dict[str, Any]) -> dict[str, Any]:
    """An aws_cloudwatch_metric_alarm as the provider sends it to PutMetricAlarm (expandPutMetricAlarmInput and
    expandMetricAlarmMetrics, Terraform AWS provider 5.100.0)."""
    metrics = []
    for query in resource["metric_query"]:
        shaped: dict[str, Any] = {"Id": query["id"], "ReturnData": query.get("return_data", False)}
        if "expression" in query:
            shaped.update(Expression=query["expression"], Label=query["label"])
        else:
            metric = query["metric"]
            dimensions = [{"Name": name, "Value": item} for name, item in metric["dimensions"].items()]
            shaped["MetricStat"] = {
                "Metric": {
                    "Namespace": metric["namespace"],
                    "MetricName": metric["metric_name"],
                    "Dimensions": dimensions,
                },
                "Period": metric["period"],
                "Stat": metric["stat"],
            }
        metrics.append(shaped)
    return {
        "AlarmName": resource["alarm_name"], "AlarmDescription": resource["alarm_description"], "Metrics": metrics,
        "ComparisonOperator": resource["comparison_operator"], "Threshold": float(resource["threshold"]),
        "EvaluationPeriods": resource["evaluation_periods"], "DatapointsToAlarm": resource["datapoints_to_alarm"],
        "TreatMissingData": resource["treat_missing_data"],
    }  # fmt: skip


def _api(value: Any) -> Any:
    """Terraform's snake_case blocks as the API's PascalCase shapes; what is already PascalCase stays."""
    if isinstance(value, list):
        return [_api(item) for item in value]
    if not isinstance(value, dict):
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return {
        ("".join(part.capitalize() for part in key.split("_")) if key.islower() else key): _api(item)
        for key, item in value.items()
    }


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_rehearsal_creates_the_alarms_and_deployment_the_synthesized_stack_declares(
    synthesized_example: Path, environment: str
) -> None:
    (deployment,) = load_deployments(ProjectLayout(REPO_ROOT), [environment])
    env = deployment.environment
    resources = stack_document(synthesized_example, f"tritonform-{environment}")["resource"]
    declared = [_put_metric_alarm(alarm) for alarm in resources["aws_cloudwatch_metric_alarm"].values()]
    # the stack's alarms watch the release's configuration; the rehearsal's watch its candidate's
    staged = stage.alarm_definitions(compile_alarms(env, configuration_name(env, deployment.release)))
    assert sorted(staged, key=lambda a: a["AlarmName"]) == sorted(declared, key=lambda a: a["AlarmName"])
    (endpoint,) = resources["aws_sagemaker_endpoint"].values()
    assert _api(stage.deployment_config(deployment.deployment_config)) == _api(endpoint["deployment_config"])


def test_a_healthy_candidate_with_malformed_client_requests_completes_on_dev(
    run_cli: Callable[..., CliRun], root: Path
) -> None:
    # a fifth of the traffic is refused by the model with 400: InvocationModelErrors counts it, the 5XX rate not
    code, report = rehearse(run_cli, root, "--env", "dev", "--bad-requests", "0.2")
    assert (code, report["outcome"], report["as_promised"]) == (0, "completed", True), report
    assert report["timeline"]["alarms_fired"] == [] and report["failure_reason"] is None
    assert shares(report)[-1] == 1.0
    load = report["load"]
    assert load["malformed"] >= 0.15 * load["sent"] and load["malformed_accepted"] == 0 and load["failed"] == 0
    assert report["rate"] == 1.0  # dev's expected_rps
    assert [row["traffic_percent"] for row in report["timeline"]["predicted"]] == [0, 100, 100]
    assert "as a new version" in report["candidate"]


def test_prods_canary_rolls_a_failing_candidate_back_before_it_takes_all_traffic(
    run_cli: Callable[..., CliRun], root: Path
) -> None:
    code, report = rehearse(run_cli, root, "--env", "prod", "--fault", "error-rate=0.5", "--time-scale", "60")
    assert (code, report["outcome"], report["as_promised"]) == (0, "rolled-back", True), report
    assert max(shares(report)) == pytest.approx(1 / 3, abs=0.01)  # the canary's one instance of three
    assert not report["took_all_traffic"]
    fired = {alarm["alarm"] for alarm in report["timeline"]["alarms_fired"]}
    assert "text-embedder-prod-rollback-5xx-rate" in fired
    back = report["timeline"]["back_on_old_at_s"]
    canary_at = next(e["at_s"] for e in report["timeline"]["observed"] if e["new_share"] > 0)
    (deployment,) = load_deployments(ProjectLayout(root), ["prod"])
    assert canary_at < back <= canary_at + deployment.rollout.steps[0].bake_s  # within the canary's bake
    assert report["load"]["failed"] > 0
    # the verdict's detection numbers, by hand: 3 requests/s, a third of them on the canary, 60 s periods
    (rate,) = [d for d in report["detection"] if d["kind"] == "server-error-rate"]
    assert (rate["requests_per_period"], rate["smallest_error_rate"]) == (pytest.approx(60), pytest.approx(3 / 60))


def test_an_error_rate_on_too_little_traffic_exits_1_and_says_what_would_catch_it(
    run_cli: Callable[..., CliRun], root: Path
) -> None:
    # the canary's third of 1 request/s is 20 requests a minute: under the 40 the 5XX-rate alarm judges
    code, report = rehearse(run_cli, root, "--env", "prod", "--fault", "error-rate=0.05", "--rate", "1")
    assert (code, report["as_promised"]) == (1, False), report
    assert report["took_all_traffic"]
    quiet = "(text-embedder-prod-rollback-5xx-rate) sees 20 requests a period on the first step's 33% of 1 requests/s"
    assert any(quiet in line and "min_invocations (40)" in line for line in report["why"]), report["why"]


def test_prods_latency_alarm_rolls_a_slow_candidate_back(run_cli: Callable[..., CliRun], root: Path) -> None:
    code, report = rehearse(run_cli, root, "--env", "prod", "--fault", "latency-ms=200", "--time-scale", "60")
    assert (code, report["outcome"], report["as_promised"]) == (0, "rolled-back", True), report
    fired = [alarm["alarm"] for alarm in report["timeline"]["alarms_fired"]]
    assert fired == ["text-embedder-prod-rollback-latency-p99"]  # slow, not failing
    assert report["load"]["failed"] == 0 and not report["took_all_traffic"]


def test_a_candidate_that_cannot_load_never_takes_traffic(run_cli: Callable[..., CliRun], root: Path) -> None:
    code, report = rehearse(run_cli, root, "--env", "dev", "--fault", "load-failure", "--rate", "0.5")
    assert (code, report["outcome"], report["as_promised"]) == (0, "failed", True), report
    assert all(share == 0.0 for share in shares(report))
    assert "could not start" in report["failure_reason"] and "rehearsal fault load-failure" in report["failure_reason"]
    assert report["load"]["failed"] == 0  # the old version kept answering


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "dev", "--fault", "error-rate=2"], "0 < F <= 1"),
        (["--env", "dev", "--fault", "slow"], "expected error-rate=F"),
        (["--env", "dev", "--rate", "0"], "--rate must be above 0"),
        (["--env", "dev", "--rate", "fast"], "--rate must be a number"),
        (["--env", "dev", "--time-scale", "-5"], "--time-scale must be above 0"),
        (["--env", "dev", "--rate", "10", "--time-scale", "600"], "lower --rate or --time-scale"),
        (["--env", "dev", "--bad-requests", "1"], "0 <= F < 1"),
        (["--env", "nowhere"], "nowhere"),
        (["--env", "../../escape"], "../../escape"),
        (["--env", "dev", "--version", "no-such-version"], "--version 'no-such-version'"),
        (["--env", "dev", "--version", "environments"], "the default model 'text_embedder' is not in"),
        (["--env", "dev", "--requests", "missing.yaml"], "no such file"),
        (["--fault", "load-failure"], "--env"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    run_cli: Callable[..., CliRun], root: Path, args: list[str], message: str
) -> None:
    result = run_cli("--root", str(root), "rehearse", *args)
    assert result.code == 2, (result.out, result.err)
    assert message in result.out + result.err
    assert "Traceback" not in result.err
