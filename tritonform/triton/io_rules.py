"""The rules on a model's inputs, outputs, reshapes and batch inputs/outputs that Triton applies when it
loads a model: triton-inference-server/core src/model_config_utils.cc (ValidateIOShape, ValidateModelInput,
ValidateModelOutput, ValidateNonLinearFormatIO, ValidateBatchIO)."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.repository import Checker, ModelInfo, dims_text, line_of, name_line

WILDCARD = -1
# Triton counts elements in int64: counts are saturated there, so a config of huge dims costs linear time
# and two counts beyond it compare equal (never a reject Triton would not make).
INT64_MAX = 2**63 - 1
TENSORRT_PLATFORM = "tensorrt_plan"
BATCH_INPUT_TYPES = (mc.TYPE_INT32, mc.TYPE_FP32)


def check_tensors(check: Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    for kind, tensors in (("input", config.input), ("output", config.output)):
        for tensor in tensors:
            _check_tensor(check, model, kind, tensor)
    _check_batch_io(check, model)


def _check_tensor(check: Checker, model: ModelInfo, kind: str, tensor: mc.ModelInput | mc.ModelOutput) -> None:
    """core src/model_config_utils.cc: ValidateIOShape, then the input/output extras."""
    config = model.config
    assert config is not None
    path = model.config_path
    line = name_line(model, tensor.name)
    if not tensor.name:
        check.problem(path, f"an {kind} without a name", line_of(model.text, rf"^\s*{kind}\s*\["))
        return
    label = f"{kind} {tensor.name!r}"
    # A Python model's auto_complete_config may fill in a declared tensor's data_type and dims.
    if tensor.data_type == mc.TYPE_INVALID and not model.completed_at_load:
        check.problem(path, f"{label} has no data_type (e.g. TYPE_FP32)", line)
    if not tensor.dims:
        if not model.completed_at_load:
            check.problem(path, f"{label} has no dims; a scalar per batch item is dims: [ 1 ] with "
                                "reshape: { shape: [ ] }", line)  # fmt: skip
        return
    if any(d < 1 and d != WILDCARD for d in tensor.dims):
        check.problem(path, f"{label} dims {dims_text(tensor.dims)}: each dim is a positive size or -1 "
                            "(variable)", line)  # fmt: skip
        return
    if tensor.HasField("reshape"):
        _check_reshape(check, model, label, list(tensor.dims), list(tensor.reshape.shape), line=line)
    if isinstance(tensor, mc.ModelInput):
        formats = (mc.ModelInput.FORMAT_NHWC, mc.ModelInput.FORMAT_NCHW)
        if tensor.format in formats and len(tensor.dims) != 3:
            name = mc.ModelInput.Format.Name(tensor.format)
            check.problem(path, f"{label} has format {name}, which needs 3 dims (has {len(tensor.dims)})", line)
    if tensor.is_shape_tensor and config.platform != TENSORRT_PLATFORM:
        check.problem(path, f"{label} is a shape tensor: only TensorRT models (tensorrt_plan) have them", line)
    if tensor.is_non_linear_format_io:
        if config.platform != TENSORRT_PLATFORM:
            check.problem(path, f"{label}: non-linear IO format is only for TensorRT models (tensorrt_plan)", line)
        elif len(tensor.dims) != 3:
            check.problem(path, f"{label}: non-linear IO format needs 3 dims (has {len(tensor.dims)})", line)


def _element_count(dims: list[int]) -> int:
    """core (triton-inference-server/common) GetElementCount: -1 when any dim is variable, 0 for no dims."""
    if WILDCARD in dims:
        return WILDCARD
    count = 0
    for index, dim in enumerate(dims):
        count = dim if index == 0 else min(count * dim, INT64_MAX)
    return count


def _chunks(dims: list[int]) -> list[int]:
    """Element counts of the runs between variable dims: [2, 4, -1, 6] -> [8, 6]."""
    counts, current = [], 1
    for dim in dims:
        if dim == WILDCARD:
            counts.append(current)
            current = 1
        else:
            current = min(current * dim, INT64_MAX)
    return [*counts, current]


def _check_reshape(
    check: Checker, model: ModelInfo, label: str, dims: list[int], shape: list[int], *, line: int | None
) -> None:
    """core src/model_config_utils.cc: ValidateIOShape's reshape rules, variable dims included."""
    config = model.config
    assert config is not None
    path = model.config_path
    if not shape and config.max_batch_size == 0:
        check.problem(path, f"{label}: an empty reshape (a scalar) needs max_batch_size > 0; a model that does "
                            "not batch cannot take scalars", line)  # fmt: skip
        return
    if any(d < 1 and d != WILDCARD for d in shape):
        check.problem(path, f"{label} reshape {dims_text(shape)}: each dim is a positive size or -1", line)
        return
    dims_count, shape_count = _element_count(dims), _element_count(shape)
    if dims_count != shape_count and (shape_count != 0 or dims_count != 1):
        if WILDCARD in (dims_count, shape_count) and dims_count != shape_count:
            why = "must both be fixed or both variable"
        else:
            why = f"hold {dims_count} and {shape_count} elements"
        check.problem(path, f"{label}: dims {dims_text(dims)} and reshape {dims_text(shape)} {why}", line)
        return
    if dims_count == WILDCARD:
        dims_chunks, shape_chunks = _chunks(dims), _chunks(shape)
        if len(dims_chunks) != len(shape_chunks):
            check.problem(path, f"{label}: dims {dims_text(dims)} and reshape {dims_text(shape)} have a different "
                                "number of variable (-1) dims", line)  # fmt: skip
        elif dims_chunks != shape_chunks:
            counts = f"element counts {dims_text(dims_chunks)} and {dims_text(shape_chunks)}"
            check.problem(path, f"{label}: dims {dims_text(dims)} and reshape {dims_text(shape)} differ between "
                                f"their variable dims ({counts})", line)  # fmt: skip


