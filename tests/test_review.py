"""Plan reviews of real plans: Terraform plans each change against state applied to a moto server on
loopback, and the review is asserted on what it says (verdict, versions, flags), not on frozen text.

Stand-in adjustments, named: dev runs on ml.g4dn.xlarge (moto knows only older GPU types) and without
network isolation. moto does not read back network isolation, the endpoint's deployment_config, the model's
VPC settings or the configuration's data capture, so a plan that refreshes against it always shows
replacements. The base state is therefore completed with the values Terraform planned for those resources
(what AWS itself would return), and the scenarios plan with -refresh=false: the diff is then exactly the
change under review."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, edit_yaml, stack_directory, tritonform_subprocess
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployment
from tritonform.release.attach import current_release
from tritonform.review.assess import review_environment
from tritonform.review.model import (
    AlarmChange,
    EnvironmentReview,
    Finding,
    PlannedChange,
    Removal,
    RolloutSummary,
    Verdict,
    VersionChange,
)
from tritonform.review.plan import load_plan
from tritonform.review.render import GITHUB_COMMENT_LIMIT, markdown, plain
from tritonform.standin import MotoServer

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]
NEW_SHA = "ab" * 32


@dataclass(frozen=True)
class Base:
    project: Path
    state: Path
    url: str


def _stand_in_project(root: Path) -> Path:
    project = copy_project(root)

    def adjust(data: dict[str, Any]) -> None:
        data["endpoint"]["instance_type"] = "ml.g4dn.xlarge"
        data["network"]["network_isolation"] = False

    edit_yaml(project / "environments" / "dev.yaml", adjust)
    return project


def _synth(project: Path, url: str, outdir: Path) -> Path:
    result = tritonform_subprocess("--root", str(project), "synth", "--env", "dev", "--state-backend", "local",
                                   "--stand-in", url, "--outdir", str(outdir), cwd=project)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return stack_directory(outdir, "tritonform-dev")


def _run(args: list[str], stack: Path) -> str:
    options = [a for a in args if a.startswith("-")]
    operands = [a for a in args if not a.startswith("-")]  # Terraform wants the plan file after the options
    result = terraform.run_terraform(
        [*operands[:1], *options, "-input=false", "-no-color", *operands[1:]], stack, REPO_ROOT, timeout_s=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, aws: MotoServer) -> Base:
    """dev applied to the stand-in once; every scenario plans its change against this state."""
    aws.reset()
    root = tmp_path_factory.mktemp("review")
    project = _stand_in_project(root / "base")
    stack = _synth(project, aws.url, root / "base-out")
    _run(["init"], stack)
    _run(["plan", "-out=base.bin"], stack)
    planned = json.loads(terraform.run_terraform(["show", "-json", "base.bin"], stack, REPO_ROOT).stdout)
    _run(["apply", "-auto-approve", "base.bin"], stack)
    _complete_state(stack / "terraform.dev.tfstate", planned)
    return Base(project, stack / "terraform.dev.tfstate", aws.url)


SAGEMAKER = {"aws_sagemaker_model", "aws_sagemaker_endpoint_configuration", "aws_sagemaker_endpoint"}
MOTO_EMPTY_BLOCKS = {"vpc_config", "data_capture_config", "deployment_config", "inference_execution_config"}


def _complete_state(state_path: Path, planned: dict[str, Any]) -> None:
    """Fill in the SageMaker attributes moto leaves empty with the values Terraform planned for them."""
    values = {r["address"]: r["values"] for r in planned["planned_values"]["root_module"]["resources"]}
    state = json.loads(state_path.read_text())
    for resource in state["resources"]:
        if resource["type"] not in SAGEMAKER:
            continue
        address = f"{resource['type']}.{resource['name']}"
        for instance in resource["instances"]:
            for key, value in values.get(address, {}).items():
                if value not in (None, [], {}, ""):
                    instance["attributes"][key] = value  # what AWS would return: what was asked for
                elif key in MOTO_EMPTY_BLOCKS:
                    instance["attributes"][key] = []  # moto answers an absent block with an empty one
    state["serial"] += 1
    state_path.write_text(json.dumps(state))


def plan_of(base: Base, tmp_path: Path, change: Callable[[Path], None]) -> Path:
    head = tmp_path / "head"
    shutil.copytree(base.project, head)
    change(head)
    stack = _synth(head, base.url, tmp_path / "head-out")
    shutil.copy2(base.state, stack / "terraform.dev.tfstate")
    _run(["init"], stack)
    _run(["plan", "-refresh=false", "-out=plan.bin"], stack)
    shown = terraform.run_terraform(["show", "-json", "plan.bin"], stack, REPO_ROOT)
    (tmp_path / "dev.plan.json").write_text(shown.stdout)
    return tmp_path / "dev.plan.json"


def review_of(base: Base, tmp_path: Path, change: Callable[[Path], None]) -> EnvironmentReview:
    plan_path = plan_of(base, tmp_path, change)
    head = ProjectLayout(tmp_path / "head")
    return review_environment(load_deployment(head, "dev"), load_plan("tritonform-dev", plan_path),
                              current_release(ProjectLayout(base.project), "dev"))  # fmt: skip


def _new_version(project: Path) -> None:
    def bump(data: dict[str, Any]) -> None:
        old = data["artifact"]["sha256"]
        data["version_id"] = NEW_SHA[:12]
        data["artifact"].update(sha256=NEW_SHA, s3_uri=data["artifact"]["s3_uri"].replace(old, NEW_SHA))
        data["attached"].update(by="alice", reason="better normaliser")

    edit_yaml(project / "environments/releases/dev.yaml", bump)


def test_no_change(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda _project: None)

    assert review.verdict == "no change"
    assert review.version.status == "unchanged"
    assert "- model version: " in markdown([review]) and "(unchanged)" in markdown([review])


def test_version_bump_is_safe_and_names_both_versions(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, _new_version)

    assert review.verdict == "safe", review.reasons
    old = current_release(ProjectLayout(base.project), "dev")
    assert old is not None
    assert (review.version.base_version_id, review.version.version_id) == (old.version_id, NEW_SHA[:12])
    text = markdown([review])
    assert f"{old.version_id} -> **{NEW_SHA[:12]}**" in text
    assert "attached by alice" in text
    assert review.removals == ()  # model and configuration are created before the old ones go: no downtime
    assert review.rollout is not None
    assert any("shift all traffic to the new fleet" in line for line in review.rollout.timeline)
    assert review.update_capacity is not None and review.update_capacity.instance_type == "ml.g4dn.xlarge"
    assert "- during the update: up to 1 extra x ml.g4dn.xlarge" in text


def test_policy_change_is_shown_with_its_timeline(base: Base, tmp_path: Path) -> None:
    def slower(project: Path) -> None:
        (project / "rollout_policies" / "slow-bake.yaml").write_text("kind: all-at-once\nbake_s: 1200\n")
        edit_yaml(project / "environments/dev.yaml", lambda d: d.update(rollout_policy="slow-bake"))

    review = review_of(base, tmp_path, slower)

    assert any(c.action == "update" and "aws_sagemaker_endpoint." in c.address for c in review.changes)
    assert review.rollout is not None
    assert (review.rollout.policy_name, review.rollout.kind) == ("slow-bake", "all-at-once")
    assert "**Rollout**\n\npolicy `slow-bake` (all-at-once)" in markdown([review])
    assert any("bake 20:00" in line for line in review.rollout.timeline)


def test_instance_type_change_needs_attention_with_capacity_and_cost(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda p: edit_yaml(p / "environments/dev.yaml",
                                                           lambda d: d["endpoint"].update(instance_type="ml.g4dn.2xlarge")))  # fmt: skip

    assert review.verdict == "needs attention"
    assert "the instance type or count changes" in review.reasons
    (change,) = review.instance_changes
    assert (change.old_count, change.old_type, change.new_count, change.new_type) == (
        1, "ml.g4dn.xlarge", 1, "ml.g4dn.2xlarge")  # fmt: skip
    assert change.monthly_delta is not None and change.monthly_delta > 0  # the larger type costs more
    text = markdown([review])
    assert "- instances: 1 x ml.g4dn.xlarge -> **1 x ml.g4dn.2xlarge**" in text
    assert "USD/month (estimate, on-demand)" in text
    assert "    instances: 1 x ml.g4dn.xlarge -> 1 x ml.g4dn.2xlarge\n" in plain([review])


def test_removed_alarm_needs_attention_and_is_called_out_first(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda p: edit_yaml(p / "environments/dev.yaml",
                                                           lambda d: d.update(rollback_alarms={"model_errors": None})))  # fmt: skip

    assert review.verdict == "needs attention"
    assert AlarmChange("delete", "text-embedder-dev-rollback-model-errors") in review.alarm_changes
    assert [u.alarm_names for u in review.unwatched_alarms] == [("text-embedder-dev-rollback-model-errors",)]
    text = markdown([review])
    assert "- removed: `text-embedder-dev-rollback-model-errors`" in text
    assert "- no longer watched during rollouts: text-embedder-dev-rollback-model-errors" in text
    assert any("rollback alarm text-embedder-dev-rollback-model-errors is removed" in r for r in review.reasons)
    alarm = next(c.address for c in review.changes if "metric_alarm" in c.address)
    assert review.removals == (Removal("delete", alarm),)
    assert f"- **DELETE** `{alarm}`" in text
    # with hashicorp/aws 5.100.0 the endpoint's rollback settings change in place (older providers replaced it)
    assert any(c.action == "update" and "aws_sagemaker_endpoint." in c.address for c in review.changes)


def test_endpoint_replacement_is_called_out_first(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda p: edit_yaml(p / "environments/dev.yaml",
                                                           lambda d: d["endpoint"].update(name="text-embedder-dev2")))  # fmt: skip

    assert review.verdict == "needs attention"
    assert review.removals[0].action == "replace"
    assert review.removals[0].address.startswith("aws_sagemaker_endpoint.")
    assert "### dev: 🔴 needs attention\n\n- **REPLACE** `aws_sagemaker_endpoint." in markdown([review])
    assert any(r.startswith("replacing the endpoint is downtime") for r in review.reasons)


def test_cli_writes_markdown_and_text(base: Base, tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    plan_path = plan_of(base, tmp_path, _new_version)
    head = tmp_path / "head"

    result = run_cli("--root", str(head), "review", "--plan", f"dev={plan_path}", "--base", str(base.project))
    text = run_cli("--root", str(head), "review", "--plan", f"dev={plan_path}", "--base", str(base.project),
                   "--format", "text")  # fmt: skip

    assert result.code == 0, result.err
    assert result.out.startswith("## tritonform plan review")
    assert "- **dev** (dev): 🟢 safe" in result.out
    assert "<details><summary>dev: all" in result.out
    assert text.out.startswith("dev (dev): safe:")


# --- bad input and size limits (no Terraform needed) -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [("{", "not JSON"), ('{"resource_changes": []}', "no format_version"),
     ('{"format_version": "1.2", "resource_changes": [{"address": "x"}]}', "lacks 'change'")],
    ids=["malformed", "not a plan", "damaged change"],
)  # fmt: skip
def test_bad_plans_are_refused_with_exit_2(
    tmp_path: Path, run_cli: Callable[..., CliRun], content: str, words: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={path}")

    assert result.code == 2
    assert words in result.err and "Traceback" not in result.err


def test_missing_plan_and_unknown_stack_exit_2(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    missing = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={tmp_path / 'none.json'}")
    unknown = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"qa={tmp_path / 'none.json'}")
    malformed = run_cli("--root", str(REPO_ROOT), "review", "--plan", "dev")

    assert (missing.code, unknown.code, malformed.code) == (2, 2, 2)
    assert "no such plan file" in missing.err
    assert "no environment 'qa'" in unknown.err
    assert "expected ENV=FILE" in malformed.err


def test_a_huge_review_is_truncated_within_githubs_limit() -> None:
    changes = tuple(PlannedChange("update", f"aws_thing.resource_{i:06d}") for i in range(20_000))
    review = EnvironmentReview("prod", "prod", VersionChange("m", "2", "changed", "1"), changes=changes)

    text = markdown([review])

    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "left out" in text or "Truncated" in text
    assert plain([review]).startswith("prod (prod): safe")


def test_plan_json_fixture_shape_matches_terraform(tmp_path: Path) -> None:
    """load_plan reads the structure Terraform documents for `show -json` (a minimal hand-made plan)."""
    plan = {"format_version": "1.2", "resource_changes": [
        {"address": "aws_sagemaker_endpoint.e", "type": "aws_sagemaker_endpoint",
         "change": {"actions": ["delete", "create"], "before": {"name": "a"}, "after": {"name": "b"}}}]}  # fmt: skip
    path = tmp_path / "p.json"
    path.write_text(json.dumps(plan))

    loaded = load_plan("s", path)

    assert loaded.changes[0].action == "replace" and not loaded.changes[0].create_before_destroy
    assert loaded.changes[0].changed_keys() == ["name"]


def test_security_findings_are_shown_per_environment(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format_version": "1.2", "resource_changes": [
        {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "change": {"actions": ["update"],
         "before": {"force_destroy": False}, "after": {"force_destroy": True}}}]}))  # fmt: skip
    report = tmp_path / "checkov.json"
    report.write_text(json.dumps({"check_type": "terraform_json", "results": {"failed_checks": [
        {"check_id": "CKV_AWS_98", "check_name": "Ensure endpoint configuration uses KMS",
         "resource": "aws_sagemaker_endpoint_configuration.c",
         "file_path": "/cdktf.out/stacks/tritonform-dev/cdk.tf.json"},
        {"check_id": "CKV_AWS_1", "check_name": "other env", "resource": "r",
         "file_path": "/cdktf.out/stacks/tritonform-prod/cdk.tf.json"}]}}))  # fmt: skip

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={plan}", "--findings", str(report))

    assert result.code == 0, result.err
    assert "**Security findings**" in result.out
    assert "CKV_AWS_98: Ensure endpoint configuration uses KMS" in result.out
    assert "CKV_AWS_1" not in result.out
    assert "1 security finding(s)" in result.out
    bad = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={plan}", "--findings", str(plan))
    assert bad.code == 2 and "not a checkov JSON report" in bad.err


def test_turning_a_hardening_control_off_needs_attention_and_is_listed(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda p: edit_yaml(p / "environments/dev.yaml",
                                                           lambda d: d.update(encryption={"artifacts": False})))  # fmt: skip

    assert review.verdict == "needs attention"
    assert "kms-artifacts" in [off.name for off in review.hardening_off]
    assert "\n- without **kms-artifacts** (`encryption.artifacts`)" in markdown([review])
    assert any("hardening controls this environment runs without change" in r for r in review.reasons)
    assert any("aws_s3_bucket_server_side_encryption_configuration" in c.address for c in review.changes)


def test_unchanged_hardening_is_listed_without_attention(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, _new_version)

    assert review.verdict == "safe", review.reasons
    # the stand-in copy of dev runs without a VPC and without network isolation (see _stand_in_project)
    vpc, isolation = review.hardening_off
    assert (vpc.name, isolation.name) == ("vpc", "network-isolation")
    assert vpc.exception is not None and isolation.exception is None
    lines = markdown([review]).splitlines()
    assert any(line.startswith("- without **vpc** (`network.subnet_ids`): exception SEC-1001, approved by "
                               "ml-platform-security") for line in lines)  # fmt: skip
    assert (
        "- without **network-isolation** (`network.network_isolation`): no exception recorded (dev does not need one)"
    ) in lines
    assert "    without vpc (network.subnet_ids): exception SEC-1001, approved by" in plain([review])


# --- the verdict and the two renderers, from a review built by hand (no Terraform needed) -------------------

ALARM_ADDRESS = "aws_cloudwatch_metric_alarm.errors"


def _review(**fields: Any) -> EnvironmentReview:
    return EnvironmentReview(
        "prod", "prod", VersionChange("m", "v2", "changed", "v1", sha256="cd" * 32, attached_by="bob",
                                      commit="0123456789abcdef", reason="retrained"),
        changes=(PlannedChange("update", "aws_sagemaker_endpoint.e"),), **fields,
    )  # fmt: skip


def test_the_verdict_follows_the_concerns_not_the_text() -> None:
    assert _review().verdict is Verdict.SAFE
    assert _review().reasons == ["new version through the rollout policy, nothing destroyed"]
    assert _review(concerns=("x is replaced",)).verdict is Verdict.NEEDS_ATTENTION
    unchanged = EnvironmentReview("prod", "prod", VersionChange("m -> n", "v1", "unchanged", "v1"),
                                  changes=(PlannedChange("update", "aws_s3_bucket.b"),))  # fmt: skip
    assert unchanged.reasons == ["in-place changes only"]  # an arrow in a model name is not a new version
    assert EnvironmentReview("prod", "prod", unchanged.version).verdict is Verdict.NO_CHANGE


def test_markdown_and_plain_text_say_the_same_with_and_without_markup() -> None:
    review = _review(
        concerns=(f"{ALARM_ADDRESS} is destroyed", "1 security finding(s)"),
        removals=(Removal("delete", ALARM_ADDRESS),),
        rollout=RolloutSummary("canary", "canary", 900, 2, ("00:00 shift 10%", "15:00 shift the rest")),
        findings=(Finding("CKV_AWS_98", "Ensure KMS", "aws_sagemaker_endpoint_configuration.c"),),
    )

    text, lines = markdown([review]), plain([review]).splitlines()

    assert f"- **DELETE** `{ALARM_ADDRESS}`" in text
    assert "- model version: m v1 -> **v2** (sha256 `cdcdcdcdcdcdcdcd...`, attached by bob from `0123456789ab`" in text
    assert "```\n00:00 shift 10%\n15:00 shift the rest\n```" in text
    assert "- CKV_AWS_98: Ensure KMS (`aws_sagemaker_endpoint_configuration.c`)" in text
    assert lines[0] == f"prod (prod): needs attention: {ALARM_ADDRESS} is destroyed; 1 security finding(s)"
    assert f"  ! DELETE {ALARM_ADDRESS}" in lines
    assert (
        "  version  m v1 -> v2 (sha256 cdcdcdcdcdcdcdcd..., attached by bob from 0123456789ab: retrained; where it "
        "was packaged from is not recorded)"
    ) in lines
    assert lines[3:6] == [
        "  Rollout:",
        "    policy canary (canary), up to 15:00, 2 rollback alarm(s)",
        "    00:00 shift 10%",
    ]
    assert "    CKV_AWS_98: Ensure KMS (aws_sagemaker_endpoint_configuration.c)" in lines
    assert not any("`" in line or "**" in line for line in lines)
    outside_git = VersionChange("m", "v2", "changed", "v1", sha256="cd" * 32, attached_by="bob", reason="retrained")
    assert "attached by bob: retrained; where it was packaged from" in plain(
        [EnvironmentReview("prod", "prod", outside_git)]
    )
