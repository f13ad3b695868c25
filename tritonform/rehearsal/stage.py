"""What a rehearsal creates in the stand-ins: the bucket, the rollback alarms, the two versions.

The alarms are the environment's synthesized aws_cloudwatch_metric_alarm resources as the API takes them
(tritonform/constructs/rollback_alarms.py declares them; PutMetricAlarm, CloudWatch API Reference), and the
DeploymentConfig is the environment's compiled one (UpdateEndpoint, SageMaker API Reference).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tritonform.config.environment import CountAlarm, EnvironmentConfig, ExtraAlarm, LatencyAlarm
from tritonform.config.names import named_rollback_alarms
from tritonform.config.rollout import CompiledDeployment, SizeSetting
from tritonform.release.package import write_archive

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
VARIANT = "AllTraffic"
# Choice: moto checks instance types against its own list; the stand-in runs one local Triton server for a
# variant whatever its type, so a type moto accepts stands for the environment's.
INSTANCE_TYPE = "ml.g4dn.xlarge"
ROLE = "arn:aws:iam::123456789012:role/tritonform-rehearsal"
DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"
# The built-in alarms' metrics, as the construct maps the environment's fields onto SageMaker's metrics.
COUNT_METRICS = {"5xx-errors": "Invocation5XXErrors", "model-errors": "InvocationModelErrors"}


def alarm_definitions(env: EnvironmentConfig) -> list[dict[str, Any]]:
    """PutMetricAlarm parameters for every rollback alarm, as the environment's stack declares them."""
    dimensions = [{"Name": "EndpointName", "Value": env.endpoint.name}, {"Name": "VariantName", "Value": VARIANT}]
    definitions: list[dict[str, Any]] = []
    for name, window in named_rollback_alarms(env):
        common: dict[str, Any] = {
            "AlarmName": name,
            "Period": window.period_s,
            "EvaluationPeriods": window.evaluation_periods,
            "DatapointsToAlarm": window.datapoints,
            "TreatMissingData": "notBreaching",
        }
        if isinstance(window, ExtraAlarm):
            percentile = window.statistic.startswith("p")
            definitions.append(
                {
                    **common,
                    "Namespace": window.namespace,
                    "MetricName": window.metric_name,
                    **({"Dimensions": dimensions} if window.endpoint_dimensions else {}),
                    **({"ExtendedStatistic": window.statistic} if percentile else {"Statistic": window.statistic}),
                    "ComparisonOperator": window.comparison,
                    "Threshold": float(window.threshold),
                }
            )
        elif isinstance(window, LatencyAlarm):
            definitions.append(
                {
                    **common,
                    "Namespace": SAGEMAKER_NAMESPACE,
                    "MetricName": "ModelLatency",
                    "Dimensions": dimensions,
                    "ExtendedStatistic": "p99",
                    "ComparisonOperator": "GreaterThanThreshold",
                    "Threshold": float(window.threshold_ms * 1000),
                }
            )
        elif isinstance(window, CountAlarm):
            suffix = name.rsplit("-rollback-", 1)[1]
            definitions.append(
                {
                    **common,
                    "Namespace": SAGEMAKER_NAMESPACE,
                    "MetricName": COUNT_METRICS[suffix],
                    "Dimensions": dimensions,
                    "Statistic": "Sum",
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "Threshold": float(window.threshold),
                }
            )
    return definitions


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
    sagemaker: Any, s3: Any, *, bucket: str, name: str, archive: bytes, image: str, default_model: str, instances: int
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
                "VariantName": VARIANT,
                "ModelName": name,
                "InitialInstanceCount": instances,
                "InstanceType": INSTANCE_TYPE,
            }
        ],
    )
    return name
