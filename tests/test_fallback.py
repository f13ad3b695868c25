"""The fallback release (tritonform/release/fallback.py) and how the serving stack declares it: which release
the history makes the fallback, the records that say so (validated like every history record), and the
synthesized stack: both releases' models and configurations under version-keyed ids, the endpoint depending on
every one, the `live_instances` variable, the output naming the fallback, `moved` blocks from the unkeyed
addresses of earlier versions, and byte-identical output. Also what `tritonform deploy` decides before it
changes anything: the live instance count it applies with, and the input it refuses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import CliRun, copy_project
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.names import FALLBACK_OUTPUT, LIVE_INSTANCES_VARIABLE, configuration_name
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError
from tritonform.release.deploy import live_instances
from tritonform.release.fallback import fallback_release
from tritonform.release.history import (
    DeployDurations,
    DeployOutcome,
    DeployRecorded,
    EmergencySwitch,
    HistoryRecord,
    InServiceSeen,
    LiveConfiguration,
    ReleaseChange,
    ReleaseSnapshot,
    append_history,
    history_file,
    read_history,
)
from tritonform.synth import synthesize

pytestmark = pytest.mark.synth

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def release_like(base: ReleaseConfig, label: str) -> ReleaseConfig:
    """Another release of the same model: other bytes, so another version id."""
    sha = hashlib.sha256(label.encode()).hexdigest()
    artifact = base.artifact.model_copy(update={"sha256": sha, "s3_uri": base.artifact.s3_uri.replace(
        base.artifact.sha256, sha)})  # fmt: skip
    return base.model_copy(update={"version_id": sha[:12], "artifact": artifact})


def common(action: str) -> dict[str, Any]:
    return {"at": AT, "action": action, "environment": "dev", "actor": "ci", "commit": None, "reason": "test"}


def deployed(release: ReleaseConfig, outcome: DeployOutcome = "deployed") -> DeployRecorded:
    return DeployRecorded(**common("deploy"), outcome=outcome, release=ReleaseSnapshot.of(release),
                          expected_configuration=f"text-embedder-dev-{release.version_id}-00000000",
                          live_configuration="text-embedder-dev-000000000000-00000000", requested_instances=1,
                          instances=1, durations=DeployDurations(total_s=1.5))  # fmt: skip


def seen(release: ReleaseConfig) -> InServiceSeen:
    return InServiceSeen(**common("in-service"), release=ReleaseSnapshot.of(release),
                         configuration=f"text-embedder-dev-{release.version_id}-00000000")  # fmt: skip


def switched(left: ReleaseConfig, to: ReleaseConfig) -> EmergencySwitch:
    return EmergencySwitch(**common("emergency-switch"),
                           from_=LiveConfiguration(live_configuration=f"text-embedder-dev-{left.version_id}-00000000"),
                           to=ReleaseSnapshot.of(to), configuration=f"text-embedder-dev-{to.version_id}-00000000",
                           instances=3, duration_s=4.25)  # fmt: skip


@pytest.fixture
def dev(tmp_path: Path) -> tuple[ProjectLayout, ReleaseConfig]:
    layout = ProjectLayout(copy_project(tmp_path / "project"))
    return layout, load_deployments(layout, ["dev"])[0].release


def fallback_of(layout: ProjectLayout, records: list[HistoryRecord], current: ReleaseConfig) -> str | None:
    path = history_file(layout, "dev")
    path.unlink(missing_ok=True)
    for record in records:
        append_history(path, record)
    found = fallback_release(layout, "dev", current)
    return found.version_id if found else None


def test_the_fallback_is_the_last_other_release_verified_live(dev: tuple[ProjectLayout, ReleaseConfig]) -> None:
    layout, a = dev
    b, c = release_like(a, "B"), release_like(a, "C")

    assert fallback_of(layout, [], b) is None  # no history: no fallback
    assert fallback_of(layout, [deployed(a)], a) is None  # only the current release was live
    assert fallback_of(layout, [deployed(a)], b) == a.version_id
    assert fallback_of(layout, [seen(a)], b) == a.version_id  # `release watch` seeing it live counts
    # a rolled-back or unverified release never becomes the fallback: C keeps A
    for outcome in ("rolled-back", "failed", "verify-failed"):
        assert fallback_of(layout, [deployed(a), deployed(b, outcome)], c) == a.version_id
    # once B is verified live, C's fallback is B, and A is retired
    assert fallback_of(layout, [deployed(a), deployed(b)], c) == b.version_id
    # an emergency switch away from B, back to A: A is live again, and B (which it left) is no fallback
    assert fallback_of(layout, [deployed(a), deployed(b), switched(b, a)], c) == a.version_id
    assert fallback_of(layout, [deployed(a), deployed(b), switched(b, a)], a) is None


def test_a_live_record_without_a_whole_release_is_an_error_naming_its_line(
    dev: tuple[ProjectLayout, ReleaseConfig],
) -> None:
    layout, a = dev
    record = deployed(a).model_dump(mode="json", by_alias=True)
    del record["release"]["s3_uri"]
    path = history_file(layout, "dev")
    append_history(path, deployed(a))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")

    with pytest.raises(UserError) as raised:
        read_history(path)

    assert f"{path}:2" in raised.value.render() and "release: the snapshot lacks s3_uri" in raised.value.render()


def test_every_live_record_reads_back_as_written(dev: tuple[ProjectLayout, ReleaseConfig]) -> None:
    layout, a = dev
    b = release_like(a, "B")
    written: list[HistoryRecord] = [deployed(a), seen(a), switched(b, a), deployed(b, "verify-failed")]
    for record in written:
        append_history(history_file(layout, "dev"), record)

    assert read_history(history_file(layout, "dev")) == written


def resources(document: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = document["resource"][kind]
    return found


def test_the_stack_declares_the_fallback_beside_the_release(
    dev: tuple[ProjectLayout, ReleaseConfig], tmp_path: Path
) -> None:
    layout, a = dev
    b = release_like(a, "B")
    append_history(history_file(layout, "dev"), deployed(b))  # B was live; the release file pins A
    env = load_deployments(layout, ["dev"])[0].environment

    (stack,) = synthesize(layout, tmp_path / "one", ["dev"])
    (again,) = synthesize(layout, tmp_path / "two", ["dev"])

    assert stack.json_path.read_bytes() == again.json_path.read_bytes()  # pure: the same files, the same stack
    document = json.loads(stack.json_path.read_text())
    configurations = resources(document, "aws_sagemaker_endpoint_configuration")
    models = resources(document, "aws_sagemaker_model")
    by_version = {body["tags"]["tritonform:version-id"]: logical for logical, body in configurations.items()}
    assert set(by_version) == {a.version_id, b.version_id}
    assert all(logical.startswith(f"triton_configuration-{v}_") for v, logical in by_version.items())
    assert sorted(body["name"] for body in configurations.values()) == sorted(
        configuration_name(env, release) for release in (a, b)
    )
    assert {body["name"] for body in models.values()} == {body["name"] for body in configurations.values()}
    for body in configurations.values():
        (variant,) = body["production_variants"]
        assert variant["initial_instance_count"] == f"${{var.{LIVE_INSTANCES_VARIABLE}}}"
        assert body["lifecycle"] == {"create_before_destroy": True,
                                     "ignore_changes": ["production_variants[0].initial_instance_count"]}  # fmt: skip
    (endpoint,) = resources(document, "aws_sagemaker_endpoint").values()
    assert (
        endpoint["endpoint_config_name"] == f"${{aws_sagemaker_endpoint_configuration.{by_version[a.version_id]}.name}}"
    )
    assert {f"aws_sagemaker_endpoint_configuration.{logical}" for logical in configurations} <= set(
        endpoint["depends_on"]
    )
    assert document["output"][FALLBACK_OUTPUT]["value"] == configuration_name(env, b)
    variable = document["variable"][LIVE_INSTANCES_VARIABLE]
    assert variable["default"] == env.capacity.initial_instances and variable["type"] == "number"
    assert f"<= {env.capacity.max_instances}" in variable["validation"][0]["condition"]
    # an upgraded state moves the unkeyed resources (what the last apply made: the release seen live) to B's
    assert {(move["from"], move["to"]) for move in document["moved"]} == {
        ("aws_sagemaker_model.triton_model_0669F6CD", f"aws_sagemaker_model.{_keyed(models, b.version_id)}"),
        ("aws_sagemaker_endpoint_configuration.triton_configuration_D72F469A",
         f"aws_sagemaker_endpoint_configuration.{by_version[b.version_id]}"),
    }  # fmt: skip


def _keyed(models: dict[str, Any], version: str) -> str:
    return next(logical for logical, body in models.items() if body["tags"]["tritonform:version-id"] == version)


def test_without_a_verified_release_there_is_no_fallback(
    dev: tuple[ProjectLayout, ReleaseConfig], tmp_path: Path
) -> None:
    layout, a = dev
    append_history(history_file(layout, "dev"), ReleaseChange(**common("attach"), from_=None,
                                                               to=ReleaseSnapshot.of(a)))  # fmt: skip

    (stack,) = synthesize(layout, tmp_path / "out", ["dev"])

    document = json.loads(stack.json_path.read_text())
    assert len(resources(document, "aws_sagemaker_endpoint_configuration")) == 1
    assert document["output"][FALLBACK_OUTPUT]["value"] is None
    assert "null: none, no other release" in document["output"][FALLBACK_OUTPUT]["description"]


def test_deploy_refuses_bad_input_before_anything_changes(
    dev: tuple[ProjectLayout, ReleaseConfig], run_cli: Callable[..., CliRun]
) -> None:
    layout, _ = dev
    root = str(layout.root)

    alone = run_cli("--root", root, "deploy", "--env", "dev", "--sagemaker", "http://127.0.0.1:9")
    remote = run_cli("--root", root, "deploy", "--env", "dev", "--stand-in", "http://example.com:80")
    (layout.root / "model_repository" / "text_embedder" / "smoke.yaml").unlink()
    unverifiable = run_cli("--root", root, "deploy", "--env", "dev", "--stand-in", "http://127.0.0.1:9")

    assert (alone.code, remote.code, unverifiable.code) == (2, 2, 2)
    assert "give --stand-in too" in alone.err and "loopback only" in remote.err
    assert "smoke.yaml" in unverifiable.err and "text_embedder declares none" in unverifiable.err
    assert not history_file(layout, "dev").exists()  # nothing recorded: nothing was tried


class DescribedEndpoint:
    """DescribeEndpoint answering one variant with `desired` instances (None: no endpoint), for live_instances."""

    def __init__(self, desired: int | None) -> None:
        self.desired = desired

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803  (the API's casing)
        if self.desired is None:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Could not find endpoint"}},
                              "DescribeEndpoint")  # fmt: skip
        variant = {"VariantName": "AllTraffic", "CurrentInstanceCount": 1, "DesiredInstanceCount": self.desired}
        return {"EndpointStatus": "InService", "EndpointConfigName": "c", "ProductionVariants": [variant]}


@pytest.mark.parametrize(
    ("desired", "expected", "said"),
    [
        (None, 1, "no endpoint yet: capacity.initial_instances"),
        (2, 2, "text-embedder-dev runs 2 instance(s)"),
        (7, 2, "text-embedder-dev runs 7 instance(s), kept within capacity 1-2"),
    ],
)
def test_the_live_instance_count_is_what_autoscaling_asked_for_within_capacity(
    dev: tuple[ProjectLayout, ReleaseConfig], desired: int | None, expected: int, said: str
) -> None:
    env = load_deployments(dev[0], ["dev"])[0].environment

    assert live_instances(env, DescribedEndpoint(desired)) == (expected, said)
