"""The local SageMaker (tritonform/localsagemaker): lifecycle, traffic shifting of every kind, refusals.

One moto server and one stand-in at time scale 600 (a 600 s bake takes 1 s, starting a fleet 0.1 s) serve
the whole module; every test uses its own endpoint names. Rollback and time scaling are in
test_local_sagemaker_rollback.py.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.standin import MotoServer, moto_server

pytestmark = pytest.mark.e2e

SCALE = 600.0
PROVISIONING_S = 60.0
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tritonserver:24.09-py3"
BUCKET = "models"


@dataclass
class Stand:
    """The stand-in and clients pointed at it (and at moto behind it)."""

    server: LocalSageMakerServer
    moto: MotoServer
    sagemaker: Any
    s3: Any
    cloudwatch: Any
    autoscaling: Any
    unchecked: Any
    """A SageMaker client that does not check parameters itself, as the Go SDK Terraform uses does not."""

    def timeline(self, endpoint: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.server.url}/_localsagemaker/timeline/{endpoint}", timeout=5) as answer:
            return list(json.load(answer)["Timeline"])

    def version(
        self, name: str, *, instances: int = 4, instance_type: str = "ml.g4dn.xlarge", data: bool = True
    ) -> str:
        """A model and an endpoint configuration named `name`; its model data is in S3 unless `data` is False."""
        key = f"{name}/model.tar.gz"
        if data:
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"model")
        self.sagemaker.create_model(
            ModelName=name, ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}"},
        )  # fmt: skip
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
                                 "InstanceType": instance_type}],
        )  # fmt: skip
        return name

    def wait(self, endpoint: str, status: str, timeout_s: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            answer = dict(self.sagemaker.describe_endpoint(EndpointName=endpoint))
            if answer["EndpointStatus"] == status:
                return answer
            if time.monotonic() > deadline:
                raise AssertionError(f"{endpoint} is {answer['EndpointStatus']}, not {status}")
            time.sleep(0.02)

    def live(self, endpoint: str, config: str) -> None:
        self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        self.wait(endpoint, "InService")


def clients(url: str) -> dict[str, Any]:
    settings = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                "endpoint_url": url}  # fmt: skip
    return {name: boto3.client(service, **settings) for name, service in
            (("sagemaker", "sagemaker"), ("s3", "s3"), ("cloudwatch", "cloudwatch"),
             ("autoscaling", "application-autoscaling"))} | {
        "unchecked": boto3.client("sagemaker", config=Config(parameter_validation=False), **settings)}  # fmt: skip


@contextmanager
def stand_up(*, time_scale: float = SCALE, provisioning_s: float = PROVISIONING_S, lifetime_s: float = 600,
             run_models: bool = False) -> Iterator[Stand]:  # fmt: skip
    """A moto server, a local SageMaker in front of it and clients for both, with the bucket BUCKET."""
    with moto_server() as moto, local_sagemaker(moto, time_scale=time_scale, provisioning_s=provisioning_s,
                                                lifetime_s=lifetime_s, run_models=run_models) as server:  # fmt: skip
        made = Stand(server, moto, **clients(server.url))
        made.s3.create_bucket(Bucket=BUCKET)
        yield made


@pytest.fixture(scope="module")
def stand() -> Iterator[Stand]:
    with stand_up() as made:
        yield made


def canary(instances: int, wait_s: int = 600, termination_s: int = 0) -> dict[str, Any]:
    return {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": wait_s,
                                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": instances}},
        "TerminationWaitInSeconds": termination_s, "MaximumExecutionTimeoutInSeconds": 3600}}  # fmt: skip


def shares(events: list[dict[str, Any]]) -> list[float]:
    """The new fleet's share at each step of the update, repeats dropped."""
    seen: list[float] = []
    for event in events:
        if not seen or seen[-1] != event["new_share"]:
            seen.append(event["new_share"])
    return seen


# --- forwarding and lifecycle --------------------------------------------------------------------------


def test_other_operations_are_forwarded_to_moto(stand: Stand) -> None:
    name = stand.version("fwd-v1")
    direct = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", endpoint_url=stand.moto.url)  # fmt: skip
    assert direct.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"][0]["ModelName"] == name
    with pytest.raises(ClientError) as refused:
        stand.sagemaker.describe_model(ModelName="no-such-model")
    assert refused.value.response["Error"]["Code"] == "ValidationException"  # moto's own answer, passed through


