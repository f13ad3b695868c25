"""`tritonform release compare` on real local Triton servers, with versions built as real Python models that
differ from the example in their answers, their latency (tritonform/rehearsal/faults.py's latency fault) and
their contract; and `--capture` replaying SageMaker data capture files (the documented JSON Lines format,
written here as SageMaker writes them) from the environment's bucket on the moto stand-in."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_model_repository, copy_project, create_artifact_buckets, edit_yaml
from tritonform.documents import parse_model
from tritonform.rehearsal.faults import Fault, build_candidate
from tritonform.rehearsal.load import kserve_body
from tritonform.release.capture import request_of
from tritonform.standin import MotoServer
from tritonform.triton.smoke import SmokeFile

pytestmark = pytest.mark.e2e


def scaled_answers(repository: Path) -> Path:
    """A version whose normaliser answers half-length vectors: same contract, other answers."""
    model = repository / "vector_normalizer" / "1" / "model.py"
    model.write_text(
        model.read_text().replace("normalized.astype(np.float32)", "(normalized * 0.5).astype(np.float32)")
    )
    return repository


def renamed_output(repository: Path) -> Path:
    config = repository / "text_embedder" / "config.pbtxt"
    config.write_text(config.read_text().replace('name: "EMBEDDING"', 'name: "VECTOR"')
                      .replace('value: "EMBEDDING"', 'value: "VECTOR"'))  # fmt: skip
    smoke = repository / "text_embedder" / "smoke.yaml"
    smoke.write_text(smoke.read_text().replace("EMBEDDING", "VECTOR"))
    return repository


def compare(run_cli: Callable[..., CliRun], candidate: Path, *extra: str, root: Path = REPO_ROOT
            ) -> tuple[int, dict[str, object]]:  # fmt: skip
    result = run_cli("--root", str(root), "release", "compare", "--baseline", str(REPO_ROOT / "model_repository"),
                     "--candidate", str(candidate), "--json", *extra)  # fmt: skip
    assert result.code in {0, 1}, result.err
    document: dict[str, object] = json.loads(result.out)
    return result.code, document


def test_compare_reports_what_really_differs_between_two_versions(
    tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    same = build_candidate(REPO_ROOT / "model_repository", tmp_path / "same", default_model="text_embedder",
                           fault=None, nonce="same")  # fmt: skip
    slow = build_candidate(REPO_ROOT / "model_repository", tmp_path / "slow", default_model="text_embedder",
                           fault=Fault("latency-ms", 40), nonce="slow")  # fmt: skip
    other_answers = scaled_answers(copy_model_repository(tmp_path / "scaled"))
    other_contract = renamed_output(copy_model_repository(tmp_path / "renamed"))

    project = copy_project(tmp_path / "project")  # dev's budget allows for a machine shared with other work
    edit_yaml(project / "environments" / "dev.yaml",
              lambda dev: dev.update(release_compare={"p50_ratio": 2, "p99_ratio": 4, "slack_ms": 10}))  # fmt: skip

    same_code, same_report = compare(run_cli, same, "--env", "dev", root=project)
    slow_code, slow_report = compare(run_cli, slow, "--env", "dev", root=project)
    accepted_code, answers_report = compare(run_cli, other_answers, "--env", "dev", "--accept-differences",
                                            "halved on purpose", root=project)  # fmt: skip
    contract_code, contract_report = compare(run_cli, other_contract)

    assert same_code == 0, same_report["failures"]
    assert same_report["differences"] == [] and same_report["candidate_errors"] == 0
    assert same_report["requests"] == 2 and same_report["contract"]["verdict"] == "unchanged"  # type: ignore[index]
    assert slow_code == 1
    assert slow_report["latency_ratio"]["p50"] > 2  # type: ignore[index]
    assert any("p50 latency" in failure and "(budget 2x" in failure
               for failure in slow_report["failures"])  # type: ignore[attr-defined]  # fmt: skip
    assert slow_report["differences"] == []  # slower, not different
    assert accepted_code == 0 and answers_report["accepted_differences"] == "halved on purpose"
    differences: list[dict[str, object]] = answers_report["differences"]  # type: ignore[assignment]
    (difference,) = differences
    assert difference["output"] == "EMBEDDING" and difference["requests"] == 2
    assert 0.1 < float(difference["max_abs_difference"]) <= 0.5  # type: ignore[arg-type]  # at most half of a unit vector's component
    assert contract_code == 1  # its answers differ (one output for another), unacknowledged
    assert any("answers differ" in failure for failure in contract_report["failures"])  # type: ignore[attr-defined]
    assert contract_report["contract"]["verdict"] == "breaking"  # type: ignore[index]
    assert {d["output"] for d in contract_report["differences"]} == {"EMBEDDING", "VECTOR"}  # type: ignore[attr-defined]


def capture_line(body: bytes, encoding: str) -> str:
    """One line of a data capture file as SageMaker writes it (View Data Capture Data, SageMaker Developer
    Guide): the request and the response with their content type, mode and encoding, and the event's metadata."""
    data = base64.b64encode(body).decode() if encoding == "BASE64" else body.decode()
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "data": data,
                              "encoding": encoding},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": "{}",
                               "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "b3a0c1d2-0000-4000-8000-000000000000", "inferenceTime": "2026-11-22T08:00:00Z"},
        "eventVersion": "0",
    })  # fmt: skip


