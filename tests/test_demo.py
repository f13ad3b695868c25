"""The main job end to end, as a user runs it: a moto server and the local SageMaker in front of it, the
real Terraform and provider, a real Triton server per version, all on loopback. The mission: A deployed to
dev; a faulty B caught in its canary and rolled back, the rollback recorded; A attached again; a healthy C
through its canary, promoted to staging and in service there. It must leave the project it runs in
untouched (it works on a copy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import copy_project, tritonform_subprocess

pytestmark = pytest.mark.e2e


def history(workspace: Path, env: str) -> list[dict[str, Any]]:
    lines = (workspace / "environments" / "history" / f"{env}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.terraform
def test_demo_rolls_back_a_faulty_version_and_promotes_a_healthy_one(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    result = tritonform_subprocess("--root", str(root), "demo", cwd=root, timeout=1200)

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-4000:]
    out = result.stdout
    for expected in (
        "server: 8 smoke request(s) passed, 0 failed",
        "Apply complete!",
        "rolled-back: SageMaker rolled back",
        "RollingBack all traffic back on the old fleet",
        "gate live     pass",
        "gate stable   pass",
        "gate alarms   pass",
        "stand-in: not created: aws_s3_bucket_policy",  # autoscaling is created: the local SageMaker answers its tags
        "demo: dev rolls out with canary-1-instance",
        "stand-ins stopped",
    ):
        assert expected in out, expected
    packaged = {
        line.strip()[0]: line.split("sha256 ")[1].split()[0]
        for line in out.splitlines()
        if line.strip()[:3] in ("A: ", "B: ", "C: ") and "sha256 " in line
    }
    assert set(packaged) == {"A", "B", "C"}
    assert len(set(packaged.values())) == 3, packaged  # three different versions, not one attached again

    workspace = root / ".tritonform" / "demo"
    dev_history = history(workspace, "dev")
    assert [r["action"] for r in dev_history] == [
        "attach", "in-service", "attach", "rollback-detected", "rollback", "in-service", "attach", "in-service"
    ]  # fmt: skip
    rolled_back = dev_history[3]
    assert rolled_back["from"]["sha256"] == packaged["B"] and rolled_back["actor"] == "tritonform release watch"
    assert dev_history[4]["to"]["sha256"] == packaged["A"]  # A attached again
    assert dev_history[6]["to"]["sha256"] == packaged["C"]
    live = [r["release"]["sha256"] for r in dev_history if r["action"] == "in-service"]
    assert live == [packaged["A"], packaged["A"], packaged["C"]]  # what release watch saw live: B never
    # B was released with A, seen live, declared beside it as the fallback: SageMaker rolled back to it
    assert f"fallback kept declared: text-embedder-dev-{packaged['A'][:12]}-" in out.split("release B to dev")[1]

    dev = yaml.safe_load((workspace / "environments/releases/dev.yaml").read_text())
    staging = yaml.safe_load((workspace / "environments/releases/staging.yaml").read_text())
    assert dev["artifact"]["sha256"] == staging["artifact"]["sha256"] == packaged["C"]  # the same bytes moved on
    assert staging["artifact"]["s3_uri"].startswith("s3://acme-tritonform-staging-artifacts/")
    record, seen = history(workspace, "staging")
    assert record["action"] == "promote" and record["actor"] == "tritonform-demo"
    assert seen["action"] == "in-service" and seen["release"]["sha256"] == packaged["C"]
    staging_part = out.split("deploy staging")[1]
    assert f"in-service: version {packaged['C'][:12]} is live" in staging_part
    assert "text-embedder-staging: 2 request(s): 2 answered, none failed" in staging_part
    after = {
        p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".tritonform" not in p.parts
    }
    assert after == before, "the demo changed the project's own files"
