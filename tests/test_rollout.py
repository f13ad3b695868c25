"""Rollout policies and rollback alarms: every limit at its boundary, the checks against the environment,
the prod rules, the compiled deployment_config and the explain timeline."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import (
    REPO_ROOT,
    CliRun,
    Editor,
    copy_project,
    stack_directory,
    stack_document,
    tritonform_subprocess,
)
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.loader import load_deployment, load_policy
from tritonform.config.rollout import AlarmTiming, CanaryPolicy, compile_deployment, plan_rollout
from tritonform.errors import UserError

pytestmark = pytest.mark.synth

# --- policy files: every SageMaker / Terraform limit, just inside and just outside -----------------------

CANARY = {"kind": "canary", "canary": {"percent": 10}, "bake_s": 600}
LINEAR = {"kind": "linear", "step": {"percent": 20}, "step_wait_s": 300}
ALL_AT_ONCE = {"kind": "all-at-once", "bake_s": 300}
ROLLING = {"kind": "rolling", "batch": {"percent": 25}, "batch_wait_s": 300}


def write_policy(directory: Path, data: dict[str, Any], name: str = "p") -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BOUNDARIES = [
    # (id, base policy, change, field named, words of the error; None = valid)
    ("canary 50% ok", CANARY, {"canary": {"percent": 50}}, None, None),
    ("canary 51%", CANARY, {"canary": {"percent": 51}}, "canary.percent", "a canary must be 1-50% of the fleet (SageMaker), got 51%"),
    ("canary 1% ok", CANARY, {"canary": {"percent": 1}}, None, None),
    ("canary 0%", CANARY, {"canary": {"percent": 0}}, "canary.percent", "greater than or equal to 1, got 0"),
    ("canary both sizes", CANARY, {"canary": {"percent": 10, "instances": 1}}, "canary.percent", "exactly one of"),
    ("linear 10% ok", LINEAR, {"step": {"percent": 10}}, None, None),
    ("linear 9%", LINEAR, {"step": {"percent": 9}}, "step.percent", "a linear step must be 10-50% of the fleet (SageMaker), got 9%"),
    ("linear 50% ok", LINEAR, {"step": {"percent": 50}}, None, None),
    ("linear 51%", LINEAR, {"step": {"percent": 51}}, "step.percent", "10-50%"),
    ("rolling 5% ok", ROLLING, {"batch": {"percent": 5}}, None, None),
    ("rolling 4%", ROLLING, {"batch": {"percent": 4}}, "batch.percent", "a rolling batch must be 5-50% of the fleet (SageMaker), got 4%"),
    ("rolling 50% ok", ROLLING, {"batch": {"percent": 50}}, None, None),
    ("rolling 51%", ROLLING, {"batch": {"percent": 51}}, "batch.percent", "5-50%"),
    ("wait 3600 ok", ALL_AT_ONCE, {"bake_s": 3600}, None, None),
    ("wait 3601", ALL_AT_ONCE, {"bake_s": 3601}, "bake_s", "less than or equal to 3600, got 3601"),
    ("wait 0 ok", ALL_AT_ONCE, {"bake_s": 0}, None, None),
    ("wait -1", ALL_AT_ONCE, {"bake_s": -1}, "bake_s", "greater than or equal to 0, got -1"),
    ("termination 3600 ok", ALL_AT_ONCE, {"termination_wait_s": 3600, "bake_s": 0}, None, None),
    ("termination 3601", ALL_AT_ONCE, {"termination_wait_s": 3601}, "termination_wait_s", "less than or equal to 3600"),
    ("timeout 600 ok", ALL_AT_ONCE, {"max_execution_timeout_s": 600}, None, None),
    ("timeout 599", ALL_AT_ONCE, {"max_execution_timeout_s": 599}, "max_execution_timeout_s", "greater than or equal to 600, got 599"),
    ("timeout 14400 ok", ALL_AT_ONCE, {"max_execution_timeout_s": 14400}, None, None),
    ("timeout 14401 (Terraform cap)", ALL_AT_ONCE, {"max_execution_timeout_s": 14401}, "max_execution_timeout_s",
     "less than or equal to 14400, got 14401"),
    ("timeout 1201 above waits ok", CANARY, {"max_execution_timeout_s": 1201}, None, None),
    ("timeout equal to waits", CANARY, {"max_execution_timeout_s": 1200}, "max_execution_timeout_s",
     "must be larger than the sum of the waits and termination_wait_s (1200 s), got 1200"),
    ("unknown kind", ALL_AT_ONCE, {"kind": "big-bang"}, "kind", "must be one of canary, linear, all-at-once, rolling"),
    ("unknown key", CANARY, {"bake_minutes": 10}, "bake_minutes", "unknown key; allowed here: bake_s, canary, kind"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "change", "field", "words"), [c[1:] for c in BOUNDARIES], ids=[c[0] for c in BOUNDARIES]
)
def test_policy_limits_at_their_boundaries(
    tmp_path: Path, base: dict[str, Any], change: dict[str, Any], field: str | None, words: str | None
) -> None:
    path = write_policy(tmp_path, {**base, **change})

    if field is None:
        assert load_policy(path).kind == base["kind"]
        return
    assert words is not None
    with pytest.raises(UserError) as raised:
        load_policy(path)
    rendered = raised.value.render()
    assert f"{path}:" in rendered
    assert f": {field}: " in rendered, rendered
    assert words in rendered, rendered


def test_policy_check_exit_codes(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    good = write_policy(tmp_path, CANARY, "good")
    bad = write_policy(tmp_path, {**LINEAR, "step": {"percent": 60}, "step_wait_s": 4000}, "bad")

    assert run_cli("policy", "check", str(good)).code == 0
    failed = run_cli("policy", "check", str(good), str(bad))
    assert failed.code == 1
    problem_lines = [line for line in failed.out.splitlines() if line.startswith(str(bad))]
    assert len(problem_lines) == 2  # one line per problem
    assert "2 problem(s) in 2 file(s)" in failed.out
    assert run_cli("policy", "check").code == 2
    assert run_cli("policy", "check", str(tmp_path / "missing.yaml")).code == 2


def test_shipped_policies_are_valid(run_cli: Callable[..., CliRun]) -> None:
    files = sorted(str(p) for p in (REPO_ROOT / "rollout_policies").glob("*.yaml"))
    result = run_cli("policy", "check", *files)

    assert result.code == 0, result.out
    kinds = {line.rsplit("(", 1)[-1].rstrip(")") for line in result.out.splitlines()}
    assert kinds == {"canary", "linear", "all-at-once", "rolling"}


# --- against the environment --------------------------------------------------------------------------


def use_policy(project: Path, env: str, policy: dict[str, Any], edit: Editor, **env_changes: Any) -> None:
    write_policy(project / "rollout_policies", policy, "under-test")

    def change(data: dict[str, Any]) -> None:
        data["rollout_policy"] = "under-test"
        for key, value in env_changes.items():
            data[key] = value

    edit(project / "environments" / f"{env}.yaml", change)


def problems_of(project: Path, env: str) -> str:
    with pytest.raises(UserError) as raised:
        load_deployment(ProjectLayout(project), env)
    return raised.value.render()


ONE = {"initial_instances": 1, "min_instances": 1, "max_instances": 2}
THREE = {"initial_instances": 3, "min_instances": 3, "max_instances": 6}


@pytest.mark.parametrize(
    ("policy", "capacity", "words"),
    [
        ({**CANARY, "canary": {"instances": 1}}, ONE, "a canary of 1 of 1 instance(s) is more than half the fleet"),
        ({**CANARY, "canary": {"instances": 1}}, ONE, "one instance out of one is not a canary"),
        (CANARY, THREE, "a 10% canary of 3 instance(s) rounds to zero instances; use at least 34% or instances: 1"),
        ({**LINEAR, "step": {"percent": 50}}, ONE, "a 50% step of 1 instance(s) rounds to zero instances"),
        (ROLLING, {"initial_instances": 2, "min_instances": 2, "max_instances": 2},
         "a 25% batch of 2 instance(s) rounds to zero instances"),
        ({**ROLLING, "batch": {"instances": 2}}, THREE, "a rolling batch of 2 of 3 instance(s) is more than half"),
    ],
    ids=["canary one of one", "not a canary", "canary rounds to zero", "linear rounds to zero",
         "rolling rounds to zero", "rolling batch too big"],
)  # fmt: skip
def test_policy_that_does_not_fit_the_fleet_is_refused(
    project: Path, edit: Editor, policy: dict[str, Any], capacity: dict[str, int], words: str
) -> None:
    use_policy(project, "dev", policy, edit, capacity=capacity)

    rendered = problems_of(project, "dev")

    assert "environments/dev.yaml:" in rendered
    assert "rollout_policy: " in rendered
    assert words in rendered


def test_bake_shorter_than_alarm_detection_is_refused_in_prod(project: Path, edit: Editor) -> None:
    use_policy(project, "prod", {**CANARY, "canary": {"instances": 1}, "bake_s": 239}, edit)

    rendered = problems_of(project, "prod")

    # default 5xx/model-error alarms: (2 + 1) x 60 s + 60 s delay = 240 s; prod's latency alarm: 300 s
    assert "a bake of 239 s is shorter than the 300 s the alarm 'text-embedder-prod-rollback-latency-p99'" in rendered


def test_bake_that_outlasts_detection_is_accepted_in_prod(project: Path, edit: Editor) -> None:
    use_policy(project, "prod", {**CANARY, "canary": {"instances": 1}, "bake_s": 300}, edit)

    deployment = load_deployment(ProjectLayout(project), "prod")

    assert deployment.warnings == ()
    assert deployment.rollout.slowest_alarm is not None
    assert deployment.rollout.slowest_alarm.latest_s == 300


def test_bake_shorter_than_detection_only_warns_outside_prod(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    use_policy(project, "dev", {**ALL_AT_ONCE, "bake_s": 60}, edit)

    result = run_cli("--root", str(project), "check", "--env", "dev")

    assert result.code == 0
    assert "warning: environments/dev.yaml:" in result.err
    assert "a bake of 60 s is shorter than the 240 s" in result.err


def test_prod_refuses_all_at_once(project: Path, edit: Editor) -> None:
    use_policy(project, "prod", {**ALL_AT_ONCE, "bake_s": 900}, edit)

    assert "prod needs a canary, linear or rolling policy, not 'under-test' (all-at-once)" in problems_of(
        project, "prod"
    )


def test_prod_refuses_no_rollback_alarms(project: Path, edit: Editor) -> None:
    no_alarms = {"server_error_rate": None, "model_latency_p99": None}
    edit(project / "environments/prod.yaml", lambda d: d.update(rollback_alarms=no_alarms))

    rendered = problems_of(project, "prod")

    assert "environments/prod.yaml:" in rendered
    assert "rollback_alarms: prod needs at least one rollback alarm" in rendered


def test_no_alarms_outside_prod_is_a_warning(project: Path, edit: Editor) -> None:
    no_alarms = {"server_error_rate": None}
    edit(project / "environments/dev.yaml", lambda d: d.update(rollback_alarms=no_alarms))

    deployment = load_deployment(ProjectLayout(project), "dev")

    assert [w.message for w in deployment.warnings] == [
        "no rollback alarms: SageMaker will not roll back a bad version"
    ]
    assert deployment.deployment_config.alarm_names == []


@pytest.mark.parametrize(
    ("alarms", "field", "words"),
    [
        ({"extra": [{"name": f"x{i}", "namespace": "N", "metric_name": "M", "threshold": 1} for i in range(9)]},
         "rollback_alarms.extra", "10 alarms"),  # 1 built-in + 9 extra = 10 is fine: see the next case
        ({"extra": [{"name": f"x{i}", "namespace": "N", "metric_name": "M", "threshold": 1} for i in range(10)]},
         "rollback_alarms.extra", "11 alarms; SageMaker accepts at most 10"),
        ({"server_error_rate": {"datapoints": 4, "evaluation_periods": 3}},
         "rollback_alarms.server_error_rate.datapoints", "datapoints (4) cannot exceed evaluation_periods (3)"),
        ({"server_error_rate": {"period_s": 90}}, "rollback_alarms.server_error_rate.period_s", "multiple of 60"),
        ({"model_latency_p99": {"datapoints": 2}}, "rollback_alarms.model_latency_p99.threshold_ms",
         "required, but missing"),
    ],
    ids=["ten alarms ok", "eleven alarms", "M above N", "period not whole minutes", "latency without threshold"],
)  # fmt: skip
def test_alarm_limits(project: Path, edit: Editor, alarms: dict[str, Any], field: str, words: str) -> None:
    edit(project / "environments/dev.yaml", lambda d: d.update(rollback_alarms=alarms))

    if words == "10 alarms":
        assert load_deployment(ProjectLayout(project), "dev").environment.rollback_alarms.count == 10
        return
    rendered = problems_of(project, "dev")
    assert f": {field}: " in rendered, rendered
    assert words in rendered


# --- the compiled deployment_config, per kind ------------------------------------------------------------

KIND_CASES = {
    "canary": (CANARY, {"initial_instances": 10, "min_instances": 10, "max_instances": 12}),
    "linear": (LINEAR, {"initial_instances": 5, "min_instances": 5, "max_instances": 8}),
    "all-at-once": (ALL_AT_ONCE, ONE),
    "rolling": (ROLLING, {"initial_instances": 4, "min_instances": 4, "max_instances": 8}),
}
# Download and start-up timeouts that keep a kind's worst case within Terraform's 60-minute wait (dev's own
# 1200 + 600 s would make these fleets' linear and rolling timelines too long to be accepted).
KIND_TIMEOUTS = {"linear": (600, 600), "rolling": (300, 120)}


@pytest.fixture(scope="module")
def stacks_of_each_kind(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One project per policy kind (dev only), synthesized in one go each: {kind: synth output directory}."""
    out: dict[str, Path] = {}
    for kind, (policy, capacity) in KIND_CASES.items():
        project = copy_project(tmp_path_factory.mktemp(kind) / "project")
        (project / "rollout_policies" / "under-test.yaml").write_text(yaml.safe_dump(policy))
        env_file = project / "environments" / "dev.yaml"
        data = yaml.safe_load(env_file.read_text())
        data.update(rollout_policy="under-test", capacity=capacity)
        if kind in KIND_TIMEOUTS:
            download, start_up = KIND_TIMEOUTS[kind]
            data["endpoint"].update(
                model_data_download_timeout_s=download, container_startup_health_check_timeout_s=start_up
            )
        env_file.write_text(yaml.safe_dump(data))
        outdir = project / "out"
        result = tritonform_subprocess("--root", str(project), "synth", "--env", "dev", "--outdir", str(outdir),
                                       cwd=project)  # fmt: skip
        assert result.returncode == 0, result.stderr
        out[kind] = outdir
    return out


