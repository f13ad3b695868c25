"""What a rehearsal creates in the stand-ins: the bucket, the rollback alarms, the two versions.

The alarms are the environment's compiled rollback alarms (tritonform/config/alarms.py, which the stack's
aws_cloudwatch_metric_alarm resources declare) as PutMetricAlarm takes them (Metrics, CloudWatch API
Reference), watching the candidate's configuration, and the
DeploymentConfig is the environment's compiled one (UpdateEndpoint, SageMaker API Reference).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tritonform.config.alarms import CompiledAlarm
from tritonform.config.rollout import CompiledDeployment, SizeSetting
from tritonform.release.package import write_archive

VARIANT = "AllTraffic"
# Choice: moto checks instance types against its own list; the stand-in runs one local Triton server for a
# variant whatever its type, so a type moto accepts stands for the environment's.
INSTANCE_TYPE = "ml.g4dn.xlarge"
ROLE = "arn:aws:iam::123456789012:role/tritonform-rehearsal"
DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"


def _query(alarm: CompiledAlarm) -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = [
        {
            "Id": metric.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": metric.namespace,
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": name, "Value": value} for name, value in metric.dimensions],
                },
                "Period": alarm.period_s,
                "Stat": metric.stat,
            },
            "ReturnData": metric.id == alarm.returned_id,
        }
        for metric in alarm.metrics
    ]
    if alarm.expression is not None:
        queries.append(
            {"Id": alarm.returned_id, "Expression": alarm.expression, "Label": alarm.kind, "ReturnData": True}
        )
    return queries


def alarm_definitions(alarms: list[CompiledAlarm]) -> list[dict[str, Any]]:
    """PutMetricAlarm parameters for the compiled rollback alarms, as the environment's stack declares them."""
    return [
        {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "Metrics": _query(alarm),
            "ComparisonOperator": alarm.comparison,
            "Threshold": alarm.threshold,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints,
            "TreatMissingData": alarm.treat_missing_data,
        }
        for alarm in alarms
    ]


def _size(setting: SizeSetting) -> dict[str, Any]:
    return {"Type": setting.type, "Value": setting.value}


def deployment_config(compiled: CompiledDeployment) -> dict[str, Any]:
    """The environment's compiled deployment as UpdateEndpoint's DeploymentConfig."""
    config: dict[str, Any] = {}
    if compiled.blue_green is not None:
        blue = compiled.blue_green
        routing: dict[str, Any] = {"Type": blue.traffic_type, "WaitIntervalInSeconds": blue.wait_interval_s}
        if blue.canary_size is not None:
            routing["CanarySize"] = _size(blue.canary_size)
        if blue.linear_step_size is not None:
            routing["LinearStepSize"] = _size(blue.linear_step_size)
        config["BlueGreenUpdatePolicy"] = {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": blue.termination_wait_s,
            "MaximumExecutionTimeoutInSeconds": blue.max_execution_timeout_s,
        }
    if compiled.rolling is not None:
        rolling = compiled.rolling
        config["RollingUpdatePolicy"] = {
            "MaximumBatchSize": _size(rolling.maximum_batch_size),
            "WaitIntervalInSeconds": rolling.wait_interval_s,
            "MaximumExecutionTimeoutInSeconds": rolling.max_execution_timeout_s,
        }
        if rolling.rollback_maximum_batch_size is not None:
            config["RollingUpdatePolicy"]["RollbackMaximumBatchSize"] = _size(rolling.rollback_maximum_batch_size)
    if compiled.alarm_names:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in compiled.alarm_names]}
    return config


def package_to_bytes(repository: Path) -> bytes:
    """The repository as `release package` archives it (same entries, same order, same headers)."""
    with tempfile.TemporaryFile() as archive:
        write_archive(repository, archive, "fast")
        archive.seek(0)
        return archive.read()


def create_bucket(s3: Any, bucket: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def create_version(
    sagemaker: Any,
    s3: Any,
    *,
    bucket: str,
    name: str,
    archive: bytes,
    image: str,
    default_model: str,
    instances: int,
    variant: str = VARIANT,
) -> str:
    """Upload the archive; CreateModel and CreateEndpointConfig named `name`; return the configuration."""
    key = f"rehearsal/{name}/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=archive)
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": f"s3://{bucket}/{key}",
            "Environment": {DEFAULT_MODEL_ENV: default_model},
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": name,
                "InitialInstanceCount": instances,
                "InstanceType": INSTANCE_TYPE,
            }
        ],
    )
    return name