def test_compare_replays_a_bounded_sample_of_captured_traffic(
    tmp_path: Path, aws: MotoServer, run_cli: Callable[..., CliRun]
) -> None:
    bucket = create_artifact_buckets(aws, "dev")["dev"]
    smoke = parse_model(SmokeFile, REPO_ROOT / "model_repository" / "text_embedder" / "smoke.yaml")
    bodies = [kserve_body(request) for request in smoke.requests]
    s3 = boto3.client("s3", region_name="us-east-1")
    prefix = "data-capture/text-embedder-dev/AllTraffic/2026/11/22"
    for hour in ("07", "08"):
        lines = [capture_line(bodies[i % len(bodies)], "BASE64" if i % 2 else "JSON") for i in range(30)]
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{hour}/capture-{hour}.jsonl", Body="\n".join(lines) + "\n")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/09/bad.jsonl", Body='{"captureData": {}}\n{"not": "capture"}\n')
    slow = build_candidate(REPO_ROOT / "model_repository", tmp_path / "slow", default_model="text_embedder",
                           fault=Fault("latency-ms", 30), nonce="slow")  # fmt: skip

    replayed, report = compare(run_cli, slow, "--capture", f"s3://{bucket}/{prefix}/08", "--sample", "25")
    refused = run_cli("--root", str(REPO_ROOT), "release", "compare", "--baseline", str(REPO_ROOT / "model_repository"),
                      "--candidate", str(slow), "--capture", f"s3://{bucket}/{prefix}")  # fmt: skip

    assert replayed == 1 and report["requests"] == 25  # bounded by --sample, from the newest file
    assert report["differences"] == [] and report["candidate_errors"] == 0  # the same answers, only slower
    assert any("latency" in failure for failure in report["failures"])  # type: ignore[attr-defined]
    assert refused.code == 2 and "bad.jsonl, line 2: not a data capture record" in refused.err


def test_a_capture_record_gives_back_the_request_body() -> None:
    body = b'{"inputs": []}'
    assert request_of(json.loads(capture_line(body, "JSON"))) == body
    assert request_of(json.loads(capture_line(body, "BASE64"))) == body
    assert request_of({"captureData": {"endpointOutput": {}}}) is None
    with pytest.raises(ValueError, match="encoding 'XML'"):
        request_of({"captureData": {"endpointInput": {"data": "x", "encoding": "XML"}}})
