"""`release compare` of the example model on 1,000 replayed requests: wall time, both servers included.

A moto server on loopback stands in for S3; 1,000 SageMaker data capture records of the example's smoke
requests (the documented JSON Lines format, half of them base64-encoded, over four hourly files) are put
in dev's bucket, and `tritonform release compare --baseline model_repository --candidate <a copy>
--capture s3://... --sample 1000 --json` runs as a whole process, as a user runs it: it lists and reads
the files, validates both repositories, starts two local Triton servers, loads both, and sends every
request to each. Target: under 30 s wall on 2 cores.

    .venv/bin/python -m benchmarks.bench_compare [--requests 1000] [--no-targets]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import yaml

from tritonform.rehearsal.load import smoke_requests
from tritonform.standin import aws_pointed_at, moto_server

TARGET_WALL_S = 30.0
ROOT = Path(__file__).resolve().parent.parent
FILES = 4


def capture_line(body: bytes, index: int) -> str:
    """A capture record as SageMaker writes it ("View Data Capture Data", SageMaker Developer Guide)."""
    encoded = index % 2 == 1
    return json.dumps({
        "captureData": {"endpointInput": {
            "observedContentType": "application/json", "mode": "INPUT",
            "data": base64.b64encode(body).decode() if encoded else body.decode(),
            "encoding": "BASE64" if encoded else "JSON"}},
        "eventMetadata": {"eventId": f"00000000-0000-4000-8000-{index:012d}", "inferenceTime": "2026-11-22T08:00:00Z"},
        "eventVersion": "0",
    })  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--no-targets", action="store_true", help="report only; do not fail on a missed target")
    args = parser.parse_args(argv)
    bucket = yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())["artifacts"]["bucket"]
    bodies = [request.body for request in smoke_requests(ROOT / "model_repository", "text_embedder")]
    prefix = "data-capture/text-embedder-dev/AllTraffic/2026/11/22"
    with moto_server() as server, aws_pointed_at(server), tempfile.TemporaryDirectory() as scratch:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        per_file = -(-args.requests // FILES)
        for hour in range(FILES):
            lines = [capture_line(bodies[i % len(bodies)], i) for i in range(hour * per_file, (hour + 1) * per_file)]
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{hour:02d}/capture.jsonl", Body="\n".join(lines) + "\n")
        candidate = Path(scratch) / "candidate"
        shutil.copytree(ROOT / "model_repository", candidate)
        command = [sys.executable, "-m", "tritonform.cli", "--root", str(ROOT), "release", "compare",
                   "--baseline", str(ROOT / "model_repository"), "--candidate", str(candidate),
                   "--capture", f"s3://{bucket}/{prefix}", "--sample", str(args.requests), "--json"]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL, env={**os.environ, **server.env()})  # fmt: skip
        wall_s = time.perf_counter() - started
    try:
        compared = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(f"compare printed no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}", file=sys.stderr)
        return 2
    report = {
        "benchmark": f"release compare of the example model on {args.requests} replayed captured requests",
        "cpus": os.cpu_count(),
        "wall_s": round(wall_s, 1),
        "requests": compared["requests"],
        "latency_ms": compared["latency_ms"],
        "ok": compared["ok"],
        "exit_code": result.returncode,
        "targets": {"wall_s_max": TARGET_WALL_S},
        "met": wall_s < TARGET_WALL_S and compared["requests"] == args.requests,
    }
    print(json.dumps(report, indent=2))
    return 0 if args.no_targets or report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
