"""Faults built into real Triton models: a rehearsal's candidate fails the way a bad release would.

A fault is not a switch inside the local SageMaker: the candidate's own Python model raises, sleeps or
refuses to load, so the stand-in sees what a real endpoint would see (failed invocations, slow
invocations, a fleet that never becomes healthy). The fault goes into one Python model the default model
runs (the default model itself, or the first Python step of its ensemble), so an error rate is the share
of the default model's requests that fail, not compounded across steps.

Triton's Python backend reports a per-request failure as `InferenceResponse(error=TritonError(...))` and a
load failure as an exception from `initialize` (triton-inference-server/python_backend README, "Error
Handling" and "initialize").
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tritonform.errors import UserError
from tritonform.triton.layout import load_model
from tritonform.triton.repository import Checker, ModelInfo, RepositoryReport

FaultKind = Literal["error-rate", "latency-ms", "load-failure"]
NONCE_FILE = "REHEARSAL"
MAX_LATENCY_MS = 600_000.0
_FAULT_SYNTAX = "error-rate=F (0 < F <= 1), latency-ms=N (0 < N <= 600000) or load-failure"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    value: float

    def describe(self) -> str:
        if self.kind == "load-failure":
            return "load-failure"
        shown = f"{self.value:g}"
        return f"{self.kind}={shown}"


def parse_fault(text: str) -> Fault:
    """`error-rate=0.5`, `latency-ms=200` or `load-failure`; anything else is a UserError."""
    cleaned = text.strip()
    if cleaned == "load-failure":
        return Fault("load-failure", 0.0)
    match = re.fullmatch(r"(error-rate|latency-ms)=([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)", cleaned)
    if match is None:
        raise UserError.single(f"--fault {text!r}: expected {_FAULT_SYNTAX}", field="--fault")
    kind, number = match.group(1), float(match.group(2))
    if not math.isfinite(number):
        raise UserError.single(f"--fault {text!r}: not a finite number", field="--fault")
    if kind == "error-rate":
        if not 0 < number <= 1:
            raise UserError.single(f"--fault {text!r}: the error rate is a share, 0 < F <= 1", field="--fault")
        return Fault("error-rate", number)
    if not 0 < number <= MAX_LATENCY_MS:
        raise UserError.single(
            f"--fault {text!r}: the added latency is 0 < N <= {MAX_LATENCY_MS:.0f} ms", field="--fault"
        )
    return Fault("latency-ms", number)


def _read_model(directory: Path) -> ModelInfo:
    report = RepositoryReport(directory.parent)
    model = load_model(Checker(report), directory)
    if model.config is None:
        problems = "; ".join(p.message for p in report.problems) or "no readable config.pbtxt"
        raise UserError.single(f"model {directory.name!r} cannot be read: {problems}", file=directory)
    return model


def faulty_model(repository: Path, default_model: str) -> ModelInfo:
    """The Python model a fault goes into: the default model, or the first Python step its ensemble runs
    (depth first, in the order the steps are written)."""
    seen: set[str] = set()

    def visit(name: str) -> ModelInfo | None:
        if name in seen or not (repository / name).is_dir():
            return None
        seen.add(name)
        model = _read_model(repository / name)
        if model.backend == "python":
            return model
        if model.is_ensemble and model.config is not None:
            for step in model.config.ensemble_scheduling.step:
                found = visit(step.model_name)
                if found is not None:
                    return found
        return None

    if not (repository / default_model).is_dir():
        raise UserError.single(f"the default model {default_model!r} is not in {repository}", file=repository)
    found = visit(default_model)
    if found is None:
        raise UserError.single(
            f"the default model {default_model!r} runs no Python-backend model, so tritonform cannot build a "
            "fault into it; rehearse without --fault, or give --version a repository that already misbehaves",
            file=repository / default_model,
            field="--fault",
        )
    return found


def _wrapper(fault: Fault, model_name: str) -> str:
    """Python appended to the model file: a subclass of the model's own TritonPythonModel with the fault."""
    head = (
        "\n\n# --- tritonform rehearsal: a fault built into this candidate (not for release) ---\n"
        "import time as _tritonform_time\n"
        "import triton_python_backend_utils as _tritonform_pb\n"
        "_TritonformOriginal = TritonPythonModel\n\n\n"
        "class TritonPythonModel(_TritonformOriginal):\n"
    )
    if fault.kind == "load-failure":
        return head + (
            "    def initialize(self, args):\n"
            "        raise _tritonform_pb.TritonModelException(\n"
            f"            'rehearsal fault load-failure: {model_name} refuses to load')\n"
        )
    if fault.kind == "latency-ms":
        return head + (
            "    def execute(self, requests):\n"
            f"        _tritonform_time.sleep({fault.value / 1000.0!r})\n"
            "        return super().execute(requests)\n"
        )
    # error-rate: a deterministic share: every request adds F to a budget, and one fails each time it
    # reaches 1 (F = 0.25 fails every fourth request, F = 1 fails all).
    return head + (
        "    _tritonform_budget = 0.0\n\n"
        "    def execute(self, requests):\n"
        "        failing = set()\n"
        "        for index in range(len(requests)):\n"
        f"            self._tritonform_budget += {fault.value!r}\n"
        "            if self._tritonform_budget >= 1.0 - 1e-9:\n"
        "                self._tritonform_budget -= 1.0\n"
        "                failing.add(index)\n"
        "        passing = [r for i, r in enumerate(requests) if i not in failing]\n"
        "        answered = iter(super().execute(passing) if passing else [])\n"
        "        responses = []\n"
        "        for index in range(len(requests)):\n"
        "            if index in failing:\n"
        "                error = _tritonform_pb.TritonError(\n"
        f"                    'rehearsal fault error-rate={fault.value:g}: {model_name} fails this request')\n"
        "                responses.append(_tritonform_pb.InferenceResponse(output_tensors=[], error=error))\n"
        "            else:\n"
        "                responses.append(next(answered))\n"
        "        return responses\n"
    )


