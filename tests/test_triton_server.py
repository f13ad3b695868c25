"""The real-server path: the repository loaded into tritonserver on loopback, smoke requests over HTTP and
gRPC, Triton's own error text for a model that fails to load, a wrong answer caught, and the server always
stopped. Every server here is started by the code under test on free 127.0.0.1 ports."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_model_repository
from tests.test_triton_repository import BASE, build
from tritonform.triton.server import RunningServer, check_with_server, infer, triton_server
from tritonform.triton.smoke import ExpectedTensor, SmokeRequest, TensorValue
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.e2e


def test_example_loads_and_answers_over_http_and_grpc() -> None:
    report = validate_repository(REPO_ROOT / "model_repository", default_model="text_embedder", gpus_per_instance=1)

    result = check_with_server(report)

    assert result.ok, result.lines()
    assert sorted(result.loaded) == ["text_embedder", "text_preprocessor", "vector_normalizer"]
    assert result.smoke_passed == 2 * 4  # four declared requests, each over both protocols
    assert result.smoke_failures == []
    assert result.overrides == ["vector_normalizer: 1 KIND_GPU instance group(s) run as KIND_CPU on this machine"]
    assert set(result.latency_ms) == {
        f"{m} [{p}]" for m in ("text_embedder", "vector_normalizer") for p in ("http", "grpc")
    }
    assert all(0 < stats["p50"] <= stats["p99"] for stats in result.latency_ms.values())


def test_a_model_that_fails_to_load_reports_tritons_error(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {
        "broken/config.pbtxt": 'backend: "python"\nmax_batch_size: 0\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
                               'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n',
        "broken/1/model.py": "import not_a_module_anywhere\n",
    })  # fmt: skip
    report = validate_repository(repository)
    assert report.valid  # statically fine: only loading shows it

    result = check_with_server(report)

    assert not result.ok
    assert "No module named 'not_a_module_anywhere'" in result.failed["broken"]
    assert result.loaded == []


def test_a_wrong_smoke_answer_fails_over_both_protocols(tmp_path: Path) -> None:
    repository = copy_model_repository(tmp_path / "repo")
    smoke = repository / "vector_normalizer" / "smoke.yaml"
    smoke.write_text(smoke.read_text().replace("data: [0.6, 0.8, 0.0]", "data: [0.5, 0.8, 0.0]"))

    result = check_with_server(validate_repository(repository, default_model="text_embedder"))

    assert not result.ok
    failures = [f for f in result.smoke_failures if "3-4-5 triangle" in f]
    assert len(failures) == 2
    assert {"[http]", "[grpc]"} == {f.split()[1] for f in failures}
    assert all("output 'NORMALIZED': value [0] is 0.6" in f and "expected 0.5" in f for f in failures)


def test_models_the_local_server_cannot_run_are_reported_static_only(tmp_path: Path) -> None:
    report = validate_repository(build(tmp_path / "repo", dict(BASE)), default_model="pipe")
    assert report.valid

    result = check_with_server(report)

    assert result.loaded == ["pre"]
    assert result.static_only == {
        "net": "the local server has no onnxruntime backend",
        "pipe": "it needs net",
    }
    assert result.checked == {"pre": "loaded", "net": "static only", "pipe": "static only"}


def test_the_server_binds_loopback_and_is_always_stopped(tmp_path: Path) -> None:
    repository = tmp_path / "empty"
    repository.mkdir()

    with pytest.raises(RuntimeError, match="boom"), triton_server(repository, tmp_path / "log") as server:
        pid = server.process.pid
        assert server.http_url.startswith("127.0.0.1:") and server.grpc_url.startswith("127.0.0.1:")
        raise RuntimeError("boom")

    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, signal.SIG_DFL)


def test_cli_server_check_reports_loaded_models(run_cli: Callable[..., CliRun]) -> None:
    result = run_cli(
        "--root", str(REPO_ROOT), "repo", "validate", "--server", "--json", "--default-model", "text_embedder"
    )

    document = json.loads(result.out)
    assert result.code == 0, result.out
    assert document["valid"] is True
    assert {name: model["checked"] for name, model in document["models"].items()} == {
        "text_embedder": "loaded", "text_preprocessor": "loaded", "vector_normalizer": "loaded"
    }  # fmt: skip
    assert document["server"]["smoke_passed"] == 8


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The example repository's local copy, served by a tritonserver this fixture starts and always stops."""
    from tritonform.triton.server import ServerResult, _local_copy  # noqa: PLC0415

    scratch = tmp_path_factory.mktemp("served")
    report = validate_repository(REPO_ROOT / "model_repository", default_model="text_embedder")
    runnable = _local_copy(report, scratch, ServerResult())
    with triton_server(scratch, scratch.parent / "tritonserver.log") as server:
        from tritonclient import http  # noqa: PLC0415

        client = http.InferenceServerClient(server.http_url)
        for name in runnable:
            client.load_model(name)
        client.close()
        yield server
    assert server.process.poll() is not None


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_ensemble_embeds_text_over_each_protocol(example_server: RunningServer, protocol: str) -> None:
    request = SmokeRequest(
        name="two texts",
        inputs={
            "TEXT": TensorValue(datatype="BYTES", shape=[2, 1], data=["Triton on SageMaker", "triton ON sagemaker"])
        },
        expect={"EMBEDDING": ExpectedTensor(datatype="FP32", shape=[2, 64])},
    )
    url = example_server.http_url if protocol == "http" else example_server.grpc_url

    datatype, shape, values = infer(protocol, url, "text_embedder", request)["EMBEDDING"]

    assert (datatype, shape) == ("FP32", [2, 64])
    first, second = values[:64], values[64:]
    assert first == second  # the preprocessing lower-cases: both texts are the same bag of words
    assert abs(sum(float(v) ** 2 for v in first) - 1.0) < 1e-5  # unit length
    assert sum(1 for v in first if v) == 3  # three distinct words, three buckets (no collision for these)
