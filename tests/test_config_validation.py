"""Tier 1: configuration validation. Every bad input fails in the config layer with the file, the field
and the reason, exit code 2, and no traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, Editor, tritonform_subprocess
from tritonform.config import ProjectLayout, load_deployments
from tritonform.documents import read_yaml
from tritonform.errors import UserError

pytestmark = pytest.mark.config

Change = Callable[[dict[str, Any]], object]


def _set(path: str, value: object) -> Change:
    def change(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = data
        for key in parents:
            target = target.setdefault(key, {})
        target[leaf] = value

    return change


def _delete(path: str) -> Change:
    def change(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        del target[leaf]

    return change


ENVIRONMENT_CASES = [
    # (id, change to environments/prod.yaml, field named in the message, words the message must contain)
    ("unknown top-level key", _set("replicas", 3), "replicas", "unknown key; allowed here: account_id"),
    ("unknown nested key", _set("endpoint.instance_typo", "x"), "endpoint.instance_typo", "allowed here:"),
    ("count as string", _set("capacity.max_instances", "6"), "capacity.max_instances", "valid integer"),
    ("account as number", _set("account_id", 333333333333), "account_id", "quote it"),
    ("CPU instance", _set("endpoint.instance_type", "ml.m5.xlarge"), "endpoint.instance_type", "CPU instance"),
    ("Inferentia", _set("endpoint.instance_type", "ml.inf2.xlarge"), "endpoint.instance_type", "not an NVIDIA"),
    ("no such GPU size", _set("endpoint.instance_type", "ml.g5.3xlarge"), "endpoint.instance_type", "g5 sizes"),
    ("not an instance type", _set("endpoint.instance_type", "g5.xlarge"), "endpoint.instance_type", "ml.<family>"),
    ("min above max", _set("capacity.min_instances", 7), "capacity.min_instances", "greater than max_instances"),
    ("initial below min", _set("capacity.initial_instances", 2), "capacity.initial_instances", "between"),
    ("count above limit", _set("capacity.max_instances", 101), "capacity.max_instances", "less than or equal"),
    ("volume on NVMe", _set("endpoint.volume_size_gb", 100), "endpoint.volume_size_gb", "local NVMe"),
    ("subnets without groups", _delete("network.security_group_ids"), "network.security_group_ids", "both"),
    ("bad subnet id", _set("network.subnet_ids", ["subnet-xyz"]), "network.subnet_ids[0]", "subnet-0123abcd"),
    ("bad region", _set("region", "moon-1"), "region", "an AWS region"),
    ("bad bucket", _set("artifacts.bucket", "Bad_Bucket"), "artifacts.bucket", "S3 bucket name"),
    ("endpoint name too long", _set("endpoint.name", "x" * 38), "endpoint.name", "length limit"),
    ("GPU target too high", _set("autoscaling.gpu_utilization_percent", 99), "autoscaling.gpu_utilization_percent",
     "less than or equal to 95"),
    ("fixed capacity mismatch", _set("autoscaling", None), "capacity", "must be equal"),
    ("missing tags owner", _delete("tags.owner"), "tags.owner", "required, but missing"),
    ("reserved tag", _set("tags.extra", {"aws:foo": "x"}), "tags.extra", "reserved"),
    ("unknown tier", _set("tier", "production"), "tier", "'dev', 'staging' or 'prod'"),
    ("name mismatch", _set("name", "production"), "name", "must match"),
    ("unknown rollout policy", _set("rollout_policy", "yolo"), "rollout_policy", "known: all-at-once"),
    ("bad KMS ARN", _set("encryption.kms_key_arn", "my-key"), "encryption.kms_key_arn", "KMS key ARN"),
    ("Triton image not in region", _set("region", "ap-southeast-6"), "region", "not published in ap-southeast-6"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "words"), [c[1:] for c in ENVIRONMENT_CASES],
                         ids=[c[0] for c in ENVIRONMENT_CASES])  # fmt: skip
def test_bad_environment_is_refused_with_file_field_and_reason(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun], change: Change, field: str, words: str
) -> None:
    edit(project / "environments" / "prod.yaml", change)

    result = run_cli("--root", str(project), "check")

    assert result.code == 2, result.out
    assert result.out == ""
    assert "Traceback" not in result.err
    assert "environments/prod.yaml:" in result.err
    matching = [line for line in result.err.splitlines() if f": {field}: " in line]
    assert matching, f"no problem names {field!r}:\n{result.err}"
    assert any(words in line for line in matching), result.err


def test_error_names_the_line_of_the_offending_key(project: Path, run_cli: Callable[..., CliRun]) -> None:
    path = project / "environments" / "dev.yaml"
    text = path.read_text().replace("instance_type: ml.g5.xlarge", "instance_type: ml.c5.xlarge")
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "ml.c5.xlarge" in row)

    result = run_cli("--root", str(project), "check", "--env", "dev")

    assert result.code == 2
    assert f"environments/dev.yaml:{line}: endpoint.instance_type: 'ml.c5.xlarge' is a CPU instance" in result.err


def test_every_problem_in_every_file_is_reported_at_once(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    edit(project / "environments/dev.yaml", _set("capacity.min_instances", 9))
    edit(project / "environments/staging.yaml", _set("endpoint.instance_type", "ml.t3.medium"))
    edit(project / "environments/prod.yaml", _set("surprise", True))

    result = run_cli("--root", str(project), "check")

    assert result.code == 2
    assert "environments/dev.yaml" in result.err
    assert "environments/staging.yaml" in result.err
    assert "environments/prod.yaml" in result.err
    assert "3 problems" in result.err


def test_duplicate_yaml_key_is_refused(project: Path, run_cli: Callable[..., CliRun]) -> None:
    path = project / "environments" / "dev.yaml"
    path.write_text(path.read_text() + "region: eu-west-1\n")

    result = run_cli("--root", str(project), "check", "--env", "dev")

    assert result.code == 2
    assert "region: duplicate key (first set on line" in result.err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("endpoint: [unclosed\n", "invalid YAML"),
        ("", "the file is empty"),
        ("- a\n- b\n", "the file is a list"),
        ("\xff\xfe", "not UTF-8"),
    ],
    ids=["syntax", "empty", "list", "binary"],
)
def test_malformed_yaml_is_refused(project: Path, run_cli: Callable[..., CliRun], content: str, words: str) -> None:
    path = project / "environments" / "dev.yaml"
    if content == "\xff\xfe":
        path.write_bytes(b"\xff\xfe\x00")
    else:
        path.write_text(content)

    result = run_cli("--root", str(project), "check", "--env", "dev")

    assert result.code == 2
    assert "environments/dev.yaml" in result.err
    assert words in result.err


def test_missing_release_file_says_how_to_attach_one(project: Path, run_cli: Callable[..., CliRun]) -> None:
    (project / "environments/releases/staging.yaml").unlink()

    result = run_cli("--root", str(project), "check")

    assert result.code == 2
    assert "environments/releases/staging.yaml: environment 'staging' has no release file" in result.err
    assert "tritonform release attach --env staging" in result.err


RELEASE_CASES = [
    ("version id not from sha", _set("version_id", "aaaaaaaaaaaa"), "version_id", "first 12 hex digits"),
    ("key not content addressed",
     _set("artifact.s3_uri", "s3://acme-tritonform-prod-artifacts/text_embedder/latest/model.tar.gz"),
     "artifact.s3_uri", "content-addressed"),
    ("other bucket", lambda d: d["artifact"].update(s3_uri=d["artifact"]["s3_uri"].replace("-prod-", "-dev-")),
     "artifact.s3_uri", "this environment's artifact bucket is 'acme-tritonform-prod-artifacts'"),
    ("image of another region", lambda d: d["triton_image"].update(uri=d["triton_image"]["uri"].replace(
        "us-west-2", "us-east-1")), "triton_image.uri", "for us-west-2 the image is"),
    ("image tag differs", _set("triton_image.version", "24.05"), "triton_image.uri", "tag is 24.09"),
    ("unpublished image", lambda d: d["triton_image"].update(version="19.01", uri=d["triton_image"]["uri"].replace(
        "24.09", "19.01")), "triton_image.version", "publishes no SageMaker Triton image 19.01"),
    ("not an image", _set("triton_image.uri", "nvcr.io/nvidia/tritonserver:24.09-py3"), "triton_image.uri",
     "not a SageMaker Triton image URI"),
    ("naive timestamp", _set("attached.at", "2026-01-01T00:00:00"), "attached.at", "UTC"),
    ("short commit", _set("attached.commit", "abc123"), "attached.commit", "40-digit"),
    ("model not in repository", lambda d: d.update(model_name="resnet50", artifact={
        **d["artifact"], "s3_uri": d["artifact"]["s3_uri"].replace("text_embedder", "resnet50")}),
     "model_name", "model_repository/resnet50/config.pbtxt does not exist"),
    ("future schema", _set("schema_version", 2), "schema_version", "Input should be 1"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "words"), [c[1:] for c in RELEASE_CASES],
                         ids=[c[0] for c in RELEASE_CASES])  # fmt: skip
def test_bad_release_is_refused_with_file_field_and_reason(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun], change: Change, field: str, words: str
) -> None:
    edit(project / "environments/releases/prod.yaml", change)

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 2
    assert "Traceback" not in result.err
    matching = [line for line in result.err.splitlines() if f": {field}: " in line]
    assert matching, result.err
    assert matching[0].startswith("environments/releases/prod.yaml")
    assert any(words in line for line in matching), result.err


def test_two_environments_sharing_a_bucket_are_refused(project: Path, edit: Editor) -> None:
    edit(project / "environments/staging.yaml", _set("artifacts.bucket", "acme-tritonform-dev-artifacts"))
    edit(project / "environments/releases/staging.yaml",
         lambda d: d["artifact"].update(s3_uri=d["artifact"]["s3_uri"].replace("-staging-", "-dev-")))  # fmt: skip

    with pytest.raises(UserError) as raised:
        load_deployments(ProjectLayout(project))

    assert "artifacts.bucket: the same as in environment 'dev'" in raised.value.render()


def test_unknown_environment_lists_the_known_ones(run_cli: Callable[..., CliRun]) -> None:
    result = run_cli("--root", str(REPO_ROOT), "check", "--env", "qa")

    assert result.code == 2
    assert "unknown environment qa; environments: dev, prod, staging" in result.err


def test_shipped_environments_load_in_promotion_order() -> None:
    deployments = load_deployments(ProjectLayout(REPO_ROOT))

    assert [d.environment.name for d in deployments] == ["dev", "staging", "prod"]
    prod = deployments[-1]
    assert prod.environment.network.network_isolation
    assert prod.release.artifact.bucket == prod.environment.artifacts.bucket


def test_line_index_covers_nested_keys_and_list_items(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b:\n    - 1\n    - c: 2\n")

    data, lines = read_yaml(path)

    assert data == {"a": {"b": [1, {"c": 2}]}}
    assert lines[("a",)] == 1
    assert lines[("a", "b")] == 2
    assert lines[("a", "b", 1, "c")] == 4


def test_real_command_exits_2_without_traceback(project: Path, edit: Editor) -> None:
    edit(project / "environments/prod.yaml", _set("endpoint.instance_type", "ml.m5.large"))

    result = tritonform_subprocess("--root", str(project), "synth", "--outdir", str(project / "out"), cwd=project)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "environments/prod.yaml:" in result.stderr
    assert "endpoint.instance_type: 'ml.m5.large' is a CPU instance type" in result.stderr
    assert not (project / "out").exists(), "a refused synth must not write anything"


def test_usage_error_exits_2(run_cli: Callable[..., CliRun]) -> None:
    result = run_cli("synth", "--state-backend", "dynamo")

    assert result.code == 2
    assert "invalid choice: 'dynamo'" in result.err
