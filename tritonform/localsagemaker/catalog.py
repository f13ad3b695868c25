"""Models and endpoint configurations: kept in moto, read back as SageMaker reads them back.

moto 5.2.5 stores models and endpoint configurations but answers DescribeModel without EnableNetworkIsolation
(and with a VpcConfig that was never given) and DescribeEndpointConfig with a DataCaptureConfig that was never
given, so every Terraform plan after an apply replaced every model and configuration; and it accepts a second
model or configuration under a name that exists. The local SageMaker answers these four operations itself,
in front of moto (which still holds them, for the operations it forwards):

- CreateModel, CreateEndpointConfig: refused when the name exists, with SageMaker's wording ("Cannot create
  already existing model", "Cannot create already existing endpoint configuration"; CreateModel and
  CreateEndpointConfig, SageMaker API Reference: names are unique within an account and region);
- DescribeModel, DescribeEndpointConfig: moto's answer with EnableNetworkIsolation, VpcConfig,
  DataCaptureConfig and KmsKeyId exactly as they were created (DescribeModel, DescribeEndpointConfig,
  SageMaker API Reference: EnableNetworkIsolation is always in the answer, the others only when given);
- DeleteModel, DeleteEndpointConfig: forwarded, and forgotten here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tritonform.localsagemaker.api import ApiError, validation
from tritonform.localsagemaker.backing import ACCOUNT, Backing

Request = dict[str, object]
Answer = dict[str, object]
# What each kind is read back with, as it was created.
CREATED_AS_GIVEN = {"model": ("VpcConfig",), "endpoint-config": ("DataCaptureConfig", "KmsKeyId")}


def _name(request: Request, key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' failed to "
                         "satisfy constraint: Member must not be null")  # fmt: skip
    return value


class Catalog:
    def __init__(self, backing: Backing) -> None:
        self.backing = backing
        self.lock = threading.Lock()
        self.created: dict[tuple[str, str, str], Request] = {}
        """(region, kind, name) -> the create request."""

    def operations(self) -> dict[str, Callable[[str, Request], Answer]]:
        return {
            "CreateModel": lambda region, request: self._create(region, "model", request),
            "CreateEndpointConfig": lambda region, request: self._create(region, "endpoint-config", request),
            "DescribeModel": lambda region, request: self._describe(region, "model", request),
            "DescribeEndpointConfig": lambda region, request: self._describe(region, "endpoint-config", request),
            "DeleteModel": lambda region, request: self._delete(region, "model", request),
            "DeleteEndpointConfig": lambda region, request: self._delete(region, "endpoint-config", request),
        }

    @staticmethod
    def _key(kind: str) -> str:
        return "ModelName" if kind == "model" else "EndpointConfigName"

    def _call(self, region: str, operation: str, request: Request) -> Any:
        try:
            return getattr(self.backing.client("sagemaker", region), operation)(**request)
        except ClientError as err:
            error = err.response.get("Error", {})
            raise ApiError(str(error.get("Code", "ValidationException")), str(error.get("Message", err))) from None

    def _create(self, region: str, kind: str, request: Request) -> Answer:
        name = _name(request, self._key(kind))
        what = "model" if kind == "model" else "endpoint configuration"
        with self.lock:
            if (region, kind, name) in self.created:
                arn = f"arn:aws:sagemaker:{region}:{ACCOUNT}:{kind}/{name.lower()}"
                raise validation(f'Cannot create already existing {what} "{arn}".')
            answer = self._call(region, "create_model" if kind == "model" else "create_endpoint_config", request)
            self.created[(region, kind, name)] = request
        answer.pop("ResponseMetadata", None)
        return dict(answer)

    def _describe(self, region: str, kind: str, request: Request) -> Answer:
        name = _name(request, self._key(kind))
        answer = dict(self._call(region, "describe_model" if kind == "model" else "describe_endpoint_config",
                                 request))  # fmt: skip
        answer.pop("ResponseMetadata", None)
        with self.lock:
            created = self.created.get((region, kind, name))
        if created is None:  # made before this stand-in started: moto's answer as it is
            return _wire(answer)
        for key in CREATED_AS_GIVEN[kind]:
            answer.pop(key, None)
            if key in created:
                answer[key] = created[key]
        if kind == "model":
            answer["EnableNetworkIsolation"] = bool(created.get("EnableNetworkIsolation", False))
        return _wire(answer)

    def _delete(self, region: str, kind: str, request: Request) -> Answer:
        name = _name(request, self._key(kind))
        self._call(region, "delete_model" if kind == "model" else "delete_endpoint_config", request)
        with self.lock:
            self.created.pop((region, kind, name), None)
        return {}


def _wire(answer: Answer) -> Answer:
    """boto3 parses timestamps into datetimes; the JSON protocol sends them as epoch seconds."""
    return {key: value.timestamp() if hasattr(value, "timestamp") else value for key, value in answer.items()}