def deployment_config_of(outdir: Path) -> dict[str, Any]:
    document = stack_document(outdir, "tritonform-dev")
    (endpoint,) = document["resource"]["aws_sagemaker_endpoint"].values()
    config: dict[str, Any] = endpoint["deployment_config"]
    return config


ROLLBACK = {"alarms": [{"alarm_name": "text-embedder-dev-rollback-5xx-rate"}]}


def test_canary_compiles_to_a_blue_green_canary(stacks_of_each_kind: dict[str, Path]) -> None:
    config = deployment_config_of(stacks_of_each_kind["canary"])

    assert config == {
        "auto_rollback_configuration": ROLLBACK,
        "blue_green_update_policy": {
            "traffic_routing_configuration": {"type": "CANARY", "wait_interval_in_seconds": 600,
                                              "canary_size": {"type": "CAPACITY_PERCENT", "value": 10}},
            # dev: download 1200 s + start-up 600 s, then two bakes of 600 s
            "maximum_execution_timeout_in_seconds": 1200 + 600 + 2 * 600,
            "termination_wait_in_seconds": 0,
        },
    }  # fmt: skip


def test_linear_compiles_to_a_blue_green_linear(stacks_of_each_kind: dict[str, Path]) -> None:
    policy = deployment_config_of(stacks_of_each_kind["linear"])["blue_green_update_policy"]

    assert policy["traffic_routing_configuration"] == {
        "type": "LINEAR", "wait_interval_in_seconds": 300, "linear_step_size": {"type": "CAPACITY_PERCENT", "value": 20}
    }  # fmt: skip
    # 20% of 5 instances = 1 per step: 5 steps of 300 s after 600 + 600 s of provisioning
    assert policy["maximum_execution_timeout_in_seconds"] == 1200 + 5 * 300


