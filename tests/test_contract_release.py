"""The inference contract through the release workflow against a moto server: recorded by package, published
beside the artifact, carried by the release file, a breaking change refused at attach and promote unless
acknowledged (and then recorded in the history), read back for `contract diff env:NAME`, and shown in the plan
review, where a breaking change needs attention."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.conftest import CliRun, copy_project, create_artifact_buckets
from tests.review_plans import base_document, with_change
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment
from tritonform.config.names import rollback_alarm_names
from tritonform.errors import UserError
from tritonform.release.attach import attach, current_release
from tritonform.release.contracts import contract_key
from tritonform.release.history import ReleaseChange, history_file, read_history
from tritonform.release.live import expected_configuration
from tritonform.release.package import MANIFEST, Manifest, package
from tritonform.release.promote import Clients, promote
from tritonform.release.publish import publish
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e
REASON = "the search team reads VECTOR since MLP-12"


def rename_output(repository: Path) -> None:
    """Version B: the ensemble's EMBEDDING output is renamed VECTOR, a change every client of it notices."""
    config = repository / "text_embedder" / "config.pbtxt"
    config.write_text(config.read_text().replace('name: "EMBEDDING"', 'name: "VECTOR"')
                      .replace('value: "EMBEDDING"', 'value: "VECTOR"'))  # fmt: skip
    smoke = repository / "text_embedder" / "smoke.yaml"
    smoke.write_text(smoke.read_text().replace("EMBEDDING", "VECTOR"))


def publish_repository(repository: Path, out: Path, bucket: str) -> Manifest:
    manifest = package(repository, out, default_model="text_embedder", triton_version="24.09")
    publish(out, bucket=bucket, region="us-east-1", quiet=True)
    return manifest


