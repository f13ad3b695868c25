"""Real fleets: every version runs its model.tar.gz in a local Triton server; InvokeEndpoint is routed
between the old and the new fleet by the share the deployment has reached.

The model answers its version number, so each answer says which fleet served it.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.test_local_sagemaker import BUCKET, IMAGE, ROLE, Stand, canary, shares, stand_up
from tests.test_local_sagemaker_rollback import when
from tritonform.localsagemaker.fleets import RunningFleet
from tritonform.triton import install

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not install.installed(), reason="the local tritonserver is not installed (scripts/bootstrap)"),
]

SCALE = 1200.0  # a 3600 s bake takes 3 s
CONFIG = """name: "scorer"
backend: "python"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 1 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1 ] }]
instance_group [{ kind: KIND_CPU count: 1 }]
"""
MODEL = """import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        {initialize}

    def execute(self, requests):
        answers = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            answers.append({answer})
        return answers
"""
GOOD_ANSWER = 'pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", (x * 0 + {version}).astype(np.float32))])'
ERROR_ANSWER = 'pb_utils.InferenceResponse(error=pb_utils.TritonError("version {version} cannot score"))'


def archive(version: int, *, broken: bool = False, erring: bool = False) -> bytes:
    """A model.tar.gz with the model directory at its root, as SageMaker's Triton container expects; a
    `broken` model fails to load, an `erring` one loads and answers every request with an error."""
    initialize = 'raise RuntimeError("the weights are corrupt")' if broken else "pass"
    answer = (ERROR_ANSWER if erring else GOOD_ANSWER).format(version=version)
    files = {"scorer/config.pbtxt": CONFIG, "scorer/1/model.py": MODEL.format(initialize=initialize, answer=answer)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stand() -> Iterator[Stand]:
    with stand_up(time_scale=SCALE, provisioning_s=60, run_models=True) as made:
        yield made


def version(stand: Stand, name: str, number: int, *, broken: bool = False, erring: bool = False) -> str:
    key = f"{name}/model.tar.gz"
    stand.s3.put_object(Bucket=BUCKET, Key=key, Body=archive(number, broken=broken, erring=erring))
    stand.sagemaker.create_model(
        ModelName=name, ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}",
                          "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "scorer"}},
    )  # fmt: skip
    stand.sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 4,
                             "InstanceType": "ml.g4dn.xlarge"}],
    )  # fmt: skip
    return name


def runtime(stand: Stand) -> Any:
    return boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing", endpoint_url=stand.server.url)  # fmt: skip


def answered_version(client: Any, endpoint: str, input_name: str = "INPUT0") -> int:
    """One KServe v2 JSON request through InvokeEndpoint; the version number the model answered."""
    body = {"inputs": [{"name": input_name, "shape": [1], "datatype": "FP32", "data": [1.0]}]}
    answer = client.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=json.dumps(body))
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    return int(json.loads(answer["Body"].read())["outputs"][0]["data"][0])


def test_invocations_follow_the_share_the_canary_has_reached(stand: Stand) -> None:
    client = runtime(stand)
    stand.sagemaker.create_endpoint(EndpointName="served", EndpointConfigName=version(stand, "served-v1", 1))
    stand.wait("served", "InService", timeout_s=60)
    assert answered_version(client, "served") == 1
    with pytest.raises(ClientError) as refused:  # the container's own error, as a ModelError
        answered_version(client, "served", input_name="WRONG")
    assert refused.value.response["Error"]["Code"] == "ModelError"
    assert "Received client error (400) from primary" in refused.value.response["Error"]["Message"]

    deployment = canary(1, wait_s=3600)
    deployment["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = 28800  # two bakes of an hour
    stand.sagemaker.update_endpoint(EndpointName="served", EndpointConfigName=version(stand, "served-v2", 2),
                                    DeploymentConfig=deployment)  # fmt: skip
    assert answered_version(client, "served") == 1  # the new fleet is still starting
    when(stand, "served", lambda e: e["new_share"] == 0.25, timeout_s=60)
    answers = [answered_version(client, "served") for _ in range(20)]
    assert shares(stand.timeline("served"))[-1] == 0.25, "the canary bake ended while the requests ran"
    assert sorted(answers) == [1] * 15 + [2] * 5  # exactly the canary's quarter of the traffic
    stand.wait("served", "InService", timeout_s=30)
    assert {answered_version(client, "served") for _ in range(5)} == {2}


def test_a_version_whose_model_fails_to_load_never_takes_traffic(stand: Stand) -> None:
    client = runtime(stand)
    stand.sagemaker.create_endpoint(EndpointName="guarded", EndpointConfigName=version(stand, "guarded-v1", 1))
    stand.wait("guarded", "InService", timeout_s=60)
    stand.sagemaker.update_endpoint(EndpointName="guarded",
                                    EndpointConfigName=version(stand, "guarded-v2", 2, broken=True),
                                    DeploymentConfig=canary(1, wait_s=600))  # fmt: skip
    deadline = time.monotonic() + 60
    seen = set()
    while stand.sagemaker.describe_endpoint(EndpointName="guarded")["EndpointStatus"] == "Updating":
        seen.add(answered_version(client, "guarded"))
        assert time.monotonic() < deadline
    done = stand.wait("guarded", "InService")
    assert seen <= {1} and answered_version(client, "guarded") == 1
    assert done["EndpointConfigName"] == "guarded-v1"
    assert "model scorer failed to load" in done["FailureReason"] and "the weights are corrupt" in done["FailureReason"]
    assert all(event["new_share"] == 0.0 for event in stand.timeline("guarded"))


def test_an_endpoint_whose_first_version_cannot_load_fails(stand: Stand) -> None:
    stand.sagemaker.create_endpoint(
        EndpointName="doomed", EndpointConfigName=version(stand, "doomed-v1", 1, broken=True)
    )
    failed = stand.wait("doomed", "Failed", timeout_s=60)
    assert "failed to load" in failed["FailureReason"]
    with pytest.raises(ClientError, match="has no running fleet"):
        answered_version(runtime(stand), "doomed")


def metric_sum(stand: Stand, endpoint: str, metric: str, statistic: str = "Sum", *, config: str) -> float:
    """A metric's statistic over a window wide enough for the stand-in's model time (it runs ahead), for the
    fleet that runs `config`. Asked with all three dimensions: moto 5.2.5 matches a query's dimensions as a
    subset (CloudWatch matches the exact set), so an EndpointName+VariantName query would also sum the
    EndpointConfigName series the stand-in publishes beside it."""
    now = datetime.now(UTC)
    dimensions = {"EndpointConfigName": config, "EndpointName": endpoint, "VariantName": "AllTraffic"}
    answer = stand.cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName=metric, Period=86400, Statistics=[statistic],
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=now - timedelta(days=1), EndTime=now + timedelta(days=30),
    )  # fmt: skip
    return float(sum(point[statistic] for point in answer["Datapoints"]))


def test_every_invocation_is_counted_in_the_endpoint_metrics(stand: Stand) -> None:
    client = runtime(stand)
    stand.sagemaker.create_endpoint(EndpointName="counted", EndpointConfigName=version(stand, "counted-v1", 1))
    stand.wait("counted", "InService", timeout_s=60)
    for _ in range(3):
        answered_version(client, "counted")
    with pytest.raises(ClientError):
        answered_version(client, "counted", input_name="WRONG")
    deadline = time.monotonic() + 10
    fleet = {"config": "counted-v1"}
    while metric_sum(stand, "counted", "Invocations", **fleet) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # the stand-in flushes every 5 model seconds: nothing more may come
    assert metric_sum(stand, "counted", "Invocations", **fleet) == 4
    assert metric_sum(stand, "counted", "Invocation4XXErrors", **fleet) == 1
    assert metric_sum(stand, "counted", "InvocationModelErrors", **fleet) == 1
    assert metric_sum(stand, "counted", "Invocation5XXErrors", **fleet) == 0
    assert metric_sum(stand, "counted", "ModelLatency", "SampleCount", **fleet) == 4
    assert metric_sum(stand, "counted", "ModelLatency", "Minimum", **fleet) > 0  # microseconds, never zero


def test_an_erring_canary_trips_its_alarm_from_real_metrics_and_is_rolled_back(stand: Stand) -> None:
    client = runtime(stand)
    stand.sagemaker.create_endpoint(EndpointName="tripped", EndpointConfigName=version(stand, "tripped-v1", 1))
    stand.wait("tripped", "InService", timeout_s=60)
    stand.cloudwatch.put_metric_alarm(
        AlarmName="tripped-model-errors", Namespace="AWS/SageMaker", MetricName="InvocationModelErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "tripped"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum", Period=60, EvaluationPeriods=2, DatapointsToAlarm=1, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
    )  # fmt: skip
    deployment = {
        **canary(1, wait_s=1200),
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "tripped-model-errors"}]},
    }
    stand.sagemaker.update_endpoint(EndpointName="tripped", EndpointConfigName=version(stand, "tripped-v2", 2, erring=True),
                                    DeploymentConfig=deployment)  # fmt: skip
    answers: list[int | str] = []
    deadline = time.monotonic() + 60
    while stand.sagemaker.describe_endpoint(EndpointName="tripped")["EndpointStatus"] != "InService":
        try:
            answers.append(answered_version(client, "tripped"))
        except ClientError as err:
            answers.append(err.response["Error"]["Code"])
        assert time.monotonic() < deadline
    done = stand.sagemaker.describe_endpoint(EndpointName="tripped")
    assert done["EndpointConfigName"] == "tripped-v1" and "tripped-model-errors" in done["FailureReason"]
    assert "ModelError" in answers  # the canary really served, and erred
    assert max(e["new_share"] for e in stand.timeline("tripped")) == 0.25  # caught during the canary bake
    alarm = stand.cloudwatch.describe_alarms(AlarmNames=["tripped-model-errors"])["MetricAlarms"][0]
    # set by the stand-in's evaluation (the state itself may already be OK again: the errors stopped)
    assert alarm["StateReason"].startswith("Threshold Crossed")
    assert answered_version(client, "tripped") == 1


def test_a_fleet_stops_only_after_the_invocations_in_flight_on_it_are_answered() -> None:
    fleet = RunningFleet("old")
    stopped = threading.Event()
    fleet.stack.callback(stopped.set)  # stands for its Triton servers
    fleet.routed()
    fleet.routed()

    closing = threading.Thread(target=fleet.close)
    closing.start()
    fleet.finished()
    assert not stopped.wait(0.3), "stopped with an invocation still in flight"
    fleet.finished()
    assert stopped.wait(5)
    closing.join(5)

    bounded = RunningFleet("stuck")
    bounded.routed()  # never answered: the stop waits at most drain_s
    started = time.monotonic()
    bounded.close(drain_s=0.2)
    assert time.monotonic() - started < 5