def _check_batch_io(check: Checker, model: ModelInfo) -> None:
    """core src/model_config_utils.cc: ValidateBatchIO."""
    config = model.config
    assert config is not None
    path = model.config_path
    inputs = {t.name for t in config.input}
    outputs = {t.name for t in config.output}
    for batch_input in config.batch_input:
        kind = mc.BatchInput.Kind.Name(batch_input.kind)
        targets = list(batch_input.target_name)
        line = (model.line_of_value("target_name", targets[0]) if targets else None) or line_of(
            model.text, r"batch_input"
        )
        label = f"batch_input {', '.join(repr(t) for t in targets) or '(no target_name)'} ({kind})"
        if len(batch_input.source_input) != 1:
            check.problem(path, f"{label} needs exactly 1 source_input, has {len(batch_input.source_input)}", line)
        if batch_input.data_type not in BATCH_INPUT_TYPES:
            check.problem(path, f"{label}: data_type {mc.DataType.Name(batch_input.data_type)}; a batch input is "
                                "TYPE_INT32 or TYPE_FP32", line)  # fmt: skip
        for source in batch_input.source_input:
            if source not in inputs and not model.completed_at_load:
                check.problem(path, f"{label}: source_input {source!r} is not an input "
                                    f"(inputs: {', '.join(sorted(inputs)) or 'none'})", line)  # fmt: skip
    for batch_output in config.batch_output:
        kind = mc.BatchOutput.Kind.Name(batch_output.kind)
        line = line_of(model.text, r"batch_output")
        label = f"batch_output ({kind})"
        if len(batch_output.source_input) != 1:
            check.problem(path, f"{label} needs exactly 1 source_input, has {len(batch_output.source_input)}", line)
        for source in batch_output.source_input:
            if source not in inputs and not model.completed_at_load:
                check.problem(path, f"{label}: source_input {source!r} is not an input "
                                    f"(inputs: {', '.join(sorted(inputs)) or 'none'})", line)  # fmt: skip
        seen: set[str] = set()
        for target in batch_output.target_name:
            if target not in outputs and not model.completed_at_load:
                check.problem(path, f"{label}: target_name {target!r} is not an output "
                                    f"(outputs: {', '.join(sorted(outputs)) or 'none'})", line)  # fmt: skip
            if target in seen:
                check.problem(path, f"{label}: target_name {target!r} is given twice", line)
            seen.add(target)
