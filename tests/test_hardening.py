"""Hardening controls (VPC, network isolation, KMS for artifacts, volumes and data capture): on by default,
prod refuses to turn one off without a recorded security exception, and what is off shows everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, Editor, stack_document
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.environment import HARDENING_CONTROLS, weakened_controls
from tritonform.config.hardening import hardening_state, security_exceptions_output
from tritonform.config.names import configuration_name
from tritonform.config.rules import RULES
from tritonform.synth import synthesize

pytestmark = pytest.mark.synth

EXCEPTION = {
    "control": "network-isolation",
    "reason": "the tokenizer fetches its vocabulary at start-up until MLP-88 ships",
    "approved_by": "security-team",
    "ticket": "SEC-1234",
}


def _prod(project: Path) -> Path:
    return project / "environments" / "prod.yaml"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["network"].update(network_isolation=False), "network.network_isolation"),
        (lambda d: d["network"].update(subnet_ids=[], security_group_ids=[]), "network.subnet_ids"),
        (lambda d: d.update(encryption={"artifacts": False}), "encryption.artifacts"),
        (lambda d: d.update(encryption={"data_capture": False}), "encryption.data_capture"),
        (
            lambda d: d.update(encryption={"volume": False}) or d["endpoint"].update(instance_type="ml.p3.2xlarge"),
            "encryption.volume",
        ),
    ],
    ids=["network-isolation", "vpc", "kms-artifacts", "kms-data-capture", "kms-volume"],
)
def test_prod_refuses_a_control_turned_off_without_an_exception(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun], change: Callable[[dict[str, Any]], object], field: str
) -> None:
    edit(_prod(project), change)

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 2
    assert "Traceback" not in result.err
    assert f": {field}: prod must keep" in result.err
    assert "needs a security_exceptions entry" in result.err


def test_every_control_has_a_prod_rule_and_a_reason() -> None:
    names = {rule.name for rule in RULES if rule.tiers == {"prod"} and rule.severity == "problem"}
    assert {f"prod-keeps-{control.name}" for control in HARDENING_CONTROLS} <= names
    assert all(len(control.why) > 40 for control in HARDENING_CONTROLS)


def test_recorded_exception_lets_prod_load_and_every_check_prints_it(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    edit(_prod(project), lambda d: d["network"].update(network_isolation=False) or d.update(
        security_exceptions=[EXCEPTION]))  # fmt: skip

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 0, result.err
    assert (
        "security  WITHOUT network-isolation (network.network_isolation); exception SEC-1234, approved by "
        "security-team: the tokenizer fetches its vocabulary" in result.out
    )


def test_dev_may_turn_controls_off_and_check_still_says_so(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    edit(project / "environments" / "dev.yaml", lambda d: d["network"].update(network_isolation=False))

    result = run_cli("--root", str(project), "check", "--env", "dev")

    assert result.code == 0, result.err
    assert "WITHOUT network-isolation (network.network_isolation); no recorded exception" in result.out
    assert "WITHOUT vpc (network.subnet_ids); exception SEC-1001" in result.out  # the example dev has no VPC


@pytest.mark.parametrize(
    ("exceptions", "field", "words"),
    [
        ([EXCEPTION], "security_exceptions[0].control", "'network-isolation' is on in this environment"),
        ([EXCEPTION | {"reason": "because"}], "security_exceptions[0].reason", "at least 20 characters"),
        ([EXCEPTION | {"control": "firewall"}], "security_exceptions[0].control", "'vpc', 'network-isolation'"),
        ([EXCEPTION | {"ticket": "see slack thread!"}], "security_exceptions[0].ticket", "is not allowed here"),
        ([{k: v for k, v in EXCEPTION.items() if k != "approved_by"}], "security_exceptions[0].approved_by",
         "required, but missing"),
    ],
    ids=["stale", "short reason", "unknown control", "bad ticket", "no approver"],
)  # fmt: skip
def test_bad_exceptions_are_refused(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun], exceptions: list[Any], field: str, words: str
) -> None:
    edit(_prod(project), lambda d: d.update(security_exceptions=exceptions))

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 2
    line = next((row for row in result.err.splitlines() if f": {field}: " in row), "")
    assert words in line, result.err
    assert line.startswith(f"{_prod(project)}:") or line.startswith("environments/prod.yaml:"), line


def test_same_exception_twice_is_refused(project: Path, edit: Editor, run_cli: Callable[..., CliRun]) -> None:
    edit(_prod(project), lambda d: d["network"].update(network_isolation=False) or d.update(
        security_exceptions=[EXCEPTION, EXCEPTION]))  # fmt: skip

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 2
    assert "security_exceptions[1].control: names 'network-isolation' a second time" in result.err


def test_hardening_state_pairs_each_control_off_with_its_own_exception(project: Path, edit: Editor) -> None:
    edit(project / "environments" / "dev.yaml", lambda d: d.update(encryption={"artifacts": False}))

    (dev,) = load_deployments(ProjectLayout(project), ["dev"])
    vpc, artifacts = hardening_state(dev.environment)  # the example dev runs without a VPC, with an exception

    assert (vpc.name, vpc.field, artifacts.name, artifacts.field) == (
        "vpc", "network.subnet_ids", "kms-artifacts", "encryption.artifacts")  # fmt: skip
    assert vpc.exception is not None and artifacts.exception is None
    assert vpc.exception_record() == f"SEC-1001, approved by ml-platform-security: {vpc.exception.reason}"
    assert artifacts.exception_record() is None
    assert security_exceptions_output(dev.environment) == [
        "vpc: SEC-1001, approved by ml-platform-security", "kms-artifacts: no exception"]  # fmt: skip


def test_volume_setting_is_moot_on_nvme_types_so_nothing_is_weakened(project: Path, edit: Editor) -> None:
    edit(_prod(project), lambda d: d.update(encryption={"volume": False}))  # prod runs ml.g5 (local NVMe)

    (prod,) = load_deployments(ProjectLayout(project), ["prod"])

    assert weakened_controls(prod.environment) == []


def test_access_logs_cannot_go_to_the_bucket_itself(
    project: Path, edit: Editor, run_cli: Callable[..., CliRun]
) -> None:
    edit(_prod(project), lambda d: d["artifacts"].update(access_log_bucket=d["artifacts"]["bucket"]))

    result = run_cli("--root", str(project), "check", "--env", "prod")

    assert result.code == 2
    assert "artifacts.access_log_bucket: a bucket cannot hold its own access logs" in result.err


def test_defaults_synthesize_every_control_and_the_exceptions_output(tmp_path: Path) -> None:
    synthesize(ProjectLayout(Path(__file__).parents[1]), tmp_path, ["prod"], "local")
    document = stack_document(tmp_path, "tritonform-prod")
    resources = document["resource"]

    (model,) = resources["aws_sagemaker_model"].values()
    (configuration,) = resources["aws_sagemaker_endpoint_configuration"].values()
    (encryption,) = resources["aws_s3_bucket_server_side_encryption_configuration"].values()
    (logging,) = resources["aws_s3_bucket_logging"].values()
    assert model["enable_network_isolation"] is True
    assert model["vpc_config"]["subnets"]
    assert configuration["data_capture_config"]["kms_key_id"].startswith("${aws_kms_key.")
    assert encryption["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "aws:kms"
    assert logging["target_bucket"] == "acme-s3-access-logs-prod"
    assert document["output"]["security_exceptions"]["value"] == []


def test_controls_turned_off_in_dev_are_left_out_of_the_stack(project: Path, edit: Editor, tmp_path: Path) -> None:
    dev = project / "environments" / "dev.yaml"
    layout = ProjectLayout(project)
    (before,) = load_deployments(layout, ["dev"])
    weaken = {
        "encryption": {"artifacts": False, "volume": False, "data_capture": False},
        "data_capture": {"sampling_percent": 5},
    }
    edit(dev, lambda d: d.update(weaken) or d["endpoint"].update(instance_type="ml.p3.2xlarge"))
    (after,) = load_deployments(layout, ["dev"])

    synthesize(layout, tmp_path, ["dev"], "local")
    document = stack_document(tmp_path, "tritonform-dev")
    resources = document["resource"]

    assert "aws_kms_key" not in resources  # nothing uses a key, so none is created
    (encryption,) = resources["aws_s3_bucket_server_side_encryption_configuration"].values()
    assert encryption["rule"][0]["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    (configuration,) = resources["aws_sagemaker_endpoint_configuration"].values()
    assert "kms_key_arn" not in configuration
    assert "kms_key_id" not in configuration["data_capture_config"]
    (permissions,) = [d for n, d in document["data"]["aws_iam_policy_document"].items() if "permissions" in n]
    assert not [s for s in permissions["statement"] if any(a.startswith("kms:") for a in s["actions"])]
    assert document["output"]["security_exceptions"]["value"] == [
        "vpc: SEC-1001, approved by ml-platform-security", "kms-artifacts: no exception", "kms-volume: no exception",
        "kms-data-capture: no exception",
    ]  # fmt: skip
    # an endpoint configuration cannot change in place: leaving a key out must give it a new name
    assert configuration_name(before.environment, before.release) != configuration_name(
        after.environment, after.release
    )
