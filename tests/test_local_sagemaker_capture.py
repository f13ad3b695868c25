"""Data capture end to end: an endpoint configuration with DataCaptureConfig on the local SageMaker, serving
the example model in a real Triton server, writes its invocations as SageMaker documents them, and
`release compare --capture` replays those files against a baseline and a candidate."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tests.conftest import REPO_ROOT, CliRun
from tests.test_local_sagemaker import BUCKET, IMAGE, ROLE, clients
from tritonform.documents import parse_model
from tritonform.localsagemaker import local_sagemaker
from tritonform.rehearsal.load import kserve_body
from tritonform.release.capture import request_of
from tritonform.release.package import ARTIFACT, package
from tritonform.standin import aws_pointed_at, moto_server
from tritonform.triton import install
from tritonform.triton.smoke import SmokeFile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not install.installed(), reason="the local tritonserver is not installed (scripts/bootstrap)"),
]
ENDPOINT = "text-embedder-capture"


def test_captured_invocations_are_written_as_documented_and_replayed(
    tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path / "pkg", default_model="text_embedder")
    smoke = parse_model(SmokeFile, REPO_ROOT / "model_repository" / "text_embedder" / "smoke.yaml")
    bodies = [kserve_body(request) for request in smoke.requests]
    with moto_server() as moto, local_sagemaker(moto, time_scale=1200, provisioning_s=60, lifetime_s=600,
                                                run_models=True) as server:  # fmt: skip
        stand = clients(server.url)
        stand["s3"].create_bucket(Bucket=BUCKET)
        stand["s3"].upload_file(str(tmp_path / "pkg" / ARTIFACT), BUCKET, f"v/{manifest.sha256}/model.tar.gz")
        stand["sagemaker"].create_model(ModelName="v", ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/v/{manifest.sha256}/model.tar.gz",
            "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "text_embedder"}})  # fmt: skip
        stand["sagemaker"].create_endpoint_config(
            EndpointConfigName="v",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "v", "InitialInstanceCount": 1,
                                 "InstanceType": "ml.g4dn.xlarge"}],
            DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 50,
                               "DestinationS3Uri": f"s3://{BUCKET}/data-capture",
                               "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]},
        )  # fmt: skip
        stand["sagemaker"].create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="v")
        deadline = time.monotonic() + 120
        while stand["sagemaker"].describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
            assert time.monotonic() < deadline, "the endpoint did not come into service"
            time.sleep(0.2)
        runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=server.url,
                               aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        for index in range(8):
            runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=bodies[index % len(bodies)],
                                    ContentType="application/json")  # fmt: skip
        time.sleep(2.5)  # written every second
        listed = stand["s3"].list_objects_v2(Bucket=BUCKET, Prefix=f"data-capture/{ENDPOINT}/AllTraffic/")
        keys = [item["Key"] for item in listed.get("Contents", [])]
        lines = [json.loads(line) for key in keys
                 for line in stand["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read().splitlines()]  # fmt: skip

        with aws_pointed_at(moto):
            replayed = run_cli("--root", str(REPO_ROOT), "release", "compare", "--baseline",
                               str(REPO_ROOT / "model_repository"), "--candidate", str(REPO_ROOT / "model_repository"),
                               "--capture", f"s3://{BUCKET}/data-capture/{ENDPOINT}", "--json")  # fmt: skip

    assert keys and all(key.endswith(".jsonl") and len(key.split("/")) == 8 for key in keys)  # .../yyyy/mm/dd/hh/x
    assert len(lines) == 4  # InitialSamplingPercentage 50 of 8 invocations
    first = lines[0]
    assert first["eventVersion"] == "0" and first["eventMetadata"]["eventId"]
    assert first["captureData"]["endpointInput"]["encoding"] == "BASE64"  # no CaptureContentTypeHeader given
    assert request_of(first) in bodies
    output = first["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT"
    assert json.loads(base64.b64decode(output["data"]))["outputs"][0]["name"] == "EMBEDDING"  # the model's answer
    assert replayed.code == 0, replayed.err
    report = json.loads(replayed.out)
    assert report["requests"] == 4 and report["differences"] == [] and report["candidate_errors"] == 0
