"""One model's own rules, as Triton applies them when it loads the model: platform and backend, version
directories and policy, tensors and reshapes, batching, instance groups and sequence-batching controls.
The field meanings follow Triton's model_config.proto (github.com/triton-inference-server/common)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.repository import (
    DEFAULT_MODEL_FILES,
    PLATFORM_BACKENDS,
    Checker,
    ModelInfo,
    dims_text,
    line_of,
    name_line,
)

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


def check_model(check: Checker, model: ModelInfo, gpus_per_instance: int | None) -> None:
    """Every rule that needs only this model's config and directory; `gpus_per_instance` as for
    validate_repository."""
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
        check.note(model_note)

    _check_versions(check, model)
    _check_tensors(check, model)
    _check_batching(check, model)
    _check_instance_groups(check, model, gpus_per_instance)
    _check_sequence_batching(check, model)
    if config.HasField("ensemble_scheduling") and not model.is_ensemble:
        check.problem(
            path, 'ensemble_scheduling is only allowed with platform: "ensemble"', line_of(text, r"ensemble_scheduling")
        )


def _check_versions(check: Checker, model: ModelInfo) -> None:
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


def _check_tensors(check: Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    path = model.config_path
    for kind, tensors in (("input", config.input), ("output", config.output)):
        seen: set[str] = set()
        for tensor in tensors:
            line = name_line(model, tensor.name)
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
                    f"{kind} {tensor.name!r} dims {dims_text(tensor.dims)}: each dim is a positive "
                    "size or -1 (variable)",
                    line,
                )
            if has_reshape and not bad:
                _check_reshape(
                    check, path, kind=kind, name=tensor.name, dims=list(tensor.dims),
                    shape=list(tensor.reshape.shape), line=line,
                )  # fmt: skip


def _check_reshape(
    check: Checker, path: Path, *, kind: str, name: str, dims: list[int], shape: list[int], line: int | None
) -> None:
    if any(d == 0 or d < -1 for d in shape):
        check.problem(path, f"{kind} {name!r} reshape {dims_text(shape)}: each dim is a positive size or -1", line)
        return
    variable_dims, variable_shape = dims.count(-1), shape.count(-1)
    if (variable_dims == 0) != (variable_shape == 0):
        check.problem(
            path,
            f"{kind} {name!r}: dims {dims_text(dims)} and reshape {dims_text(shape)} must both be "
            "fixed or both variable",
            line,
        )
        return
    fixed_dims = _product(d for d in dims if d != -1)
    fixed_shape = _product(d for d in shape if d != -1)
    if variable_dims == 0 and fixed_dims != fixed_shape:
        check.problem(
            path,
            f"{kind} {name!r}: dims {dims_text(dims)} hold {fixed_dims} elements but reshape "
            f"{dims_text(shape)} holds {fixed_shape}",
            line,
        )


def _product(values: Iterable[int]) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def _check_batching(check: Checker, model: ModelInfo) -> None:
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


def _check_instance_groups(check: Checker, model: ModelInfo, gpus_per_instance: int | None) -> None:
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
                check.problem(path, f"instance_group name {group.name!r} is used twice", name_line(model, group.name))
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


def _check_sequence_batching(check: Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    if not config.HasField("sequence_batching"):
        return
    path = model.config_path
    input_names = {t.name for t in config.input}
    seen_kinds: set[int] = set()
    seen_names: set[str] = set()
    for control_input in config.sequence_batching.control_input:
        line = name_line(model, control_input.name)
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
