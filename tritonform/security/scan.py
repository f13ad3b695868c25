"""The security gate: checkov's checks, tritonform's own checks and a justified baseline.

Every synthesized stack (terraform_json) and every given plan (terraform_plan) is scanned by checkov with
the custom checks in checks/ (checks/prod/ count for prod stacks only). Two properties checkov cannot
see are checked here over the synthesized JSON: the state backend encrypts and locks, and every bucket
policy refuses plain HTTP. A failed check passes the gate only when

- the environment records a security exception for the control the check guards (environments/*.yaml), or
- security-baseline.yaml accepts that check on that construct, with a written justification.

The gate fails on anything else, on a baseline entry that accepts nothing (it would hide a future finding),
and when the scanner hit a parse error or checked nothing (checkov then exits 0 with an empty report).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tritonform.config import Deployment
from tritonform.config.environment import HardeningControlName
from tritonform.config.hardening import hardening_state
from tritonform.config.names import access_stack_name, serving_stack_name, unkeyed_construct_path
from tritonform.config.security_baseline import Baseline, BaselineEntry
from tritonform.documents import parse_model
from tritonform.errors import UserError

CHECKS_DIR = Path(__file__).parent / "checks"
BASELINE_FILE = "security-baseline.yaml"
CHECKOV_TIMEOUT_S = 600

# Which failed checks a recorded security exception (environments/<env>.yaml) accepts for its environment.
CHECKS_A_CONTROL_GUARDS: dict[HardeningControlName, frozenset[str]] = {
    "vpc": frozenset({"CKV2_TRITONFORM_3"}),
    "network-isolation": frozenset({"CKV_AWS_370", "CKV2_TRITONFORM_2"}),
    "kms-artifacts": frozenset({"CKV_AWS_145"}),
    "kms-volume": frozenset({"CKV_AWS_98"}),
    "kms-data-capture": frozenset({"CKV2_TRITONFORM_4"}),
}
STATE_CHECK = ("TRITONFORM_STATE_1", "Ensure the S3 state backend encrypts the state and locks it (use_lockfile)")
TLS_CHECK = ("TRITONFORM_TLS_1", "Ensure every S3 bucket policy denies requests without TLS (aws:SecureTransport)")


@dataclass(frozen=True)
class Finding:
    check_id: str
    check_name: str
    stack: str
    construct: str
    source: str  # "synth" or "plan"

    def describe(self) -> str:
        return f"{self.check_id} {self.stack} {self.construct} ({self.source}): {self.check_name}"


@dataclass
class ScanResult:
    scanner: str = ""
    stacks: int = 0
    plans: int = 0
    passed: int = 0
    failed: list[Finding] = field(default_factory=list)
    accepted: list[tuple[Finding, str]] = field(default_factory=list)
    unused: list[BaselineEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unused

    def findings_report(self) -> dict[str, Any]:
        """The gate's failures in checkov's report shape, for `tritonform review --findings`."""
        failed = [
            {"check_id": f.check_id, "check_name": f.check_name, "resource": f"{f.construct} ({f.source})",
             "file_path": f"/stacks/{f.stack}/cdk.tf.json"}
            for f in self.failed
        ]  # fmt: skip
        return {"check_type": "tritonform scan", "results": {"failed_checks": failed}}

    def render(self) -> list[str]:
        lines = [
            f"scan: {self.scanner} and tritonform's checks over {self.stacks} stack(s) and {self.plans} plan(s): "
            f"{self.passed} passed, {len(self.accepted)} accepted, {len(self.failed)} failed"
        ]
        grouped: dict[tuple[str, str, str, str], list[str]] = {}
        for finding, why in self.accepted:
            grouped.setdefault((finding.check_id, finding.construct, finding.check_name, why), []).append(
                f"{finding.stack} ({finding.source})"
            )
        for (check_id, construct, name, why), where in grouped.items():
            lines += [f"  accepted  {check_id} {construct} in {', '.join(sorted(where))}: {name}",
                      f"            because: {why}"]  # fmt: skip
        lines += [f"  FAILED    {finding.describe()}" for finding in self.failed]
        lines += [
            f"  UNUSED    baseline entry {entry.check} on {entry.path} accepts nothing: remove it"
            for entry in self.unused
        ]
        return lines


def checkov_executable(root: Path) -> Path:
    configured = os.environ.get("TRITONFORM_CHECKOV")
    executable = Path(configured) if configured else root / ".tritonform" / "checkov" / "bin" / "checkov"
    if not executable.is_file():
        raise UserError.single(
            f"checkov is not installed at {executable}: run scripts/bootstrap (it installs checkov from "
            "tools/checkov/requirements.txt into its own virtual environment)"
        )
    return executable


def run_checkov(executable: Path, targets: list[str], framework: str) -> list[dict[str, Any]]:
    """checkov's JSON reports (one per framework and target), with tritonform's custom checks loaded."""
    command = [
        str(executable),
        *targets,
        "--framework",
        framework,
        "--skip-download",
        "--output",
        "json",
        "--external-checks-dir",
        str(CHECKS_DIR / "all"),
        "--external-checks-dir",
        str(CHECKS_DIR / "prod"),
    ]
    environment = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    try:
        completed = subprocess.run(  # checkov from the project's own virtual environment
            command, capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_S, env=environment, check=False
        )
    except subprocess.TimeoutExpired:
        raise UserError.single(f"checkov did not finish within {CHECKOV_TIMEOUT_S} s") from None
    if completed.returncode not in (0, 1):  # 1: some check failed
        raise UserError.single(f"checkov failed (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}")
    return _json_documents(completed.stdout)


def _json_documents(text: str) -> list[dict[str, Any]]:
    """checkov prints one JSON document per target, one after another (or a list, or {} for nothing)."""
    decoder, index = json.JSONDecoder(), 0
    documents: list[dict[str, Any]] = []
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        try:
            document, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as err:
            raise UserError.single(f"checkov printed something that is not its JSON report: {err}") from None
        documents += document if isinstance(document, list) else [document]


def read_stack(stack_json: Path) -> dict[str, Any]:
    try:
        document = json.loads(stack_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError.single(f"not a synthesized stack ({err}): synthesize again", file=stack_json) from None
    if not isinstance(document, dict):
        raise UserError.single("not a synthesized stack: not a JSON object", file=stack_json)
    return document


def construct_paths(document: dict[str, Any]) -> dict[str, str]:
    """Logical id -> construct path inside the stack ("artifacts_key_6DD7A8ED" -> "artifacts/key"), version keys
    left out ("triton/configuration-969c14487609" -> "triton/configuration")."""
    paths = {}
    for block in ("resource", "data"):
        for instances in document.get(block, {}).values():
            for logical_id, body in instances.items():
                path = body.get("//", {}).get("metadata", {}).get("path", logical_id)
                # without version keys: a finding names its construct as a baseline entry does, for every release
                paths[logical_id] = unkeyed_construct_path(path.split("/", 1)[1] if "/" in path else path)
    return paths


def own_checks(stack: str, document: dict[str, Any], paths: dict[str, str]) -> tuple[int, list[Finding]]:
    """What checkov cannot see: the backend block, and a bucket policy's document behind its data source."""
    passed, failed = 0, []
    backend = document.get("terraform", {}).get("backend", {})
    s3 = backend.get("s3")
    if s3 is not None and s3.get("encrypt") is True and s3.get("use_lockfile") is True:
        passed += 1
    else:
        failed.append(Finding(*STATE_CHECK, stack, "backend", "synth"))
    documents = document.get("data", {}).get("aws_iam_policy_document", {})
    for logical_id, policy in document.get("resource", {}).get("aws_s3_bucket_policy", {}).items():
        source = str(policy.get("policy", "")).removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
        statements = documents.get(source, {}).get("statement", [])
        denies_plain_http = any(
            statement.get("effect") == "Deny"
            and any(_is_plain_http(condition) for condition in statement.get("condition", []))
            for statement in statements
        )
        if denies_plain_http:
            passed += 1
        else:
            failed.append(Finding(*TLS_CHECK, stack, paths.get(logical_id, logical_id), "synth"))
    return passed, failed


