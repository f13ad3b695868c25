"""Ensembles: every step names a served model, maps real inputs and outputs, and passes tensors whose type
and shape fit where they are used; every tensor is written and read; decoupled steps do not mix; no ensemble
reaches itself. Sources: triton-inference-server/core src/model_config_utils.cc
(ValidateEnsembleSchedulingConfig, BuildEnsembleGraph) and src/ensemble_utils.cc (ValidateEnsembleConfig,
ValidateTensorMapping, ValidateTensorConsistency). Steps may be listed in any order: Triton follows the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, auto
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.repository import Checker, ModelInfo, dims_text, line_of, name_line

ENSEMBLE_INPUT = "ensemble input"


@dataclass(frozen=True)
class Produced:
    """A tensor in the ensemble: its type and dims (None when a model completes its own config at load
    time), whether its model batches, and where it came from (for messages)."""

    data_type: int | None
    dims: list[int]
    batching: bool
    origin: str
    decoupled: bool = False


@dataclass(frozen=True)
class _At:
    path: Path
    line: int | None
    where: str


@dataclass
class _Step:
    at: _At
    step: mc.ModelEnsembling.Step
    target: ModelInfo | None


@dataclass
class _Flow:
    model: ModelInfo
    produced: dict[str, Produced] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)

    @property
    def config(self) -> mc.ModelConfig:
        assert self.model.config is not None
        return self.model.config


def _own_dims(tensor: mc.ModelInput | mc.ModelOutput) -> list[int]:
    """The ensemble's own tensors are compared by their reshape when they have one (ValidateEnsembleConfig)."""
    return list(tensor.reshape.shape) if tensor.HasField("reshape") else list(tensor.dims)


def check_ensembles(check: Checker, models: dict[str, ModelInfo]) -> None:
    for model in models.values():
        if model.is_ensemble and model.config is not None:
            _check_ensemble(check, model, models)
    _check_cycles(check, models)


def _check_ensemble(check: Checker, model: ModelInfo, models: dict[str, ModelInfo]) -> None:
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    for present, what in ((len(config.instance_group), "instance_group"), (config.HasField("optimization"),
                          "optimization"), (len(config.model_warmup), "model_warmup")):  # fmt: skip
        if present:
            check.problem(path, f"an ensemble has no {what}: its steps run on their own models' settings",
                          line_of(text, rf"^\s*{what}"))  # fmt: skip
    if not config.ensemble_scheduling.step:
        check.problem(path, "an ensemble needs ensemble_scheduling with at least one step", line_of(text, r"platform"))
        return
    flow = _Flow(model)
    batching = config.max_batch_size > 0
    for tensor in config.input:
        flow.produced[tensor.name] = Produced(tensor.data_type, _own_dims(tensor), batching, ENSEMBLE_INPUT)
    steps = [
        _resolve(check, flow, models, index, step) for index, step in enumerate(config.ensemble_scheduling.step, 1)
    ]
    for step in steps:
        _register_outputs(check, flow, step)
    for step in steps:
        _check_inputs(check, flow, step)
    outputs = {t.name: t for t in config.output}
    for name, tensor in outputs.items():
        source = flow.produced.get(name)
        if source is None or source.origin == ENSEMBLE_INPUT:
            check.problem(path, f"ensemble output {name!r} is not produced by any step", name_line(model, name))
        else:
            target = Produced(tensor.data_type, _own_dims(tensor), batching, "the ensemble output")
            _check_consistent(
                check, _At(path, name_line(model, name), f"ensemble output {name!r}"), name, source, target
            )
    for name in sorted(set(flow.produced) - flow.consumed - set(outputs)):
        source = flow.produced[name]
        if source.origin == ENSEMBLE_INPUT:
            check.problem(path, f"ensemble input {name!r} is not consumed by any step", name_line(model, name))
        else:
            check.problem(path, f"{source.origin}: its output {name!r} is neither consumed by a step nor an "
                                "ensemble output (Triton refuses unused ensemble tensors)",
                          model.line_of_value("value", name))  # fmt: skip
    if all(s.target is not None and not s.target.completed_at_load for s in steps):
        _check_decoupled(check, flow, steps, list(outputs))


def _resolve(
    check: Checker, flow: _Flow, models: dict[str, ModelInfo], index: int, step: mc.ModelEnsembling.Step
) -> _Step:
    """The step's model, version and batch size, and its map keys against that model's inputs and outputs."""
    model, ensemble = flow.model, flow.config
    at = _At(model.config_path, model.line_of_value("model_name", step.model_name), f"step {index} ({step.model_name})")
    if not step.model_name:
        check.problem(at.path, f"step {index}: no model_name", line_of(model.text, r"step"))
        return _Step(at, step, None)
    for what, mapping in (("input_map", step.input_map), ("output_map", step.output_map)):
        if not mapping:
            check.problem(at.path, f"{at.where}: no {what}: Triton needs every step to map its tensors", at.line)
    target = models.get(step.model_name)
    if target is None or target.config is None:
        reason = "no such model in the repository" if target is None else "its config is invalid"
        check.problem(at.path, f"{at.where}: {reason}", at.line)
        return _Step(at, step, None)
    step_config = target.config
    if step.model_version > 0 and step.model_version not in target.served_versions():
        check.problem(at.path, f"{at.where}: version {step.model_version} is not served (served: "
                               f"{target.served_versions()})", at.line)  # fmt: skip
    if target.completed_at_load:
        return _Step(at, step, target)  # its inputs, outputs and batch size come from auto_complete_config
    # src/ensemble_utils.cc: a step that batches must batch at least as much as the ensemble; one that does
    # not batch is allowed (the shapes then carry the batch dimension).
    if 0 < step_config.max_batch_size < ensemble.max_batch_size:
        check.problem(at.path, f"{at.where}: the ensemble batches up to {ensemble.max_batch_size} but "
                               f"{step.model_name} takes max_batch_size {step_config.max_batch_size}",
                      at.line)  # fmt: skip
    for kind, mapping, tensors in (("input", step.input_map, step_config.input),
                                   ("output", step.output_map, step_config.output)):  # fmt: skip
        names = {t.name for t in tensors}
        for key in mapping:
            if key not in names:
                check.problem(at.path, f"{at.where}: {kind}_map key {key!r} is not an {kind} of {step.model_name} "
                                       f"({kind}s: {', '.join(sorted(names))})", at.line)  # fmt: skip
    missing = sorted(t.name for t in step_config.input if t.name not in step.input_map and not t.optional)
    if missing:
        check.problem(
            at.path, f"{at.where}: input(s) {', '.join(missing)} of {step.model_name} are not mapped", at.line
        )
    return _Step(at, step, target)


