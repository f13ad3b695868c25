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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, edit_yaml, stack_directory, tritonform_subprocess
from tests.review_plans import RECORDED_PLAN
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployment
from tritonform.config.names import configuration_name
from tritonform.release.attach import current_release
from tritonform.release.history import InServiceSeen, ReleaseSnapshot, append_history, history_file
from tritonform.review.assess import review_environment
from tritonform.review.model import (
    AlarmChange,
    EnvironmentReview,
    Removal,
)
from tritonform.review.plan import load_plan
from tritonform.review.render import markdown, plain
from tritonform.standin import MotoServer

pytestmark = [pytest.mark.e2e, pytest.mark.terraform]
NEW_SHA = "ab" * 32
NEXT_SHA = "cd" * 32


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


def _attach(project: Path, sha256: str) -> None:
    def bump(data: dict[str, Any]) -> None:
        old = data["artifact"]["sha256"]
        data["version_id"] = sha256[:12]
        data["artifact"].update(sha256=sha256, s3_uri=data["artifact"]["s3_uri"].replace(old, sha256))
        data["attached"].update(by="alice", reason="better normaliser")

    edit_yaml(project / "environments/releases/dev.yaml", bump)


def _verified_live(project: Path) -> None:
    """The history records the release file's release in service (as `release watch` does), so the next
    release keeps it declared as the fallback."""
    layout = ProjectLayout(project)
    release = current_release(layout, "dev")
    assert release is not None
    append_history(history_file(layout, "dev"), InServiceSeen(
        at=datetime(2026, 11, 22, 8, 0, tzinfo=UTC), action="in-service", environment="dev", actor="ci", commit=None,
        reason="seen in service", release=ReleaseSnapshot.of(release),
        configuration=configuration_name(load_deployment(layout, "dev").environment, release)))  # fmt: skip


def _new_version(project: Path) -> None:
    """A normal release: the running release was verified live (so it stays declared as the fallback) and
    another one is attached."""
    _verified_live(project)
    _attach(project, NEW_SHA)


def test_no_change_and_the_recorded_plan_is_still_what_terraform_writes(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda _project: None)

    assert review.verdict == "no change"
    assert review.version.status == "unchanged"
    assert "- model version: " in markdown([review]) and "(unchanged)" in markdown([review])
    # tests/data/review/dev-noop-plan.json, the base of the generated plans, has this plan's resources and keys
    fresh, recorded = (json.loads(p.read_text()) for p in (tmp_path / "dev.plan.json", RECORDED_PLAN))
    assert _shape(fresh) == _shape(recorded)


def _shape(plan: dict[str, Any]) -> dict[str, tuple[list[str], list[str], dict[str, list[str]]]]:
    """Each resource type's change keys, attribute names and the attribute names of its blocks (the rollback
    alarms' metric_query among them), and the outputs."""
    shape: dict[str, tuple[list[str], list[str], dict[str, list[str]]]] = {
        "outputs": (sorted(plan["output_changes"]), [], {})
    }
    for rc in plan["resource_changes"]:
        before = rc["change"]["before"]
        blocks = {key: sorted(value[0]) for key, value in before.items()
                  if isinstance(value, list) and value and isinstance(value[0], dict)}  # fmt: skip
        shape[rc["type"]] = (sorted(rc["change"]), sorted(before), blocks)
    return shape


# --- protections weakened, in real plans: the stack's Terraform JSON edited as no configuration file allows -----


