"""The local SageMaker's automatic rollback (alarms, timeout, a version that cannot start) and its time scale.

Alarm states are set in moto with SetAlarmState, as CloudWatch would set them; the stand-in reads them with
DescribeAlarms while an update bakes (Auto-Rollback Configuration and Monitoring, SageMaker Developer Guide).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.test_local_sagemaker import BUCKET, PROVISIONING_S, SCALE, Stand, canary, clients, shares, stand_up
from tritonform.localsagemaker import local_sagemaker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stand() -> Iterator[Stand]:
    with stand_up() as made:
        yield made


def alarm(stand: Stand, name: str, state: str | None = None) -> dict[str, Any]:
    """A rollback alarm in moto, optionally forced into `state`; the AutoRollbackConfiguration naming it."""
    stand.cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SageMaker", MetricName="Invocation5XXErrors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    if state is not None:
        stand.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    return {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name}]}}


def when(stand: Stand, endpoint: str, seen: Callable[[dict[str, Any]], bool], timeout_s: float = 10) -> None:
    """Wait until the endpoint's timeline has an event for which `seen` is true."""
    deadline = time.monotonic() + timeout_s
    while not any(seen(event) for event in stand.timeline(endpoint)):
        if time.monotonic() > deadline:
            raise AssertionError(f"never seen on {endpoint}: {stand.timeline(endpoint)}")
        time.sleep(0.02)


def test_an_alarm_in_alarm_rolls_a_canary_back_before_the_rest_of_the_traffic_moves(stand: Stand) -> None:
    stand.live("firing", stand.version("firing-v1"))
    config = {**canary(1, wait_s=600), **alarm(stand, "firing-5xx", "ALARM")}
    stand.sagemaker.update_endpoint(EndpointName="firing", EndpointConfigName=stand.version("firing-v2"),
                                    DeploymentConfig=config)  # fmt: skip
    done = stand.wait("firing", "InService")
    assert done["EndpointConfigName"] == "firing-v1"  # the OLD configuration serves
    assert "rolled back" in done["FailureReason"] and "firing-5xx" in done["FailureReason"]
    assert done["ProductionVariants"][0]["CurrentInstanceCount"] == 4
    events = stand.timeline("firing")
    assert max(e["new_share"] for e in events if e["status"] == "Updating") == 0.25  # never past the canary
    assert [e["status"] for e in events][-2:] == ["RollingBack", "InService"]
    assert events[-1]["new_share"] == 0.0
    assert done["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [{"AlarmName": "firing-5xx"}]


def test_alarms_that_are_not_in_alarm_let_the_update_finish(stand: Stand) -> None:
    stand.live("calm", stand.version("calm-v1"))
    config = {**canary(1, wait_s=120), **alarm(stand, "calm-ok", "OK")}
    config["AutoRollbackConfiguration"]["Alarms"].append(
        alarm(stand, "calm-nodata")["AutoRollbackConfiguration"]["Alarms"][0]
    )
    stand.sagemaker.update_endpoint(
        EndpointName="calm", EndpointConfigName=stand.version("calm-v2"), DeploymentConfig=config
    )
    done = stand.wait("calm", "InService")
    assert (done["EndpointConfigName"], done.get("FailureReason")) == ("calm-v2", None)


def test_an_alarm_during_the_termination_wait_still_rolls_back_from_full_traffic(stand: Stand) -> None:
    stand.live("late", stand.version("late-v1"))
    config = {**canary(1, wait_s=60, termination_s=3000), **alarm(stand, "late-5xx", "OK")}
    stand.sagemaker.update_endpoint(
        EndpointName="late", EndpointConfigName=stand.version("late-v2"), DeploymentConfig=config
    )
    when(stand, "late", lambda e: e["action"].startswith("termination wait"))
    stand.cloudwatch.set_alarm_state(AlarmName="late-5xx", StateValue="ALARM", StateReason="5XX errors")
    done = stand.wait("late", "InService")
    assert done["EndpointConfigName"] == "late-v1"
    assert shares(stand.timeline("late")) == [0.0, 0.25, 1.0, 0.0]  # all traffic back on the old fleet


def test_a_rolling_update_rolls_back_batch_by_batch(stand: Stand) -> None:
    stand.live("rb", stand.version("rb-v1"))
    config = {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
                                      "WaitIntervalInSeconds": 600,
                                      "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}},
              **alarm(stand, "rb-5xx", "OK")}  # fmt: skip
    stand.sagemaker.update_endpoint(
        EndpointName="rb", EndpointConfigName=stand.version("rb-v2"), DeploymentConfig=config
    )
    when(stand, "rb", lambda e: e["action"].startswith("batch 3/4") and "baking" in e["action"])
    stand.cloudwatch.set_alarm_state(AlarmName="rb-5xx", StateValue="ALARM", StateReason="5XX errors")
    done = stand.wait("rb", "InService")
    assert done["EndpointConfigName"] == "rb-v1" and "rolled back" in done["FailureReason"]
    restoring = [e for e in stand.timeline("rb") if e["status"] == "RollingBack"]
    # after two batches two old instances are gone (the third batch's still stands); they come back one per
    # step (RollbackMaximumBatchSize 1)
    assert [e["old_instances"]["AllTraffic"] for e in restoring] == [3, 4, 4]
    assert restoring[-1]["new_instances"] == {"AllTraffic": 0}


def test_running_past_the_maximum_execution_timeout_rolls_back(stand: Stand) -> None:
    stand.live("slow", stand.version("slow-v1"))
    config = canary(1, wait_s=500)
    config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] = 600  # 60 s start + 2 x 500 s bakes do not fit
    stand.sagemaker.update_endpoint(
        EndpointName="slow", EndpointConfigName=stand.version("slow-v2"), DeploymentConfig=config
    )
    done = stand.wait("slow", "InService")
    assert done["EndpointConfigName"] == "slow-v1"
    assert "MaximumExecutionTimeoutInSeconds (600 s)" in done["FailureReason"]
    rolled_back_at = next(e["at_s"] for e in stand.timeline("slow") if e["status"] == "RollingBack")
    assert rolled_back_at == pytest.approx(600, abs=40)