def test_create_goes_from_creating_to_in_service(stand: Stand) -> None:
    config = stand.version("life-v1", instances=2)
    stand.sagemaker.create_endpoint(EndpointName="life", EndpointConfigName=config)
    first = stand.sagemaker.describe_endpoint(EndpointName="life")
    assert first["EndpointStatus"] == "Creating"
    assert first["PendingDeploymentSummary"]["EndpointConfigName"] == config
    done = stand.wait("life", "InService")
    variant = done["ProductionVariants"][0]
    assert (variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == (2, 2)
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    assert "PendingDeploymentSummary" not in done
    waiter = stand.sagemaker.get_waiter("endpoint_in_service")  # the SDK waiter Terraform's provider mirrors
    waiter.wait(EndpointName="life", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        stand.sagemaker.create_endpoint(EndpointName="life", EndpointConfigName=config)


def test_a_version_without_model_data_fails_to_create(stand: Stand) -> None:
    config = stand.version("nodata-v1", data=False)
    stand.sagemaker.create_endpoint(EndpointName="nodata", EndpointConfigName=config)
    failed = stand.wait("nodata", "Failed")
    assert f"s3://{BUCKET}/nodata-v1/model.tar.gz" in failed["FailureReason"]
    assert failed["EndpointConfigName"] == config
    with pytest.raises(ClientError, match="only DeleteEndpoint"):
        stand.sagemaker.update_endpoint(EndpointName="nodata", EndpointConfigName=config)
    stand.sagemaker.delete_endpoint(EndpointName="nodata")


def test_delete_removes_the_endpoint_as_the_sdk_waiter_expects(stand: Stand) -> None:
    stand.live("gone", stand.version("gone-v1"))
    stand.sagemaker.delete_endpoint(EndpointName="gone")
    stand.sagemaker.get_waiter("endpoint_deleted").wait(
        EndpointName="gone", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    with pytest.raises(
        ClientError, match='Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/gone"'
    ):
        stand.sagemaker.describe_endpoint(EndpointName="gone")


def test_list_endpoints_filters_by_name_and_status(stand: Stand) -> None:
    stand.live("listed-a", stand.version("listed-a-v1"))
    stand.live("listed-b", stand.version("listed-b-v1"))
    names = [e["EndpointName"] for e in stand.sagemaker.list_endpoints(NameContains="listed-")["Endpoints"]]
    assert names == ["listed-b", "listed-a"]  # newest first, the documented default order
    assert stand.sagemaker.list_endpoints(NameContains="listed-", StatusEquals="Failed")["Endpoints"] == []


def test_tags_of_an_endpoint_are_kept_by_the_stand_in(stand: Stand) -> None:
    stand.live("tagged", stand.version("tagged-v1"))
    arn = stand.sagemaker.describe_endpoint(EndpointName="tagged")["EndpointArn"]
    stand.sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    assert stand.sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    stand.sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert stand.sagemaker.list_tags(ResourceArn=arn)["Tags"] == []


# --- traffic shifting ----------------------------------------------------------------------------------


def test_canary_shifts_the_canary_share_bakes_then_the_rest(stand: Stand) -> None:
    stand.live("can", stand.version("can-v1"))
    new = stand.version("can-v2")
    stand.sagemaker.update_endpoint(EndpointName="can", EndpointConfigName=new,
                                    DeploymentConfig=canary(1, wait_s=300, termination_s=120))  # fmt: skip
    during = stand.wait("can", "Updating")
    assert during["EndpointConfigName"] == "can-v1"  # the old configuration serves until the end
    assert during["PendingDeploymentSummary"]["EndpointConfigName"] == new
    done = stand.wait("can", "InService")
    assert done["EndpointConfigName"] == new and "FailureReason" not in done
    assert done["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    events = stand.timeline("can")
    assert shares(events) == [0.0, 0.25, 1.0]
    starts = {event["action"].split(";")[0]: event["at_s"] for event in events}
    # provisioning 60 s, canary bake 300 s, full-shift bake 300 s, termination wait 120 s (model time)
    assert starts["25% of traffic on the new fleet"] == pytest.approx(60, abs=30)
    assert starts["100% of traffic on the new fleet"] == pytest.approx(360, abs=40)
    assert starts["termination wait: the old fleet stands by"] == pytest.approx(660, abs=50)
    assert events[-2]["old_instances"] == {"AllTraffic": 0}  # the old fleet is terminated last


def test_linear_moves_traffic_in_equal_steps_each_baking(stand: Stand) -> None:
    stand.live("lin", stand.version("lin-v1", instances=5))
    stand.sagemaker.update_endpoint(EndpointName="lin", EndpointConfigName=stand.version("lin-v2", instances=5),
                                    DeploymentConfig={"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                                        "Type": "LINEAR", "WaitIntervalInSeconds": 60,
                                        "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}})  # fmt: skip
    stand.wait("lin", "InService")
    events = stand.timeline("lin")
    assert shares(events) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    bakes = [e["at_s"] for e in events if "baking" in e["action"]]
    assert all(later - earlier == pytest.approx(60, abs=20) for earlier, later in pairwise(bakes))


def test_all_at_once_moves_everything_then_bakes(stand: Stand) -> None:
    stand.live("aao", stand.version("aao-v1"))
    stand.sagemaker.update_endpoint(EndpointName="aao", EndpointConfigName=stand.version("aao-v2"),
                                    DeploymentConfig={"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                                        "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 120}}})  # fmt: skip
    stand.wait("aao", "InService")
    events = stand.timeline("aao")
    assert shares(events) == [0.0, 1.0]
    assert events[-1]["at_s"] - events[1]["at_s"] == pytest.approx(120, abs=25)


def test_rolling_replaces_the_fleet_batch_by_batch(stand: Stand) -> None:
    stand.live("roll", stand.version("roll-v1"))
    stand.sagemaker.update_endpoint(EndpointName="roll", EndpointConfigName=stand.version("roll-v2"),
                                    DeploymentConfig={"RollingUpdatePolicy": {
                                        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                                        "WaitIntervalInSeconds": 30}})  # fmt: skip
    stand.wait("roll", "InService")
    baking = [e for e in stand.timeline("roll") if "baking" in e["action"]]
    assert [e["new_instances"]["AllTraffic"] for e in baking] == [1, 2, 3, 4]
    assert [e["old_instances"]["AllTraffic"] for e in baking] == [4, 3, 2, 1]  # one extra instance at most
    assert [e["new_share"] for e in baking] == [0.25, 0.5, 0.75, 1.0]


def test_update_without_deployment_config_shifts_all_at_once(stand: Stand) -> None:
    stand.live("plain", stand.version("plain-v1"))
    stand.sagemaker.update_endpoint(EndpointName="plain", EndpointConfigName=stand.version("plain-v2"))
    assert stand.wait("plain", "InService")["EndpointConfigName"] == "plain-v2"
    assert shares(stand.timeline("plain")) == [0.0, 1.0]


# --- refusals ------------------------------------------------------------------------------------------


def _blue_green(routing: dict[str, Any], **policy: Any) -> dict[str, Any]:
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, **policy}}


def _rolling(size: dict[str, Any], **policy: Any) -> dict[str, Any]:
    return {"RollingUpdatePolicy": {"MaximumBatchSize": size, "WaitIntervalInSeconds": 0, **policy}}


ALARM = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": f"a{i}"} for i in range(11)]}}
REFUSED = {
    "wait above 3600": (
        _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 3601}),
        "less than or equal to 3600",
    ),
    "unknown traffic type": (_blue_green({"Type": "BLUE", "WaitIntervalInSeconds": 0}), "trafficRoutingConfiguration"),
    "canary above half the fleet": (canary(3), "CanarySize of variant AllTraffic must be 1-50%"),
    "canary without a size": (_blue_green({"Type": "CANARY", "WaitIntervalInSeconds": 0}), "CanarySize is required"),
    "linear step below 10%": (
        _blue_green(
            {"Type": "LINEAR", "WaitIntervalInSeconds": 0, "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5}}
        ),
        "10-50%",
    ),
    "linear step as instances above 50%": (
        _blue_green(
            {"Type": "LINEAR", "WaitIntervalInSeconds": 0, "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 3}}
        ),
        "LinearStepSize of variant AllTraffic must be 10-50%",
    ),
    "timeout below 600": (
        _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, MaximumExecutionTimeoutInSeconds=599),
        "greater than or equal to 600",
    ),
    "timeout not above the waits": (
        _blue_green(
            {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 500},
            TerminationWaitInSeconds=300,
            MaximumExecutionTimeoutInSeconds=800,
        ),
        "must be larger than the waiting time",
    ),
    "termination wait above 3600": (
        _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, TerminationWaitInSeconds=3601),
        "terminationWaitInSeconds",
    ),
    "rolling batch above 50%": (_rolling({"Type": "CAPACITY_PERCENT", "Value": 60}), "5-50%"),
    "rolling batch as instances above 50%": (_rolling({"Type": "INSTANCE_COUNT", "Value": 3}), "5-50%"),
    "both policies": ({**canary(1), **_rolling({"Type": "INSTANCE_COUNT", "Value": 1})}, "exactly one of"),
    "eleven alarms": ({**canary(1), **ALARM}, "length between 1 and 10"),
}