def _is_plain_http(condition: dict[str, Any]) -> bool:
    return condition.get("variable") == "aws:SecureTransport" and condition.get("values") == ["false"]


def _prod_only_checks() -> set[str]:
    ids = set()
    for path in sorted((CHECKS_DIR / "prod").glob("*.yaml")):
        ids.add(str(yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"]["id"]))
    return ids


def scan(
    root: Path, deployments: list[Deployment], synth_dir: Path, plans: dict[str, Path], baseline: Baseline
) -> ScanResult:
    """Scan every stack under synth_dir/stacks and every plan (stack name -> plan JSON)."""
    executable = checkov_executable(root)
    stacks_dir = synth_dir / "stacks"
    stacks = sorted(p.name for p in stacks_dir.iterdir() if (p / "cdk.tf.json").is_file())
    if not stacks:
        raise UserError.single(f"no synthesized stacks under {stacks_dir}")
    tier_of = {}
    exceptions: dict[str, dict[str, str]] = {}
    for deployment in deployments:
        env = deployment.environment
        recorded = {
            check: f"security exception for {off.name}: {off.exception_record()}"
            for off in hardening_state(env)
            if off.exception is not None
            for check in CHECKS_A_CONTROL_GUARDS[off.exception.control]
        }
        for stack in (serving_stack_name(env.name), access_stack_name(env.name)):
            tier_of[stack] = env.tier
            exceptions[stack] = recorded
    documents = {stack: read_stack(stacks_dir / stack / "cdk.tf.json") for stack in stacks}
    paths = {stack: construct_paths(document) for stack, document in documents.items()}
    prod_only = _prod_only_checks()
    result = ScanResult(stacks=len(stacks), plans=len(plans))

    with tempfile.TemporaryDirectory(prefix="tritonform-checkov-") as readable:
        reports = run_checkov(executable, ["--directory", _without_moved(documents, Path(readable))], "terraform_json")
    findings: list[Finding] = []
    versions = set()
    scanned: list[tuple[str, dict[str, Any], str | None]] = [("synth", report, None) for report in reports]
    for plan_stack, plan in sorted(plans.items()):
        scanned += [("plan", report, plan_stack) for report in run_checkov(executable, ["--file", str(plan)],
                                                                          "terraform_plan")]  # fmt: skip
    for source, report, planned_stack in scanned:
        scanned_what = str(plans[planned_stack]) if planned_stack else f"the synthesized stacks in {stacks_dir}"
        # a report of nothing is {} or a bare summary without results, and checkov still exits 0
        summary = report.get("summary", report)
        if summary.get("parsing_errors"):
            raise UserError.single(f"checkov could not parse {summary['parsing_errors']} file(s) of {scanned_what}")
        if "results" not in report or not summary.get("passed", 0) + summary.get("failed", 0):
            raise UserError.single(f"checkov checked nothing in {scanned_what}: the scan would prove nothing")
        versions.add(summary.get("checkov_version", "?"))
        results = report.get("results", {})
        for outcome in ("passed_checks", "failed_checks"):
            for check in results.get(outcome, []):
                stack = planned_stack or _stack_from_synth_path(str(check.get("file_path", "")))
                if check["check_id"] in prod_only and tier_of.get(stack) != "prod":
                    continue
                if outcome == "passed_checks":
                    result.passed += 1
                    continue
                logical_id = str(check.get("resource", "")).rsplit(".", 1)[-1]
                construct = paths.get(stack, {}).get(logical_id, logical_id)
                findings.append(Finding(check["check_id"], check.get("check_name", ""), stack, construct, source))
    result.scanner = "checkov " + ", ".join(sorted(versions))
    for stack in stacks:
        passed, failed = own_checks(stack, documents[stack], paths[stack])
        result.passed += passed
        findings += failed

    _judge(findings, exceptions, baseline, result)
    return result


def _judge(
    findings: list[Finding], exceptions: dict[str, dict[str, str]], baseline: Baseline, result: ScanResult
) -> None:
    """Each finding is accepted by a recorded exception, by a baseline entry, or fails the gate."""
    used: set[int] = set()
    for finding in findings:
        exception = exceptions.get(finding.stack, {}).get(finding.check_id)
        if exception is not None:
            result.accepted.append((finding, exception))
            continue
        for index, entry in enumerate(baseline.accepted):
            if (
                entry.check == finding.check_id
                and entry.path == finding.construct
                and (entry.stacks == "all" or finding.stack in entry.stacks)
            ):
                used.add(index)
                result.accepted.append((finding, " ".join(entry.justification.split())))
                break
        else:
            result.failed.append(finding)
    result.unused = [entry for index, entry in enumerate(baseline.accepted) if index not in used]


def _without_moved(documents: dict[str, dict[str, Any]], directory: Path) -> str:
    """The stacks as checkov reads them: without their `moved` blocks (labelless blocks, which checkov 3.3.30's
    terraform_json parser cannot read: it fails the whole file), which move state and hold no setting."""
    for stack, document in documents.items():
        (directory / stack).mkdir()
        readable = {key: value for key, value in document.items() if key != "moved"}
        (directory / stack / "cdk.tf.json").write_text(json.dumps(readable, indent=2), encoding="utf-8")
    return str(directory)


def _stack_from_synth_path(file_path: str) -> str:
    # checkov names files relative to the scanned directory: /<stack>/cdk.tf.json
    return file_path.strip("/").split("/", 1)[0]


def load_baseline(root: Path) -> Baseline:
    path = root / BASELINE_FILE
    if not path.is_file():
        return Baseline()
    return parse_model(Baseline, path)
