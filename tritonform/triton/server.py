"""Loading a model repository into a real Triton server on loopback, and asking it the smoke requests.

The server is the tritonserver 2.51 inside the nvidia-pytriton wheel (Python backend only, CPU only):
- GPU instance groups are rewritten to KIND_CPU in a private copy of the repository, and that is reported;
- models whose backend the local server lacks are reported as checked statically only, as are ensembles
  that need them; nothing is silently passed;
- the server binds 127.0.0.1 on free ports, runs in its own process group, and is always stopped;
- Python models that complete their own config (auto_complete_config) are checked twice: Triton loads them,
  then the static rules run on the config the server reports for them (GET /v2/models/<name>/config).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton import install
from tritonform.triton.loading import LOAD_TIMEOUT_S, load_models
from tritonform.triton.repository import Checker, ModelInfo, RepositoryReport
from tritonform.triton.smoke import SmokeRequest, Value, compare
from tritonform.triton.validate import check_models

LOCAL_BACKENDS = {"python"}
START_TIMEOUT_S = 60
LATENCY_SAMPLES = 20
NUMPY_DIRS = ("numpy", "numpy.libs")


@dataclass
class ServerResult:
    ok: bool = True
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    static_only: dict[str, str] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    smoke_failures: list[str] = field(default_factory=list)
    smoke_passed: int = 0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    completed_problems: list[str] = field(default_factory=list)
    """What the static rules find in the configs the server completed (auto_complete_config)."""

    @property
    def checked(self) -> dict[str, str]:
        status = {name: "loaded" for name in self.loaded}
        status.update({name: "failed to load" for name in self.failed})
        status.update({name: "static only" for name in self.static_only})
        return status

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok, "loaded": self.loaded, "failed": self.failed, "static_only": self.static_only,
            "overrides": self.overrides, "smoke_passed": self.smoke_passed, "smoke_failures": self.smoke_failures,
            "latency_ms": self.latency_ms, "completed_problems": self.completed_problems,
        }  # fmt: skip

    def lines(self) -> list[str]:
        out = [f"server: {note}" for note in self.overrides]
        out += [f"server: {name}: checked statically only: {why}" for name, why in sorted(self.static_only.items())]
        out += [f"server: {name}: FAILED to load: {error}" for name, error in sorted(self.failed.items())]
        out += [f"server: {name}: loaded" for name in self.loaded]
        out += [f"server: {problem}" for problem in self.completed_problems]
        out += [f"server: smoke: {failure}" for failure in self.smoke_failures]
        out.append(f"server: {self.smoke_passed} smoke request(s) passed, {len(self.smoke_failures)} failed")
        for name, stats in sorted(self.latency_ms.items()):
            out.append(f"server: latency {name}: p50 {stats['p50']:.2f} ms, p99 {stats['p99']:.2f} ms "
                       f"({LATENCY_SAMPLES} requests)")  # fmt: skip
        return out


# --- the server process --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


@contextmanager
def triton_server(
    repository: Path, log_path: Path, *, start_timeout_s: int = START_TIMEOUT_S
) -> Iterator[RunningServer]:
    """A tritonserver on loopback in explicit model-control mode, stopped by its process group on exit."""
    from tritonclient import http  # noqa: PLC0415

    install.install()
    http_port, grpc_port = free_port(), free_port()
    while grpc_port == http_port:
        grpc_port = free_port()
    command = [
        str(install.tritonserver_binary()),
        f"--model-repository={repository}",
        "--model-control-mode=explicit",
        f"--backend-directory={install.backends_directory()}",
        "--http-address=127.0.0.1", f"--http-port={http_port}",
        "--grpc-address=127.0.0.1", f"--grpc-port={grpc_port}",
        "--allow-metrics=false",
        "--pinned-memory-pool-byte-size=0",
        "--cuda-memory-pool-byte-size=0:0",
        "--log-verbose=0",
        "--exit-timeout-secs=5",
    ]  # fmt: skip
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    server = RunningServer(process, http_port, grpc_port, log_path)
    try:
        client = http.InferenceServerClient(server.http_url, connection_timeout=5, network_timeout=10)
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if client.is_server_live():
                    break
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tritonserver was not live within {start_timeout_s} s:\n{server.log_tail()}")
            time.sleep(0.2)
        client.close()  # an open connection holds Triton's shutdown until its exit timeout
        yield server
    finally:
        server.stop()
        log.close()


# --- preparing a local copy ----------------------------------------------------------------------------


def _local_copy(report: RepositoryReport, destination: Path, result: ServerResult) -> list[str]:
    """Copy the models the local server can run, with GPU groups moved to the CPU; return their names."""
    runnable: list[str] = []
    for name, model in sorted(report.models.items()):
        if model.config is None:
            continue
        if model.is_ensemble:
            continue
        if model.backend not in LOCAL_BACKENDS:
            result.static_only[name] = f"the local server has no {model.backend or model.config.platform} backend"
            continue
        target = destination / name
        shutil.copytree(model.directory, target, ignore=shutil.ignore_patterns("__pycache__", "smoke.yaml"))
        config = mc.ModelConfig()
        config.CopyFrom(model.config)
        moved = 0
        for group in config.instance_group:
            if group.kind == mc.ModelInstanceGroup.KIND_GPU:
                group.kind = mc.ModelInstanceGroup.KIND_CPU
                del group.gpus[:]
                moved += 1
        if moved:
            result.overrides.append(f"{name}: {moved} KIND_GPU instance group(s) run as KIND_CPU on this machine")
        (target / "config.pbtxt").write_text(text_format.MessageToString(config), encoding="utf-8")
        for package in NUMPY_DIRS:  # the model directory is on the stub's sys.path; PYTHONPATH is not
            (target / package).symlink_to(install.STUB_PYTHON / package)
        runnable.append(name)
    pending = {name: m for name, m in report.models.items() if m.is_ensemble and m.config is not None}
    while pending:
        progressed = False
        for name, model in sorted(pending.items()):
            assert model.config is not None
            parts = [step.model_name for step in model.config.ensemble_scheduling.step]
            blocked = [p for p in parts if p not in runnable]
            if any(p in result.static_only for p in blocked):
                result.static_only[name] = f"it needs {', '.join(p for p in blocked if p in result.static_only)}"
            elif blocked:
                continue
            else:
                shutil.copytree(model.directory, destination / name, ignore=shutil.ignore_patterns("smoke.yaml"))
                runnable.append(name)
            del pending[name]
            progressed = True
        if not progressed:
            for name in pending:
                result.static_only[name] = "its steps cannot be loaded"
            break
    return runnable


def local_copy(report: RepositoryReport, destination: Path) -> tuple[list[str], ServerResult]:
    """The models the local server can run, copied into `destination` (GPU groups moved to the CPU), in an
    order they can be loaded in; the result says what runs differently here and what cannot run."""
    result = ServerResult()
    return _local_copy(report, destination, result), result


# --- asking the server ---------------------------------------------------------------------------------

_NUMPY_TYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
                "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
                "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}  # fmt: skip


def _array(datatype: str, shape: list[int], data: list[Value]) -> np.ndarray:
    if datatype == "BYTES":
        return np.array([str(v).encode("utf-8") for v in data], dtype=np.object_).reshape(shape)
    return np.array(data, dtype=_NUMPY_TYPES[datatype]).reshape(shape)


def _values(array: np.ndarray) -> list[Value]:
    flat = array.reshape(-1).tolist()
    return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in flat]


def infer(protocol: str, url: str, model: str, request: SmokeRequest) -> dict[str, tuple[str, list[int], list[Value]]]:
    """One request over HTTP or gRPC; output name -> (datatype, shape, values)."""
    if protocol == "http":
        import tritonclient.http as client_module  # noqa: PLC0415
    else:
        import tritonclient.grpc as client_module  # noqa: PLC0415
    client = client_module.InferenceServerClient(url)
    inputs = []
    for name, tensor in request.inputs.items():
        item = client_module.InferInput(name, tensor.shape, tensor.datatype)
        item.set_data_from_numpy(_array(tensor.datatype, tensor.shape, tensor.data))
        inputs.append(item)
    outputs = [client_module.InferRequestedOutput(name) for name in request.expect]
    response = client.infer(model, inputs, outputs=outputs)
    answer: dict[str, tuple[str, list[int], list[Value]]] = {}
    for name in request.expect:
        array = response.as_numpy(name)
        meta = response.get_output(name)
        if array is None or meta is None:
            continue
        datatype = meta["datatype"] if isinstance(meta, dict) else meta.datatype
        answer[name] = (str(datatype), list(array.shape), _values(array))
    client.close()
    return answer


def _smoke(server: RunningServer, model: ModelInfo, result: ServerResult) -> None:
    if model.smoke is None:
        return
    for protocol, url in (("http", server.http_url), ("grpc", server.grpc_url)):
        for request in model.smoke.requests:
            label = f"{model.name} [{protocol}] {request.name!r}"
            try:
                answer = infer(protocol, url, model.name, request)
            except Exception as err:
                result.smoke_failures.append(f"{label}: request failed: {err}")
                continue
            failures = []
            for name, expected in request.expect.items():
                if name not in answer:
                    failures.append(f"output {name!r} missing")
                    continue
                why = compare(expected, *answer[name])
                if why:
                    failures.append(f"output {name!r}: {why}")
            if failures:
                result.smoke_failures.append(f"{label}: {'; '.join(failures)}")
            else:
                result.smoke_passed += 1
        first = model.smoke.requests[0]
        samples = []
        for _ in range(LATENCY_SAMPLES):
            started = time.perf_counter()
            try:
                infer(protocol, url, model.name, first)
            except Exception:
                break
            samples.append((time.perf_counter() - started) * 1000)
        if samples:
            ordered = sorted(samples)
            result.latency_ms[f"{model.name} [{protocol}]"] = {
                "p50": statistics.median(ordered),
                "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
            }


def completed_configs(url: str, report: RepositoryReport, loaded: list[str]) -> dict[str, ModelInfo]:
    """The repository's models with each loaded, self-completing Python model's config replaced by the one the
    server reports (what its auto_complete_config produced, as Triton normalised it)."""
    from tritonclient import http  # noqa: PLC0415

    models = dict(report.models)
    client = http.InferenceServerClient(url, network_timeout=LOAD_TIMEOUT_S)
    try:
        for name in loaded:
            model = report.models[name]
            if not model.completed_at_load:
                continue
            config = json_format.ParseDict(client.get_model_config(name), mc.ModelConfig(), ignore_unknown_fields=True)
            models[name] = ModelInfo(name, model.directory, model.config_path, text="", declared=config, config=config,
                                     versions=list(model.versions))  # fmt: skip
    finally:
        client.close()
    return models


def check_completed(report: RepositoryReport, models: dict[str, ModelInfo]) -> list[str]:
    """The static rules on the server-completed configs: their tensors, the ensembles around them and their
    smoke files, which static validation had to leave to the server."""
    checked = RepositoryReport(report.repository, models=models)
    check_models(Checker(checked), models, gpus_per_instance=None)
    return [
        f"as completed at load time: {problem.render(relative_to=report.repository)}" for problem in checked.problems
    ]


def check_with_server(report: RepositoryReport) -> ServerResult:
    result = ServerResult()
    with tempfile.TemporaryDirectory(prefix="tritonform-triton-") as scratch:
        repository = Path(scratch) / "repository"
        repository.mkdir()
        runnable = _local_copy(report, repository, result)
        with triton_server(repository, Path(scratch) / "tritonserver.log") as server:
            result.loaded, result.failed = load_models(server.http_url, report, runnable)
            if any(report.models[name].completed_at_load for name in result.loaded):
                completed = completed_configs(server.http_url, report, result.loaded)
                result.completed_problems = check_completed(report, completed)
                report = RepositoryReport(report.repository, models=completed)
            for name in result.loaded:
                _smoke(server, report.models[name], result)
    result.ok = not result.failed and not result.smoke_failures and not result.completed_problems
    return result
