"""Autoscaling on the stand-in, and an instance-type change of an autoscaled endpoint, with the real Terraform.

dev's own serving stack, synthesized for moto behind the local SageMaker (which answers Application Auto
Scaling's tag operations that moto lacks), is applied with `-target` (the endpoint, its scaling target and
policies and what they need; the bucket's lifecycle rules, which make the provider wait a minute, are left
out). Then dev moves to another instance type: a plain apply is refused by the local SageMaker, as SageMaker
refuses it ("Update endpoints that use auto scaling"), and the same apply inside
`tritonform.release.scaling.instance_type_change` deploys it and leaves the variant registered again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REPO_ROOT, copy_project, edit_yaml, stack_directory
from tritonform.config import ProjectLayout, load_deployments
from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.release.scaling import instance_type_change, resource_id
from tritonform.standin import MotoServer, moto_server
from tritonform.synth import synthesize
from tritonform.terraform import run_terraform

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
]

FIRST_TYPE, SECOND_TYPE = "ml.g4dn.xlarge", "ml.g4dn.2xlarge"  # moto accepts only older GPU types
SCALED = ("aws_appautoscaling_target", "aws_appautoscaling_policy")


@pytest.fixture
def stand() -> Iterator[tuple[MotoServer, LocalSageMakerServer]]:
    with moto_server() as moto, local_sagemaker(moto, time_scale=600, provisioning_s=60, lifetime_s=600) as server:
        yield moto, server


def clients(url: str) -> dict[str, Any]:
    settings = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                "endpoint_url": url}  # fmt: skip
    return {name: boto3.client(name, **settings) for name in ("sagemaker", "application-autoscaling", "s3")}


def synthesized(project: Path, moto: MotoServer, server: LocalSageMakerServer, workdir: Path) -> None:
    """dev's serving stack for the stand-in, in `workdir` (its state file stays there between syntheses)."""
    out = project / "out"
    synthesize(ProjectLayout(project), out, ["dev"], "local", moto.url, sagemaker_endpoint=server.url)
    workdir.mkdir(exist_ok=True)
    shutil.copy(stack_directory(out, "tritonform-dev") / "cdk.tf.json", workdir / "cdk.tf.json")


def _resources(workdir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((workdir / "cdk.tf.json").read_text(encoding="utf-8"))
    return dict(document["resource"])


def targets(workdir: Path, *types: str) -> list[str]:
    """-target options for every resource of these types (Terraform adds what they depend on)."""
    resources = _resources(workdir)
    return [f"-target={kind}.{name}" for kind in types for name in resources.get(kind, {})]


def apply(workdir: Path, *args: str) -> tuple[bool, str]:
    done = run_terraform(["apply", "-auto-approve", "-input=false", "-no-color", *args], workdir, REPO_ROOT,
                         timeout_s=300)  # fmt: skip
    return done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_autoscaling_is_applied_on_the_stand_in_and_an_instance_type_change_deploys_around_it(
    stand: tuple[MotoServer, LocalSageMakerServer], tmp_path: Path
) -> None:
    moto, server = stand
    project = copy_project(tmp_path / "project")
    dev_file = project / "environments" / "dev.yaml"
    edit_yaml(dev_file, lambda d: d["endpoint"].update(instance_type=FIRST_TYPE))
    (dev,) = load_deployments(ProjectLayout(project), ["dev"])
    env = dev.environment
    aws = clients(server.url)
    workdir = tmp_path / "stack"

    synthesized(project, moto, server, workdir)
    assert set(SCALED) <= set(_resources(workdir)), "the stand-in stack declares autoscaling"
    init = run_terraform(["init", "-input=false", "-no-color"], workdir, REPO_ROOT, timeout_s=240)
    assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-2000:]
    ok, output = apply(workdir, *targets(workdir, "aws_s3_bucket"))
    assert ok, output
    artifact = dev.release.artifact.s3_uri.removeprefix("s3://").split("/", 1)
    aws["s3"].put_object(Bucket=artifact[0], Key=artifact[1], Body=b"model bytes")

    # 1. the scalable target and both target-tracking policies are created (with the endpoint they name)
    ok, output = apply(workdir, *targets(workdir, "aws_appautoscaling_policy"))
    assert ok, output
    rid = resource_id(env.endpoint.name, env.endpoint.variant_name)
    scaling = aws["application-autoscaling"]
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (env.capacity.min_instances, env.capacity.max_instances)
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    assert sorted(p["PolicyName"] for p in policies) == ["gpu-utilization", "invocations-per-instance"]
    tags = scaling.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"])["Tags"]
    assert tags["Environment"] == "dev" and tags["ManagedBy"] == "tritonform"  # the provider's default tags

    # 2. another instance type: a plain apply is refused, the variant being registered for autoscaling
    edit_yaml(dev_file, lambda d: d["endpoint"].update(instance_type=SECOND_TYPE))
    (dev,) = load_deployments(ProjectLayout(project), ["dev"])
    synthesized(project, moto, server, workdir)
    ok, output = apply(workdir, *targets(workdir, "aws_appautoscaling_policy"))
    assert not ok
    assert "registered as scalable targets with Application Auto Scaling" in output
    assert aws["sagemaker"].describe_endpoint(EndpointName=env.endpoint.name)["EndpointStatus"] == "InService"

    # 3. the procedure around the same apply deploys it and registers the variant again
    said: list[str] = []
    with instance_type_change(dev.environment, sagemaker=aws["sagemaker"], autoscaling=scaling,
                              say=said.append) as pause:  # fmt: skip
        assert pause.change is not None and pause.change.live_instance_type == FIRST_TYPE
        assert not scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
        assert not scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
        ok, output = apply(workdir, *targets(workdir, "aws_appautoscaling_policy"))
        if not ok:
            pause.apply_failed()
    assert ok, output
    assert not pause.restored, said  # the apply registered it, after the endpoint
    described = aws["sagemaker"].describe_endpoint(EndpointName=env.endpoint.name)
    config = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    assert (described["EndpointStatus"], config["ProductionVariants"][0]["InstanceType"]) == ("InService", SECOND_TYPE)
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    assert sorted(p["PolicyName"] for p in policies) == ["gpu-utilization", "invocations-per-instance"]
    assert any("deregistering its scalable target" in line for line in said), said
