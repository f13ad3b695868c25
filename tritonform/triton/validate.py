"""Static validation of a Triton model repository: what Triton (and SageMaker's Triton container) would
refuse at load time, found in seconds and without the model files' contents.

The config is parsed into Triton's own ModelConfig schema (tritonclient ships it), so unknown fields, bad
enums and bad numbers are reported as Triton would, with line and column. The meaning-level rules below
follow Triton's model-configuration documentation and its load-time checks; each problem names the file,
the line and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import DecodeError
from tritonclient.grpc import model_config_pb2 as mc

from tritonform.documents import parse_model
from tritonform.errors import Problem, UserError
from tritonform.triton.smoke import CONFIG_TO_PROTOCOL, SmokeFile, smoke_path

MAX_CONFIG_BYTES = 1_000_000

# What each platform/backend loads from a version directory when default_model_filename is not set.
DEFAULT_MODEL_FILES = {
    "python": "model.py",
    "onnxruntime": "model.onnx",
    "tensorrt": "model.plan",
    "pytorch": "model.pt",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
    "openvino": "model.xml",
    "fil": "xgboost.model",
}
PLATFORM_BACKENDS = {
    "tensorrt_plan": "tensorrt",
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "ensemble": "",
}
KNOWN_BACKENDS = {
    "python",
    "onnxruntime",
    "tensorrt",
    "pytorch",
    "tensorflow",
    "openvino",
    "fil",
    "dali",
    "vllm",
    "tensorrtllm",
    "identity",
    "repeat",
    "square",
}
GPU_ONLY_BACKENDS = {"tensorrt", "tensorrtllm", "vllm"}
CONTROL_KINDS = mc.ModelSequenceBatching.Control.Kind


@dataclass
class ModelInfo:
    """One model directory as far as static checks could read it."""

    name: str
    directory: Path
    config_path: Path
    text: str = ""
    config: mc.ModelConfig | None = None
    versions: list[int] = field(default_factory=list)
    smoke: SmokeFile | None = None

    @property
    def backend(self) -> str:
        if self.config is None:
            return ""
        return self.config.backend or PLATFORM_BACKENDS.get(self.config.platform, "")

    @property
    def is_ensemble(self) -> bool:
        return self.config is not None and self.config.platform == "ensemble"

    def served_versions(self) -> list[int]:
        """Versions Triton would load under the config's version policy (default: the latest one)."""
        if self.config is None or not self.versions:
            return []
        policy = self.config.version_policy
        choice = policy.WhichOneof("policy_choice")
        if choice == "all":
            return sorted(self.versions)
        if choice == "specific":
            return sorted(v for v in self.versions if v in set(policy.specific.versions))
        count = policy.latest.num_versions if choice == "latest" else 1
        return sorted(self.versions)[-max(count, 1) :]


