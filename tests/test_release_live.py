"""watch, the promotion gates, rollback and emergency rollback against the local SageMaker
(tritonform/localsagemaker) in front of a moto server, all on loopback: endpoints are created and updated
with the SDK, they deploy on a scaled clock, and an alarm set to ALARM in moto rolls a canary back, as
SageMaker would. A scripted fake stays only for the states the stand-in never enters (SystemUpdating,
UpdateRollbackFailed), each test saying which."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import copy_project, create_artifact_buckets
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment
from tritonform.config.names import rollback_alarm_names
from tritonform.errors import UserError
from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.release.attach import attach, current_release
from tritonform.release.history import LiveConfiguration, ReleaseChange, history_file, read_history
from tritonform.release.live import expected_configuration, watch
from tritonform.release.package import package
from tritonform.release.promote import Clients, promote, rollback
from tritonform.release.publish import publish
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
SCALE = 600.0  # a 600 s bake takes 1 s, starting a fleet (60 s) 0.1 s
ROLE = "arn:aws:iam::123456789012:role/tritonform"


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def project(tmp_path: Path, aws: MotoServer) -> Iterator[Path]:
    """A project copy whose artifact buckets exist in an otherwise empty moto."""
    create_artifact_buckets(aws, "dev", "staging", "prod")
    yield copy_project(tmp_path / "project")


@pytest.fixture
def stand_in(project: Path, aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSageMakerServer]:
    """A local SageMaker of its own for each test (endpoint names repeat), every client of this process at it."""
    with local_sagemaker(aws, time_scale=SCALE, provisioning_s=60, lifetime_s=300) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)  # it forwards what it does not answer to moto
        yield server


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def publish_version(project: Path, tmp_path: Path, delay: int) -> str:
    config = project / "model_repository" / "vector_normalizer" / "config.pbtxt"
    text = config.read_text()
    config.write_text(text.replace("max_queue_delay_microseconds: 2000", f"max_queue_delay_microseconds: {delay}"))
    manifest = package(project / "model_repository", tmp_path / f"pkg{delay}", default_model="text_embedder")
    publish(tmp_path / f"pkg{delay}", bucket="acme-tritonform-dev-artifacts", region=REGION, quiet=True)
    config.write_text(text)
    return manifest.sha256


def wait_for(endpoint: str, status: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = dict(sagemaker().describe_endpoint(EndpointName=endpoint))
        if answer["EndpointStatus"] == status:
            return answer
        assert time.monotonic() < deadline, f"{endpoint} is {answer['EndpointStatus']}, not {status}"
        time.sleep(0.02)


def create_configuration(project: Path, env_name: str) -> str:
    """What a deploy of `env_name`'s release creates before the endpoint: its model and configuration
    (two instances, so that a canary of one is half the traffic)."""
    layout = ProjectLayout(project)
    release = current_release(layout, env_name)
    assert release is not None
    configuration = expected_configuration(load_environment(layout, env_name), release)
    client = sagemaker()
    if client.list_endpoint_configs(NameContains=configuration)["EndpointConfigs"]:
        return configuration  # created by an earlier deploy of the same release
    client.create_model(ModelName=configuration, ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": release.triton_image.uri, "ModelDataUrl": release.artifact.s3_uri})  # fmt: skip
    client.create_endpoint_config(
        EndpointConfigName=configuration,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": configuration,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )  # fmt: skip  (moto knows only older GPU types)
    return configuration


def make_live(project: Path, env_name: str) -> list[str]:
    """Create what a deploy of `env_name`'s release creates: its rollback alarms (OK) and the endpoint, and
    wait until it is InService (at once on moto alone, after its fleet started on the local SageMaker)."""
    env = load_environment(ProjectLayout(project), env_name)
    configuration = create_configuration(project, env_name)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    names = rollback_alarm_names(env)
    for name in names:
        cloudwatch.put_metric_alarm(AlarmName=name, MetricName="Invocation5XXErrors", Namespace="AWS/SageMaker",
                                    Statistic="Sum", Period=60, EvaluationPeriods=3, Threshold=5,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold")  # fmt: skip
    sagemaker().create_endpoint(EndpointName=env.endpoint.name, EndpointConfigName=configuration)
    wait_for(env.endpoint.name, "InService")
    return names


def deploy(project: Path, env_name: str, *, bake_s: int = 600, alarms: list[str] | None = None) -> str:
    """UpdateEndpoint to the environment's current release with a one-instance canary, as a deploy does;
    the rollback alarms named in `alarms`. Returns the configuration it asked for."""
    env = load_environment(ProjectLayout(project), env_name)
    configuration = create_configuration(project, env_name)
    deployment: dict[str, Any] = {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": bake_s,
                                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}},
        "MaximumExecutionTimeoutInSeconds": 3 * bake_s + 600}}  # fmt: skip
    if alarms:
        deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
    sagemaker().update_endpoint(EndpointName=env.endpoint.name, EndpointConfigName=configuration,
                                DeploymentConfig=deployment)  # fmt: skip
    return configuration


def timeline(stand_in: LocalSageMakerServer, endpoint: str) -> list[dict[str, Any]]:
    """The steps of the endpoint's last operation as the local SageMaker ran them (not an AWS API)."""
    with urllib.request.urlopen(f"{stand_in.url}/_localsagemaker/timeline/{endpoint}", timeout=5) as answer:
        return list(json.load(answer)["Timeline"])