@pytest.mark.parametrize("deployment", REFUSED.values(), ids=REFUSED.keys())
def test_update_refuses_a_deployment_config_outside_the_documented_bounds(
    stand: Stand, deployment: tuple[dict[str, Any], str]
) -> None:
    config, message = deployment
    if "refuse" not in {e["EndpointName"] for e in stand.sagemaker.list_endpoints(NameContains="refuse")["Endpoints"]}:
        stand.live("refuse", stand.version("refuse-v1"))
        stand.version("refuse-v2")
    with pytest.raises(ClientError) as refused:
        stand.unchecked.update_endpoint(EndpointName="refuse", EndpointConfigName="refuse-v2", DeploymentConfig=config)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
    after = stand.sagemaker.describe_endpoint(EndpointName="refuse")
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", "refuse-v1")


def test_an_update_in_progress_refuses_another_update_and_a_delete(stand: Stand) -> None:
    stand.live("busy", stand.version("busy-v1"))
    slow = _blue_green({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 3000})
    stand.sagemaker.update_endpoint(
        EndpointName="busy", EndpointConfigName=stand.version("busy-v2"), DeploymentConfig=slow
    )
    in_progress = r'Cannot update in-progress endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/busy"'
    with pytest.raises(ClientError, match=in_progress):
        stand.sagemaker.update_endpoint(EndpointName="busy", EndpointConfigName="busy-v1")
    with pytest.raises(ClientError, match=in_progress):
        stand.sagemaker.delete_endpoint(EndpointName="busy")


