"""Captured traffic for `release compare --capture s3://bucket/prefix`: SageMaker data capture files, read
back as the requests the endpoint received.

The format is the documented one ("Capture data from real-time endpoint", section "View Data Capture Data",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html): JSON Lines files
under `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl`, one invocation a line, whose
`captureData.endpointInput` holds the request body (`data`) with its `observedContentType`, `mode` (INPUT)
and `encoding` (JSON: the body as text; BASE64: the body's bytes in base64; CSV: text). A request is
replayed with the body it had, so a KServe v2 JSON inference request (what SageMaker's Triton container
passes to the default model) goes to the local servers exactly as it reached the endpoint.

Choice (the docs are silent on sampling for replay): the newest files are read first (the hour directories
sort by time), and reading stops at the sample size, so the sample is the most recent traffic and the time
and memory spent are bounded by it. Lines captured with output only (no endpointInput) are skipped; a line
that is not a capture record is an error naming its file and line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import partial
from typing import Any

from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.compare import Request

S3_PREFIX = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>\S*))?$")
MAX_FILE_BYTES = 256 << 20
MAX_FILES = 10_000


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".jsonl")]
        if len(keys) > MAX_FILES:
            break
    return sorted(keys, reverse=True)[:MAX_FILES]


def request_of(record: object) -> bytes | None:
    """The request body a capture record holds; None when it captured no input. ValueError when the record
    is not one SageMaker writes."""
    if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
        raise ValueError("not a data capture record: no captureData object")
    captured = record["captureData"].get("endpointInput")
    if captured is None:
        return None
    if not isinstance(captured, dict) or not isinstance(captured.get("data"), str):
        raise ValueError("captureData.endpointInput has no data string")
    encoding = captured.get("encoding")
    if encoding == "BASE64":
        try:
            return base64.b64decode(captured["data"], validate=True)
        except binascii.Error as err:
            raise ValueError(f"captureData.endpointInput.data is not base64: {err}") from None
    if encoding in {"JSON", "CSV"}:
        return str(captured["data"]).encode()
    raise ValueError(f"captureData.endpointInput.encoding {encoding!r} is not JSON, CSV or BASE64")


def captured_requests(uri: str, *, region: str, sample: int) -> list[Request]:
    """Up to `sample` captured requests under `uri`, newest first."""
    match = S3_PREFIX.match(uri)
    if match is None:
        raise UserError.single(f"--capture {uri!r}: expected s3://bucket/prefix", field="--capture")
    bucket, prefix = match["bucket"], match["prefix"] or ""
    s3 = aws.client("s3", region)
    keys = aws.call(f"list the capture files under {uri}", lambda: _keys(s3, bucket, prefix))
    if not keys:
        raise UserError.single(f"--capture {uri}: no data capture files (.jsonl) there", field="--capture")
    requests: list[Request] = []
    for key in keys:
        body = aws.call(f"read s3://{bucket}/{key}", partial(_read, s3, bucket, key))
        for number, line in enumerate(body.split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                request = request_of(json.loads(line))
            except ValueError as err:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise UserError.single(f"s3://{bucket}/{key}, line {number}: {err}") from None
            if request is not None:
                requests.append(Request(f"{key.rsplit('/', 1)[-1]}:{number}", request))
            if len(requests) >= sample:
                return requests
    if not requests:
        raise UserError.single(f"--capture {uri}: the capture files hold no request (captured output only?)")
    return requests


def _read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_FILE_BYTES + 1)
    if len(body) > MAX_FILE_BYTES:
        raise UserError.single(f"s3://{bucket}/{key} is larger than {MAX_FILE_BYTES:,} bytes: not a capture file")
    return body