def set_alarm(name: str, state: str) -> None:
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(AlarmName=name, StateValue=state,
                                                                   StateReason="test")  # fmt: skip


@pytest.fixture
def dev_live(project: Path, tmp_path: Path, stand_in: LocalSageMakerServer) -> tuple[Path, str, list[str]]:
    """dev's release published, attached and InService on the stand-in, its alarms OK."""
    layout = ProjectLayout(project)
    sha = publish_version(project, tmp_path, 1500)
    attach(layout, "dev", sha, actor="ci", reason="new version")
    alarms = make_live(project, "dev")
    return project, sha, alarms


def release_and_roll_back(project: Path, tmp_path: Path, alarms: list[str]) -> tuple[str, str]:
    """Attach a second version and deploy it with an alarm already in ALARM: SageMaker rolls the canary back.
    Returns (the configuration that keeps serving, the one rolled back)."""
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    serving = sagemaker().describe_endpoint(EndpointName=env.endpoint.name)["EndpointConfigName"]
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    set_alarm(alarms[0], "ALARM")
    return serving, deploy(project, "dev", alarms=alarms)


# --- watch ---------------------------------------------------------------------------------------------


def test_watch_follows_a_canary_to_in_service(dev_live: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    project, _, alarms = dev_live
    layout = ProjectLayout(project)
    old = sagemaker().describe_endpoint(EndpointName="text-embedder-dev")["EndpointConfigName"]
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    new = deploy(project, "dev", alarms=alarms)
    lines: list[str] = []

    result = watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=lines.append)

    assert result.ok and result.outcome == "in-service"
    assert any(f"Updating on {old}" in line for line in lines)  # the update really was in progress
    assert any(f"InService on {new}" in line for line in lines)
    # seen live: recorded once (a second watch of the same state adds nothing), so later releases keep it
    assert watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=lines.append).ok
    assert [r.action for r in read_history(history_file(layout, "dev"))] == ["attach", "attach", "in-service"]


