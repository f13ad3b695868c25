"""A grammar of Python-backend model configurations Triton loads, as hypothesis strategies: each choice stays
inside what triton-inference-server/core src/model_config_utils.cc accepts (the rules this generator must
respect are the ones the validator implements). tests/test_triton_load_rules_server.py loads samples into the
real local tritonserver, which proves the generator makes only configs Triton loads."""

from __future__ import annotations

import math

from hypothesis import strategies as st
from tritonclient.grpc import model_config_pb2 as mc

TYPES = [mc.TYPE_BOOL, mc.TYPE_UINT8, mc.TYPE_INT8, mc.TYPE_INT16, mc.TYPE_INT32, mc.TYPE_INT64, mc.TYPE_UINT32,
         mc.TYPE_FP16, mc.TYPE_FP32, mc.TYPE_FP64, mc.TYPE_STRING]  # fmt: skip
BOOLEAN_CONTROLS = ["CONTROL_SEQUENCE_START", "CONTROL_SEQUENCE_END", "CONTROL_SEQUENCE_READY"]
CORRID_TYPES = [mc.TYPE_UINT64, mc.TYPE_INT64, mc.TYPE_UINT32, mc.TYPE_INT32, mc.TYPE_STRING]
BATCH_INPUT_KINDS = [mc.BatchInput.BATCH_ELEMENT_COUNT, mc.BatchInput.BATCH_ACCUMULATED_ELEMENT_COUNT,
                     mc.BatchInput.BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO,
                     mc.BatchInput.BATCH_MAX_ELEMENT_COUNT_AS_SHAPE, mc.BatchInput.BATCH_ITEM_SHAPE,
                     mc.BatchInput.BATCH_ITEM_SHAPE_FLATTEN]  # fmt: skip
dims_strategy = st.lists(st.sampled_from([-1, 1, 2, 3, 4, 8]), min_size=1, max_size=4)


def valid_reshape(dims: list[int], batching: bool) -> list[list[int]]:
    """Reshapes ValidateIOShape accepts for `dims`: the same element count between variable dims."""
    chunks, current = [], 1
    for dim in dims:
        if dim == -1:
            chunks.append(current)
            current = 1
        else:
            current *= dim
    chunks.append(current)
    merged: list[int] = []
    for index, count in enumerate(chunks):
        if index:
            merged.append(-1)
        if count != 1 or (index == 0 and len(chunks) == 1):
            merged.append(count)
    options = [list(dims), merged]
    if -1 not in dims and math.prod(dims) == 1 and batching:
        options.append([])  # a scalar per batch item
    return options


@st.composite
def tensors(
    draw: st.DrawFn, prefix: str, batching: bool, kind: type[mc.ModelInput] | type[mc.ModelOutput]
) -> list[mc.ModelInput | mc.ModelOutput]:
    out: list[mc.ModelInput | mc.ModelOutput] = []
    for index in range(draw(st.integers(0, 3))):
        tensor = kind(name=f"{prefix}{index}", data_type=draw(st.sampled_from(TYPES)), dims=draw(dims_strategy))
        if draw(st.booleans()):
            tensor.reshape.shape.extend(draw(st.sampled_from(valid_reshape(list(tensor.dims), batching))))
        if isinstance(tensor, mc.ModelInput):
            if len(tensor.dims) == 3 and draw(st.booleans()):
                tensor.format = draw(st.sampled_from([mc.ModelInput.FORMAT_NHWC, mc.ModelInput.FORMAT_NCHW]))
            tensor.optional = draw(st.booleans())
        out.append(tensor)
    return out