def test_a_version_that_cannot_start_never_takes_traffic(stand: Stand) -> None:
    stand.live("broken", stand.version("broken-v1"))
    stand.sagemaker.update_endpoint(EndpointName="broken", EndpointConfigName=stand.version("broken-v2", data=False),
                                    DeploymentConfig=canary(1))  # fmt: skip
    done = stand.wait("broken", "InService")
    assert done["EndpointConfigName"] == "broken-v1"
    assert f"s3://{BUCKET}/broken-v2/model.tar.gz" in done["FailureReason"]
    events = stand.timeline("broken")
    assert all(e["new_share"] == 0.0 for e in events) and "RollingBack" not in {e["status"] for e in events}


def test_the_time_scale_divides_every_wait(stand: Stand) -> None:
    """The same update at time scale 600 and 1200: the same model timeline, half the real time."""
    update = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE",
                                                                        "WaitIntervalInSeconds": 600}}}  # fmt: skip
    real: dict[float, float] = {}
    timelines: dict[float, list[dict[str, Any]]] = {}
    with local_sagemaker(stand.moto, time_scale=2 * SCALE, provisioning_s=PROVISIONING_S, lifetime_s=120) as fast:
        for scale, url in ((SCALE, stand.server.url), (2 * SCALE, fast.url)):
            other = Stand(stand.server if url == stand.server.url else fast, stand.moto, **clients(url))
            name = f"scaled-{int(scale)}"
            other.live(name, other.version(f"{name}-v1", instances=2))
            other.version(f"{name}-v2", instances=2)
            started = time.monotonic()
            other.sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v2", DeploymentConfig=update)
            other.wait(name, "InService")
            real[scale] = time.monotonic() - started
            timelines[scale] = other.timeline(name)
    for scale, elapsed in real.items():
        assert elapsed >= (PROVISIONING_S + 600) / scale  # 660 model seconds
        assert timelines[scale][-1]["at_s"] == pytest.approx(660, abs=40)
    assert real[2 * SCALE] < real[SCALE]
