"""What the local SageMaker reads from the moto server: endpoint configurations, models, model data,
alarm states and Application Auto Scaling targets. Nothing here writes to moto."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tritonform.localsagemaker.api import ApiError, validation

ACCOUNT = "123456789012"  # moto's default account
CLIENT_CONFIG = Config(retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)


@dataclass(frozen=True)
class VariantSpec:
    """One production variant of an endpoint configuration, with the model it names."""

    name: str
    model_name: str
    instance_type: str | None
    instance_count: int
    weight: float
    images: list[str] = field(default_factory=list)
    model_data_urls: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigSpec:
    name: str
    variants: list[VariantSpec]

    def counts(self) -> dict[str, int]:
        return {variant.name: variant.instance_count for variant in self.variants}


def endpoint_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:endpoint/{name.lower()}"


def config_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:endpoint-config/{name.lower()}"


class Backing:
    """boto3 clients pointed at the moto server, one per service and region."""

    def __init__(self, moto_url: str) -> None:
        self.moto_url = moto_url
        parsed = urlparse(moto_url)
        if parsed.hostname != "127.0.0.1":
            raise ValueError(f"the moto server must be on loopback, got {moto_url}")
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.client(
                    service, region_name=region, endpoint_url=self.moto_url, config=CLIENT_CONFIG,
                    aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
                )  # fmt: skip
            return self._clients[key]

    def endpoint_config(self, region: str, name: str) -> ConfigSpec:
        """The configuration and its models. UpdateEndpoint/CreateEndpoint, SageMaker API Reference: the
        configuration must exist; the wording of the refusal is AWS's ("Could not find endpoint configuration")."""
        sagemaker = self.client("sagemaker", region)
        try:
            described = sagemaker.describe_endpoint_config(EndpointConfigName=name)
        except ClientError:
            raise validation(f'Could not find endpoint configuration "{config_arn(region, name)}".') from None
        variants = []
        for variant in described.get("ProductionVariants", []):
            images, urls, environment = self._model(region, variant["ModelName"])
            serverless = "ServerlessConfig" in variant
            variants.append(VariantSpec(
                name=variant["VariantName"], model_name=variant["ModelName"],
                instance_type=variant.get("InstanceType"),
                # Choice (the docs are silent): a serverless variant counts as one instance for traffic shifting.
                instance_count=1 if serverless else int(variant.get("InitialInstanceCount", 1)),
                weight=float(variant.get("InitialVariantWeight", 1.0)), images=images, model_data_urls=urls,
                environment=environment,
            ))  # fmt: skip
        return ConfigSpec(name, variants)

    def _model(self, region: str, model_name: str) -> tuple[list[str], list[str], dict[str, str]]:
        try:
            model = self.client("sagemaker", region).describe_model(ModelName=model_name)
        except ClientError:
            raise validation(f'Could not find model "{model_name}".') from None
        containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
        images = [c["Image"] for c in containers if c.get("Image")]
        urls = [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")]
        environment = {str(k): str(v) for c in containers for k, v in (c.get("Environment") or {}).items()}
        return images, urls, environment

    def missing_model_data(self, region: str, spec: ConfigSpec) -> str | None:
        """The first ModelDataUrl that is not in S3, or None: a fleet cannot start without its model data."""
        s3 = self.client("s3", region)
        for variant in spec.variants:
            for url in variant.model_data_urls:
                parsed = urlparse(url)
                try:
                    s3.head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
                except ClientError:
                    return url
        return None

    def alarms_in_alarm(self, region: str, names: list[str]) -> list[str]:
        """Auto-Rollback Configuration and Monitoring, SageMaker Developer Guide: SageMaker reads the alarms
        with cloudwatch:DescribeAlarms; any of them in ALARM starts a rollback."""
        if not names:
            return []
        answer = self.client("cloudwatch", region).describe_alarms(AlarmNames=names)
        return sorted(a["AlarmName"] for a in answer.get("MetricAlarms", []) if a.get("StateValue") == "ALARM")

    def scalable_variants(self, region: str, endpoint_name: str) -> set[str]:
        """Variants registered as Application Auto Scaling scalable targets (resource id
        endpoint/<name>/variant/<variant>, DeregisterScalableTarget, Application Auto Scaling API Reference)."""
        prefix = f"endpoint/{endpoint_name}/variant/"
        try:
            answer = self.client("application-autoscaling", region).describe_scalable_targets(
                ServiceNamespace="sagemaker"
            )
        except ClientError as err:
            raise ApiError("InternalFailure", f"could not read Application Auto Scaling targets: {err}", 500) from None
        return {
            target["ResourceId"].removeprefix(prefix)
            for target in answer.get("ScalableTargets", [])
            if target.get("ResourceId", "").startswith(prefix)
        }