def _register_outputs(check: Checker, flow: _Flow, step: _Step) -> None:
    if step.target is None:
        return
    config = step.target.config
    assert config is not None
    declared = {t.name: t for t in config.output}
    decoupled = config.model_transaction_policy.decoupled
    for key, tensor in step.step.output_map.items():
        previous = flow.produced.get(tensor)
        if previous is not None and previous.origin != ENSEMBLE_INPUT:
            check.problem(step.at.path, f"{step.at.where}: {tensor!r} is already produced by {previous.origin}",
                          step.at.line)  # fmt: skip
            continue
        output = declared.get(key)
        if step.target.completed_at_load or output is None:
            flow.produced[tensor] = Produced(None, [], False, step.at.where, decoupled)
        else:
            flow.produced[tensor] = Produced(
                output.data_type, list(output.dims), config.max_batch_size > 0, step.at.where, decoupled
            )


def _check_inputs(check: Checker, flow: _Flow, step: _Step) -> None:
    config = step.target.config if step.target is not None else None
    declared = {t.name: t for t in config.input} if config is not None else {}
    for key, tensor in step.step.input_map.items():
        flow.consumed.add(tensor)
        source = flow.produced.get(tensor)
        if source is None:
            check.problem(step.at.path, f"{step.at.where}: {tensor!r} is not an ensemble input nor produced by a step",
                          step.at.line)  # fmt: skip
            continue
        model_input = declared.get(key)
        if config is None or model_input is None or (step.target is not None and step.target.completed_at_load):
            continue
        target = Produced(model_input.data_type, list(model_input.dims), config.max_batch_size > 0, "")
        _check_consistent(check, step.at, tensor, source, target)


def _same_dims(left: list[int], right: list[int]) -> bool:
    """triton-inference-server/common CompareDimsWithWildcard: same rank, each dim equal or -1 on a side."""
    return len(left) == len(right) and all(a == b or -1 in (a, b) for a, b in zip(left, right, strict=True))


def _check_consistent(check: Checker, at: _At, tensor: str, source: Produced, target: Produced) -> None:
    """src/ensemble_utils.cc ValidateTensorConsistency: same data type; same dims, or the same full shape
    once a batching model's batch dimension is counted (a non-batching model may carry it in its dims)."""
    if source.data_type is None or target.data_type is None:
        return
    if source.data_type != target.data_type:
        check.problem(at.path, f"{at.where}: {tensor!r} is {mc.DataType.Name(source.data_type)} from {source.origin} "
                               f"but {mc.DataType.Name(target.data_type)} where it is used", at.line)  # fmt: skip
        return
    full_source = [-1, *source.dims] if source.batching else source.dims
    full_target = [-1, *target.dims] if target.batching else target.dims
    if not _same_dims(source.dims, target.dims) and not _same_dims(full_source, full_target):
        check.problem(at.path, f"{at.where}: {tensor!r} has dims {dims_text(source.dims)} from {source.origin} but "
                               f"{dims_text(target.dims)} where it is used", at.line)  # fmt: skip


def _check_decoupled(check: Checker, flow: _Flow, steps: list[_Step], outputs: list[str]) -> None:
    """src/ensemble_utils.cc ValidateEnsembleConfig: each tensor carries the decoupled step it descends from
    (a decoupled model may answer one request with many responses); a step, and the ensemble's outputs
    together, must not take tensors descending from different ones."""
    labels = {name: 0 for name, p in flow.produced.items() if p.origin == ENSEMBLE_INPUT}
    fresh, pending = 0, [s for s in steps if s.step.input_map and s.step.output_map]
    while pending:
        ready = [s for s in pending if all(t in labels for t in s.step.input_map.values())]
        if not ready:
            return  # tensors nobody writes: reported above
        for step in ready:
            pending.remove(step)
            incoming = {labels[t] for t in step.step.input_map.values()}
            if len(incoming) > 1:
                check.problem(step.at.path, f"{step.at.where}: its inputs descend from different decoupled models "
                                            "(model_transaction_policy decoupled); Triton refuses this",
                              step.at.line)  # fmt: skip
            assert step.target is not None and step.target.config is not None
            if step.target.config.model_transaction_policy.decoupled:
                fresh += 1
                label = fresh
            else:
                label = min(incoming)
            for tensor in step.step.output_map.values():
                labels.setdefault(tensor, label)
    final = {labels[name] for name in outputs if name in labels}
    if len(final) > 1:
        check.problem(flow.model.config_path, "the ensemble's outputs descend from different decoupled models "
                                              "(model_transaction_policy decoupled); Triton refuses this",
                      line_of(flow.model.text, r"^\s*output"))  # fmt: skip


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
