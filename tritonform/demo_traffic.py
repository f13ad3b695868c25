"""Steady InvokeEndpoint traffic for the demo: the local SageMaker counts metrics only from real invocations,
so a canary is judged by its alarms only while requests reach it.

The requests are the default model's smoke requests (model_repository/<model>/smoke.yaml) as KServe v2 JSON,
the body SageMaker's Triton container passes on to the default model ("Deploy models with Triton Inference
Server", SageMaker Developer Guide), sent with boto3's sagemaker-runtime client to the stand-in on loopback.
One thread, a fixed rate, bounded in count and in time; no retries, so every answer is counted as it came.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tritonform.triton.smoke import SmokeFile, smoke_path

RATE_PER_S = 20.0
MAX_REQUESTS = 4000
MAX_SECONDS = 300.0


def smoke_bodies(model_directory: Path) -> list[bytes]:
    """Each smoke request of a model as an InvokeEndpoint body (KServe v2 JSON inference request)."""
    smoke = SmokeFile.model_validate(yaml.safe_load(smoke_path(model_directory).read_text(encoding="utf-8")))
    bodies = []
    for request in smoke.requests:
        inputs = [
            {"name": name, "shape": tensor.shape, "datatype": tensor.datatype, "data": tensor.data}
            for name, tensor in request.inputs.items()
        ]
        bodies.append(json.dumps({"inputs": inputs}).encode())
    return bodies


def runtime_client(url: str, region: str) -> Any:
    import boto3  # noqa: PLC0415  (start-up: boto3)
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "sagemaker-runtime", region_name=region, endpoint_url=url, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )  # fmt: skip


def invoke(client: Any, endpoint: str, body: bytes) -> str:
    """One InvokeEndpoint: "ok", or the error code it was answered with."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        client.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=body)["Body"].read()
    except ClientError as err:
        return str(err.response.get("Error", {}).get("Code", "error"))
    except BotoCoreError as err:
        return type(err).__name__
    return "ok"


class Traffic:
    """Requests to one endpoint at RATE_PER_S in a background thread, until stopped or a bound is reached."""

    def __init__(self, client: Any, endpoint: str, bodies: list[bytes]) -> None:
        self.client, self.endpoint, self.bodies = client, endpoint, bodies
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"traffic-{endpoint}", daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        for count in range(MAX_REQUESTS):
            due = started + count / RATE_PER_S
            if self.stopping.wait(max(0.0, due - time.monotonic())) or time.monotonic() - started > MAX_SECONDS:
                return
            outcome = invoke(self.client, self.endpoint, self.bodies[count % len(self.bodies)])
            with self.lock:
                self.outcomes[outcome] += 1

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.outcomes)


def describe_outcomes(outcomes: Counter[str]) -> str:
    total = sum(outcomes.values())
    failed = ", ".join(f"{count} {code}" for code, count in sorted(outcomes.items()) if code != "ok")
    return f"{total} request(s): {outcomes['ok']} answered" + (f", {failed}" if failed else ", none failed")


@contextmanager
def steady_traffic(client: Any, endpoint: str, bodies: list[bytes]) -> Iterator[Traffic]:
    traffic = Traffic(client, endpoint, bodies)
    traffic.thread.start()
    try:
        yield traffic
    finally:
        traffic.stopping.set()
        traffic.thread.join(timeout=35)