def test_all_at_once_compiles_to_blue_green_all_at_once(stacks_of_each_kind: dict[str, Path]) -> None:
    config = deployment_config_of(stacks_of_each_kind["all-at-once"])

    assert config["blue_green_update_policy"]["traffic_routing_configuration"] == {
        "type": "ALL_AT_ONCE", "wait_interval_in_seconds": 300
    }  # fmt: skip
    assert config["auto_rollback_configuration"] == ROLLBACK


def test_rolling_compiles_to_a_rolling_update(stacks_of_each_kind: dict[str, Path]) -> None:
    config = deployment_config_of(stacks_of_each_kind["rolling"])

    assert "blue_green_update_policy" not in config
    assert config["rolling_update_policy"] == {
        "maximum_batch_size": {"type": "CAPACITY_PERCENT", "value": 25},
        "wait_interval_in_seconds": 300,
        # 4 batches of 1: each is provisioned (300 + 120 s) and bakes (300 s)
        "maximum_execution_timeout_in_seconds": 4 * (420 + 300),
    }
    assert config["auto_rollback_configuration"] == ROLLBACK


def test_rollback_alarms_exist_before_the_endpoint(stacks_of_each_kind: dict[str, Path]) -> None:
    document = stack_document(stacks_of_each_kind["canary"], "tritonform-dev")
    (endpoint,) = document["resource"]["aws_sagemaker_endpoint"].values()
    alarms = document["resource"]["aws_cloudwatch_metric_alarm"]

    configurations = document["resource"]["aws_sagemaker_endpoint_configuration"]

    # The alarms exist before the endpoint update that names them; every declared configuration too, so a
    # retired fallback is destroyed only after the endpoint has moved off it (provider issue 48997).
    assert sorted(endpoint["depends_on"]) == sorted(
        [f"aws_cloudwatch_metric_alarm.{key}" for key in alarms]
        + [f"aws_sagemaker_endpoint_configuration.{key}" for key in configurations]
    )
    names = {alarm["alarm_name"] for alarm in alarms.values()}
    assert names == {a["alarm_name"] for a in ROLLBACK["alarms"]}


