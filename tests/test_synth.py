"""Tier 3: full synthesis of every environment, validated by the real Terraform binary and provider.

Also: determinism (byte-identical output), purity (no AWS client loaded), the lean provider import
producing the same JSON as the plain one, and the real cdktf CLI producing the same JSON from cdktf.json.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    REPO_ROOT,
    copy_project,
    edit_stack_document,
    stack_directory,
    stack_document,
    stack_file,
    tritonform_subprocess,
)
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.names import serving_stack_name

pytestmark = pytest.mark.synth

STACKS = ["tritonform-dev", "tritonform-staging", "tritonform-prod"]
ACCESS_STACKS = [f"{stack}-access" for stack in STACKS]


def assert_same_tree(left: Path, right: Path) -> None:
    left_files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    right_files = sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    assert left_files == right_files
    assert left_files, "nothing was synthesized"
    _, mismatch, errors = filecmp.cmpfiles(left, right, [str(p) for p in left_files], shallow=False)
    assert mismatch == [] and errors == []


def test_a_serving_and_an_access_stack_per_environment(synthesized_example: Path) -> None:
    found = sorted(p.name for p in (synthesized_example / "stacks").iterdir())
    assert found == sorted([*STACKS, *ACCESS_STACKS])  # every example environment declares its CI role


def test_stacks_carry_what_the_environment_and_release_say(synthesized_example: Path) -> None:
    for deployment in load_deployments(ProjectLayout(REPO_ROOT)):
        env, release = deployment.environment, deployment.release
        document = stack_document(synthesized_example, serving_stack_name(env.name))
        resources = document["resource"]
        (model,) = resources["aws_sagemaker_model"].values()
        (config,) = resources["aws_sagemaker_endpoint_configuration"].values()
        (endpoint,) = resources["aws_sagemaker_endpoint"].values()
        assert model["primary_container"]["image"] == release.triton_image.uri
        assert model["primary_container"]["model_data_url"] == release.artifact.s3_uri
        assert model["enable_network_isolation"] is env.network.network_isolation
        assert config["name"].startswith(f"{env.endpoint.name}-{release.version_id}-")
        assert config["production_variants"][0]["instance_type"] == env.endpoint.instance_type
        # a new configuration starts with the live count the deploy passes, else with initial_instances
        assert config["production_variants"][0]["initial_instance_count"] == "${var.live_instances}"
        assert document["variable"]["live_instances"]["default"] == env.capacity.initial_instances
        assert endpoint["name"] == env.endpoint.name
        backend = document["terraform"]["backend"]["s3"]
        assert backend["key"] == f"{env.state.key_prefix}{env.name}.tfstate"
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        provider = document["provider"]["aws"][0]
        assert provider["allowed_account_ids"] == [env.account_id]
        assert provider["region"] == env.region


def test_synthesis_is_deterministic(synthesized_example: Path, tmp_path: Path) -> None:
    """A second run, later and elsewhere, gives byte-identical files: no clock, no paths, no randomness."""
    project = copy_project(tmp_path / "elsewhere")
    outdir = tmp_path / "second"

    result = tritonform_subprocess("--root", str(project), "synth", "--outdir", str(outdir), cwd=project)

    assert result.returncode == 0, result.stderr
    assert_same_tree(synthesized_example, outdir)


def test_synthesis_makes_no_aws_calls(tmp_path: Path) -> None:
    """No AWS SDK is even loaded, and every proxy/endpoint points at a closed port on loopback."""
    program = (
        "import sys; from pathlib import Path\n"
        "from tritonform.config import ProjectLayout\n"
        "from tritonform.synth import synthesize\n"
        f"synthesize(ProjectLayout(Path({str(REPO_ROOT)!r})), Path({str(tmp_path / 'out')!r}))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'boto3', 'botocore', 'sagemaker', 'urllib3'})\n"
        "assert not loaded, loaded\n"
    )
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "AWS_ENDPOINT_URL": closed,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}  # fmt: skip

    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120,
                            check=False)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert stack_file(tmp_path / "out", "tritonform-prod").is_file()


@pytest.mark.cdktf_cli
def test_cdktf_cli_synthesizes_the_same_json_from_cdktf_json(synthesized_example: Path, tmp_path: Path) -> None:
    if not (REPO_ROOT / "tools/cdktf-cli/node_modules/cdktf-cli").is_dir():
        pytest.fail("the cdktf CLI is not installed: scripts/bootstrap installs it")
    outdir = tmp_path / "cli"

    result = subprocess.run(
        [str(REPO_ROOT / "scripts/cdktf"), "synth", "--output", str(outdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CI": "true"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for stack in STACKS:
        assert stack_file(outdir, stack).read_bytes() == stack_file(synthesized_example, stack).read_bytes()


def test_synth_of_one_environment_and_local_state(tmp_path: Path) -> None:
    outdir = tmp_path / "not" / "yet" / "there"  # missing parents are created

    result = tritonform_subprocess(
        "synth", "--env", "dev", "--state-backend", "local", "--outdir", str(outdir), cwd=REPO_ROOT
    )

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (outdir / "stacks").iterdir()) == ["tritonform-dev", "tritonform-dev-access"]
    backend = stack_document(outdir, "tritonform-dev")["terraform"]["backend"]
    assert backend == {"local": {"path": "terraform.dev.tfstate"}}
    access_backend = stack_document(outdir, "tritonform-dev-access")["terraform"]["backend"]
    assert access_backend == {"local": {"path": "terraform.dev-access.tfstate"}}


@pytest.mark.terraform
def test_synth_validate_prints_a_summary_per_environment(tmp_path: Path) -> None:
    result = tritonform_subprocess("synth", "--validate", "--outdir", str(tmp_path / "out"), cwd=REPO_ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("dev", "staging", "prod"):
        assert f"{name} ({name}):" in result.stdout
    # every stack passes terraform init (the pinned provider from the mirror) and validate, without a warning
    assert result.stdout.count("terraform validate ok\n") == 6  # a serving and an access stack per environment
    assert "terraform validate: 6 ok, 0 failed" in result.stdout


@pytest.mark.terraform
def test_terraform_validate_reports_an_invalid_stack(tmp_path: Path) -> None:
    """Terraform's verdict is reported, not hidden: add an argument the provider does not know."""
    project = copy_project(tmp_path / "project")
    outdir = tmp_path / "out"
    result = tritonform_subprocess(
        "--root", str(project), "synth", "--env", "dev", "--outdir", str(outdir), cwd=project
    )
    assert result.returncode == 0, result.stderr

    def add_unknown_argument(document: dict[str, Any]) -> None:
        endpoint = next(iter(document["resource"]["aws_sagemaker_endpoint"].values()))
        endpoint["no_such_argument"] = True

    edit_stack_document(outdir, "tritonform-dev", add_unknown_argument)
    stack_dir = stack_directory(outdir, "tritonform-dev")

    assert terraform.init(stack_dir, REPO_ROOT).ok
    validated = terraform.validate(stack_dir, REPO_ROOT)

    assert not validated.ok
    assert any("no_such_argument" in d or "Unsupported argument" in d for d in validated.diagnostics)


