"""watch, promote and rollback: the gates against a moto server on loopback; the update statuses and the
emergency switch against a faithful fake of SageMaker, because moto has no UpdateEndpoint (HTTP 500) and
puts every endpoint InService at once, so it cannot show an update in progress or a rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import copy_project, create_artifact_buckets
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment
from tritonform.config.names import rollback_alarm_names
from tritonform.errors import UserError
from tritonform.release.attach import attach, current_release
from tritonform.release.history import LiveConfiguration, ReleaseChange, history_file, read_history
from tritonform.release.live import expected_configuration, watch
from tritonform.release.package import package
from tritonform.release.promote import Clients, promote, rollback
from tritonform.release.publish import publish
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e

REGION = "us-east-1"


class FakeSageMaker:
    """DescribeEndpoint / DescribeEndpointConfig / UpdateEndpoint as the SageMaker API reference shapes them:
    an update walks through `script` (status, configuration) one describe call at a time."""

    def __init__(self, endpoint: str, script: list[tuple[str, str]], configurations: set[str] | None = None) -> None:
        self.endpoint, self.script, self.configurations = endpoint, list(script), configurations or set()
        self.updates: list[dict[str, Any]] = []

    @staticmethod
    def _error(operation: str, message: str) -> ClientError:
        return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803  (the API's casing)
        if EndpointName != self.endpoint:
            raise self._error("DescribeEndpoint", f'Could not find endpoint "{EndpointName}".')
        status, configuration = self.script[0] if len(self.script) == 1 else self.script.pop(0)
        answer = {"EndpointName": EndpointName, "EndpointStatus": status, "EndpointConfigName": configuration}
        if status == "Failed":
            answer["FailureReason"] = (
                "The primary container for production variant AllTraffic did not pass the ping health check."
            )
        return answer

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:  # noqa: N803
        if EndpointConfigName not in self.configurations:
            raise self._error(
                "DescribeEndpointConfig", f'Could not find endpoint configuration "{EndpointConfigName}".'
            )
        return {"EndpointConfigName": EndpointConfigName}

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request)
        self.script = [("Updating", self.script[-1][1]), ("InService", request["EndpointConfigName"])]
        return {"EndpointArn": f"arn:aws:sagemaker:{REGION}:111111111111:endpoint/{request['EndpointName']}"}


def quiet(_line: str) -> None:
    pass


@pytest.fixture
def project(tmp_path: Path, aws: MotoServer) -> Iterator[Path]:
    """A project copy whose artifact buckets exist in an otherwise empty moto."""
    create_artifact_buckets(aws, "dev", "staging", "prod")
    yield copy_project(tmp_path / "project")


def publish_version(project: Path, tmp_path: Path, delay: int) -> str:
    config = project / "model_repository" / "vector_normalizer" / "config.pbtxt"
    text = config.read_text()
    config.write_text(text.replace("max_queue_delay_microseconds: 2000", f"max_queue_delay_microseconds: {delay}"))
    manifest = package(project / "model_repository", tmp_path / f"pkg{delay}", default_model="text_embedder")
    publish(tmp_path / f"pkg{delay}", bucket="acme-tritonform-dev-artifacts", region=REGION, quiet=True)
    config.write_text(text)
    return manifest.sha256


def make_live(project: Path, env_name: str) -> list[str]:
    """Create in moto what a deploy of `env_name`'s release creates: endpoint and rollback alarms (OK)."""
    layout = ProjectLayout(project)
    env = load_environment(layout, env_name)
    release = current_release(layout, env_name)
    assert release is not None
    configuration = expected_configuration(env, release)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/tritonform"
    sagemaker.create_model(ModelName=configuration, ExecutionRoleArn=role,
                           PrimaryContainer={"Image": release.triton_image.uri, "ModelDataUrl": release.artifact.s3_uri})  # fmt: skip
    sagemaker.create_endpoint_config(
        EndpointConfigName=configuration,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": configuration,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )  # fmt: skip  (moto knows only older GPU types)
    sagemaker.create_endpoint(EndpointName=env.endpoint.name, EndpointConfigName=configuration)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    names = rollback_alarm_names(env)
    for name in names:
        cloudwatch.put_metric_alarm(AlarmName=name, MetricName="Invocation5XXErrors", Namespace="AWS/SageMaker",
                                    Statistic="Sum", Period=60, EvaluationPeriods=3, Threshold=5,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold")  # fmt: skip
    return names


# --- watch (faithful fake: moto cannot update an endpoint) ------------------------------------------------


def test_watch_follows_an_update_to_in_service(project: Path) -> None:
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    release = current_release(layout, "dev")
    assert release is not None
    new = expected_configuration(env, release)
    fake = FakeSageMaker(env.endpoint.name, [("Updating", "old-config"), ("Updating", "old-config"),
                                             ("InService", new)])  # fmt: skip
    lines: list[str] = []

    result = watch(layout, "dev", sagemaker=fake, poll_s=0, progress=lines.append, sleep=lambda _s: None)

    assert result.ok and result.outcome == "in-service"
    assert any("Updating on old-config" in line for line in lines)
    assert any(f"InService on {new}" in line for line in lines)
    assert not history_file(layout, "dev").exists()


def test_watch_reports_and_records_a_rollback(project: Path) -> None:
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    fake = FakeSageMaker(env.endpoint.name, [("Updating", "old-config"), ("RollingBack", "old-config"),
                                             ("InService", "old-config")])  # fmt: skip
    lines: list[str] = []

    result = watch(layout, "dev", sagemaker=fake, poll_s=0, progress=lines.append, sleep=lambda _s: None)

    assert result.outcome == "rolled-back" and not result.ok
    assert "SageMaker rolled back: the endpoint serves old-config" in result.detail
    assert any("rolling the update back" in line for line in lines)
    (record,) = read_history(history_file(layout, "dev"))
    assert record.action == "rollback-detected"
    assert record.to == LiveConfiguration(live_configuration="old-config")
    assert record.from_ is not None and record.from_.version_id == current_release(layout, "dev").version_id  # type: ignore[union-attr]


def test_watch_reports_a_failed_endpoint(project: Path) -> None:
    layout = ProjectLayout(project)
    fake = FakeSageMaker(load_environment(layout, "dev").endpoint.name, [("Updating", "c"), ("Failed", "c")])

    result = watch(layout, "dev", sagemaker=fake, poll_s=0, progress=quiet, sleep=lambda _s: None)

    assert result.outcome == "failed"
    assert "did not pass the ping health check" in result.detail


def test_watch_gives_up_after_its_timeout(project: Path) -> None:
    layout = ProjectLayout(project)
    fake = FakeSageMaker(load_environment(layout, "dev").endpoint.name, [("Updating", "c")])
    ticks = iter(range(0, 10_000, 30))

    result = watch(layout, "dev", sagemaker=fake, timeout_s=100, poll_s=30, progress=quiet,
                   sleep=lambda _s: None, clock=lambda: float(next(ticks)))  # fmt: skip

    assert result.outcome == "timed-out"
    assert "still Updating after 100 s" in result.detail


def test_watch_of_a_missing_endpoint(project: Path) -> None:
    layout = ProjectLayout(project)

    result = watch(layout, "dev", sagemaker=FakeSageMaker("other", []), progress=quiet, sleep=lambda _s: None)

    assert result.outcome == "missing"


def test_watch_against_moto_sees_the_live_endpoint(project: Path, tmp_path: Path) -> None:
    layout = ProjectLayout(project)
    sha = publish_version(project, tmp_path, 1500)
    attach(layout, "dev", sha, actor="ci", reason="x")
    make_live(project, "dev")

    result = watch(layout, "dev", poll_s=1, timeout_s=30, progress=quiet)

    assert result.ok


# --- promote: every gate on its own (moto) ----------------------------------------------------------------


@pytest.fixture
def dev_live(project: Path, tmp_path: Path) -> tuple[Path, str, list[str]]:
    layout = ProjectLayout(project)
    sha = publish_version(project, tmp_path, 1500)
    attach(layout, "dev", sha, actor="ci", reason="new version")
    alarms = make_live(project, "dev")
    return project, sha, alarms


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


def test_gate_live_fails_when_the_endpoint_runs_another_configuration(
    dev_live: tuple[Path, str, list[str]], tmp_path: Path
) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="not deployed yet")
    before = layout.release_file("staging").read_bytes()

    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)

    assert result is None
    live = next(g for g in gates if g.name == "live")
    assert not live.passed and "runs on" in live.detail
    assert staging_untouched(project, before)


