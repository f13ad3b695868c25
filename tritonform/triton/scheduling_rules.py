"""The rules on a model's schedulers that Triton applies when it loads a model: dynamic batching (preferred
sizes, priority levels, ordering), sequence batching (control inputs, strategies, implicit state) and the
response cache. Sources: triton-inference-server/core src/model_config_utils.cc (ValidateModelConfig,
GetBooleanSequenceControlProperties, GetTypedSequenceControlProperties) and src/sequence_state.cc."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.repository import Checker, ModelInfo, dims_text, line_of, name_line

CONTROL_KINDS = mc.ModelSequenceBatching.Control.Kind
CORRID = CONTROL_KINDS.Value("CONTROL_SEQUENCE_CORRID")
CORRID_TYPES = (mc.TYPE_UINT64, mc.TYPE_INT64, mc.TYPE_UINT32, mc.TYPE_INT32, mc.TYPE_STRING)
DELAY = mc.ModelQueuePolicy.DELAY


def check_scheduling(check: Checker, model: ModelInfo) -> None:
    config = model.config
    assert config is not None
    if config.max_batch_size < 0:
        check.problem(model.config_path, f"max_batch_size {config.max_batch_size}: must be 0 (no batching) or "
                                         "positive", line_of(model.text, r"max_batch_size"))  # fmt: skip
        return
    if config.HasField("dynamic_batching"):
        _check_dynamic_batching(check, model)
    if config.HasField("sequence_batching"):
        _check_sequence_batching(check, model)
    if config.model_transaction_policy.decoupled and config.response_cache.enable:
        check.problem(model.config_path, "the response cache does not support decoupled models "
                                         "(model_transaction_policy decoupled): disable response_cache",
                      line_of(model.text, r"response_cache"))  # fmt: skip


def _check_preferred_sizes(check: Checker, model: ModelInfo, sizes: list[int], what: str, line: int | None) -> None:
    config = model.config
    assert config is not None
    # auto_complete_config may raise max_batch_size: only a declared batch size bounds the sizes here.
    bound = None if model.completed_at_load else config.max_batch_size
    for size in sizes:
        if size < 1 or (bound is not None and size > bound):
            check.problem(model.config_path, f"{what} preferred_batch_size {size}: must be between 1 and "
                                             f"max_batch_size ({config.max_batch_size})", line)  # fmt: skip


def _check_dynamic_batching(check: Checker, model: ModelInfo) -> None:
    """core src/model_config_utils.cc: ValidateModelConfig, the dynamic_batching part."""
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    batching = config.dynamic_batching
    line = line_of(text, r"dynamic_batching")
    _check_preferred_sizes(
        check, model, list(batching.preferred_batch_size), "dynamic_batching", line_of(text, r"preferred_batch_size")
    )
    levels = batching.priority_levels
    if levels:  # without priority levels Triton ignores default_priority_level and the queue policies
        if not 1 <= batching.default_priority_level <= levels:
            check.problem(path, f"default_priority_level {batching.default_priority_level}: with priority_levels "
                                f"{levels} it must be 1-{levels}",
                          line_of(text, r"default_priority_level") or line)  # fmt: skip
        for level in batching.priority_queue_policy:
            if not 1 <= level <= levels:
                check.problem(path, f"priority_queue_policy for level {level}: levels are 1-{levels}",
                              line_of(text, r"priority_queue_policy") or line)  # fmt: skip
    if batching.preserve_ordering:
        if levels > 1:
            check.problem(path, f"preserve_ordering allows one priority level, not {levels}",
                          line_of(text, r"priority_levels") or line)  # fmt: skip
        policies = [batching.default_queue_policy, *batching.priority_queue_policy.values()]
        if any(p.timeout_action == DELAY and p.default_timeout_microseconds for p in policies):
            check.problem(path, "preserve_ordering cannot be combined with a queue policy whose timeout_action is "
                                "DELAY", line_of(text, r"DELAY") or line)  # fmt: skip


def _check_sequence_batching(check: Checker, model: ModelInfo) -> None:
    """core src/model_config_utils.cc: ValidateModelConfig, the sequence_batching part."""
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    batching = config.sequence_batching
    if config.response_cache.enable:
        check.problem(path, "the response cache does not support sequence batching: disable response_cache",
                      line_of(text, r"response_cache"))  # fmt: skip
    seen_names: set[str] = set()
    seen_kinds: set[int] = set()
    for control_input in batching.control_input:
        line = name_line(model, control_input.name) if control_input.name else line_of(text, r"control_input")
        if not control_input.name:
            check.problem(path, "a sequence control input without a name", line)
        elif control_input.name in seen_names:
            check.problem(path, f"control input {control_input.name!r} is declared twice", line)
        seen_names.add(control_input.name)
        for control in control_input.control:
            kind = CONTROL_KINDS.Name(control.kind)
            if control.kind in seen_kinds:
                check.problem(path, f"sequence control {kind} is given twice", line)
            seen_kinds.add(control.kind)
            pairs = {"int32_false_true": len(control.int32_false_true), "fp32_false_true":
                     len(control.fp32_false_true), "bool_false_true": len(control.bool_false_true)}  # fmt: skip
            given = {name: count for name, count in pairs.items() if count}
            if control.kind == CORRID:
                if given:
                    check.problem(path, f"{kind} takes a data_type, not {', '.join(given)}", line)
                if control.data_type not in CORRID_TYPES:
                    check.problem(path, f"{kind} needs data_type TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 "
                                        "or TYPE_STRING", line)  # fmt: skip
            elif len(given) != 1 or next(iter(given.values())) != 2:
                check.problem(path, f"{kind} needs exactly one of int32_false_true, fp32_false_true or "
                                    "bool_false_true with two values (false, true)", line)  # fmt: skip
    if batching.HasField("oldest"):
        _check_preferred_sizes(check, model, list(batching.oldest.preferred_batch_size), "sequence_batching oldest",
                               line_of(text, r"preferred_batch_size"))  # fmt: skip
    if batching.HasField("direct"):
        utilization = batching.direct.minimum_slot_utilization
        if not 0.0 <= utilization <= 1.0:
            check.problem(path, f"minimum_slot_utilization {utilization:g}: must be between 0.0 and 1.0",
                          line_of(text, r"minimum_slot_utilization"))  # fmt: skip
    _check_state(check, model)


def _check_state(check: Checker, model: ModelInfo) -> None:
    """core src/sequence_state.cc (SequenceStates, initial state): an initial_state has no variable dims and
    each of its dims matches the state's where the state's is fixed."""
    config = model.config
    assert config is not None
    for state in config.sequence_batching.state:
        for initial in state.initial_state:
            line = name_line(model, initial.name) or line_of(model.text, r"initial_state")
            label = f"initial_state {initial.name!r} of state {state.input_name!r}"
            if -1 in initial.dims:
                check.problem(model.config_path, f"{label}: dims {dims_text(initial.dims)} are variable; an "
                                                 "initial state has a fixed shape", line)  # fmt: skip
                continue
            pairs = zip(initial.dims, state.dims, strict=False)
            if any(fixed not in (-1, given) for given, fixed in pairs):
                check.problem(model.config_path, f"{label}: dims {dims_text(initial.dims)} do not match the "
                                                 f"state's {dims_text(state.dims)}", line)  # fmt: skip
