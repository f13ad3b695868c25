"""Running the real Terraform binary offline, against the machine's filesystem mirror of the providers.

Terraform reads its CLI configuration from TF_CLI_CONFIG_FILE. We never touch the user's: tritonform
writes its own (.tritonform/terraform.rc) that installs hashicorp/aws only from the local mirror and
turns off Terraform's update check, and passes it to every Terraform it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tritonform.errors import UserError

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
AWS_PROVIDER_VERSION = "5.100.0"
MIRROR_ENV = "TRITONFORM_PROVIDER_MIRROR"
# Terraform's own implicit mirror locations, plus the one this project's build machines ship.
_MIRROR_CANDIDATES = (
    Path("~/.terraform.d/plugins"),
    Path("~/.local/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
    Path("/opt/tf-plugins"),
)
DEFAULT_TIMEOUT_S = 300


@dataclass(frozen=True)
class TerraformResult:
    ok: bool
    output: str
    diagnostics: list[str] = field(default_factory=list)


def _has_aws_provider(mirror: Path) -> bool:
    return (mirror / AWS_PROVIDER / AWS_PROVIDER_VERSION).is_dir() or any(
        (mirror / AWS_PROVIDER).glob(f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_*.zip")
    )


def find_provider_mirror() -> Path:
    configured = os.environ.get(MIRROR_ENV)
    if configured:
        mirror = Path(configured).expanduser()
        if not _has_aws_provider(mirror):
            raise UserError.single(
                f"{mirror} holds no {AWS_PROVIDER} {AWS_PROVIDER_VERSION} (expected {AWS_PROVIDER}/"
                f"{AWS_PROVIDER_VERSION}/<os>_<arch>/ inside it)",
                field=MIRROR_ENV,
            )
        return mirror
    for candidate in _MIRROR_CANDIDATES:
        mirror = candidate.expanduser()
        if _has_aws_provider(mirror):
            return mirror
    searched = ", ".join(str(c) for c in _MIRROR_CANDIDATES)
    raise UserError.single(
        f"no filesystem mirror of {AWS_PROVIDER} {AWS_PROVIDER_VERSION} found (searched {searched}); "
        f"set {MIRROR_ENV} to the directory that contains registry.terraform.io/"
    )


def cli_config_text(mirror: Path) -> str:
    return (
        "# Written by tritonform: providers come only from the local mirror; no update checks.\n"
        "disable_checkpoint = true\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f"    include = [{json.dumps(AWS_PROVIDER)}]\n"
        "  }\n"
        "}\n"
    )


def ensure_cli_config(project_root: Path) -> Path:
    path = project_root.resolve() / ".tritonform" / "terraform.rc"
    text = cli_config_text(find_provider_mirror())
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own per writer: several Terraform runs may start at once (the demo runs two)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".terraform.rc.", delete=False) as tmp:
            tmp.write(text)
        Path(tmp.name).replace(path)
    return path


def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        raise UserError.single("terraform is not on PATH (tritonform is tested with Terraform 1.11)")
    return binary


REGISTRY_ENV = "TRITONFORM_TERRAFORM_REGISTRY"
# Go's garbage collector target for Terraform and the provider plugins it starts (they inherit the
# environment; runtime package docs, "Environment Variables"). The AWS provider builds every resource schema
# each time Terraform starts it (three times for a plan); at GOGC=400 that takes about a third less CPU for
# about 150 MB more memory, measured with provider 5.100. A GOGC set by the user is kept.
PROVIDER_GOGC = "400"


def terraform_env(project_root: Path) -> dict[str, str]:
    """Terraform's environment: the offline mirror config, unless TRITONFORM_TERRAFORM_REGISTRY=1 (CI runners
    that reach the registry, e.g. the GitHub workflows) keeps Terraform's own provider installation."""
    env = dict(os.environ)
    env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1")
    env.setdefault("GOGC", PROVIDER_GOGC)
    if os.environ.get(REGISTRY_ENV) != "1":
        env["TF_CLI_CONFIG_FILE"] = str(ensure_cli_config(project_root))
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return env


def run_terraform(
    args: list[str], cwd: Path, project_root: Path, timeout_s: int = DEFAULT_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [terraform_binary(), *args],
            cwd=cwd,
            env=terraform_env(project_root),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise UserError.single(f"terraform {' '.join(args)} did not finish within {timeout_s} s", file=cwd) from None


def plan_json(stack_dir: Path, project_root: Path, refresh: bool = True) -> tuple[TerraformResult, str]:
    """`terraform plan -out` then `terraform show -json`: the plan as the review reads it."""
    planned = run_terraform(
        ["plan", "-input=false", "-no-color", "-out=tritonform.plan", f"-refresh={'true' if refresh else 'false'}"],
        stack_dir,
        project_root,
        timeout_s=1800,
    )
    if planned.returncode != 0:
        return TerraformResult(False, planned.stdout + planned.stderr), ""
    shown = run_terraform(["show", "-json", "tritonform.plan"], stack_dir, project_root)
    return TerraformResult(shown.returncode == 0, planned.stdout + shown.stderr), shown.stdout


def init(stack_dir: Path, project_root: Path, backend: bool = False) -> TerraformResult:
    result = run_terraform(
        ["init", "-input=false", "-no-color", f"-backend={'true' if backend else 'false'}"],
        stack_dir,
        project_root,
    )
    return TerraformResult(result.returncode == 0, result.stdout + result.stderr)


def validate(stack_dir: Path, project_root: Path) -> TerraformResult:
    result = run_terraform(["validate", "-json", "-no-color"], stack_dir, project_root)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return TerraformResult(False, result.stdout + result.stderr, [result.stderr.strip() or "no JSON output"])
    diagnostics = [
        f"{d.get('severity', 'error')}: {d.get('summary', '')}: {d.get('detail', '')}".rstrip(": ")
        for d in report.get("diagnostics", [])
    ]
    return TerraformResult(bool(report.get("valid")) and result.returncode == 0, result.stdout, diagnostics)


def version() -> str:
    result = subprocess.run(
        [terraform_binary(), "version", "-json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        stdin=subprocess.DEVNULL,
    )
    try:
        return str(json.loads(result.stdout)["terraform_version"])
    except (json.JSONDecodeError, KeyError):
        return "unknown"
