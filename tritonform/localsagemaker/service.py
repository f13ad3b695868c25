"""The SageMaker endpoint operations the local SageMaker answers itself.

Each follows its page in the SageMaker API Reference (CreateEndpoint, UpdateEndpoint, DescribeEndpoint,
DeleteEndpoint, ListEndpoints, UpdateEndpointWeightsAndCapacities, AddTags/ListTags/DeleteTags for
endpoint ARNs). The refusals use AWS's wording where it is known: "Cannot create already existing
endpoint", "Could not find endpoint", "Cannot update in-progress endpoint", "Could not find endpoint
configuration" (the messages the AWS Controllers for Kubernetes SageMaker controller matches on).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from tritonform.localsagemaker.api import (
    DEFAULT_DEPLOYMENT,
    ApiError,
    DeploymentConfig,
    check_deployment_config,
    parse_deployment_config,
    validation,
)
from tritonform.localsagemaker.backing import Backing, endpoint_arn
from tritonform.localsagemaker.capture import DataCapture
from tritonform.localsagemaker.catalog import Catalog
from tritonform.localsagemaker.fleets import FleetStarter
from tritonform.localsagemaker.metrics import Metrics
from tritonform.localsagemaker.runner import Clock, Runner, new_rollout
from tritonform.localsagemaker.state import IN_PROGRESS, Endpoint, Fleet, describe, summary

Request = dict[str, object]
Answer = dict[str, object]


def _text(request: Request, key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' failed to "
                         "satisfy constraint: Member must not be null")  # fmt: skip
    return value


def _records(request: Request, key: str) -> list[dict[str, object]]:
    value = request.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ApiError("SerializationException", f"{key} must be a list of structures")
    return value


class LocalSageMaker:
    def __init__(self, backing: Backing, clock: Clock, provisioning_s: float, starter: FleetStarter | None = None,
                 metrics: Metrics | None = None) -> None:  # fmt: skip
        self.backing = backing
        self.clock = clock
        self.metrics = metrics
        self.lock = threading.RLock()
        self.endpoints: dict[str, Endpoint] = {}
        self.runner = Runner(backing, clock, self.lock, provisioning_s, self._forget, starter=starter)
        self.catalog = Catalog(backing)
        self.capture = DataCapture(backing, self.catalog)

    def operations(self) -> dict[str, Callable[[str, Request], Answer]]:
        return {
            "CreateEndpoint": self.create_endpoint, "UpdateEndpoint": self.update_endpoint,
            "DescribeEndpoint": self.describe_endpoint, "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
            "UpdateEndpointWeightsAndCapacities": self.update_weights_and_capacities,
            **self.catalog.operations(),  # models and endpoint configurations, read back as created
        }  # fmt: skip

    def _forget(self, endpoint: Endpoint) -> None:
        if self.endpoints.get(endpoint.name) is endpoint:
            del self.endpoints[endpoint.name]

    def _find(self, region: str, name: str) -> Endpoint:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise validation(f'Could not find endpoint "{endpoint_arn(region, name)}".')
        return endpoint

    def stop_all(self) -> None:
        """Stop every operation and every local Triton fleet (the server is shutting down)."""
        if self.metrics is not None:
            self.metrics.stop.set()
        self.capture.close()
        with self.lock:
            endpoints = list(self.endpoints.values())
            for endpoint in endpoints:
                endpoint.stop.set()
        for endpoint in endpoints:
            for fleet in (endpoint.live_fleet, endpoint.rollout.fleet if endpoint.rollout else None):
                if fleet is not None:
                    fleet.close()

    # --- CreateEndpoint ------------------------------------------------------------------------------

    def create_endpoint(self, region: str, request: Request) -> Answer:
        name, config_name = _text(request, "EndpointName"), _text(request, "EndpointConfigName")
        spec = self.backing.endpoint_config(region, config_name)
        deployment = request.get("DeploymentConfig")
        config = parse_deployment_config(deployment) if deployment is not None else None
        if config is not None:
            check_deployment_config(config, spec.counts())
        tags = {str(t.get("Key")): str(t.get("Value", "")) for t in _records(request, "Tags")}
        with self.lock:
            if name in self.endpoints:
                raise validation(f'Cannot create already existing endpoint "{endpoint_arn(region, name)}".')
            endpoint = Endpoint(name, endpoint_arn(region, name), region, "Creating", config_name, tags=tags,
                                last_deployment_config=config)  # fmt: skip
            endpoint.rollout = new_rollout(Fleet.of(spec), None)
            self.endpoints[name] = endpoint
            self.runner.start(endpoint, self.runner.create)
        return {"EndpointArn": endpoint.arn}

    # --- UpdateEndpoint ------------------------------------------------------------------------------

    def update_endpoint(self, region: str, request: Request) -> Answer:
        name, config_name = _text(request, "EndpointName"), _text(request, "EndpointConfigName")
        with self.lock:
            endpoint = self._find(region, name)
            self._refuse_in_progress(endpoint)
        spec = self.backing.endpoint_config(region, config_name)
        target = Fleet.of(spec)
        with self.lock:
            serving = endpoint.serving
            assert serving is not None
            if request.get("RetainAllVariantProperties") is True:
                self._retain(serving, target, request)
        config = self._deployment_config(endpoint, request)
        check_deployment_config(config, target.counts)
        self._refuse_scaling_conflict(endpoint, serving, target)
        with self.lock:
            self._refuse_in_progress(endpoint)  # a second UpdateEndpoint may have won the race meanwhile
            endpoint.rollout = new_rollout(target, config)
            endpoint.status = "Updating"
            # DescribeEndpoint.LastDeploymentConfig: "The most recent deployment configuration for the endpoint".
            endpoint.last_deployment_config = config
            self.runner.start(endpoint, self.runner.update)
        return {"EndpointArn": endpoint.arn}

    @staticmethod
    def _refuse_in_progress(endpoint: Endpoint) -> None:
        if endpoint.status in IN_PROGRESS:
            raise validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
        if endpoint.status != "InService" or endpoint.serving is None:
            # DescribeEndpoint, EndpointStatus Failed: "DeleteEndpoint is the only operation that can be
            # performed on a failed endpoint." Choice: the wording of this refusal.
            raise validation(f'Cannot update endpoint "{endpoint.arn}" in status {endpoint.status}: only '
                             "DeleteEndpoint can be performed on a failed endpoint.")  # fmt: skip

    @staticmethod
    def _retain(serving: Fleet, target: Fleet, request: Request) -> None:
        """UpdateEndpoint.RetainAllVariantProperties: keep the live instance count and weight of every variant
        of the same name, except the properties named in ExcludeRetainedVariantProperties."""
        excluded = {
            str(item.get("VariantPropertyType")) for item in _records(request, "ExcludeRetainedVariantProperties")
        }
        for variant in target.counts:
            if variant in serving.counts and "DesiredInstanceCount" not in excluded:
                target.counts[variant] = serving.counts[variant]
            if variant in serving.weights and "DesiredWeight" not in excluded:
                target.weights[variant] = serving.weights[variant]

    @staticmethod
    def _deployment_config(endpoint: Endpoint, request: Request) -> DeploymentConfig:
        """UpdateEndpoint.RetainDeploymentConfig: "Specifies whether to reuse the last deployment
        configuration"; a DeploymentConfig given in the request wins."""
        given = request.get("DeploymentConfig")
        if given is not None:
            return parse_deployment_config(given)
        if request.get("RetainDeploymentConfig") is True and endpoint.last_deployment_config is not None:
            return endpoint.last_deployment_config
        return DEFAULT_DEPLOYMENT

    def _refuse_scaling_conflict(self, endpoint: Endpoint, serving: Fleet, target: Fleet) -> None:
        """ "Update endpoints that use auto scaling", SageMaker Developer Guide: if the update would change the
        instance type of a variant registered for auto scaling (or remove it), UpdateEndpoint fails; changing
        only its model is allowed."""
        registered = self.backing.scalable_variants(endpoint.region, endpoint.name)
        blocked = [
            variant
            for variant in sorted(registered & set(serving.counts))
            if variant not in target.counts
            or target.variant(variant).instance_type != serving.variant(variant).instance_type
        ]
        if blocked:
            # Choice (the wording is not documented): the refusal names the variants and what to do.
            raise validation(f"The variant(s) {blocked} of endpoint \"{endpoint.arn}\" are registered as scalable "
                             "targets with Application Auto Scaling; deregister them (DeregisterScalableTarget) "
                             "before changing their instance type or removing them.")  # fmt: skip

    # --- DescribeEndpoint, ListEndpoints -------------------------------------------------------------

    def describe_endpoint(self, region: str, request: Request) -> Answer:
        with self.lock:
            return describe(self._find(region, _text(request, "EndpointName")))

    def list_endpoints(self, region: str, request: Request) -> Answer:
        """ListEndpoints: NameContains, StatusEquals, SortBy (CreationTime by default) and SortOrder
        (Descending by default), MaxResults with NextToken."""
        with self.lock:
            found = [e for e in self.endpoints.values() if e.region == region]
        contains, status = request.get("NameContains"), request.get("StatusEquals")
        if isinstance(contains, str):
            found = [e for e in found if contains.lower() in e.name.lower()]
        if isinstance(status, str):
            found = [e for e in found if e.status == status]
        by_name = request.get("SortBy") == "Name"
        found.sort(
            key=lambda e: (e.name if by_name else "", e.created), reverse=request.get("SortOrder") != "Ascending"
        )
        start = int(str(request.get("NextToken") or 0))
        limit = request.get("MaxResults")
        count = limit if isinstance(limit, int) and limit > 0 else 100
        page = found[start : start + count]
        answer: Answer = {"Endpoints": [summary(e) for e in page]}
        if start + count < len(found):
            answer["NextToken"] = str(start + count)
        return answer

    # --- DeleteEndpoint ------------------------------------------------------------------------------

    def delete_endpoint(self, region: str, request: Request) -> Answer:
        with self.lock:
            endpoint = self._find(region, _text(request, "EndpointName"))
            if endpoint.status in IN_PROGRESS:
                raise validation(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            endpoint.rollout = None
            self.runner.start(endpoint, self.runner.delete)
        return {}

    # --- UpdateEndpointWeightsAndCapacities ---------------------------------------------------------

    def update_weights_and_capacities(self, region: str, request: Request) -> Answer:
        name = _text(request, "EndpointName")
        with self.lock:
            endpoint = self._find(region, name)
            self._refuse_in_progress(endpoint)
            serving = endpoint.serving
            assert serving is not None
            target = Fleet(serving.spec, dict(serving.counts), dict(serving.weights))
            for change in _records(request, "DesiredWeightsAndCapacities"):
                variant = str(change.get("VariantName"))
                if variant not in serving.counts:
                    # Choice (the wording is not documented).
                    raise validation(f'The variant "{variant}" does not exist on endpoint "{endpoint.arn}".')
                weight, count = change.get("DesiredWeight"), change.get("DesiredInstanceCount")
                if isinstance(weight, int | float):
                    target.weights[variant] = float(weight)
                if isinstance(count, int):
                    target.counts[variant] = count
            endpoint.rollout = new_rollout(target, None)
            endpoint.status = "Updating"
            self.runner.start(endpoint, self.runner.change_capacity)
        return {"EndpointArn": endpoint.arn}

    # --- tags on endpoint ARNs -----------------------------------------------------------------------

    def owns(self, arn: object) -> Endpoint | None:
        with self.lock:
            return next((e for e in self.endpoints.values() if e.arn == arn), None)

    def tags(self, operation: str, endpoint: Endpoint, request: Request) -> Answer:
        """AddTags, ListTags, DeleteTags for an endpoint this stand-in holds (moto does not know it)."""
        with self.lock:
            if operation == "AddTags":
                for tag in _records(request, "Tags"):
                    endpoint.tags[str(tag.get("Key"))] = str(tag.get("Value", ""))
                return {"Tags": [{"Key": k, "Value": v} for k, v in endpoint.tags.items()]}
            if operation == "DeleteTags":
                keys = request.get("TagKeys")
                for key in keys if isinstance(keys, list) else []:
                    endpoint.tags.pop(str(key), None)
                return {}
            return {"Tags": [{"Key": k, "Value": v} for k, v in endpoint.tags.items()]}