def test_missing_provider_mirror_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(terraform.MIRROR_ENV, str(tmp_path / "nowhere"))

    with pytest.raises(Exception, match=r"holds no registry\.terraform\.io/hashicorp/aws 5\.100\.0"):
        terraform.find_provider_mirror()


def test_cli_config_points_only_at_the_mirror(tmp_path: Path) -> None:
    text = terraform.cli_config_text(Path("/mirror"))

    assert 'path    = "/mirror"' in text
    assert "disable_checkpoint = true" in text
    assert "direct" not in text


def test_synth_writes_nothing_outside_outdir(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    shutil.rmtree(tmp_path / "out", ignore_errors=True)

    result = tritonform_subprocess("--root", str(project), "synth", "--outdir", str(tmp_path / "out"), cwd=project)

    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TRITONFORM_STAND_IN": "http://example.com:80"}, "TRITONFORM_STAND_IN must be a loopback URL"),
        (
            {"TRITONFORM_STAND_IN": "http://127.0.0.1:5000", "TRITONFORM_SAGEMAKER": "https://127.0.0.1:1"},
            "TRITONFORM_SAGEMAKER must be a loopback URL",
        ),
        ({"TRITONFORM_SAGEMAKER": "http://127.0.0.1:5001"}, "TRITONFORM_SAGEMAKER needs TRITONFORM_STAND_IN"),
    ],
)
def test_the_cdktf_app_refuses_stand_in_urls_off_loopback(variables: dict[str, str], message: str) -> None:
    """main.py (what `cdktf synth|deploy` runs) points the stacks only at stand-ins on loopback."""
    done = subprocess.run([sys.executable, "main.py"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL, env={**os.environ, **variables})  # fmt: skip
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_terraform_and_its_provider_get_a_lighter_garbage_collector_unless_the_user_chose_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    assert terraform.terraform_env(tmp_path)["GOGC"] == terraform.PROVIDER_GOGC
    monkeypatch.setenv("GOGC", "150")
    assert terraform.terraform_env(tmp_path)["GOGC"] == "150"
    # the cdktf CLI wrapper runs Terraform the same way
    assert 'GOGC="${GOGC:-' + terraform.PROVIDER_GOGC + '}"' in (REPO_ROOT / "scripts" / "cdktf").read_text()
