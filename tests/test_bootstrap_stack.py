"""The bootstrap stack of a first deploy is the serving stack cut down to its artifact store: the same state,
the same provider, and every resource of the store at the serving stack's address with the same arguments,
so that the full stack applied later to that state keeps the store (tests/test_first_deploy.py applies both)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, stack_document
from tritonform._node import prepare_jsii_node
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment

pytestmark = pytest.mark.synth


def _bootstrap_document(tmp_path: Path, env: str) -> dict[str, Any]:
    prepare_jsii_node()
    from cdktf import App  # noqa: PLC0415  (after prepare_jsii_node, as synth does)

    from tritonform.stacks.bootstrap import BootstrapStack, BootstrapStackProps  # noqa: PLC0415

    app = App(outdir=str(tmp_path))
    BootstrapStack(app, BootstrapStackProps(environment=load_environment(ProjectLayout(REPO_ROOT), env)))
    app.synth()
    return stack_document(tmp_path, f"tritonform-{env}")


def _without_metadata(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "//"}


@pytest.mark.parametrize("env", ["dev", "prod"])  # prod: every hardening control on, dev: without a VPC
def test_the_bootstrap_stack_is_the_serving_stacks_artifact_store(
    tmp_path: Path, synthesized_example: Path, env: str
) -> None:
    bootstrap = _bootstrap_document(tmp_path, env)
    serving = stack_document(synthesized_example, f"tritonform-{env}")

    assert bootstrap["provider"] == serving["provider"]
    assert bootstrap["terraform"]["backend"] == serving["terraform"]["backend"]
    resources = {(kind, name): body for kind, named in bootstrap["resource"].items() for name, body in named.items()}
    assert {kind for kind, _ in resources} >= {"aws_s3_bucket", "aws_s3_bucket_versioning"}
    assert not any(kind.startswith(("aws_sagemaker", "aws_iam", "aws_cloudwatch")) for kind, _ in resources)
    for (kind, name), body in resources.items():
        assert _without_metadata(body) == _without_metadata(serving["resource"][kind][name]), (kind, name)
    for kind, named in bootstrap.get("data", {}).items():
        for name, body in named.items():
            assert _without_metadata(body) == _without_metadata(serving["data"][kind][name]), (kind, name)