def _refuse_decoupled(fault: Fault, model: ModelInfo) -> None:
    """A decoupled model answers through response senders, not execute's return value (python_backend
    README, "Decoupled mode"): a wrapper around execute cannot fail or delay its answers."""
    assert model.config is not None
    if model.config.model_transaction_policy.decoupled and fault.kind != "load-failure":
        raise UserError.single(
            f"model {model.name!r} is decoupled: only load-failure can be built into it",
            file=model.config_path,
            field="--fault",
        )


def _apply(fault: Fault, model: ModelInfo) -> None:
    assert model.config is not None
    model_file = model.config.default_model_filename or "model.py"
    targets = [model.directory / str(version) / model_file for version in model.served_versions()]
    targets = [target for target in targets if target.is_file()]
    if not targets:
        raise UserError.single(
            f"model {model.name!r} has no {model_file} to build the fault into", file=model.directory
        )
    for target in targets:
        source = target.read_text(encoding="utf-8")
        if "class TritonPythonModel" not in source:
            raise UserError.single(
                f"{target.name} defines no TritonPythonModel class to build the fault into", file=target
            )
        target.write_text(source + _wrapper(fault, model.name), encoding="utf-8")


def build_candidate(repository: Path, out: Path, *, default_model: str, fault: Fault | None, nonce: str) -> Path:
    """Copy `repository` to `out` (a new directory) with `fault` built into real Triton models and a
    `nonce` recorded in the copy (a file inside the default model's directory, e.g. REHEARSAL), so the
    candidate packages to new bytes even without a fault. Returns `out`."""
    if out.exists():
        raise UserError.single(f"{out} already exists: a candidate is built into a new directory", file=out)
    if not (repository / default_model).is_dir():
        raise UserError.single(f"the default model {default_model!r} is not in {repository}", file=repository)
    # Decide where the fault goes before copying, so a refused fault leaves nothing behind.
    target = faulty_model(repository, default_model) if fault is not None else None
    if target is not None and fault is not None:
        _refuse_decoupled(fault, target)
    shutil.copytree(repository, out, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git"))
    if target is not None and fault is not None:
        _apply(fault, _read_model(out / target.name))
    described = fault.describe() if fault is not None else "none"
    (out / default_model / NONCE_FILE).write_text(
        f"A tritonform rehearsal candidate, not a release.\nnonce: {nonce}\nfault: {described}\n", encoding="utf-8"
    )
    return out
