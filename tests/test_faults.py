"""Faults of the AWS stand-in: throttling and 5xx answers are retried a bounded number of times with
backoff, then reported clearly; a transient fault is ridden out. The faults are injected into the real
client's send path (botocore's before-send event) in front of a moto server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse

from tests.conftest import REPO_ROOT
from tritonform.errors import UserError
from tritonform.release import aws as aws_clients
from tritonform.release.package import package
from tritonform.release.publish import publish
from tritonform.standin import MotoServer

SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: object) -> Iterator[bytes]:
        yield self.body


@pytest.fixture
def bucket(aws: MotoServer) -> str:
    aws.reset()
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="acme-tritonform-dev-artifacts")
    return "acme-tritonform-dev-artifacts"


def failing_first(monkeypatch: pytest.MonkeyPatch, operation: str, failures: int) -> list[int]:
    calls: list[int] = []
    real_client = aws_clients.client

    def answer(request: AWSRequest, **_kwargs: object) -> AWSResponse | None:
        calls.append(1)
        if len(calls) <= failures:
            return AWSResponse(request.url, 503, {}, _Raw(SLOW_DOWN))
        return None

    def client(service: str, region: str) -> object:
        created = real_client(service, region)
        if service == "s3":
            created.meta.events.register(f"before-send.s3.{operation}", answer)
        return created

    monkeypatch.setattr(aws_clients, "client", client)
    return calls


def test_a_throttled_call_is_retried_then_reported(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    calls = failing_first(monkeypatch, "HeadObject", failures=10_000)

    with pytest.raises(UserError) as raised:
        publish(tmp_path, bucket=bucket, region="us-east-1", quiet=True)

    assert len(calls) == aws_clients.MAX_ATTEMPTS  # bounded: no endless retrying
    assert "look up s3://" in raised.value.render()
    assert "503" in raised.value.render() or "SlowDown" in raised.value.render()
    assert boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_transient_fault_is_ridden_out(tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    calls = failing_first(monkeypatch, "HeadObject", failures=2)

    result = publish(tmp_path, bucket=bucket, region="us-east-1", quiet=True)

    assert result.uploaded and result.sha256 == manifest.sha256
    assert len(calls) >= 3