def test_watch_reports_and_records_a_real_rollback(
    dev_live: tuple[Path, str, list[str]], tmp_path: Path, stand_in: LocalSageMakerServer
) -> None:
    project, _, alarms = dev_live
    layout = ProjectLayout(project)
    serving, rolled_back = release_and_roll_back(project, tmp_path, alarms)
    lines: list[str] = []

    result = watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=lines.append)

    assert result.outcome == "rolled-back" and not result.ok
    assert f"SageMaker rolled back: the endpoint serves {serving}, not {rolled_back}" in result.detail
    steps = timeline(stand_in, "text-embedder-dev")  # RollingBack lasts milliseconds here: watch may not see it
    assert max(step["new_share"] for step in steps) == 0.5 and "RollingBack" in {step["status"] for step in steps}
    described = sagemaker().describe_endpoint(EndpointName="text-embedder-dev")
    assert alarms[0] in described["FailureReason"]  # SageMaker says which alarm
    record = read_history(history_file(layout, "dev"))[-1]
    assert record.action == "rollback-detected"
    assert record.to == LiveConfiguration(live_configuration=serving)
    assert record.from_ is not None and record.from_.version_id == current_release(layout, "dev").version_id  # type: ignore[union-attr]


def test_watch_reports_a_failed_endpoint(project: Path, tmp_path: Path, stand_in: LocalSageMakerServer) -> None:
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1500), actor="ci", reason="v1")
    release = current_release(layout, "dev")
    assert release is not None
    boto3.client("s3", region_name=REGION).delete_object(Bucket=release.artifact.bucket, Key=release.artifact.key)
    configuration = create_configuration(project, "dev")
    sagemaker().create_endpoint(EndpointName="text-embedder-dev", EndpointConfigName=configuration)

    result = watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=quiet)

    assert result.outcome == "failed"
    assert f"Failed to download model data from {release.artifact.s3_uri}" in result.detail


def test_watch_gives_up_after_its_timeout(dev_live: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    deploy(project, "dev", bake_s=3600)  # two bakes of an hour: 12 s here

    result = watch(layout, "dev", poll_s=0.05, timeout_s=0.5, progress=quiet)

    assert result.outcome == "timed-out"
    assert "still Updating after 0 s" in result.detail or "still Updating after 1 s" in result.detail


def test_watch_of_a_missing_endpoint(project: Path, tmp_path: Path, stand_in: LocalSageMakerServer) -> None:
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1500), actor="ci", reason="v1")

    result = watch(layout, "dev", progress=quiet)

    assert result.outcome == "missing"


class ScriptedSageMaker:
    """DescribeEndpoint walking through `script` (status, configuration), one call at a time, for states the
    local SageMaker never enters."""

    def __init__(self, endpoint: str, script: list[tuple[str, str]]) -> None:
        self.endpoint, self.script = endpoint, list(script)

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803  (the API's casing)
        status, configuration = self.script[0] if len(self.script) == 1 else self.script.pop(0)
        return {"EndpointName": EndpointName, "EndpointStatus": status, "EndpointConfigName": configuration}


def test_watch_waits_through_system_updating(project: Path, tmp_path: Path, aws: MotoServer) -> None:
    """Scripted: SystemUpdating (SageMaker's own maintenance) is a state the local SageMaker never enters."""
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1500), actor="ci", reason="v1")
    expected = expected_configuration(load_environment(layout, "dev"), current_release(layout, "dev"))  # type: ignore[arg-type]
    scripted = ScriptedSageMaker("text-embedder-dev", [("SystemUpdating", expected), ("InService", expected)])

    result = watch(layout, "dev", sagemaker=scripted, poll_s=0, progress=quiet, sleep=lambda _s: None)

    assert result.ok


def test_watch_reports_a_failed_rollback(project: Path, tmp_path: Path, aws: MotoServer) -> None:
    """Scripted: UpdateRollbackFailed (the rollback itself failed) is a state the local SageMaker never enters."""
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1500), actor="ci", reason="v1")
    scripted = ScriptedSageMaker("text-embedder-dev", [("Updating", "old"), ("UpdateRollbackFailed", "old")])

    result = watch(layout, "dev", sagemaker=scripted, poll_s=0, timeout_s=60, progress=quiet, sleep=lambda _s: None)

    assert result.outcome == "failed" and "UpdateRollbackFailed" in result.detail


# --- promote: every gate on its own ----------------------------------------------------------------------


def staging_untouched(project: Path, before: bytes) -> bool:
    layout = ProjectLayout(project)
    return layout.release_file("staging").read_bytes() == before and not history_file(layout, "staging").exists()


