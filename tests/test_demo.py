"""The main job end to end, as a user runs it: a moto server, the real Terraform and provider, a real Triton
server, all on loopback. It must leave the project it runs in untouched (it works on a copy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, tritonform_subprocess

pytestmark = pytest.mark.e2e


@pytest.mark.terraform
def test_demo_releases_the_example_to_dev_and_promotes_it_to_staging(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    result = tritonform_subprocess("--root", str(root), "demo", cwd=root, timeout=1200)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    for expected in (
        "server: 8 smoke request(s) passed, 0 failed",
        "Apply complete!",
        "aws_sagemaker_endpoint.",
        "in-service: version",
        "gate live     pass",
        "gate alarms   pass",
        "stand-in: not created: aws_appautoscaling_target",
        "AWS stand-in stopped",
    ):
        assert expected in out, expected
    workspace = root / ".tritonform" / "demo"
    dev = yaml.safe_load((workspace / "environments/releases/dev.yaml").read_text())
    staging = yaml.safe_load((workspace / "environments/releases/staging.yaml").read_text())
    assert dev["artifact"]["sha256"] == staging["artifact"]["sha256"]  # the same bytes moved on
    assert staging["artifact"]["s3_uri"].startswith("s3://acme-tritonform-staging-artifacts/")
    (record,) = [
        json.loads(line) for line in (workspace / "environments/history/staging.jsonl").read_text().splitlines()
    ]
    assert record["action"] == "promote" and record["actor"] == "tritonform-demo"
    after = {
        p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".tritonform" not in p.parts
    }
    assert after == before, "the demo changed the project's own files"
