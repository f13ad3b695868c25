"""Ensembles: every step names a served model, maps real inputs and outputs, and passes tensors whose type
and shape fit where they are used; no ensemble reaches itself through its steps. Triton's ensemble rules:
docs/user_guide/architecture.md#ensemble-models (github.com/triton-inference-server/server)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, auto
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.repository import Checker, ModelInfo, dims_text, line_of, name_line

ENSEMBLE_INPUT = "ensemble input"


@dataclass(frozen=True)
class Produced:
    """A tensor available to later steps: its type and dims, and where it came from (for messages)."""

    data_type: int
    dims: list[int]
    origin: str


@dataclass
class _TensorFlow:
    """The tensors of one ensemble as its steps are walked in order: what exists, what was used."""

    model: ModelInfo
    produced: dict[str, Produced]
    consumed: set[str] = field(default_factory=set)

    @property
    def config(self) -> mc.ModelConfig:
        assert self.model.config is not None
        return self.model.config


@dataclass(frozen=True)
class _At:
    path: Path
    line: int | None
    where: str


def check_ensembles(check: Checker, models: dict[str, ModelInfo]) -> None:
    for model in models.values():
        if not model.is_ensemble or model.config is None:
            continue
        config = model.config
        steps = list(config.ensemble_scheduling.step)
        if not steps:
            check.problem(
                model.config_path,
                "an ensemble needs ensemble_scheduling with at least one step",
                line_of(model.text, r"platform"),
            )
            continue
        flow = _TensorFlow(model, {t.name: Produced(t.data_type, list(t.dims), ENSEMBLE_INPUT) for t in config.input})
        for index, step in enumerate(steps, 1):
            _check_step(check, flow, models, index, step)
        outputs = {t.name for t in config.output}
        for name in sorted(set(flow.produced) - flow.consumed - outputs):
            if flow.produced[name].origin == ENSEMBLE_INPUT:
                check.problem(
                    model.config_path, f"ensemble input {name!r} is not consumed by any step", name_line(model, name)
                )
        for name in sorted(outputs - set(flow.produced)):
            check.problem(
                model.config_path, f"ensemble output {name!r} is not produced by any step", name_line(model, name)
            )
    _check_cycles(check, models)


def _check_step(
    check: Checker, flow: _TensorFlow, models: dict[str, ModelInfo], index: int, step: mc.ModelEnsembling.Step
) -> None:
    ensemble = flow.config
    at = _At(
        flow.model.config_path,
        line_of(flow.model.text, rf'model_name\s*:\s*"{re.escape(step.model_name)}"'),
        f"step {index} ({step.model_name})",
    )
    target = models.get(step.model_name)
    if target is None or target.config is None:
        reason = "no such model in the repository" if target is None else "its config is invalid"
        check.problem(at.path, f"{at.where}: {reason}", at.line)
        return
    step_config = target.config
    if step.model_version > 0 and step.model_version not in target.served_versions():
        check.problem(
            at.path,
            f"{at.where}: version {step.model_version} is not served (served: {target.served_versions()})",
            at.line,
        )
    if ensemble.max_batch_size > 0 and not 0 < ensemble.max_batch_size <= step_config.max_batch_size:
        check.problem(
            at.path,
            f"{at.where}: the ensemble batches up to {ensemble.max_batch_size} but {step.model_name} takes "
            f"max_batch_size {step_config.max_batch_size}",
            at.line,
        )
    step_inputs = {t.name: t for t in step_config.input}
    step_outputs = {t.name: t for t in step_config.output}
    for model_input, tensor in step.input_map.items():
        declared = step_inputs.get(model_input)
        if declared is None:
            check.problem(
                at.path,
                f"{at.where}: input_map key {model_input!r} is not an input of {step.model_name} "
                f"(inputs: {', '.join(sorted(step_inputs))})",
                at.line,
            )
            continue
        flow.consumed.add(tensor)
        source = flow.produced.get(tensor)
        if source is None:
            check.problem(at.path, f"{at.where}: {tensor!r} is not an ensemble input nor produced by an earlier step",
                          at.line)  # fmt: skip
            continue
        _check_compatible(
            check, at, tensor, source, target=declared,
            source_batch=ensemble.max_batch_size, target_batch=step_config.max_batch_size,
        )  # fmt: skip
    optional = {t.name for t in step_config.input if t.optional}
    missing = sorted(set(step_inputs) - set(step.input_map) - optional)
    if missing:
        check.problem(
            at.path, f"{at.where}: input(s) {', '.join(missing)} of {step.model_name} are not mapped", at.line
        )
    outputs = {t.name: t for t in ensemble.output}
    for model_output, tensor in step.output_map.items():
        declared_output = step_outputs.get(model_output)
        if declared_output is None:
            check.problem(
                at.path,
                f"{at.where}: output_map key {model_output!r} is not an output of {step.model_name} "
                f"(outputs: {', '.join(sorted(step_outputs))})",
                at.line,
            )
            continue
        if tensor in flow.produced:
            check.problem(
                at.path, f"{at.where}: {tensor!r} is already produced by {flow.produced[tensor].origin}", at.line
            )
            continue
        flow.produced[tensor] = Produced(declared_output.data_type, list(declared_output.dims), at.where)
        if tensor in outputs:
            _check_compatible(
                check, at, tensor, flow.produced[tensor], target=outputs[tensor],
                source_batch=step_config.max_batch_size, target_batch=ensemble.max_batch_size,
            )  # fmt: skip


def _check_compatible(
    check: Checker,
    at: _At,
    tensor: str,
    source: Produced,
    *,
    target: mc.ModelInput | mc.ModelOutput,
    source_batch: int,
    target_batch: int,
) -> None:
    """A tensor flowing from `source` into `target` must keep its type and (batch aside) its shape; the
    batch sizes are the max_batch_size of the model on each side."""
    data_type, dims, origin = source.data_type, source.dims, source.origin
    if data_type != target.data_type:
        check.problem(
            at.path,
            f"{at.where}: {tensor!r} is {mc.DataType.Name(data_type)} from {origin} but "
            f"{mc.DataType.Name(target.data_type)} where it is used",
            at.line,
        )
        return
    wanted = list(target.reshape.shape) if target.HasField("reshape") else list(target.dims)
    if (source_batch > 0) != (target_batch > 0):
        return  # one side carries the batch dimension inside dims: Triton compares those shapes at run time
    if len(dims) != len(wanted) or any(a != b and -1 not in (a, b) for a, b in zip(dims, wanted, strict=False)):
        check.problem(
            at.path,
            f"{at.where}: {tensor!r} has dims {dims_text(dims)} from {origin} but {dims_text(wanted)} where it is used",
            at.line,
        )


class _Visit(Enum):
    """Depth-first search marks: an ensemble met again while IN_PROGRESS closes a cycle."""

    IN_PROGRESS = auto()
    DONE = auto()


def _check_cycles(check: Checker, models: dict[str, ModelInfo]) -> None:
    graph = {
        name: [step.model_name for step in model.config.ensemble_scheduling.step]
        for name, model in models.items()
        if model.is_ensemble and model.config is not None
    }
    state: dict[str, _Visit] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = _Visit.IN_PROGRESS
        for child in graph.get(name, []):
            if state.get(child) == _Visit.IN_PROGRESS:
                cycle = [*trail[trail.index(child) :], child] if child in trail else [name, child]
                check.problem(models[name].config_path, f"ensemble cycle: {' -> '.join(cycle)}")
            elif child in graph and state.get(child) != _Visit.DONE:
                visit(child, [*trail, child])
        state[name] = _Visit.DONE

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