def test_update_refuses_a_missing_endpoint_configuration(stand: Stand) -> None:
    stand.live("lost", stand.version("lost-v1"))
    with pytest.raises(ClientError, match=r'Could not find endpoint configuration ".*endpoint-config/lost-v9"'):
        stand.sagemaker.update_endpoint(EndpointName="lost", EndpointConfigName="lost-v9")
    with pytest.raises(ClientError, match="Could not find endpoint"):
        stand.sagemaker.update_endpoint(EndpointName="nowhere", EndpointConfigName="lost-v1")


def test_an_autoscaled_variant_keeps_its_instance_type_but_may_change_its_model(stand: Stand) -> None:
    stand.live("scaled", stand.version("scaled-v1"))
    stand.autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId="endpoint/scaled/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=8,
    )  # fmt: skip
    bigger = stand.version("scaled-v2", instance_type="ml.g4dn.2xlarge")
    with pytest.raises(ClientError, match=r"\['AllTraffic'\].*registered as scalable targets"):
        stand.sagemaker.update_endpoint(EndpointName="scaled", EndpointConfigName=bigger)
    stand.sagemaker.update_endpoint(EndpointName="scaled", EndpointConfigName=stand.version("scaled-v3"))
    assert stand.wait("scaled", "InService")["EndpointConfigName"] == "scaled-v3"


def test_retained_properties_keep_the_live_instance_count_and_the_last_deployment_config(stand: Stand) -> None:
    stand.live("keep", stand.version("keep-v1"))
    stand.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="keep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 6}]
    )
    assert stand.wait("keep", "InService")["ProductionVariants"][0]["CurrentInstanceCount"] == 6
    stand.sagemaker.update_endpoint(EndpointName="keep", EndpointConfigName=stand.version("keep-v2", instances=2),
                                    RetainAllVariantProperties=True, DeploymentConfig=canary(3, wait_s=10))  # fmt: skip
    done = stand.wait("keep", "InService")
    assert done["ProductionVariants"][0]["DesiredInstanceCount"] == 6  # not the 2 of keep-v2
    assert shares(stand.timeline("keep")) == [0.0, 0.5, 1.0]  # the canary of 3 is measured against 6
    # the retained canary of 3 instances is checked again: against keep-v3's 4 instances it is too large ...
    with pytest.raises(ClientError, match=r"CanarySize .* got 3 instance"):
        stand.sagemaker.update_endpoint(EndpointName="keep", EndpointConfigName=stand.version("keep-v3"),
                                        RetainDeploymentConfig=True)  # fmt: skip
    # ... and against the 6 live instances it is half the fleet again
    stand.sagemaker.update_endpoint(EndpointName="keep", EndpointConfigName="keep-v3", RetainDeploymentConfig=True,
                                    RetainAllVariantProperties=True)  # fmt: skip
    assert stand.wait("keep", "InService")["EndpointConfigName"] == "keep-v3"
    assert shares(stand.timeline("keep")) == [0.0, 0.5, 1.0]
