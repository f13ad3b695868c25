"""`tritonform release compare`: a baseline and a candidate version side by side on local Triton servers.

Both repositories are validated, their contracts compared (tritonform/triton/contract_diff.py), and each is
loaded into its own local Triton server (tritonform/triton/server.py) on loopback in one run. Every request
(the default model's smoke requests, a file of them, or captured traffic: capture.py) goes to both as the
KServe v2 JSON inference request SageMaker's Triton container passes on (`POST /v2/models/<default
model>/infer`), to both at the same moment, so both answer under the same load of this machine (fewer than
MIN_TIMED requests are sent again for their timings only).
Reported: answers that differ beyond the environment's tolerance per output, errors on either side, and
latency at p50 and p99 with the ratio candidate / baseline.

It fails (exit 1) on a request the candidate errs on and the baseline answers, on differing answers not
acknowledged with --accept-differences, and on a latency ratio beyond the environment's budget that is also
more than its slack slower (config/compare.py). Both servers run on this machine: the latencies compare
the two versions under the same conditions, they do not predict the endpoint's.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import math
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tritonform.config.compare import CompareSettings, OutputTolerance
from tritonform.errors import UserError
from tritonform.triton.contract_diff import ContractDiff, diff_contracts
from tritonform.triton.contract_extract import contract_of
from tritonform.triton.loading import load_models
from tritonform.triton.server import RunningServer, local_copy, triton_server
from tritonform.triton.validate import validate_repository

WARM_UP = 10
"""Requests sent to each server before timing starts (first calls load code paths and allocate)."""
MIN_TIMED = 50
"""Fewer requests than this are sent again, round robin, until this many timings are taken (each answer is
compared once): a percentile of two samples is noise."""
REQUEST_TIMEOUT_S = 60
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Request:
    name: str
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    outputs: dict[str, tuple[str, list[int], list[object]]]
    error: str = ""
    latency_ms: float = 0.0


@dataclass
class OutputDifference:
    output: str
    requests: int = 0
    max_abs: float = 0.0
    examples: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    baseline: str
    candidate: str
    contract: ContractDiff
    sent: int = 0
    differences: dict[str, OutputDifference] = field(default_factory=dict)
    candidate_errors: list[str] = field(default_factory=list)
    """Requests the candidate refused or failed while the baseline answered."""
    baseline_errors: list[str] = field(default_factory=list)
    both_errors: int = 0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    accepted_differences: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok, "baseline": self.baseline, "candidate": self.candidate, "requests": self.sent,
            "contract": {"verdict": self.contract.verdict, "old": self.contract.old_sha256,
                         "new": self.contract.new_sha256, "changes": [c.line() for c in self.contract.changes]},
            "differences": [{"output": d.output, "requests": d.requests, "max_abs_difference": d.max_abs,
                             "examples": d.examples} for d in self.differences.values()],
            "candidate_errors": len(self.candidate_errors), "candidate_error_examples": self.candidate_errors[:5],
            "baseline_errors": len(self.baseline_errors), "both_errors": self.both_errors,
            "latency_ms": self.latency_ms, "latency_ratio": self.ratio, "failures": self.failures,
            "accepted_differences": self.accepted_differences,
        }  # fmt: skip


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def _send(connection: http.client.HTTPConnection, model: str, request: Request) -> Answer:
    started = time.perf_counter()
    try:
        connection.request("POST", f"/v2/models/{model}/infer", request.body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as err:
        connection.close()  # the next request opens a new connection
        return Answer(0, {}, f"no answer: {err}")
    latency = (time.perf_counter() - started) * 1000
    if response.status != 200:
        return Answer(response.status, {}, body[:300].decode(errors="replace"), latency)
    try:
        outputs = {o["name"]: (o["datatype"], list(o["shape"]), list(o["data"])) for o in json.loads(body)["outputs"]}
    except (ValueError, KeyError, TypeError) as err:
        return Answer(response.status, {}, f"an answer that is not a KServe v2 response: {err}", latency)
    return Answer(200, outputs, "", latency)


def _differs(tolerance: OutputTolerance, old: tuple[str, list[int], list[object]],
             new: tuple[str, list[int], list[object]]) -> tuple[bool, float]:  # fmt: skip
    """Whether two answers of one output differ beyond the tolerance, and the largest absolute difference."""
    (old_type, old_shape, old_data), (new_type, new_shape, new_data) = old, new
    if old_type != new_type or old_shape != new_shape or len(old_data) != len(new_data):
        return True, math.inf
    if old_type in {"BYTES", "BOOL"}:
        return old_data != new_data, 0.0 if old_data == new_data else math.inf
    a, b = np.asarray(old_data, dtype=np.float64), np.asarray(new_data, dtype=np.float64)
    gap = float(np.max(np.abs(a - b))) if a.size else 0.0
    close = np.isclose(b, a, atol=tolerance.absolute, rtol=tolerance.relative, equal_nan=True)
    return not bool(np.all(close)), gap


def _judge(result: Comparison, request: Request, old: Answer, new: Answer, settings: CompareSettings) -> None:
    if old.status != 200 or new.status != 200:
        if old.status == 200:
            result.candidate_errors.append(f"{request.name}: HTTP {new.status}: {new.error}")
        elif new.status == 200:
            result.baseline_errors.append(f"{request.name}: HTTP {old.status}: {old.error}")
        else:
            result.both_errors += 1
        return
    for name in sorted(old.outputs.keys() | new.outputs.keys()):
        if name not in old.outputs or name not in new.outputs:
            differs, gap = True, math.inf
        else:
            differs, gap = _differs(settings.tolerance_for(name), old.outputs[name], new.outputs[name])
        if differs:
            found = result.differences.setdefault(name, OutputDifference(name))
            found.requests += 1
            found.max_abs = max(found.max_abs, gap)
            if len(found.examples) < MAX_EXAMPLES:
                found.examples.append(request.name)


@contextmanager
def _serving(repository: Path, scratch: Path, label: str, default_model: str) -> Iterator[RunningServer]:
    """A local Triton server with every model of `repository` the local server can run, loaded."""
    report = validate_repository(repository, default_model=default_model)
    directory = scratch / label
    directory.mkdir()
    runnable, local = local_copy(report, directory)
    if default_model not in runnable:
        why = local.static_only.get(default_model, "it is not in the repository")
        raise UserError.single(f"the {label}'s default model {default_model!r} cannot run on the local Triton "
                               f"server: {why}", file=repository)  # fmt: skip
    with triton_server(directory, scratch / f"{label}.log") as server:
        _, failed = load_models(server.http_url, report, runnable)
        if failed:
            raise UserError.single(f"the {label} does not load: " + "; ".join(f"{name}: {message}" for name, message in
                                                                        failed.items()), file=repository)  # fmt: skip
        yield server


def _valid(repository: Path, label: str) -> None:
    if not repository.is_dir():
        raise UserError.single(f"the {label} is not a directory", file=repository)


def compare(
    baseline: Path, candidate: Path, requests: Sequence[Request], *, default_model: str, settings: CompareSettings,
    baseline_said: str = "", candidate_said: str = "", accept_differences: str | None = None,
) -> Comparison:  # fmt: skip
    """Load both, send both every request, and judge the candidate (Comparison.failures empty: it passes)."""
    if not requests:
        raise UserError.single("no requests to send: give --requests FILE or a default model with smoke.yaml")
    contracts = []
    for label, repository in (("baseline", baseline), ("candidate", candidate)):
        _valid(repository, label)
        report = validate_repository(repository, default_model=default_model)
        if report.problems:
            raise UserError([*report.problems], exit_code=2)
        contracts.append(contract_of(report, default_model, None))
    contract = diff_contracts(contracts[0], contracts[1])
    result = Comparison(baseline_said or str(baseline), candidate_said or str(candidate), contract,
                        accepted_differences=accept_differences)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="tritonform-compare-") as scratch, ExitStack() as servers:
        started: dict[str, RunningServer] = {}
        errors: list[BaseException] = []

        def start(label: str, repository: Path) -> None:
            try:
                started[label] = servers.enter_context(_serving(repository, Path(scratch), label, default_model))
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=start, args=("baseline", baseline)),
                   threading.Thread(target=start, args=("candidate", candidate))]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        _exchange(result, started["baseline"], started["candidate"], requests, model=default_model, settings=settings)
    _verdict(result, settings)
    return result


def _exchange(result: Comparison, baseline: RunningServer, candidate: RunningServer, requests: Sequence[Request], *,
              model: str, settings: CompareSettings) -> None:  # fmt: skip
    connections = {
        "baseline": http.client.HTTPConnection("127.0.0.1", baseline.http_port, timeout=REQUEST_TIMEOUT_S),
        "candidate": http.client.HTTPConnection("127.0.0.1", candidate.http_port, timeout=REQUEST_TIMEOUT_S),
    }
    latencies: dict[str, list[float]] = {"baseline": [], "candidate": []}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    try:
        for index in range(WARM_UP):
            for connection in connections.values():
                _send(connection, model, requests[index % len(requests)])
        for index in range(max(len(requests), MIN_TIMED)):
            request = requests[index % len(requests)]
            sent = {side: pool.submit(_send, connections[side], model, request) for side in connections}
            answers = {side: future.result() for side, future in sent.items()}
            for side, answer in answers.items():
                if answer.status == 200:
                    latencies[side].append(answer.latency_ms)
            if index < len(requests):
                _judge(result, request, answers["baseline"], answers["candidate"], settings)
                result.sent += 1
    finally:
        pool.shutdown()
        for connection in connections.values():
            connection.close()
    for side, samples in latencies.items():
        if samples:
            ordered = sorted(samples)
            result.latency_ms[side] = {"p50": statistics.median(ordered), "p99": _percentile(ordered, 0.99)}


def _verdict(result: Comparison, settings: CompareSettings) -> None:
    if result.candidate_errors:
        result.failures.append(f"the candidate failed {len(result.candidate_errors)} request(s) the baseline "
                               f"answered, e.g. {result.candidate_errors[0]}")  # fmt: skip
    if result.differences and result.accepted_differences is None:
        shown = ", ".join(f"{d.output} in {d.requests} request(s)" for d in result.differences.values())
        result.failures.append(f"answers differ beyond the tolerance: {shown} (acknowledge with "
                               '--accept-differences "REASON" if that is intended)')  # fmt: skip
    old, new = result.latency_ms.get("baseline"), result.latency_ms.get("candidate")
    if old is None or new is None:
        return
    for quantile, budget in (("p50", settings.p50_ratio), ("p99", settings.p99_ratio)):
        ratio = new[quantile] / old[quantile] if old[quantile] > 0 else math.inf
        result.ratio[quantile] = ratio
        slower_ms = new[quantile] - old[quantile]
        if ratio > budget and slower_ms > settings.slack_ms:
            result.failures.append(
                f"{quantile} latency {new[quantile]:.2f} ms is {ratio:.2f}x the baseline's {old[quantile]:.2f} ms "
                f"(budget {budget:g}x, and {slower_ms:.1f} ms slower than the {settings.slack_ms:g} ms slack)"
            )