@pytest.mark.terraform
@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_a_stack_with_each_kind_passes_terraform_validate(
    stacks_of_each_kind: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    directory = tmp_path / "stack"
    shutil.copytree(stack_directory(stacks_of_each_kind[kind], "tritonform-dev"), directory)

    assert terraform.init(directory, REPO_ROOT).ok
    validated = terraform.validate(directory, REPO_ROOT)

    assert validated.ok, validated.diagnostics


def test_latency_alarm_watches_the_new_fleets_p99_in_milliseconds() -> None:
    deployments = {d.environment.name: d for d in load_deployments(ProjectLayout(REPO_ROOT))}
    assert deployments["prod"].environment.rollback_alarms.model_latency_p99 is not None

    from cdktf import App, TerraformStack, Testing  # noqa: PLC0415

    import tritonform.constructs  # noqa: F401, PLC0415
    from tritonform.config.alarms import compile_alarms  # noqa: PLC0415
    from tritonform.constructs import RollbackAlarms, RollbackAlarmsProps  # noqa: PLC0415

    app: App = Testing.app()
    stack = TerraformStack(app, "alarms")
    alarms = compile_alarms(deployments["prod"].environment, "new-config")
    RollbackAlarms(stack, "alarms", RollbackAlarmsProps(alarms=alarms))
    resources = json.loads(Testing.synth(stack))["resource"]["aws_cloudwatch_metric_alarm"]
    by_name = {alarm["alarm_name"]: alarm for alarm in resources.values()}
    latency = by_name["text-embedder-prod-rollback-latency-p99"]
    fleet = {"EndpointName": "text-embedder-prod", "VariantName": "AllTraffic", "EndpointConfigName": "new-config"}

    assert (latency["threshold"], latency["datapoints_to_alarm"], latency["evaluation_periods"]) == (40, 3, 5)
    queries = {query["id"]: query for query in latency["metric_query"]}
    assert queries["latency"]["metric"] == {"metric_name": "ModelLatency", "namespace": "AWS/SageMaker",
                                            "period": 60, "stat": "p99", "dimensions": fleet}  # fmt: skip
    # ModelLatency is in microseconds: the expression divides by 1000 to compare milliseconds
    assert queries["judged"]["expression"] == "IF(invocations >= 40, latency / 1000, 0)"
    assert [q["id"] for q in latency["metric_query"] if q.get("return_data")] == ["judged"]
    rate = by_name["text-embedder-prod-rollback-5xx-rate"]
    assert {q["id"]: q.get("metric", {}).get("metric_name") for q in rate["metric_query"]} == {
        "invocations": "Invocations", "errors": "Invocation5XXErrors", "judged": None}  # fmt: skip
    assert "metric_name" not in rate and "dimensions" not in rate  # they conflict with metric_query


# --- explain -------------------------------------------------------------------------------------------


def test_explain_timeline_for_a_known_policy() -> None:
    """Numbers worked out by hand: 3 instances, canary of 1, bake 600 s, termination wait 300 s,
    provisioning 1800 + 900 s, alarms 2 x 60 s (+60 s delay) and 3 x 60 s (+60 s)."""
    policy = CanaryPolicy(kind="canary", canary={"instances": 1}, bake_s=600, termination_wait_s=300)  # type: ignore[arg-type]
    alarms = [AlarmTiming("errors", 60, 2, 60), AlarmTiming("latency", 60, 3, 60)]
    plan = plan_rollout("c", policy, fleet=3, gpus_per_instance=1, provisioning_s=2700, alarms=alarms, strict=True)

    assert [(s.at_s, s.new_traffic_percent, s.bake_s) for s in plan.steps] == [(2700, 33, 600), (3300, 100, 600)]
    assert plan.total_s == 2700 + 600 + 600 + 300
    assert plan.max_execution_timeout_s == 4200
    assert plan.peak_extra_instances == 3
    assert (alarms[0].earliest_s, alarms[0].latest_s) == (180, 240)
    assert (alarms[1].earliest_s, alarms[1].latest_s) == (240, 300)
    # 4200 s is more than Terraform waits for an endpoint update (3600 s, 600 s of it kept for provisioning)
    assert [p.message.split(" (", 1)[0] for p in plan.problems] == ["the rollout with policy 'c' may take up to 4200 s"]
    assert plan.warnings == []
    compiled = compile_deployment(plan, ["errors", "latency"])
    assert compiled.blue_green is not None and compiled.blue_green.max_execution_timeout_s == 4200


def test_policy_explain_prints_the_timeline(run_cli: Callable[..., CliRun]) -> None:
    result = run_cli("--root", str(REPO_ROOT), "policy", "explain", "--env", "prod")

    assert result.code == 0, result.err
    out = result.out
    # prod: 3 x ml.g5.2xlarge, canary-1-instance (bakes 450 s, 240 s termination wait), provisioning 1200 + 600 s
    assert "+30:00  canary: 1 of 3 new instance(s) take traffic" in out
    assert "detected between +33:00 and +35:00; rollback starts then" in out
    assert "+37:30  shift the rest of the traffic" in out
    assert "+49:00  update complete; old fleet terminated" in out
    assert "peak 6 instances = 6 GPUs, 3 more than steady state" in out


def test_policy_explain_flags_a_bake_that_is_too_short(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    use_policy(project, "dev", {**ALL_AT_ONCE, "bake_s": 120}, edit)

    result = run_cli("--root", str(project), "policy", "explain", "--env", "dev")

    assert result.code == 0
    assert "NOT CAUGHT in time" in result.out
    assert "warning: rollout_policy: a bake of 120 s is shorter than the 240 s" in result.out


def test_policy_explain_of_a_refused_environment_exits_2(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    use_policy(project, "prod", ALL_AT_ONCE, edit)

    result = run_cli("--root", str(project), "policy", "explain", "--env", "prod")

    assert result.code == 2
    assert "prod needs a canary, linear or rolling policy" in result.err


def test_a_timeline_beyond_terraforms_timeout_cap_is_refused(project: Path, edit: Editor) -> None:
    fleet = {"initial_instances": 20, "min_instances": 20, "max_instances": 20}
    use_policy(project, "dev", {**ROLLING, "batch": {"percent": 5}}, edit, capacity=fleet)

    rendered = problems_of(project, "dev")

    # 20 batches of one instance, each provisioned (1800 s) and baked (300 s): 42000 s
    assert "environments/dev.yaml:" in rendered
    assert "with policy 'under-test' may take up to 42000 s" in rendered
    assert "more than the 3000 s allowed" in rendered


@pytest.mark.parametrize(("termination_wait_s", "refused"), [(0, False), (1, True)])
def test_a_timeline_beyond_terraforms_wait_for_the_endpoint_is_refused_at_its_boundary(
    project: Path, edit: Editor, termination_wait_s: int, refused: bool
) -> None:
    """The provider waits 3600 s for an update; 600 s are kept for launching instances and pulling the image.
    dev: provisioning 1200 + 600 s, a bake of 1200 s: 3000 s exactly, then one second more."""
    use_policy(project, "dev", {**ALL_AT_ONCE, "bake_s": 1200, "termination_wait_s": termination_wait_s}, edit)

    if not refused:
        assert load_deployment(ProjectLayout(project), "dev").rollout.total_s == 3000
        return
    rendered = problems_of(project, "dev")
    assert "environments/dev.yaml:" in rendered and ": rollout_policy: " in rendered
    assert "with policy 'under-test' may take up to 3001 s (provisioning 1800 s" in rendered
    assert "more than the 3000 s allowed: the Terraform AWS provider waits at most 3600 s" in rendered


def test_an_explicit_timeout_shorter_than_the_timeline_warns(project: Path, edit: Editor) -> None:
    use_policy(project, "dev", {**ALL_AT_ONCE, "max_execution_timeout_s": 900}, edit)

    deployment = load_deployment(ProjectLayout(project), "dev")

    assert any("shorter than the worst-case update (2100 s)" in w.message for w in deployment.warnings)
    assert deployment.deployment_config.blue_green is not None
    assert deployment.deployment_config.blue_green.max_execution_timeout_s == 900
