"""The security gate (`tritonform scan`): real checkov 3.3.30 from .tritonform/checkov over the synthesized
stacks and over real Terraform plans; tritonform's custom and own checks; the justified baseline.

Plans: each stack of the example is synthesized with a local backend and planned by the real Terraform
binary and hashicorp/aws provider against a moto server on loopback (a provider override points every
endpoint there and lifts the account check, since moto answers for its own test account). A plan of a new
environment creates everything, so Terraform needs no answer from AWS to make it; the override makes sure
anything it did ask would go to loopback only.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, edit_stack_document, stack_directory, stack_file
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.security_baseline import Baseline, BaselineEntry
from tritonform.errors import UserError
from tritonform.review.findings import load_findings
from tritonform.security.scan import ScanResult, construct_paths, load_baseline, own_checks, read_stack, scan
from tritonform.stacks.shared import STAND_IN_SERVICES
from tritonform.standin import MotoServer
from tritonform.synth import synthesize

pytestmark = [pytest.mark.synth, pytest.mark.terraform]

STACKS = [f"tritonform-{env}{kind}" for env in ("dev", "staging", "prod") for kind in ("", "-access")]


def _stand_in_override(url: str) -> dict[str, Any]:
    return {"provider": {"aws": {
        "access_key": "testing", "secret_key": "testing", "skip_credentials_validation": True,
        "skip_requesting_account_id": True, "skip_metadata_api_check": "true", "s3_use_path_style": True,
        "max_retries": 1, "allowed_account_ids": None, "endpoints": dict.fromkeys(STAND_IN_SERVICES, url),
    }}}  # fmt: skip


def _plan(stack_dir: Path, url: str, out: Path) -> Path:
    (stack_dir / "zz_stand_in_override.tf.json").write_text(json.dumps(_stand_in_override(url)))
    for args in (["init", "-input=false", "-no-color"],
                 ["plan", "-input=false", "-no-color", "-refresh=false", "-out=plan.bin"]):  # fmt: skip
        result = terraform.run_terraform(args, stack_dir, REPO_ROOT, timeout_s=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    shown = terraform.run_terraform(["show", "-json", "plan.bin"], stack_dir, REPO_ROOT)
    assert shown.returncode == 0, shown.stderr
    plan = out / f"{stack_dir.name}.json"
    plan.write_text(shown.stdout)
    return plan


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory, aws: MotoServer) -> Path:
    """Real plans of every example stack (serving and access), made against moto."""
    root = tmp_path_factory.mktemp("scan-plans")
    synthesize(ProjectLayout(REPO_ROOT), root / "cdktf.out", state_backend="local")
    out = root / "plans"
    out.mkdir()
    with ThreadPoolExecutor(max_workers=3) as pool:
        made = list(pool.map(lambda stack: _plan(stack_directory(root / "cdktf.out", stack), aws.url, out), STACKS))
    assert len(made) == len(STACKS)
    return out


def _scan(project: Path, synth_dir: Path, baseline: Baseline | None = None) -> ScanResult:
    deployments = load_deployments(ProjectLayout(project))

    return scan(project, deployments, synth_dir, {}, baseline or load_baseline(project))


def test_example_passes_the_gate_over_stacks_and_plans(plans: Path, run_cli: Callable[..., CliRun]) -> None:
    result = run_cli("--root", str(REPO_ROOT), "scan", "--plans", str(plans))

    assert result.code == 0, result.out + result.err
    summary = result.out.splitlines()[0]
    assert "checkov 3.3.30" in summary
    assert "over 6 stack(s) and 6 plan(s)" in summary
    assert summary.endswith(", 0 failed")
    # every accepted finding names its reason; the recorded dev exception accepts the VPC check
    assert "CKV2_TRITONFORM_3 triton/model in tritonform-dev (plan), tritonform-dev (synth)" in result.out
    assert "because: security exception for vpc: SEC-1001, approved by ml-platform-security" in result.out
    assert "CKV_AWS_98 triton/configuration in" in result.out and "(plan)" in result.out
    assert "FAILED" not in result.out and "UNUSED" not in result.out


def test_scanning_plans_adds_checks_beyond_the_synthesized_stacks(plans: Path, run_cli: Callable[..., CliRun]) -> None:
    without = run_cli("--root", str(REPO_ROOT), "scan")
    with_plans = run_cli("--root", str(REPO_ROOT), "scan", "--plans", str(plans))

    def passed(out: str) -> int:
        return int(out.split("): ", 1)[1].split(" passed", maxsplit=1)[0])

    assert without.code == with_plans.code == 0
    assert passed(with_plans.out) > passed(without.out)


def _only(document: dict[str, Any], block: str, kind: str) -> dict[str, Any]:
    (body,) = document[block][kind].values()
    assert isinstance(body, dict)
    return body


def _no_deployment_config(document: dict[str, Any]) -> None:
    del _only(document, "resource", "aws_sagemaker_endpoint")["deployment_config"]


def _no_rollback_alarms(document: dict[str, Any]) -> None:
    del _only(document, "resource", "aws_sagemaker_endpoint")["deployment_config"]["auto_rollback_configuration"]


def _one_instance(document: dict[str, Any]) -> None:
    _only(document, "resource", "aws_sagemaker_endpoint_configuration")["production_variants"][0][
        "initial_instance_count"
    ] = 1


def _no_isolation(document: dict[str, Any]) -> None:
    _only(document, "resource", "aws_sagemaker_model")["enable_network_isolation"] = False


def _capture_without_key(document: dict[str, Any]) -> None:
    del _only(document, "resource", "aws_sagemaker_endpoint_configuration")["data_capture_config"]["kms_key_id"]


def _versioning_suspended(document: dict[str, Any]) -> None:
    _only(document, "resource", "aws_s3_bucket_versioning")["versioning_configuration"]["status"] = "Suspended"


def _plain_http_allowed(document: dict[str, Any]) -> None:
    for name, policy in document["data"]["aws_iam_policy_document"].items():
        if "bucket-policy" in name:
            policy["statement"][0]["condition"][0]["values"] = ["true"]


def _state_unlocked(document: dict[str, Any]) -> None:
    document["terraform"]["backend"]["s3"]["use_lockfile"] = False


@pytest.mark.parametrize(
    ("change", "check", "construct"),
    [
        (_no_deployment_config, "CKV2_TRITONFORM_1", "triton/endpoint"),
        (_no_rollback_alarms, "CKV2_TRITONFORM_7", "triton/endpoint"),
        (_one_instance, "CKV2_TRITONFORM_8", "triton/configuration"),
        (_no_isolation, "CKV2_TRITONFORM_2", "triton/model"),
        (_capture_without_key, "CKV2_TRITONFORM_4", "triton/configuration"),
        (_versioning_suspended, "CKV2_TRITONFORM_6", "artifacts/versioning"),
        (_plain_http_allowed, "TRITONFORM_TLS_1", "artifacts/policy"),
        (_state_unlocked, "TRITONFORM_STATE_1", "backend"),
    ],
    ids=["no deployment_config", "no rollback alarms", "one instance", "no network isolation",
         "capture without KMS", "versioning suspended", "plain HTTP allowed", "state not locked"],
)  # fmt: skip
def test_custom_checks_catch_a_weakened_prod_stack(
    synthesized_example: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None], check: str, construct: str
) -> None:
    synth_dir = tmp_path / "cdktf.out"
    shutil.copytree(synthesized_example, synth_dir)
    edit_stack_document(synth_dir, "tritonform-prod", change)

    result = _scan(REPO_ROOT, synth_dir)

    assert not result.ok
    assert (check, "tritonform-prod", construct) in [(f.check_id, f.stack, f.construct) for f in result.failed]
    assert {f.stack for f in result.failed} == {"tritonform-prod"}


def test_prod_only_checks_do_not_apply_to_dev(synthesized_example: Path, tmp_path: Path) -> None:
    synth_dir = tmp_path / "cdktf.out"
    shutil.copytree(synthesized_example, synth_dir)
    edit_stack_document(synth_dir, "tritonform-dev", _no_rollback_alarms)

    result = _scan(REPO_ROOT, synth_dir)

    assert result.ok, result.render()  # dev's one instance and missing alarms are prod rules only


def test_unused_baseline_entry_fails_the_gate(synthesized_example: Path) -> None:

    stale = BaselineEntry(
        check="CKV_AWS_370", path="triton/model", justification="an exception nobody needs any more, kept by mistake"
    )
    baseline = Baseline(accepted=[*load_baseline(REPO_ROOT).accepted, stale])

    result = _scan(REPO_ROOT, synthesized_example, baseline)

    assert not result.ok
    assert result.unused == [stale]
    assert "UNUSED    baseline entry CKV_AWS_370 on triton/model accepts nothing: remove it" in "\n".join(
        result.render()
    )


def test_finding_without_a_baseline_entry_fails_the_gate(synthesized_example: Path) -> None:
    result = _scan(REPO_ROOT, synthesized_example, Baseline())

    assert not result.ok
    assert {f.check_id for f in result.failed} >= {"CKV_AWS_98", "CKV_AWS_109", "CKV2_AWS_62"}
    assert "CKV2_TRITONFORM_3" not in {f.check_id for f in result.failed}  # dev's recorded exception still holds


def test_bad_baseline_is_refused_with_file_line_and_field(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    project = copy_project(tmp_path / "project")
    (project / "security-baseline.yaml").write_text(
        "accepted:\n  - check: CKV_AWS_98\n    path: triton/configuration\n    justification: because\n"
    )

    result = run_cli("--root", str(project), "scan")

    assert result.code == 2
    assert "security-baseline.yaml:4: accepted[0].justification: String should have at least 40 characters" in (
        result.err
    )


def test_unparsable_stack_stops_the_scan(synthesized_example: Path, tmp_path: Path) -> None:
    synth_dir = tmp_path / "cdktf.out"
    shutil.copytree(synthesized_example, synth_dir)
    stack_file(synth_dir, "tritonform-dev").write_text('{"resource": {"aws_s3_bucket": ')

    with pytest.raises(UserError) as raised:
        _scan(REPO_ROOT, synth_dir)

    assert "tritonform-dev/cdk.tf.json" in str(raised.value)
    assert "not a synthesized stack" in str(raised.value)


@pytest.mark.parametrize("content", ['{"format_version": "1.2", "terraform_version": "1.11.4"}', "not json"],
                         ids=["plan of nothing", "not a plan"])  # fmt: skip
def test_a_plan_checkov_checks_nothing_in_stops_the_scan(
    tmp_path: Path, run_cli: Callable[..., CliRun], content: str
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "dev.json").write_text(content)

    result = run_cli("--root", str(REPO_ROOT), "scan", "--plans", str(plans))

    assert result.code == 2
    assert f"checkov checked nothing in {plans / 'dev.json'}: the scan would prove nothing" in result.err


def test_plan_of_an_unknown_stack_is_refused(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    (tmp_path / "qa.json").write_text("{}")

    result = run_cli("--root", str(REPO_ROOT), "scan", "--plans", str(tmp_path))

    assert result.code == 2
    assert "plan of an unknown stack 'tritonform-qa'" in result.err


def test_empty_synth_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()

    with pytest.raises(UserError, match="no synthesized stacks"):
        _scan(REPO_ROOT, tmp_path)


def test_missing_scanner_says_how_to_install_it(
    synthesized_example: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRITONFORM_CHECKOV", str(tmp_path / "no-checkov"))

    with pytest.raises(UserError, match="run scripts/bootstrap"):
        _scan(REPO_ROOT, synthesized_example)


def test_own_checks_pass_on_every_example_stack(synthesized_example: Path) -> None:
    for stack in STACKS:
        document = read_stack(stack_file(synthesized_example, stack))
        passed, failed = own_checks(stack, document, construct_paths(document))
        assert failed == []
        assert passed == (2 if "access" not in stack else 1)  # backend, plus the bucket policy where one is


def test_gate_failures_feed_the_plan_review(
    tmp_path: Path, run_cli: Callable[..., CliRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRITONFORM_CHECKOV", str(REPO_ROOT / ".tritonform/checkov/bin/checkov"))  # the copy has none
    project = copy_project(tmp_path / "project")
    (project / "security-baseline.yaml").write_text("accepted: []\n")  # nothing accepted: the findings fail
    report = tmp_path / "findings.json"

    result = run_cli("--root", str(project), "scan", "--findings-out", str(report))

    assert result.code == 1
    assert "FAILED    CKV_AWS_98 tritonform-prod triton/configuration (synth)" in result.out
    findings = load_findings(report)  # what `tritonform review --findings` reads
    assert set(findings) >= {"dev", "staging", "prod"}
    assert any(f.check_id == "CKV_AWS_98" and f.resource == "triton/configuration (synth)" for f in findings["prod"])