def plan_of_stack(base: Base, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> EnvironmentReview:
    """The review of a real plan of the applied base stack with its cdk.tf.json edited by `edit`."""
    stack = tmp_path / "stack"
    shutil.copytree(base.state.parent, stack, symlinks=True, ignore=shutil.ignore_patterns("*.bin"))
    document = json.loads((stack / "cdk.tf.json").read_text())
    edit(document)
    (stack / "cdk.tf.json").write_text(json.dumps(document))
    _run(["plan", "-refresh=false", "-out=plan.bin"], stack)
    (tmp_path / "dev.plan.json").write_text(
        terraform.run_terraform(["show", "-json", "plan.bin"], stack, REPO_ROOT).stdout
    )
    return review_environment(load_deployment(ProjectLayout(base.project), "dev"),
                              load_plan("tritonform-dev", tmp_path / "dev.plan.json"),
                              current_release(ProjectLayout(base.project), "dev"))  # fmt: skip


def _one(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = document["resource"][resource_type].values()
    assert isinstance(resource, dict)
    return resource


def _weaken_everything(document: dict[str, Any]) -> None:
    _one(document, "aws_s3_bucket_public_access_block").update(block_public_acls=False, restrict_public_buckets=False)
    _one(document, "aws_s3_bucket_versioning")["versioning_configuration"]["status"] = "Suspended"
    _one(document, "aws_s3_bucket_server_side_encryption_configuration")["rule"] = [
        {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": False}]  # fmt: skip
    alarms = document["resource"]["aws_cloudwatch_metric_alarm"]
    alarm = next(item for key, item in alarms.items() if key.startswith("rollback-alarms_5xx-rate_"))
    alarm.update(threshold=1_000_000, datapoints_to_alarm=3)
    queries = {query["id"]: query for query in alarm["metric_query"]}
    queries["judged"]["expression"] = queries["judged"]["expression"].replace(">= 40", ">= 4000")
    del queries["errors"]["metric"]["dimensions"]["EndpointConfigName"]  # the old fleet's traffic dilutes the rate
    queries["invocations"]["metric"]["period"] = 300
    deployment = _one(document, "aws_sagemaker_endpoint")["deployment_config"]
    deployment["auto_rollback_configuration"]["alarms"] = [{"alarm_name": "text-embedder-dev-rollback-elsewhere"}]
    deployment["blue_green_update_policy"]["traffic_routing_configuration"]["wait_interval_in_seconds"] = 60
    _one(document, "aws_kms_key").update(enable_key_rotation=False, deletion_window_in_days=7)


def test_a_real_plan_that_weakens_each_protection_needs_attention_with_values(base: Base, tmp_path: Path) -> None:
    review = plan_of_stack(base, tmp_path, _weaken_everything)
    release = current_release(ProjectLayout(base.project), "dev")
    assert release is not None
    fleet = configuration_name(load_deployment(ProjectLayout(base.project), "dev").environment, release)

    assert review.verdict == "needs attention"
    assert "in-place changes only" not in "; ".join(review.reasons)
    weakened = {(w.attribute.path, w.attribute.old, w.attribute.new) for w in review.weakenings if w.certain}
    assert {
        ("block_public_acls", "true", "false"), ("restrict_public_buckets", "true", "false"),
        ("versioning_configuration[0].status", '"Enabled"', '"Suspended"'),
        ("rule[0].apply_server_side_encryption_by_default[0].sse_algorithm", '"aws:kms"', '"AES256"'),
        ("rule[0].bucket_key_enabled", "true", "false"),
        ("threshold", "5", "1000000"), ("datapoints_to_alarm", "2", "3"),
        ("metric_query[id=judged].expression", '"IF(invocations >= 40, 100 * FILL(errors, 0) / invocations, 0)"',
         '"IF(invocations >= 4000, 100 * FILL(errors, 0) / invocations, 0)"'),
        ("metric_query[id=errors].metric[0].dimensions.EndpointConfigName", f'"{fleet}"', "(none)"),
        ("metric_query[id=invocations].metric[0].period", "60", "300"),
        ("deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds",
         "300", "60"),
        ("enable_key_rotation", "true", "false"), ("deletion_window_in_days", "30", "7"),
    } <= weakened  # fmt: skip
    text = markdown([review])
    assert "`threshold`: `5` -> `1000000` (the alarm fires only at a worse value)" in text
    assert "(stops watching text-embedder-dev-rollback-5xx-rate during updates)" in text
    # the execution role's policy document is read only after the key's update: it cannot be judged now
    assert any(not w.certain and w.attribute.new == "(known after apply)" for w in review.weakenings)


def _delete_endpoint_and_grant_more(document: dict[str, Any]) -> None:
    del document["resource"]["aws_sagemaker_endpoint"]
    document["output"]["endpoint_name"]["value"] = "text-embedder-dev"
    permissions = document["data"]["aws_iam_policy_document"]["execution-role_permissions_55014CEA"]
    permissions["statement"].append({"sid": "Grown", "actions": ["s3:PutObject"],
                                     "resources": ["arn:aws:s3:::acme-tritonform-dev-artifacts/*"]})  # fmt: skip


def test_a_real_plan_that_deletes_the_endpoint_calls_it_deleted(base: Base, tmp_path: Path) -> None:
    review = plan_of_stack(base, tmp_path, _delete_endpoint_and_grant_more)

    assert review.verdict == "needs attention"
    assert review.removals[0].action == "delete" and review.removals[0].address.startswith("aws_sagemaker_endpoint.")
    assert review.reasons[0] == "the endpoint is deleted: it stops serving, and nothing replaces it"
    text = markdown([review])
    assert "- **DELETE** `aws_sagemaker_endpoint." in text and "REPLACE" not in text and "replacing" not in text
    (grown,) = [w for w in review.weakenings if w.address.startswith("aws_iam_role_policy.")]
    assert grown.certain and grown.why == (
        "allows 1 grant(s) it did not: s3:PutObject on arn:aws:s3:::acme-tritonform-dev-artifacts/*"
    )


def test_version_bump_is_safe_and_names_both_versions(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, _new_version)

    assert review.verdict == "safe", review.reasons
    old = current_release(ProjectLayout(base.project), "dev")
    assert old is not None
    assert (review.version.base_version_id, review.version.version_id) == (old.version_id, NEW_SHA[:12])
    text = markdown([review])
    assert f"{old.version_id} -> **{NEW_SHA[:12]}**" in text
    assert "attached by alice" in text
    # the new release's model and configuration are created, the fallback's (the release before) kept
    assert review.removals == () and review.retirements == ()
    actions = {(c.action, c.address.split(".")[0], c.address.split("-")[-1][:12]) for c in review.changes}
    assert {("create", kind, NEW_SHA[:12]) for kind in ("aws_sagemaker_model", "aws_sagemaker_endpoint_configuration")
            } <= actions  # fmt: skip
    assert not any(c.action == "delete" for c in review.changes)
    # the alarm's fleet dimension follows the release to its configuration: the normal release, not a weakening
    (alarm,) = [a for a in review.alarm_changes if a.action == "update"]
    fleet = [a for a in alarm.attributes if a.path.endswith("dimensions.EndpointConfigName")]
    assert fleet and all(NEW_SHA[:12] in a.new and old.version_id in a.old for a in fleet)
    assert review.weakenings == ()
    assert review.rollout is not None
    assert any("shift all traffic to the new fleet" in line for line in review.rollout.timeline)
    assert review.update_capacity is not None and review.update_capacity.instance_type == "ml.g4dn.xlarge"
    assert "- during the update: up to 1 extra x ml.g4dn.xlarge" in text


def test_a_version_bump_with_no_fallback_destroys_what_runs_and_needs_attention(base: Base, tmp_path: Path) -> None:
    """No release verified live: the running release's model and configuration are not kept, and are destroyed
    after the endpoint update; if SageMaker rolls that update back, the endpoint runs a configuration that no
    longer exists (terraform-provider-aws issue 48997)."""
    review = review_of(base, tmp_path, lambda project: _attach(project, NEW_SHA))

    assert review.verdict == "needs attention"
    destroyed = {r.address.split(".")[0]: r for r in review.removals}
    assert set(destroyed) == {"aws_sagemaker_model", "aws_sagemaker_endpoint_configuration"}
    assert all(r.action == "delete" and "the endpoint runs it now" in (r.why or "") and "48997" in (r.why or "")
               for r in destroyed.values())  # fmt: skip
    assert review.retirements == ()


def test_an_older_fallback_is_retired_once_a_newer_release_was_verified_live(base: Base, tmp_path: Path) -> None:
    """A -> B -> C. B's release keeps A as the fallback; once B was verified live, C's release keeps B and
    retires A: create C, keep B, destroy A, update the endpoint. moto has no UpdateEndpoint, so B's model and
    configuration are applied with -target and the endpoint's move to B is written into the state as
    Terraform records it after the update (the planned values)."""
    first = tmp_path / "b"
    first.mkdir()
    plan_path = plan_of(base, first, _new_version)
    planned = json.loads(plan_path.read_text())
    stack = stack_directory(first / "head-out", "tritonform-dev")
    created = [rc["address"] for rc in planned["resource_changes"]
               if rc["change"]["actions"] == ["create"] and rc["type"].startswith("aws_sagemaker_")]  # fmt: skip
    assert len(created) == 2, created
    _run(["apply", "-refresh=false", "-auto-approve", *(f"-target={address}" for address in created)], stack)
    _complete_state(stack / "terraform.dev.tfstate", planned)
    a = current_release(ProjectLayout(base.project), "dev")
    assert a is not None

    def next_release(project: Path) -> None:
        shutil.rmtree(project)
        shutil.copytree(first / "head", project)
        _verified_live(project)
        _attach(project, NEXT_SHA)

    second = Base(base.project, stack / "terraform.dev.tfstate", base.url)
    review = review_of(second, tmp_path, next_release)

    assert review.verdict == "safe", review.reasons
    assert review.removals == ()
    assert {(r.kind, r.version_id) for r in review.retirements} == {("model", a.version_id),
                                                                     ("configuration", a.version_id)}  # fmt: skip
    assert f"retires version {a.version_id}" in review.reasons[0]
    assert any(c.action == "create" and NEXT_SHA[:12] in c.address for c in review.changes)
    assert not any(NEW_SHA[:12] in c.address and c.action != "no-op" for c in review.changes)  # B: the fallback
    text = markdown([review])
    assert f"- retired: version {a.version_id}'s configuration" in text


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


# dev's one built-in alarm replaced by another: the endpoint stops watching the removed one
ANOTHER_ALARM_ONLY = {"server_error_rate": None, "extra": [{"name": "other", "namespace": "AWS/SageMaker",
                      "metric_name": "Invocation5XXErrors", "statistic": "Sum", "threshold": 10}]}  # fmt: skip


def test_removed_alarm_needs_attention_and_is_called_out_first(base: Base, tmp_path: Path) -> None:
    review = review_of(base, tmp_path, lambda p: edit_yaml(p / "environments/dev.yaml",
                                                           lambda d: d.update(rollback_alarms=ANOTHER_ALARM_ONLY)))  # fmt: skip

    assert review.verdict == "needs attention"
    assert AlarmChange("delete", "text-embedder-dev-rollback-5xx-rate") in review.alarm_changes
    assert [u.alarm_names for u in review.unwatched_alarms] == [("text-embedder-dev-rollback-5xx-rate",)]
    text = markdown([review])
    assert "- removed: `text-embedder-dev-rollback-5xx-rate`" in text
    assert "- no longer watched during rollouts: text-embedder-dev-rollback-5xx-rate" in text
    assert any("rollback alarm text-embedder-dev-rollback-5xx-rate is removed" in r for r in review.reasons)
    alarm = next(c.address for c in review.changes if "metric_alarm" in c.address and c.action == "delete")
    assert review.removals == (Removal("delete", alarm, "a rollback alarm goes with it"),)
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