@st.composite
def python_configs(draw: st.DrawFn) -> mc.ModelConfig:
    """One Python-backend config Triton loads (model.py beside it defines only execute)."""
    config = mc.ModelConfig()
    if draw(st.booleans()):
        config.backend = "python"  # otherwise Triton infers it from 1/model.py
    config.max_batch_size = draw(st.sampled_from([0, 1, 4, 8, 16]))
    batching = config.max_batch_size > 0
    config.input.extend(draw(tensors("IN", batching, mc.ModelInput)))
    config.output.extend(draw(tensors("OUT", batching, mc.ModelOutput)))
    inputs = [t.name for t in config.input]
    with_batch_input, with_batch_output = draw(st.booleans()), draw(st.booleans())
    if inputs and with_batch_input:
        config.batch_input.add(kind=draw(st.sampled_from(BATCH_INPUT_KINDS)), target_name=["BATCH"],
                               data_type=draw(st.sampled_from([mc.TYPE_INT32, mc.TYPE_FP32])),
                               source_input=[draw(st.sampled_from(inputs))])  # fmt: skip
    if inputs and config.output and with_batch_output:
        targets = draw(st.lists(st.sampled_from([t.name for t in config.output]), min_size=1, unique=True))
        config.batch_output.add(kind=mc.BatchOutput.BATCH_SCATTER_WITH_INPUT_SHAPE, target_name=targets,
                                source_input=[draw(st.sampled_from(inputs))])  # fmt: skip
    scheduler = draw(st.sampled_from(["none", "dynamic", "sequence"]))
    if scheduler == "dynamic":
        _dynamic(draw, config)
    elif scheduler == "sequence":
        _sequence(draw, config)
    for index in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from([mc.ModelInstanceGroup.KIND_CPU, mc.ModelInstanceGroup.KIND_MODEL,
                                     mc.ModelInstanceGroup.KIND_AUTO]))  # fmt: skip
        config.instance_group.add(name=f"group{index}" if draw(st.booleans()) else "", kind=kind,
                                  count=draw(st.integers(-1, 2)))  # fmt: skip
    policy = draw(st.sampled_from(["default", "latest", "all", "specific"]))
    if policy == "latest":
        config.version_policy.latest.num_versions = draw(st.integers(1, 3))
    elif policy == "all":
        config.version_policy.all.SetInParent()
    elif policy == "specific":
        config.version_policy.specific.versions.extend([1, 7])  # 7 is absent: Triton loads the ones present
    config.model_transaction_policy.decoupled = draw(st.booleans())
    if draw(st.booleans()):
        config.parameters["note"].string_value = draw(st.text("abc xyz", max_size=10))
    return config


def _dynamic(draw: st.DrawFn, config: mc.ModelConfig) -> None:
    batching = config.dynamic_batching
    batching.SetInParent()
    if config.max_batch_size:
        batching.preferred_batch_size.extend(
            draw(st.lists(st.integers(1, config.max_batch_size), max_size=3, unique=True))
        )
    batching.max_queue_delay_microseconds = draw(st.integers(0, 1000))
    levels = draw(st.integers(0, 3))
    batching.priority_levels = levels
    batching.default_priority_level = draw(st.integers(1, levels)) if levels else draw(st.integers(0, 5))
    for level in draw(st.lists(st.integers(1, levels), unique=True)) if levels else []:
        batching.priority_queue_policy[level].max_queue_size = draw(st.integers(0, 10))
    if levels <= 1 and draw(st.booleans()):
        batching.preserve_ordering = True
        batching.default_queue_policy.timeout_action = mc.ModelQueuePolicy.REJECT


def _sequence(draw: st.DrawFn, config: mc.ModelConfig) -> None:
    batching = config.sequence_batching
    batching.SetInParent()
    kinds = draw(st.lists(st.sampled_from([*BOOLEAN_CONTROLS, "CONTROL_SEQUENCE_CORRID"]), unique=True))
    for index, kind_name in enumerate(kinds):
        control = batching.control_input.add(name=f"CONTROL{index}").control.add()
        control.kind = mc.ModelSequenceBatching.Control.Kind.Value(kind_name)
        if kind_name == "CONTROL_SEQUENCE_CORRID":
            control.data_type = draw(st.sampled_from(CORRID_TYPES))
        else:
            pair = draw(st.sampled_from(["int32_false_true", "fp32_false_true", "bool_false_true"]))
            getattr(control, pair).extend([False, True] if pair == "bool_false_true" else [0, 1])
    strategy = draw(st.sampled_from(["direct", "oldest", "none"]))
    if strategy == "direct":
        batching.direct.minimum_slot_utilization = draw(st.sampled_from([0.0, 0.5, 1.0]))
    elif strategy == "oldest":
        batching.oldest.max_candidate_sequences = draw(st.integers(1, 4))
        if config.max_batch_size:
            batching.oldest.preferred_batch_size.extend(
                draw(st.lists(st.integers(1, config.max_batch_size), max_size=2, unique=True))
            )
    if draw(st.booleans()):
        dims = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
        state = batching.state.add(input_name="STATE_IN", output_name="STATE_OUT", data_type=mc.TYPE_INT32, dims=dims)
        if draw(st.booleans()):
            state.initial_state.add(name="zeros", data_type=mc.TYPE_INT32, dims=dims, zero_data=True)
