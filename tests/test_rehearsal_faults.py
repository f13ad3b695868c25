"""Rehearsal faults are real Triton models: a candidate built with a fault fails in a real local Triton the
way the fault says (a share of requests fail, every request is slower, the model does not load)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tritonform.errors import UserError
from tritonform.rehearsal.faults import NONCE_FILE, Fault, build_candidate, parse_fault
from tritonform.release.reproduce import archive_digest
from tritonform.triton import install
from tritonform.triton.server import NUMPY_DIRS, RunningServer, triton_server

pytestmark = pytest.mark.e2e

needs_triton = pytest.mark.skipif(not install.installed(), reason="the local tritonserver is not installed")
MODELS = ("text_preprocessor", "vector_normalizer", "text_embedder")
BODY = json.dumps({"inputs": [{"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": ["a a"]}]}).encode()


def test_faults_parse_and_bad_ones_are_refused() -> None:
    assert parse_fault("error-rate=0.5") == Fault("error-rate", 0.5)
    assert parse_fault("latency-ms=200") == Fault("latency-ms", 200.0)
    assert parse_fault("load-failure") == Fault("load-failure", 0.0)
    for bad in ("error-rate=0", "error-rate=1.5", "latency-ms=0", "latency-ms=1e9", "slow", "error-rate=", ""):
        with pytest.raises(UserError, match="--fault"):
            parse_fault(bad)


def test_a_candidate_without_a_fault_packages_to_new_bytes(tmp_path: Path) -> None:
    repository = REPO_ROOT / "model_repository"
    first = build_candidate(repository, tmp_path / "a", default_model="text_embedder", fault=None, nonce="one")
    second = build_candidate(repository, tmp_path / "b", default_model="text_embedder", fault=None, nonce="two")
    assert "nonce: one" in (first / "text_embedder" / NONCE_FILE).read_text()
    digests = {archive_digest(path, "fast") for path in (repository, first, second)}
    assert len(digests) == 3
    assert (first / "text_preprocessor/1/model.py").read_bytes() == (
        repository / "text_preprocessor/1/model.py"
    ).read_bytes()


def test_a_fault_is_refused_for_a_default_model_that_runs_no_python(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    (repository / "scorer" / "1").mkdir(parents=True)
    (repository / "scorer" / "config.pbtxt").write_text('name: "scorer"\nbackend: "onnxruntime"\nmax_batch_size: 0\n')
    with pytest.raises(UserError, match="runs no Python-backend model"):
        build_candidate(repository, tmp_path / "out", default_model="scorer", fault=Fault("latency-ms", 5), nonce="x")
    assert not (tmp_path / "out").exists()  # refused before anything was copied


def test_only_a_load_failure_is_built_into_a_decoupled_model(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    (repository / "streamer" / "1").mkdir(parents=True)
    (repository / "streamer" / "config.pbtxt").write_text(
        'name: "streamer"\nbackend: "python"\nmax_batch_size: 0\nmodel_transaction_policy { decoupled: true }\n'
    )
    (repository / "streamer" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    with pytest.raises(UserError, match="decoupled: only load-failure"):
        build_candidate(repository, tmp_path / "out", default_model="streamer", fault=Fault("error-rate", 1), nonce="x")
    assert not (tmp_path / "out").exists()
    built = build_candidate(
        repository, tmp_path / "ok", default_model="streamer", fault=Fault("load-failure", 0), nonce="x"
    )
    assert "rehearsal fault load-failure" in (built / "streamer" / "1" / "model.py").read_text()


@contextmanager
def serving(tmp_path: Path, fault: Fault) -> Iterator[RunningServer]:
    """The candidate in a local tritonserver (its GPU instance group moved to the CPU, as the stand-in does)."""
    candidate = build_candidate(
        REPO_ROOT / "model_repository", tmp_path / "candidate", default_model="text_embedder", fault=fault, nonce="t"
    )
    config = candidate / "vector_normalizer" / "config.pbtxt"
    config.write_text(config.read_text().replace("KIND_GPU", "KIND_CPU"))
    for model in ("text_preprocessor", "vector_normalizer"):  # numpy for the stub, as the validator's copy has
        for package in NUMPY_DIRS:
            (candidate / model / package).symlink_to(install.STUB_PYTHON / package)
    with triton_server(candidate, tmp_path / "triton.log") as server:
        yield server


def load(server: RunningServer, model: str) -> int:
    request = urllib.request.Request(f"http://{server.http_url}/v2/repository/models/{model}/load", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def infer(server: RunningServer) -> int:
    request = urllib.request.Request(f"http://{server.http_url}/v2/models/text_embedder/infer", data=BODY)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


@needs_triton
def test_an_error_rate_fails_that_share_of_requests(tmp_path: Path) -> None:
    with serving(tmp_path, Fault("error-rate", 0.25)) as server:
        assert all(load(server, model) == 200 for model in MODELS)
        statuses = [infer(server) for _ in range(16)]
    # each of text_preprocessor's two instances fails every fourth request it serves
    assert 3 <= statuses.count(500) <= 4 and statuses.count(200) + statuses.count(500) == 16, statuses


@needs_triton
def test_added_latency_slows_every_request(tmp_path: Path) -> None:
    with serving(tmp_path, Fault("latency-ms", 300)) as server:
        assert all(load(server, model) == 200 for model in MODELS)
        took = []
        for _ in range(3):
            started = time.monotonic()
            assert infer(server) == 200
            took.append(time.monotonic() - started)
    assert min(took) >= 0.3


@needs_triton
def test_a_load_failure_keeps_the_model_from_loading(tmp_path: Path) -> None:
    with serving(tmp_path, Fault("load-failure", 0)) as server:
        assert load(server, "vector_normalizer") == 200
        assert load(server, "text_embedder") == 400  # its step text_preprocessor raises in initialize()
        log = Path(tmp_path / "triton.log").read_text(errors="replace")
    assert "rehearsal fault load-failure" in log
