"""Application Auto Scaling through the local SageMaker: the tag operations moto lacks are answered, every
other operation reaches moto, and DeregisterScalableTarget deletes the target's policies (Application Auto
Scaling API Reference: ListTagsForResource, TagResource, UntagResource, DeregisterScalableTarget). Then
tritonform.release.scaling's procedure when the apply fails, raises, or changes no instance type (the
successful apply with the real Terraform is tests/test_scaling_terraform.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import REPO_ROOT
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.environment import EnvironmentConfig
from tritonform.localsagemaker import local_sagemaker
from tritonform.release.scaling import instance_type_change, resource_id
from tritonform.standin import moto_server

pytestmark = pytest.mark.e2e

TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e/variant/AllTraffic",
          "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}  # fmt: skip
FIRST_TYPE, SECOND_TYPE = "ml.g4dn.xlarge", "ml.g4dn.2xlarge"  # moto accepts only older GPU types
POLICY = {"PolicyName": "invocations", "PolicyType": "TargetTrackingScaling",
          "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 100.0, "PredefinedMetricSpecification": {
              "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}  # fmt: skip


@pytest.fixture(scope="module")
def scaling() -> Iterator[Any]:
    with moto_server() as moto, local_sagemaker(moto, time_scale=600, lifetime_s=300) as server:
        yield boto3.client("application-autoscaling", region_name="us-east-1", endpoint_url=server.url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def test_tags_of_a_target_are_kept_listed_added_and_removed(scaling: Any) -> None:
    arn = scaling.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2, Tags={"Team": "ml"})[
        "ScalableTargetARN"
    ]

    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Team": "ml"}
    scaling.tag_resource(ResourceARN=arn, Tags={"Environment": "dev", "Team": "platform"})
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Team": "platform", "Environment": "dev"}
    scaling.untag_resource(ResourceARN=arn, TagKeys=["Team"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Environment": "dev"}
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]  # moto's
    assert (target["ScalableTargetARN"], target["MaxCapacity"]) == (arn, 2)

    with pytest.raises(ClientError) as unknown:
        scaling.list_tags_for_resource(ResourceARN=arn.replace("scalable-target/", "scalable-target/x"))
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as too_many:
        scaling.tag_resource(ResourceARN=arn, Tags={f"k{i}": "v" for i in range(50)})
    assert too_many.value.response["Error"]["Code"] == "TooManyTagsException"


def test_deregistering_a_target_deletes_its_policies_and_its_tags(scaling: Any) -> None:
    arn = scaling.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=3)["ScalableTargetARN"]
    scaling.put_scaling_policy(**TARGET, **POLICY)
    assert len(scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]) == 1

    scaling.deregister_scalable_target(**TARGET)

    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    with pytest.raises(ClientError) as gone:
        scaling.list_tags_for_resource(ResourceARN=arn)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- tritonform.release.scaling against the local SageMaker (the apply itself stood in for) ---------------------


@pytest.fixture
def live_endpoint() -> Iterator[tuple[EnvironmentConfig, dict[str, Any]]]:
    """dev's endpoint in service on FIRST_TYPE, its variant registered with one policy; dev asks for SECOND_TYPE."""
    (dev,) = load_deployments(ProjectLayout(REPO_ROOT), ["dev"])
    env = dev.environment
    env = env.model_copy(update={"endpoint": env.endpoint.model_copy(update={"instance_type": SECOND_TYPE})})
    with moto_server() as moto, local_sagemaker(moto, time_scale=600, provisioning_s=60, lifetime_s=300) as server:
        settings = {"region_name": env.region, "endpoint_url": server.url, "aws_access_key_id": "testing",
                    "aws_secret_access_key": "testing"}  # fmt: skip
        made = {name: boto3.client(name, **settings) for name in ("sagemaker", "application-autoscaling", "s3")}
        made["s3"].create_bucket(Bucket="models")
        made["s3"].put_object(Bucket="models", Key="m/model.tar.gz", Body=b"model")
        made["sagemaker"].create_model(ModelName="m1", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                                       PrimaryContainer={"Image": "image", "ModelDataUrl": "s3://models/m/model.tar.gz"})  # fmt: skip
        made["sagemaker"].create_endpoint_config(EndpointConfigName="c1", ProductionVariants=[{
            "VariantName": env.endpoint.variant_name, "ModelName": "m1", "InitialInstanceCount": 1,
            "InstanceType": FIRST_TYPE}])  # fmt: skip
        made["sagemaker"].create_endpoint(EndpointName=env.endpoint.name, EndpointConfigName="c1")
        made["sagemaker"].get_waiter("endpoint_in_service").wait(
            EndpointName=env.endpoint.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        target = {**TARGET, "ResourceId": resource_id(env.endpoint.name, env.endpoint.variant_name)}
        made["application-autoscaling"].register_scalable_target(**target, MinCapacity=1, MaxCapacity=3,
                                                                 Tags={"Environment": "dev"})  # fmt: skip
        made["application-autoscaling"].put_scaling_policy(**target, **POLICY)
        yield env, made


def registered(clients: dict[str, Any], env: EnvironmentConfig) -> tuple[list[Any], list[Any]]:
    scaling, rid = clients["application-autoscaling"], resource_id(env.endpoint.name, env.endpoint.variant_name)
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])["ScalableTargets"]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
    return targets, policies


def test_after_a_failed_apply_the_recorded_target_and_policies_are_registered_again(
    live_endpoint: tuple[EnvironmentConfig, dict[str, Any]],
) -> None:
    env, clients = live_endpoint
    said: list[str] = []
    with instance_type_change(env, sagemaker=clients["sagemaker"], autoscaling=clients["application-autoscaling"],
                              say=said.append) as pause:  # fmt: skip
        assert pause.change is not None and (pause.change.live_instance_type, pause.change.new_instance_type) == (
            FIRST_TYPE, SECOND_TYPE)  # fmt: skip
        assert registered(clients, env) == ([], [])  # deregistered, its policy deleted with it
        pause.apply_failed()  # as `terraform apply` failing before it registered the target again

    targets, policies = registered(clients, env)
    assert pause.restored
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(1, 3)]
    assert [(p["PolicyName"], p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) for p in policies] == [
        ("invocations", 100.0)]  # fmt: skip
    tags = clients["application-autoscaling"].list_tags_for_resource(ResourceARN=targets[0]["ScalableTargetARN"])
    assert tags["Tags"] == {"Environment": "dev"}
    assert any("registered again" in line for line in said), said


def test_an_apply_that_raises_restores_too_and_the_same_type_changes_nothing(
    live_endpoint: tuple[EnvironmentConfig, dict[str, Any]],
) -> None:
    env, clients = live_endpoint
    kwargs = {"sagemaker": clients["sagemaker"], "autoscaling": clients["application-autoscaling"], "say": print}
    with pytest.raises(RuntimeError), instance_type_change(env, **kwargs):
        raise RuntimeError("terraform could not be run")
    assert [len(found) for found in registered(clients, env)] == [1, 1]

    same = env.model_copy(update={"endpoint": env.endpoint.model_copy(update={"instance_type": FIRST_TYPE})})
    with instance_type_change(same, **kwargs) as pause:
        assert pause.change is None
        assert [len(found) for found in registered(clients, env)] == [1, 1]  # left alone