@dataclass
class RepositoryReport:
    repository: Path
    models: dict[str, ModelInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


class _Checker:
    def __init__(self, report: RepositoryReport) -> None:
        self.report = report

    def problem(self, path: Path | None, message: str, line: int | None = None, column: int | None = None) -> None:
        self.report.problems.append(Problem(file=path, field=None, message=message, line=line, column=column))


def line_of(text: str, pattern: str, start_line: int = 1) -> int | None:
    """Line (1-based) of the first match of `pattern` at or after `start_line`, for pointing at a field."""
    regex = re.compile(pattern)
    for number, row in enumerate(text.splitlines(), 1):
        if number >= start_line and regex.search(row):
            return number
    return None


def _name_line(model: ModelInfo, tensor: str) -> int | None:
    return line_of(model.text, rf'name\s*:\s*"{re.escape(tensor)}"')


def validate_repository(
    repository: Path,
    *,
    default_model: str | None = None,
    gpus_per_instance: int | None = None,
) -> RepositoryReport:
    """Every static check; `default_model` is SAGEMAKER_TRITON_DEFAULT_MODEL_NAME, `gpus_per_instance` the
    endpoint's instance type (for GPU ids in instance groups)."""
    report = RepositoryReport(repository)
    check = _Checker(report)
    if not repository.is_dir():
        check.problem(repository, "not a directory: a Triton model repository is a directory of model directories")
        return report
    if (repository / "config.pbtxt").exists():
        check.problem(
            repository / "config.pbtxt",
            "a config.pbtxt at the top of the repository: the SageMaker Triton container refuses it; every model "
            "lives in its own directory (<model>/config.pbtxt)",
        )
    directories = sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    if not directories:
        check.problem(repository, "no model directories")
    for directory in directories:
        model = _load_model(check, directory)
        if model is not None:
            report.models[model.name] = model
    for model in report.models.values():
        if model.config is not None:
            _check_model(check, model, report.models, gpus_per_instance)
    _check_ensembles(check, report.models)
    for model in report.models.values():
        if model.config is not None:
            _check_smoke(check, model)
    _check_default_model(check, repository, report.models, default_model)
    return report


def _load_model(check: _Checker, directory: Path) -> ModelInfo | None:
    config_path = directory / "config.pbtxt"
    model = ModelInfo(directory.name, directory, config_path)
    for entry in sorted(directory.iterdir()):
        if entry.is_dir() and entry.name.isdigit():
            if entry.name != str(int(entry.name)) or int(entry.name) == 0:
                check.problem(
                    entry,
                    f"version directory {entry.name!r}: versions are positive integers without "
                    "leading zeros (1, 2, ...)",
                )
            else:
                model.versions.append(int(entry.name))
    if not config_path.is_file():
        check.problem(
            directory, "no config.pbtxt: SageMaker's Triton container needs an explicit config for every model"
        )
        return model
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        check.problem(config_path, f"larger than {MAX_CONFIG_BYTES} bytes: not a model configuration")
        return model
    try:
        model.text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        check.problem(config_path, f"not UTF-8 text (byte {err.start})")
        return model
    config = mc.ModelConfig()
    try:
        text_format.Parse(model.text, config)
    except text_format.ParseError as err:
        message = str(err)
        message = re.sub(r"^\d+:\d+ : ", "", message)
        check.problem(config_path, f"not a valid Triton ModelConfig: {message}", err.GetLine(), err.GetColumn())
        return model
    except (DecodeError, ValueError) as err:
        check.problem(config_path, f"not a valid Triton ModelConfig: {err}")
        return model
    model.config = config
    if config.name and config.name != directory.name:
        check.problem(
            config_path,
            f"name is {config.name!r} but the directory is {directory.name!r}; Triton requires them to match",
            line_of(model.text, r"^\s*name\s*:"),
        )
    return model


def _check_model(
    check: _Checker, model: ModelInfo, models: dict[str, ModelInfo], gpus_per_instance: int | None
) -> None:
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    if not config.platform and not config.backend:
        check.problem(
            path,
            "neither platform nor backend is set: Triton cannot tell how to run this model "
            '(e.g. backend: "python" or platform: "onnxruntime_onnx")',
        )
    if config.platform and config.platform not in PLATFORM_BACKENDS:
        check.problem(
            path,
            f"unknown platform {config.platform!r}; known: {', '.join(sorted(PLATFORM_BACKENDS))}",
            line_of(text, r"^\s*platform\s*:"),
        )
    elif config.platform and config.backend and PLATFORM_BACKENDS[config.platform] != config.backend:
        check.problem(
            path,
            f"platform {config.platform!r} runs on backend "
            f"{PLATFORM_BACKENDS[config.platform] or '(none)'!r}, not {config.backend!r}",
            line_of(text, r"^\s*backend\s*:"),
        )
    if config.backend and config.backend not in KNOWN_BACKENDS:
        model_note = f"{model.name}: backend {config.backend!r} is not one tritonform knows; its files are not checked"
        check.report.notes.append(model_note)

    _check_versions(check, model)
    _check_tensors(check, model)
    _check_batching(check, model)
    _check_instance_groups(check, model, gpus_per_instance)
    _check_sequence_batching(check, model)
    if config.HasField("ensemble_scheduling") and not model.is_ensemble:
        check.problem(
            path, 'ensemble_scheduling is only allowed with platform: "ensemble"', line_of(text, r"ensemble_scheduling")
        )


def _check_versions(check: _Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    path = model.config_path
    if not model.versions:
        check.problem(model.directory, "no version directory (1/, 2/, ...): Triton loads nothing for this model")
        return
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "specific":
        missing = sorted(set(policy.specific.versions) - set(model.versions))
        if missing or not policy.specific.versions:
            check.problem(
                path,
                f"version_policy names version(s) {missing or '(none)'} but the directory holds "
                f"{sorted(model.versions)}",
                line_of(model.text, r"version_policy"),
            )
    if choice == "latest" and policy.latest.num_versions < 1:
        check.problem(path, "version_policy latest needs num_versions >= 1", line_of(model.text, r"num_versions"))
    if model.is_ensemble:
        return
    filename = config.default_model_filename or DEFAULT_MODEL_FILES.get(model.backend)
    if filename is None:
        return
    for version in model.served_versions():
        candidate = model.directory / str(version) / filename
        if not candidate.exists():
            how = "default_model_filename" if config.default_model_filename else f"the {model.backend} backend"
            check.problem(candidate, f"missing: {how} loads {filename} from every served version ({version})")


def _dims_text(dims: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _check_tensors(check: _Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    path = model.config_path
    for kind, tensors in (("input", config.input), ("output", config.output)):
        seen: set[str] = set()
        for tensor in tensors:
            line = _name_line(model, tensor.name)
            if not tensor.name:
                check.problem(path, f"an {kind} without a name", line_of(model.text, rf"^\s*{kind}\s*\["))
                continue
            if tensor.name in seen:
                check.problem(path, f"{kind} {tensor.name!r} is declared twice", line)
            seen.add(tensor.name)
            if tensor.data_type == mc.TYPE_INVALID:
                check.problem(path, f"{kind} {tensor.name!r} has no data_type (e.g. TYPE_FP32)", line)
            has_reshape = tensor.HasField("reshape")
            if not tensor.dims and not (config.max_batch_size > 0 and has_reshape):
                check.problem(
                    path,
                    f"{kind} {tensor.name!r} has no dims; a scalar per batch item needs "
                    "dims: [ 1 ] and reshape: { shape: [ ] }",
                    line,
                )
            bad = [d for d in tensor.dims if d == 0 or d < -1]
            if bad:
                check.problem(
                    path,
                    f"{kind} {tensor.name!r} dims {_dims_text(tensor.dims)}: each dim is a positive "
                    "size or -1 (variable)",
                    line,
                )
            if has_reshape and not bad:
                _check_reshape(
                    check, path, kind=kind, name=tensor.name, dims=list(tensor.dims),
                    shape=list(tensor.reshape.shape), line=line,
                )  # fmt: skip


def _check_reshape(
    check: _Checker, path: Path, *, kind: str, name: str, dims: list[int], shape: list[int], line: int | None
) -> None:
    if any(d == 0 or d < -1 for d in shape):
        check.problem(path, f"{kind} {name!r} reshape {_dims_text(shape)}: each dim is a positive size or -1", line)
        return
    variable_dims, variable_shape = dims.count(-1), shape.count(-1)
    if (variable_dims == 0) != (variable_shape == 0):
        check.problem(
            path,
            f"{kind} {name!r}: dims {_dims_text(dims)} and reshape {_dims_text(shape)} must both be "
            "fixed or both variable",
            line,
        )
        return
    fixed_dims = _product(d for d in dims if d != -1)
    fixed_shape = _product(d for d in shape if d != -1)
    if variable_dims == 0 and fixed_dims != fixed_shape:
        check.problem(
            path,
            f"{kind} {name!r}: dims {_dims_text(dims)} hold {fixed_dims} elements but reshape "
            f"{_dims_text(shape)} holds {fixed_shape}",
            line,
        )


def _product(values: Iterable[int]) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def _check_batching(check: _Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    if config.max_batch_size < 0:
        check.problem(
            path,
            f"max_batch_size {config.max_batch_size}: must be 0 (no batching) or positive",
            line_of(text, r"max_batch_size"),
        )
        return
    if not config.HasField("dynamic_batching"):
        return
    batching = config.dynamic_batching
    line = line_of(text, r"dynamic_batching")
    if config.max_batch_size == 0:
        check.problem(
            path,
            "dynamic_batching needs max_batch_size > 0: a model that does not batch cannot be batched dynamically",
            line,
        )
    for size in batching.preferred_batch_size:
        if size < 1 or (config.max_batch_size > 0 and size > config.max_batch_size):
            check.problem(
                path,
                f"preferred_batch_size {size}: must be between 1 and max_batch_size ({config.max_batch_size})",
                line_of(text, r"preferred_batch_size") or line,
            )
    levels = batching.priority_levels
    if batching.default_priority_level and not levels:
        check.problem(
            path, "default_priority_level is set but priority_levels is 0", line_of(text, r"default_priority_level")
        )
    if levels and not 1 <= batching.default_priority_level <= levels:
        check.problem(
            path,
            f"default_priority_level {batching.default_priority_level}: with priority_levels "
            f"{levels} it must be 1-{levels}",
            line_of(text, r"default_priority_level") or line,
        )
    for level in batching.priority_queue_policy:
        if not 1 <= level <= levels:
            check.problem(
                path,
                f"priority_queue_policy for level {level}: levels are 1-{levels}",
                line_of(text, r"priority_queue_policy") or line,
            )


def _check_instance_groups(check: _Checker, model: ModelInfo, gpus_per_instance: int | None) -> None:
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    if model.is_ensemble:
        if len(config.instance_group):
            check.problem(
                path,
                "an ensemble has no instance_group: its steps run on their own models' instances",
                line_of(text, r"instance_group"),
            )
        return
    names: set[str] = set()
    for group in config.instance_group:
        line = line_of(text, r"instance_group")
        if group.name:
            if group.name in names:
                check.problem(path, f"instance_group name {group.name!r} is used twice", _name_line(model, group.name))
            names.add(group.name)
        if group.count < 0:
            check.problem(
                path, f"instance_group count {group.count}: must be at least 1", line_of(text, r"count\s*:\s*-") or line
            )
        kind = mc.ModelInstanceGroup.Kind.Name(group.kind)
        if group.kind == mc.ModelInstanceGroup.KIND_CPU and group.gpus:
            check.problem(
                path,
                "instance_group with kind KIND_CPU lists gpus; gpus apply to KIND_GPU only",
                line_of(text, r"gpus\s*:") or line,
            )
        if group.kind == mc.ModelInstanceGroup.KIND_GPU and gpus_per_instance is not None:
            wrong = [g for g in group.gpus if g < 0 or g >= gpus_per_instance]
            if wrong:
                check.problem(
                    path,
                    f"instance_group gpus {list(group.gpus)}: the endpoint's instance type has "
                    f"{gpus_per_instance} GPU(s), ids 0-{gpus_per_instance - 1}",
                    line_of(text, r"gpus\s*:") or line,
                )
        if model.backend in GPU_ONLY_BACKENDS and group.kind == mc.ModelInstanceGroup.KIND_CPU:
            check.problem(path, f"the {model.backend} backend runs on GPUs only; {kind} cannot load it", line)


def _check_sequence_batching(check: _Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    if not config.HasField("sequence_batching"):
        return
    path = model.config_path
    input_names = {t.name for t in config.input}
    seen_kinds: set[int] = set()
    seen_names: set[str] = set()
    for control_input in config.sequence_batching.control_input:
        line = _name_line(model, control_input.name)
        if control_input.name in input_names:
            check.problem(path, f"control input {control_input.name!r} has the name of a model input", line)
        if control_input.name in seen_names:
            check.problem(path, f"control input {control_input.name!r} is declared twice", line)
        seen_names.add(control_input.name)
        if len(control_input.control) != 1:
            check.problem(
                path,
                f"control input {control_input.name!r} needs exactly one control, has {len(control_input.control)}",
                line,
            )
        for control in control_input.control:
            kind = CONTROL_KINDS.Name(control.kind)
            if control.kind in seen_kinds:
                check.problem(path, f"sequence control {kind} is given twice", line)
            seen_kinds.add(control.kind)
            if control.kind == CONTROL_KINDS.Value("CONTROL_SEQUENCE_CORRID"):
                if control.data_type not in (
                    mc.TYPE_UINT64,
                    mc.TYPE_INT64,
                    mc.TYPE_UINT32,
                    mc.TYPE_INT32,
                    mc.TYPE_STRING,
                ):
                    check.problem(
                        path,
                        f"{kind} needs data_type TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING",
                        line,
                    )
                continue
            pairs = [len(control.int32_false_true), len(control.fp32_false_true), len(control.bool_false_true)]
            if sorted(pairs) != [0, 0, 2]:
                check.problem(
                    path,
                    f"{kind} needs exactly one of int32_false_true, fp32_false_true or "
                    "bool_false_true with two values (false, true)",
                    line,
                )


@dataclass
class _TensorFlow:
    """The tensors of one ensemble as its steps are walked in order: what exists, what was used."""

    model: ModelInfo
    produced: dict[str, tuple[int, list[int], str]]
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


def _check_ensembles(check: _Checker, models: dict[str, ModelInfo]) -> None:
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
        flow = _TensorFlow(model, {t.name: (t.data_type, list(t.dims), "ensemble input") for t in config.input})
        for index, step in enumerate(steps, 1):
            _check_step(check, flow, models, index, step)
        outputs = {t.name for t in config.output}
        for name in sorted(set(flow.produced) - flow.consumed - outputs):
            if flow.produced[name][2] == "ensemble input":
                check.problem(
                    model.config_path, f"ensemble input {name!r} is not consumed by any step", _name_line(model, name)
                )
        for name in sorted(outputs - set(flow.produced)):
            check.problem(
                model.config_path, f"ensemble output {name!r} is not produced by any step", _name_line(model, name)
            )
    _check_cycles(check, models)


def _check_step(
    check: _Checker, flow: _TensorFlow, models: dict[str, ModelInfo], index: int, step: mc.ModelEnsembling.Step
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
            check, at, tensor, source, target=declared, batches=(ensemble.max_batch_size, step_config.max_batch_size)
        )
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
            check.problem(at.path, f"{at.where}: {tensor!r} is already produced by {flow.produced[tensor][2]}", at.line)
            continue
        flow.produced[tensor] = (declared_output.data_type, list(declared_output.dims), at.where)
        if tensor in outputs:
            _check_compatible(
                check, at, tensor, flow.produced[tensor], target=outputs[tensor],
                batches=(step_config.max_batch_size, ensemble.max_batch_size),
            )  # fmt: skip


def _check_compatible(
    check: _Checker,
    at: _At,
    tensor: str,
    source: tuple[int, list[int], str],
    *,
    target: mc.ModelInput | mc.ModelOutput,
    batches: tuple[int, int],
) -> None:
    """A tensor flowing from `source` into `target` must keep its type and (batch aside) its shape."""
    data_type, dims, origin = source
    if data_type != target.data_type:
        check.problem(
            at.path,
            f"{at.where}: {tensor!r} is {mc.DataType.Name(data_type)} from {origin} but "
            f"{mc.DataType.Name(target.data_type)} where it is used",
            at.line,
        )
        return
    wanted = list(target.reshape.shape) if target.HasField("reshape") else list(target.dims)
    if (batches[0] > 0) != (batches[1] > 0):
        return  # one side carries the batch dimension inside dims: Triton compares those shapes at run time
    if len(dims) != len(wanted) or any(a != b and -1 not in (a, b) for a, b in zip(dims, wanted, strict=False)):
        check.problem(
            at.path,
            f"{at.where}: {tensor!r} has dims {_dims_text(dims)} from {origin} but {_dims_text(wanted)} where it "
            "is used",
            at.line,
        )


def _check_cycles(check: _Checker, models: dict[str, ModelInfo]) -> None:
    graph = {
        name: [step.model_name for step in model.config.ensemble_scheduling.step]
        for name, model in models.items()
        if model.is_ensemble and model.config is not None
    }
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for child in graph.get(name, []):
            if state.get(child) == 1:
                cycle = [*trail[trail.index(child) :], child] if child in trail else [name, child]
                check.problem(models[name].config_path, f"ensemble cycle: {' -> '.join(cycle)}")
            elif child in graph and state.get(child) != 2:
                visit(child, [*trail, child])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def _check_smoke(check: _Checker, model: ModelInfo) -> None:
    """<model>/smoke.yaml must parse and speak of the model's real inputs and outputs."""
    path = smoke_path(model.directory)
    if not path.is_file():
        return
    try:
        model.smoke = parse_model(SmokeFile, path)
    except UserError as err:
        check.report.problems.extend(err.problems)
        return
    assert model.config is not None
    declared = {
        "input": {t.name: mc.DataType.Name(t.data_type) for t in model.config.input},
        "output": {t.name: mc.DataType.Name(t.data_type) for t in model.config.output},
    }
    for request in model.smoke.requests:
        for kind, tensors in (("input", request.inputs), ("output", request.expect)):
            for name, tensor in tensors.items():
                if name not in declared[kind]:
                    check.problem(path, f"request {request.name!r}: {name!r} is not an {kind} of {model.name} "
                                        f"({kind}s: {', '.join(sorted(declared[kind]))})")  # fmt: skip
                elif CONFIG_TO_PROTOCOL.get(declared[kind][name]) != tensor.datatype:
                    protocol = CONFIG_TO_PROTOCOL.get(declared[kind][name])
                    check.problem(path, f"request {request.name!r}: {name!r} is {declared[kind][name]} in the config "
                                        f"(protocol {protocol}), not {tensor.datatype}")  # fmt: skip


def _check_default_model(
    check: _Checker, repository: Path, models: dict[str, ModelInfo], default_model: str | None
) -> None:
    if default_model is not None and default_model not in models:
        check.problem(
            repository,
            f"the default model {default_model!r} (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME) is not "
            f"in the repository; models: {', '.join(sorted(models)) or 'none'}",
        )
    if default_model is None and len(models) > 1:
        check.report.notes.append(
            "more than one model: SageMaker needs SAGEMAKER_TRITON_DEFAULT_MODEL_NAME (the release's model_name)"
        )