def test_gate_stable_fails_after_a_recorded_rollback(dev_live: tuple[Path, str, list[str]]) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    fake = FakeSageMaker(env.endpoint.name, [("InService", "some-older-config")])
    watch(layout, "dev", sagemaker=fake, progress=quiet, sleep=lambda _s: None)
    before = layout.release_file("staging").read_bytes()

    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0)

    assert result is None
    assert [g.name for g in gates if not g.passed] == ["stable"]
    assert staging_untouched(project, before)


def test_gate_alarms_fails_when_an_alarm_is_not_ok(dev_live: tuple[Path, str, list[str]]) -> None:
    project, _, alarms = dev_live
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName=alarms[0], StateValue="ALARM", StateReason="5xx during the canary"
    )
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

    boto3.client("sagemaker", region_name=REGION).update_model_package(
        ModelPackageArn=registered.model_package_arn, ModelApprovalStatus="Approved"
    )
    gates, result = promote(layout, "staging", "prod", actor="bot", soak_minutes=0)
    assert result is not None, gates
    assert result.release.artifact.sha256 == sha


def test_promote_with_injected_clients_uses_them(dev_live: tuple[Path, str, list[str]]) -> None:
    project, _, _ = dev_live
    layout = ProjectLayout(project)
    fake = FakeSageMaker("nobody", [])

    gates, result = promote(layout, "dev", "staging", actor="bot", soak_minutes=0,
                            clients=Clients(fake, boto3.client("cloudwatch", region_name=REGION)))  # fmt: skip

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