def test_promote_moves_the_same_bytes_when_every_gate_passes(dev_live: tuple[Path, str, list[str]]) -> None:
    project, sha, _ = dev_live
    layout = ProjectLayout(project)

    gates, result = promote(layout, "dev", "staging", actor="release-bot", soak_minutes=0)

    assert [g.name for g in gates] == ["live", "stable", "alarms"] and all(g.passed for g in gates)
    assert result is not None and result.release.artifact.sha256 == sha
    assert result.release.artifact.bucket == "acme-tritonform-staging-artifacts"
    head = boto3.client("s3", region_name=REGION).head_object(
        Bucket="acme-tritonform-staging-artifacts", Key=f"text_embedder/{sha}/model.tar.gz"
    )
    assert head["Metadata"]["sha256"] == sha
    (record,) = read_history(history_file(layout, "staging"))
    assert isinstance(record, ReleaseChange)
    assert record.action == "promote" and record.to.sha256 == sha
    assert "promoted from dev" in record.reason


def test_gate_live_fails_while_the_update_is_in_progress(dev_live: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    before = layout.release_file("staging").read_bytes()

    not_deployed, _ = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)
    deploy(project, "dev", bake_s=3600)
    updating, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)

    assert result is None
    for gates in (not_deployed, updating):
        live = next(g for g in gates if g.name == "live")
        assert not live.passed and "runs on" in live.detail
    assert "is InService on" in next(g for g in not_deployed if g.name == "live").detail
    assert "is Updating on" in next(g for g in updating if g.name == "live").detail
    assert staging_untouched(project, before)


def test_gate_stable_fails_for_a_version_rolled_back_once(
    dev_live: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    project, _, alarms = dev_live
    layout = ProjectLayout(project)
    release_and_roll_back(project, tmp_path, alarms)
    assert watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=quiet).outcome == "rolled-back"
    set_alarm(alarms[0], "OK")
    deploy(project, "dev", alarms=alarms)  # the same version again, now without an alarm: it goes live
    assert watch(layout, "dev", poll_s=0.05, timeout_s=30, progress=quiet).ok
    before = layout.release_file("staging").read_bytes()

    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)

    assert result is None
    (failed,) = [g for g in gates if not g.passed]
    assert failed.name == "stable" and "SageMaker rolled version" in failed.detail
    assert staging_untouched(project, before)


def test_gate_alarms_fails_when_an_alarm_is_not_ok(dev_live: tuple[Path, str, list[str]]) -> None:
    project, _, alarms = dev_live
    set_alarm(alarms[0], "ALARM")
    before = ProjectLayout(project).release_file("staging").read_bytes()

    gates, result = promote(ProjectLayout(project), "dev", "staging", actor="bot", soak_minutes=0)

    assert result is None
    (failed,) = [g for g in gates if not g.passed]
    assert failed.name == "alarms" and f"{alarms[0]} is ALARM" in failed.detail
    assert staging_untouched(project, before)


def test_gate_alarms_fails_before_the_soak_period_is_over(dev_live: tuple[Path, str, list[str]]) -> None:
    project, _, _ = dev_live

    gates, result = promote(ProjectLayout(project), "dev", "staging", actor="bot", soak_minutes=30)

    assert result is None
    (failed,) = [g for g in gates if not g.passed]
    assert failed.name == "alarms" and "less than the 30-minute soak" in failed.detail


def test_gate_approval_is_required_for_prod(dev_live: tuple[Path, str, list[str]], tmp_path: Path) -> None:
    project, sha, _ = dev_live
    layout = ProjectLayout(project)
    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)
    assert result is not None
    make_live(project, "staging")
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"
    registered = publish(tmp_path / "pkg1500", bucket="acme-tritonform-dev-artifacts", region=REGION, register=True,
                         image_uri=image, quiet=True)  # fmt: skip
    before = layout.release_file("prod").read_bytes()

    gates, result = promote(layout, "staging", "prod", actor="bot", soak_minutes=0)

    assert result is None
    (failed,) = [g for g in gates if not g.passed]
    assert failed.name == "approval" and "PendingManualApproval, not Approved" in failed.detail
    assert layout.release_file("prod").read_bytes() == before

    sagemaker().update_model_package(ModelPackageArn=registered.model_package_arn, ModelApprovalStatus="Approved")
    gates, result = promote(layout, "staging", "prod", actor="bot", soak_minutes=0)
    assert result is not None, gates
    assert result.release.artifact.sha256 == sha


