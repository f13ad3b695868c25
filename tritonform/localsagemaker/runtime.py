"""InvokeEndpoint (SageMaker Runtime API Reference): `POST /endpoints/<name>/invocations`, routed to a fleet.

The body goes to the variant's default model as SageMaker's Triton container passes it on: a KServe v2
JSON inference request to `/v2/models/<SAGEMAKER_TRITON_DEFAULT_MODEL_NAME>/infer` ("Deploy models with
Triton Inference Server", SageMaker Developer Guide). While an update runs, the new fleet takes the share
of traffic its deployment has reached; the old fleet takes the rest.
"""

from __future__ import annotations

import http.client
import json
import math
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from tritonform.localsagemaker.backing import ACCOUNT
from tritonform.localsagemaker.fleets import RunningFleet, VariantServer
from tritonform.localsagemaker.metrics import Invocation
from tritonform.localsagemaker.service import LocalSageMaker

INVOKE_TIMEOUT_S = 60
# InvokeEndpoint's response header that names the variant that answered (SageMaker Runtime API Reference).
INVOKED_VARIANT = "x-Amzn-Invoked-Production-Variant"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: list[tuple[str, str]]


def _error(status: int, code: str, message: str) -> Reply:
    """A REST-JSON error, as the SageMaker Runtime protocol sends them."""
    body = json.dumps({"message": message, "Message": message}).encode()
    return Reply(status, body, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)])


def _takes_new(count: int, share: float) -> bool:
    """Whether invocation number `count` goes to the new fleet. Choice (SageMaker does not document how
    it picks a fleet): an even spread, so that exactly floor(n * share) of the first n go to the new fleet."""
    return math.floor((count + 1) * share) > math.floor(count * share)


@dataclass(frozen=True)
class Route:
    fleet: RunningFleet
    server: VariantServer
    region: str


def _pick(service: LocalSageMaker, name: str, wanted_variant: str | None) -> Route | Reply:
    with service.lock:
        endpoint = service.endpoints.get(name)
        if endpoint is None:
            # Choice: the wording SageMaker Runtime is reported to use for an unknown endpoint.
            return _error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
        rollout = endpoint.rollout
        share = rollout.phase.new_share if rollout and rollout.phase and rollout.fleet else 0.0
        fleet: RunningFleet | None = endpoint.live_fleet
        if rollout is not None and rollout.fleet is not None and _takes_new(endpoint.invocations, share):
            fleet = rollout.fleet
        endpoint.invocations += 1
        if fleet is None or not fleet.servers:
            return _error(400, "ValidationError", f"Endpoint {name} has no running fleet (status {endpoint.status}).")
        if wanted_variant is not None and wanted_variant not in fleet.servers:
            return _error(400, "ValidationError", f"Variant {wanted_variant} not found for endpoint {name}.")
        # Choice (the docs describe weights, not the draw): without X-Amzn-SageMaker-Target-Variant the
        # first variant answers; tritonform's endpoints have one.
        server = fleet.servers[wanted_variant] if wanted_variant is not None else next(iter(fleet.servers.values()))
        fleet.routed()
        return Route(fleet, server, endpoint.region)


def invoke(service: LocalSageMaker, name: str, body: bytes, wanted_variant: str | None) -> Reply:
    """Route, ask the model, and count the invocation in the endpoint's metrics."""
    received = time.perf_counter()
    picked = _pick(service, name, wanted_variant)
    if isinstance(picked, Reply):
        return picked
    try:
        status, reply, model_s = _ask(picked, body)
    finally:
        picked.fleet.finished()
    service.capture.record(picked.region, name, picked.server.variant, picked.fleet.config_name, request=body,
                           answer=reply.body)  # fmt: skip
    if service.metrics is not None:
        overhead_s = max(time.perf_counter() - received - model_s, 0.0)
        invocation = Invocation(picked.region, name, picked.server.variant, status, model_s * 1e6,
                                overhead_s * 1e6, picked.fleet.config_name)  # fmt: skip
        service.metrics.record(invocation)
    return reply


def _ask(route: Route, body: bytes) -> tuple[int, Reply, float]:
    """The model's HTTP status (0 when it did not answer), the reply, and the seconds the model took."""
    server = route.server
    target = urlparse(f"http://{server.http_url}")
    connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=INVOKE_TIMEOUT_S)
    started = time.perf_counter()
    try:
        connection.request("POST", f"/v2/models/{server.default_model}/infer", body,
                           {"Content-Type": "application/json"})  # fmt: skip
        response = connection.getresponse()
        answer = response.read()
    except OSError as err:
        failed = _error(424, "ModelError", f"Received server error (0) from primary: {err}")
        return 0, failed, time.perf_counter() - started
    finally:
        connection.close()
    model_s = time.perf_counter() - started
    if response.status != 200:
        # InvokeEndpoint, SageMaker Runtime API Reference: a container's error is a ModelError (HTTP 424);
        # the wording is the one SageMaker uses ("Received client error (400) from primary with message").
        kind = "client" if response.status < 500 else "server"
        message = (
            f'Received {kind} error ({response.status}) from primary with message "{answer.decode(errors="replace")}".'
        )
        return response.status, _error(424, "ModelError", message), model_s
    headers = [("Content-Type", "application/json"), (INVOKED_VARIANT, server.variant),
               ("x-localsagemaker-endpoint-config", route.fleet.config_name)]  # fmt: skip
    return response.status, Reply(200, answer, headers), model_s
