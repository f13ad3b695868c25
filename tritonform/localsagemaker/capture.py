"""Data capture: an endpoint configuration with `DataCaptureConfig.EnableCapture` has its invocations written
to S3 as SageMaker writes them.

The format is the documented one ("Capture data from real-time endpoint", section "View Data Capture Data",
SageMaker Developer Guide, https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html):
JSON Lines under `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl`, one invocation a line,
with `captureData.endpointInput` and `endpointOutput` (`observedContentType`, `mode` INPUT/OUTPUT, `data`,
`encoding`), `eventMetadata` (`eventId`, `inferenceTime`) and `eventVersion` "0". CaptureOptions choose
Input, Output or both; a content type listed in CaptureContentTypeHeader's JsonContentTypes or
CsvContentTypes is captured as text (JSON or CSV), any other is base64-encoded ("If no headers are
specified Amazon SageMaker AI will by default base64 encode", CaptureContentTypeHeader, SageMaker API
Reference). InitialSamplingPercentage is the share of invocations captured.

Choices (the docs are silent): the sample is an even spread (exactly floor(n x percentage / 100) of the
first n invocations of an endpoint are captured); the hour directory is the wall-clock UTC hour of the
invocation (the stand-in's model clock runs faster); records are buffered and written every second, at 100
records, and when the stand-in stops, each write a new file named by a random UUID; every invocation routed
to a fleet is captured, an error answer as the output it was.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from tritonform.localsagemaker.backing import Backing
from tritonform.localsagemaker.catalog import Catalog

LOG = logging.getLogger("tritonform.localsagemaker.capture")
FLUSH_S = 1.0
FLUSH_RECORDS = 100
CONTENT_TYPE = "application/json"
"""What InvokeEndpoint's callers of a Triton endpoint send and receive (KServe v2 JSON)."""


@dataclass
class _Buffer:
    bucket: str
    key_prefix: str
    lines: list[str] = field(default_factory=list)


def _encoded(data: bytes, content_type: str, header: dict[str, Any]) -> tuple[str, str]:
    if content_type in header.get("JsonContentTypes", []):
        return data.decode(errors="replace"), "JSON"
    if content_type in header.get("CsvContentTypes", []):
        return data.decode(errors="replace"), "CSV"
    return base64.b64encode(data).decode(), "BASE64"


def capture_record(config: dict[str, Any], request: bytes, answer: bytes, at: datetime) -> str:
    """One line of a capture file for an invocation under `config` (a DataCaptureConfig)."""
    header = config.get("CaptureContentTypeHeader") or {}
    modes = {option.get("CaptureMode") for option in config.get("CaptureOptions", [])}
    captured: dict[str, Any] = {}
    if modes & {"Input", "InputAndOutput"}:
        data, encoding = _encoded(request, CONTENT_TYPE, header)
        captured["endpointInput"] = {"observedContentType": CONTENT_TYPE, "mode": "INPUT", "data": data,
                                     "encoding": encoding}  # fmt: skip
    if modes & {"Output", "InputAndOutput"}:
        data, encoding = _encoded(answer, CONTENT_TYPE, header)
        captured["endpointOutput"] = {"observedContentType": CONTENT_TYPE, "mode": "OUTPUT", "data": data,
                                      "encoding": encoding}  # fmt: skip
    return json.dumps({
        "captureData": captured,
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    })  # fmt: skip


class DataCapture:
    """Captures invocations of endpoint configurations that enable it, and writes them to S3 (moto)."""

    def __init__(self, backing: Backing, catalog: Catalog) -> None:
        self.backing = backing
        self.catalog = catalog
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.buffers: dict[tuple[str, str, str], _Buffer] = {}
        """(region, bucket, key prefix) -> the records waiting to be written."""
        self.stop = threading.Event()
        self.flusher: threading.Thread | None = None

    def _config(self, region: str, config_name: str) -> dict[str, Any] | None:
        with self.catalog.lock:
            created = self.catalog.created.get((region, "endpoint-config", config_name))
        capture = created.get("DataCaptureConfig") if created else None
        if not isinstance(capture, dict) or capture.get("EnableCapture") is False:
            return None
        return capture

    def record(self, region: str, endpoint: str, variant: str, config_name: str, *, request: bytes,
               answer: bytes) -> None:  # fmt: skip
        config = self._config(region, config_name)
        if config is None:
            return
        share = float(config.get("InitialSamplingPercentage", 100)) / 100
        destination = str(config.get("DestinationS3Uri", "")).removeprefix("s3://").rstrip("/")
        bucket, _, prefix = destination.partition("/")
        if not bucket:
            return
        now = datetime.now(UTC)
        line = capture_record(config, request, answer, now)
        key_prefix = "/".join(part for part in (prefix, endpoint, variant, now.strftime("%Y/%m/%d/%H")) if part)
        with self.lock:
            count = self.counts.get(endpoint, 0)
            self.counts[endpoint] = count + 1
            if not math.floor((count + 1) * share) > math.floor(count * share):
                return
            buffer = self.buffers.setdefault((region, bucket, key_prefix), _Buffer(bucket, key_prefix))
            buffer.lines.append(line)
            full = len(buffer.lines) >= FLUSH_RECORDS
            if self.flusher is None:
                self.flusher = threading.Thread(target=self._flush_every_second, daemon=True)
                self.flusher.start()
        if full:
            self.flush()

    def _flush_every_second(self) -> None:
        while not self.stop.wait(FLUSH_S):
            self.flush()

    def flush(self) -> None:
        with self.lock:
            pending = [(region, buffer) for (region, _b, _p), buffer in self.buffers.items() if buffer.lines]
            self.buffers = {}
        for region, buffer in pending:
            body = ("\n".join(buffer.lines) + "\n").encode()
            key = f"{buffer.key_prefix}/{uuid.uuid4()}.jsonl"
            try:
                self.backing.client("s3", region).put_object(Bucket=buffer.bucket, Key=key, Body=body)
            except ClientError as err:  # the records are lost, as SageMaker's would be; said, not hidden
                LOG.warning("data capture: %d record(s) not written to s3://%s/%s: %s", len(buffer.lines),
                            buffer.bucket, key, err)  # fmt: skip

    def close(self) -> None:
        self.stop.set()
        self.flush()