class _Alarms:
    """CloudWatch as the promotion gates read it: every rollback alarm OK for an hour."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:  # noqa: N803  (boto3's name)
        since = datetime.now(UTC) - timedelta(hours=1)
        return {"MetricAlarms": [{"AlarmName": n, "StateValue": "OK", "StateUpdatedTimestamp": since}
                                 for n in AlarmNames]}  # fmt: skip


class _Endpoint:
    def __init__(self, status: str, configuration: str) -> None:
        self.answer = {"EndpointStatus": status, "EndpointConfigName": configuration, "ProductionVariants": []}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        return self.answer


def test_a_breaking_change_is_refused_at_attach_and_promote_unless_acknowledged(
    tmp_path: Path, aws: MotoServer, run_cli: Callable[..., CliRun]
) -> None:
    buckets = create_artifact_buckets(aws, "dev", "staging")
    project = copy_project(tmp_path / "project")
    layout = ProjectLayout(project)
    version_a = publish_repository(project / "model_repository", tmp_path / "a", buckets["dev"])
    version_b_repository = tmp_path / "b-repository"
    shutil.copytree(project / "model_repository", version_b_repository)
    rename_output(version_b_repository)
    version_b = publish_repository(version_b_repository, tmp_path / "b", buckets["dev"])

    # recorded: the manifest holds the contract, the bucket holds it beside the artifact, attach carries its digest
    assert version_a.contract_sha256 != version_b.contract_sha256
    recorded = Manifest.read(tmp_path / "a" / MANIFEST).read_contract(tmp_path / "a" / MANIFEST)
    assert recorded is not None and recorded.sha256 == version_a.contract_sha256
    assert recorded.triton_version == "24.09" and recorded.default_model == "text_embedder"
    s3 = boto3.client("s3", region_name="us-east-1")
    stored = s3.get_object(Bucket=buckets["dev"], Key=contract_key("text_embedder", version_a.sha256))["Body"].read()
    assert stored.decode() == recorded.canonical_json()
    first = attach(layout, "dev", version_a.version_id, actor="alice", reason="A")
    assert first.contract is not None and "current release records none" in first.contract.note  # shipped release
    assert yaml.safe_load(layout.release_file("dev").read_text())["artifact"]["contract_sha256"] == recorded.sha256
    base = copy_project(tmp_path / "base")  # the base branch of the pull request that attaches B
    shutil.copy2(layout.release_file("dev"), base / "environments" / "releases" / "dev.yaml")

    # refused without an acknowledgement: exit 1, the reason in a client team's words, nothing written
    release_before, history_before = (
        layout.release_file("dev").read_bytes(),
        len(read_history(history_file(layout, "dev"))),
    )
    refused = run_cli("--root", str(project), "release", "attach", version_b.version_id, "--env", "dev")
    assert refused.code == 1
    assert "breaks the inference contract" in refused.err and "output EMBEDDING removed" in refused.err
    assert "renamed to VECTOR?" in refused.err and "--accept-breaking" in refused.err
    assert layout.release_file("dev").read_bytes() == release_before
    assert len(read_history(history_file(layout, "dev"))) == history_before
    with pytest.raises(UserError, match="nothing to acknowledge"):
        attach(layout, "dev", version_a.version_id, actor="alice", reason="again", accept_breaking="no reason")

    # acknowledged: attached, and the history keeps the reason and what was let through
    accepted = run_cli("--root", str(project), "release", "attach", version_b.version_id, "--env", "dev",
                       "--accept-breaking", REASON)  # fmt: skip
    assert accepted.code == 0, accepted.err
    assert version_a.contract_sha256 is not None and version_b.contract_sha256 is not None
    assert f"contract {version_a.contract_sha256[:12]} -> {version_b.contract_sha256[:12]}: breaking" in accepted.out
    record = read_history(history_file(layout, "dev"))[-1]
    assert isinstance(record, ReleaseChange) and record.breaking_accepted is not None
    assert record.breaking_accepted.reason == REASON
    assert (record.breaking_accepted.from_contract, record.breaking_accepted.to_contract) == (
        version_a.contract_sha256, version_b.contract_sha256)  # fmt: skip
    assert any("output EMBEDDING removed" in change for change in record.breaking_accepted.changes)
    assert "breaking_accepted" not in json.loads(history_file(layout, "dev").read_text().splitlines()[0])

    # env:dev: this checkout does not reproduce B, so its published contract is read (and checked) from S3
    diff = run_cli("--root", str(project), "contract", "diff", "env:dev", str(project / "model_repository"))
    assert diff.code == 1, diff.err
    assert "read from acme-tritonform-dev-artifacts" in diff.out and "output VECTOR removed" in diff.out

    review_of_attaching_b(project, base, version_b_repository, tmp_path, run_cli, version_a)
    promote_b_to_staging(layout, base, buckets, tmp_path, version_b)


def review_of_attaching_b(
    project: Path, base: Path, version_b_repository: Path, tmp_path: Path, run_cli: Callable[..., CliRun],
    version_a: Manifest,
) -> None:  # fmt: skip
    # the plan review of the pull request that attaches B: the contract change makes it need attention
    shutil.rmtree(project / "model_repository")
    shutil.copytree(version_b_repository, project / "model_repository")  # the head branch holds B
    plan = tmp_path / "dev.plan.json"
    plan.write_text(json.dumps(with_change("aws_sagemaker_endpoint", lambda after: after.update(tags={"a": "b"}))))
    review = run_cli("--root", str(project), "review", "--plan", f"dev={plan}", "--base", str(base), "--format",
                     "text")  # fmt: skip
    assert review.code == 0, review.err
    first_line = review.out.splitlines()[0]
    assert first_line.startswith("dev (dev): needs attention: ") and "breaking change of the inference contract" in (
        first_line)  # fmt: skip
    assert f"  contract contract {str(version_a.contract_sha256)[:12]} -> " in review.out
    assert "    breaking: text_embedder: output EMBEDDING removed" in review.out
    unchanged = tmp_path / "noop.json"
    unchanged.write_text(json.dumps(base_document()))
    same = run_cli("--root", str(project), "review", "--plan", f"dev={unchanged}", "--base", str(project),
                   "--format", "text")  # fmt: skip
    assert "no change" in same.out and "  contract unchanged (same version; sha256 " in same.out


def promote_b_to_staging(
    layout: ProjectLayout, base: Path, buckets: dict[str, str], tmp_path: Path, version_b: Manifest
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    # promote dev (B) to staging, which runs A: the gates pass, the contract check refuses, then lets it through
    staging_a = publish_repository(base / "model_repository", tmp_path / "a-staging", buckets["staging"])
    attach(layout, "staging", staging_a.version_id, actor="alice", reason="A in staging")
    dev_env, release_b = load_environment(layout, "dev"), current_release(layout, "dev")
    assert release_b is not None
    clients = Clients(_Endpoint("InService", expected_configuration(dev_env, release_b)),
                      _Alarms(rollback_alarm_names(dev_env)))  # fmt: skip
    with pytest.raises(UserError, match="output EMBEDDING removed") as refusal:
        promote(layout, "dev", "staging", actor="bot", soak_minutes=0, clients=clients)
    assert refusal.value.exit_code == 1
    left = s3.list_objects_v2(Bucket=buckets["staging"], Prefix=f"text_embedder/{version_b.sha256}/")
    assert left.get("KeyCount") == 0, "a refused promotion copied the artifact into the target's bucket"
    gates, promoted = promote(layout, "dev", "staging", actor="bot", soak_minutes=0, clients=clients,
                              accept_breaking=REASON)  # fmt: skip
    assert all(gate.passed for gate in gates) and promoted is not None
    assert promoted.release.artifact.contract_sha256 == version_b.contract_sha256
    staged = s3.get_object(Bucket=buckets["staging"], Key=contract_key("text_embedder", version_b.sha256))
    assert json.loads(staged["Body"].read())["models"]  # the contract went with the bytes
    last = read_history(history_file(layout, "staging"))[-1]
    assert isinstance(last, ReleaseChange) and last.action == "promote" and last.breaking_accepted is not None