def test_emergency_rollback_switches_the_live_endpoint_back(project: Path, tmp_path: Path) -> None:
    """UpdateEndpoint runs against the faithful fake: moto answers it with HTTP 500."""
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    first = publish_version(project, tmp_path, 1500)
    second = publish_version(project, tmp_path, 1700)
    attach(layout, "dev", first, actor="ci", reason="v1")
    v1 = expected_configuration(env, current_release(layout, "dev"))  # type: ignore[arg-type]
    attach(layout, "dev", second, actor="ci", reason="v2")
    v2 = expected_configuration(env, current_release(layout, "dev"))  # type: ignore[arg-type]
    fake = FakeSageMaker(env.endpoint.name, [("InService", v2)], configurations={v1, v2})

    result, switched = rollback(layout, "dev", actor="oncall", emergency=True, sagemaker=fake)

    assert switched == v1
    assert fake.updates == [
        {"EndpointName": env.endpoint.name, "EndpointConfigName": v1, "RetainDeploymentConfig": True}
    ]
    assert result.release.artifact.sha256 == first
    assert read_history(history_file(layout, "dev"))[-1].action == "emergency-rollback"
    assert watch(layout, "dev", sagemaker=fake, poll_s=0, progress=quiet, sleep=lambda _s: None).ok


def test_emergency_rollback_refuses_a_configuration_that_no_longer_exists(project: Path, tmp_path: Path) -> None:
    layout = ProjectLayout(project)
    env = load_environment(layout, "dev")
    attach(layout, "dev", publish_version(project, tmp_path, 1500), actor="ci", reason="v1")
    attach(layout, "dev", publish_version(project, tmp_path, 1700), actor="ci", reason="v2")
    before = layout.release_file("dev").read_bytes()
    fake = FakeSageMaker(env.endpoint.name, [("InService", "x")], configurations=set())

    with pytest.raises(UserError, match="Could not find endpoint configuration"):
        rollback(layout, "dev", actor="oncall", emergency=True, sagemaker=fake)
    assert fake.updates == [] and layout.release_file("dev").read_bytes() == before


def test_rollback_without_history_says_so(project: Path) -> None:
    with pytest.raises(UserError, match="no earlier release"):
        rollback(ProjectLayout(project), "dev", actor="oncall")