def test_promote_with_injected_clients_uses_them(dev_live: tuple[Path, str, list[str]], aws: MotoServer) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    # moto itself, behind the stand-in, has never heard of the stand-in's endpoint
    behind = boto3.client("sagemaker", region_name=REGION, endpoint_url=aws.url)

    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0,
                            clients=Clients(behind, boto3.client("cloudwatch", region_name=REGION)))  # fmt: skip

    assert result is None
    assert "does not exist" in next(g for g in gates if g.name == "live").detail


# --- rollback ------------------------------------------------------------------------------------------


def test_rollback_reattaches_the_previous_release(project: Path, tmp_path: Path) -> None:
    layout = ProjectLayout(project)
    first = publish_version(project, tmp_path, 1500)
    second = publish_version(project, tmp_path, 1700)
    attach(layout, "dev", first, actor="ci", reason="v1")
    attach(layout, "dev", second, actor="ci", reason="v2")

    result, switched = rollback(layout, "dev", actor="oncall", reason="latency regression")

    assert switched is None
    assert result.release.artifact.sha256 == first
    assert [r.action for r in read_history(history_file(layout, "dev"))] == ["attach", "attach", "rollback"]
    assert current_release(layout, "dev").artifact.sha256 == first  # type: ignore[union-attr]


def test_emergency_rollback_switches_the_live_endpoint_back(
    dev_live: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    project, first, _ = dev_live
    layout = ProjectLayout(project)
    v1 = sagemaker().describe_endpoint(EndpointName="text-embedder-dev")["EndpointConfigName"]
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    v2 = deploy(project, "dev")
    assert wait_for("text-embedder-dev", "InService")["EndpointConfigName"] == v2

    result, switched = rollback(layout, "dev", actor="oncall", emergency=True, poll_s=0.02)

    assert switched is not None and (switched.before, switched.configuration) == (v2, v1)
    described = sagemaker().describe_endpoint(EndpointName="text-embedder-dev")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", v1)  # it waited
    assert result.release.artifact.sha256 == first
    assert [r.action for r in read_history(history_file(layout, "dev"))][-2:] == [
        "emergency-switch",
        "emergency-rollback",
    ]
    # not the deploy's canary again: all at once, no bake, no alarms that could roll the switch back
    assert described["LastDeploymentConfig"] == {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, "TerminationWaitInSeconds": 0}}  # fmt: skip
    assert switched.instances == described["ProductionVariants"][0]["CurrentInstanceCount"] == 2


def test_emergency_rollback_refuses_a_configuration_that_no_longer_exists(
    dev_live: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    v1 = sagemaker().describe_endpoint(EndpointName="text-embedder-dev")["EndpointConfigName"]
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    v2 = deploy(project, "dev")
    wait_for("text-embedder-dev", "InService")
    sagemaker().delete_endpoint_config(EndpointConfigName=v1)  # as a deploy of v2 deletes it
    before = layout.release_file("dev").read_bytes()

    with pytest.raises(UserError, match="Could not find endpoint configuration"):
        rollback(layout, "dev", actor="oncall", emergency=True)
    assert layout.release_file("dev").read_bytes() == before
    assert sagemaker().describe_endpoint(EndpointName="text-embedder-dev")["EndpointConfigName"] == v2


def test_rollback_without_history_says_so(project: Path) -> None:
    with pytest.raises(UserError, match="no earlier release"):
        rollback(ProjectLayout(project), "dev", actor="oncall")
