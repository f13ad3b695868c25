"""The first deploy of a new environment against moto with real Terraform: the bootstrap stack creates the
artifact bucket, the first version is published and attached to it, and the full stack, applied to the same
state, keeps the bucket and adds the rest (README: the first deploy)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tests.conftest import CliRun
from tritonform import terraform
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e

NEW_BUCKET = "acme-tritonform-qa-artifacts"


def add_new_environment(project: Path) -> None:
    """qa: dev's settings under its own name, endpoint and bucket, and no release yet."""
    dev = (project / "environments/dev.yaml").read_text(encoding="utf-8")
    qa = (dev.replace("name: dev\n", "name: qa\n", 1).replace("text-embedder-dev", "text-embedder-qa")
          .replace("acme-tritonform-dev-artifacts", NEW_BUCKET))  # fmt: skip
    (project / "environments/qa.yaml").write_text(qa, encoding="utf-8")


def _terraform(args: list[str], stack: Path, project: Path) -> str:
    """Run terraform; once more after the moto server dropped a kept-alive connection (the stand-in's transport,
    not the stack: the stand-in provider makes one attempt per request, and apply picks up where it stopped)."""
    for _attempt in range(2):
        result = terraform.run_terraform([*args, "-input=false", "-no-color"], stack, project, timeout_s=600)
        if result.returncode == 0 or "use of closed network connection" not in result.stdout + result.stderr:
            break
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_a_new_environment_is_bootstrapped_then_released_then_deployed(
    tmp_path: Path, project: Path, aws: MotoServer, run_cli: Callable[..., CliRun]
) -> None:
    aws.reset()
    add_new_environment(project)
    outdir, package = tmp_path / "cdktf.out", tmp_path / "package"
    stack = outdir / "stacks" / "tritonform-qa"
    synth = ["--root", str(project), "synth", "--env", "qa", "--state-backend", "local", "--stand-in", aws.url,
             "--outdir", str(outdir)]  # fmt: skip

    refused = run_cli(*synth)
    assert refused.code == 2 and "--bootstrap" in refused.err  # the full stack needs a release: says how to start

    bootstrapped = run_cli(*synth, "--bootstrap")
    assert bootstrapped.code == 0, bootstrapped.err
    assert "first deploy" in bootstrapped.out
    _terraform(["init"], stack, project)
    _terraform(["apply", "-auto-approve"], stack, project)
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.get_bucket_versioning(Bucket=NEW_BUCKET)["Status"] == "Enabled"

    for step in (
        ["release", "package", "--out", str(package), "--default-model", "text_embedder"],
        ["release", "publish", str(package), "--env", "qa"],
    ):
        done = run_cli("--root", str(project), *step)
        assert done.code == 0, done.err
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    attached = run_cli("--root", str(project), "release", "attach", manifest["sha256"], "--env", "qa",
                       "--model", "text_embedder", "--triton-version", "24.09")  # fmt: skip
    assert attached.code == 0, attached.err
    assert (project / "environments/releases/qa.yaml").is_file()

    full = run_cli(*synth)
    assert full.code == 0, full.err
    result, document = terraform.plan_json(stack, project)
    assert result.ok, result.output[-3000:]
    changes = {change["address"]: change["change"]["actions"] for change in json.loads(document)["resource_changes"]}
    store = {address: actions for address, actions in changes.items() if ".artifacts_" in address or
             address.startswith("aws_s3_bucket")}  # fmt: skip
    assert store and all(actions == ["no-op"] for actions in store.values()), store  # kept, not replaced
    assert not [address for address, actions in changes.items() if "delete" in actions]
    assert any(address.startswith("aws_sagemaker_endpoint.") and actions == ["create"]
               for address, actions in changes.items())  # fmt: skip
