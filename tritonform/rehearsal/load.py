"""A load generator on loopback: the repository's smoke requests (or a file of them) at a steady rate.

Requests go to InvokeEndpoint's path on the local SageMaker (`POST /endpoints/<name>/invocations`, SageMaker
Runtime API Reference) as KServe v2 JSON inference requests, the body SageMaker's Triton container passes
to the default model. The schedule is fixed (request i is due at i / rate seconds): a request that cannot
be sent on time is skipped, never bunched into a burst with later ones, and the generator stops at its
count or time bound, whichever comes first.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tritonform.documents import parse_model
from tritonform.errors import UserError
from tritonform.triton.smoke import SmokeFile, SmokeRequest, smoke_path

REQUEST_TIMEOUT_S = 30
MAX_WORKERS = 64
IN_FLIGHT_S = 0.25
"""Requests in flight = rate x latency: enough workers for a quarter of a second of latency (a latency
fault slows only the candidate's share)."""
LATE_INTERVALS = 4
LATE_FLOOR_S = 0.05


@dataclass(frozen=True)
class LoadRequest:
    name: str
    body: bytes
    malformed: bool = False
    """A bad client request: the model must refuse it (4XX), whatever version answers."""


# An input the default model does not declare: Triton refuses the request with 400 (KServe v2 inference
# protocol, "Inference Request JSON Object": inputs must match the model's), the way a client bug would.
MALFORMED = LoadRequest(
    "malformed",
    json.dumps({"inputs": [{"name": "__not_an_input__", "shape": [1], "datatype": "FP32", "data": [0.0]}]}).encode(),
    malformed=True,
)
MIX_CYCLE = 1000


def with_bad_requests(requests: list[LoadRequest], share: float) -> list[LoadRequest]:
    """`requests` with `share` of them replaced by malformed ones, spread evenly over a cycle of MIX_CYCLE."""
    if share <= 0:
        return requests
    return [
        MALFORMED if math.floor((index + 1) * share) > math.floor(index * share) else requests[index % len(requests)]
        for index in range(MIX_CYCLE)
    ]


def kserve_body(request: SmokeRequest) -> bytes:
    """A KServe v2 JSON inference request for the smoke request's inputs."""
    inputs = [
        {"name": name, "shape": tensor.shape, "datatype": tensor.datatype, "data": tensor.data}
        for name, tensor in request.inputs.items()
    ]
    return json.dumps({"inputs": inputs}).encode()


def requests_from_file(path: Path) -> list[LoadRequest]:
    """The requests of a smoke.yaml-format file (`requests: [{name, inputs, expect}]`)."""
    if not path.is_file():
        raise UserError.single(f"no such file of requests: {path}", file=path, field="--requests")
    smoke = parse_model(SmokeFile, path)
    return [LoadRequest(request.name, kserve_body(request)) for request in smoke.requests]


def smoke_requests(repository: Path, default_model: str) -> list[LoadRequest]:
    """The default model's smoke requests: the traffic a rehearsal sends unless given a file."""
    path = smoke_path(repository / default_model)
    if not path.is_file():
        raise UserError.single(
            f"the default model {default_model!r} has no {path.name} to send as traffic; add one, or give "
            "--requests FILE",
            file=path,
        )
    return requests_from_file(path)


@dataclass
class LoadReport:
    """What the generator sent and how the endpoint answered (HTTP status 0: no answer)."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    late: int = 0
    """Requests skipped because they could not be sent on time (the generator or the endpoint lagged)."""
    malformed: int = 0
    """Bad client requests sent on purpose; they are expected to fail and are not counted in `failed`."""
    malformed_accepted: int = 0
    """Bad client requests the endpoint answered with 200 (the model did not refuse them)."""

    @property
    def succeeded(self) -> int:
        return self.statuses.get(200, 0) - self.malformed_accepted

    @property
    def failed(self) -> int:
        return self.sent - self.malformed - self.succeeded

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "late": self.late,
            "malformed": self.malformed,
            "malformed_accepted": self.malformed_accepted,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
        }


class LoadGenerator:
    """Sends `requests` round robin to one endpoint at `rate` per second, from worker threads, until stopped
    or `max_requests` or `max_seconds` is reached."""

    def __init__(
        self,
        url: str,
        endpoint: str,
        requests: list[LoadRequest],
        *,
        rate: float,
        max_requests: int,
        max_seconds: float,
    ) -> None:
        if not requests:
            raise ValueError("no requests to send")
        target = urlparse(url)
        if target.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError(f"the load generator sends to loopback only, not {url}")
        self.host, self.port = target.hostname, target.port or 80
        self.path = f"/endpoints/{endpoint}/invocations"
        self.requests = requests
        self.interval = 1.0 / rate
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.report = LoadReport()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.next_index = 0
        self.started = 0.0
        self.workers = [
            threading.Thread(target=self._work, name=f"load-{n}", daemon=True)
            for n in range(min(MAX_WORKERS, int(rate * IN_FLIGHT_S) + 4))
        ]

    def start(self) -> None:
        self.started = time.monotonic()
        for worker in self.workers:
            worker.start()

    def stop(self) -> LoadReport:
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=REQUEST_TIMEOUT_S + 5)
        return self.report

    def _claim(self) -> int | None:
        """The next request's index, once it is due; None when the generator is done."""
        with self.lock:
            index = self.next_index
            if index >= self.max_requests:
                return None
            self.next_index += 1
        due = self.started + index * self.interval
        if due - self.started > self.max_seconds:
            return None
        delay = due - time.monotonic()
        if delay > 0 and self.stopping.wait(delay):
            return None
        if self.stopping.is_set():
            return None
        if delay < -max(LATE_INTERVALS * self.interval, LATE_FLOOR_S):
            # Sending it now would bunch it with the requests due now: the alarms count per period, so a
            # burst would show more errors per period than the rate gives. It is skipped and counted.
            with self.lock:
                self.report.late += 1
            return -1
        return index

    def _work(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while (index := self._claim()) is not None:
            if index < 0:
                continue
            request = self.requests[index % len(self.requests)]
            if connection is None:
                connection = http.client.HTTPConnection(self.host or "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
            status = 0
            try:
                connection.request("POST", self.path, request.body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = None
            with self.lock:
                self.report.sent += 1
                self.report.statuses[status] += 1
                if request.malformed:
                    self.report.malformed += 1
                    self.report.malformed_accepted += status == 200
        if connection is not None:
            connection.close()
