"""Application Auto Scaling through the local SageMaker: the tag operations moto lacks are answered, every
other operation reaches moto, and DeregisterScalableTarget deletes the target's policies (Application Auto
Scaling API Reference: ListTagsForResource, TagResource, UntagResource, DeregisterScalableTarget)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tritonform.localsagemaker import local_sagemaker
from tritonform.standin import moto_server

pytestmark = pytest.mark.e2e

TARGET = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e/variant/AllTraffic",
          "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}  # fmt: skip
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
