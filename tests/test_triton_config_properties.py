"""No false rejects, as a property: every Python-backend config drawn from a grammar of what Triton loads
(tests/triton_config_strategies.py) passes static validation. The grammar itself is proven against the real
tritonserver in tests/test_triton_load_rules_server.py. And any config that parses, whatever its values, gets
problems naming their file, never a traceback."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.grpc import model_config_pb2 as mc

from tests.test_triton_repository import build
from tests.triton_config_strategies import python_configs
from tests.triton_load_cases import MODEL_PY
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(python_configs())
def test_every_config_triton_loads_is_accepted(config: mc.ModelConfig) -> None:
    with TemporaryDirectory() as scratch:
        repository = build(Path(scratch) / "repo", {"m/config.pbtxt": text_format.MessageToString(config),
                                                    "m/1/model.py": MODEL_PY})  # fmt: skip

        report = validate_repository(repository, gpus_per_instance=1)

        assert [p.render(relative_to=repository) for p in report.problems] == []
        assert report.models["m"].backend == "python"


# --- any config that parses: problems with a file, never a traceback -------------------------------------

any_int = st.one_of(st.integers(-3, 20), st.integers(-(2**63), 2**63 - 1))
names = st.text(alphabet='abXY_.\\" \n', max_size=6)


@st.composite
def arbitrary_configs(draw: st.DrawFn) -> dict[str, str]:
    """Two models with arbitrary values in every field the rules read, one maybe an ensemble of the other."""
    config = mc.ModelConfig(platform=draw(st.sampled_from(["", "ensemble", "onnxruntime_onnx", "x"])),
                            backend=draw(st.sampled_from(["", "python", "tensorrt", "onnxruntime", "custom"])),
                            max_batch_size=draw(st.integers(-(2**31), 2**31 - 1)),
                            default_model_filename=draw(st.sampled_from(["", "model.py", "model.plan", "other"])))  # fmt: skip
    for kind in (config.input, config.output):
        for _ in range(draw(st.integers(0, 3))):
            tensor = kind.add(name=draw(names), data_type=draw(st.integers(0, 14)),
                              dims=draw(st.lists(any_int, max_size=5)))  # fmt: skip
            if draw(st.booleans()):
                tensor.reshape.shape.extend(draw(st.lists(any_int, max_size=5)))
    for _ in range(draw(st.integers(0, 2))):
        config.batch_input.add(kind=draw(st.integers(0, 5)), target_name=draw(st.lists(names, max_size=2)),
                               data_type=draw(st.integers(0, 14)), source_input=draw(st.lists(names, max_size=2)))  # fmt: skip
        config.batch_output.add(
            target_name=draw(st.lists(names, max_size=2)), source_input=draw(st.lists(names, max_size=2))
        )
    scheduler = draw(st.sampled_from(["dynamic", "sequence", "ensemble", "none"]))
    if scheduler == "dynamic":
        config.dynamic_batching.preferred_batch_size.extend(
            draw(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3))
        )
        config.dynamic_batching.priority_levels = draw(st.integers(0, 2**64 - 1))
        config.dynamic_batching.default_priority_level = draw(st.integers(0, 2**64 - 1))
        config.dynamic_batching.preserve_ordering = draw(st.booleans())
    elif scheduler == "sequence":
        for _ in range(draw(st.integers(0, 3))):
            control = config.sequence_batching.control_input.add(name=draw(names)).control.add(
                kind=draw(st.integers(0, 3))
            )
            control.int32_false_true.extend(draw(st.lists(st.integers(-5, 5), max_size=3)))
            control.data_type = draw(st.integers(0, 14))
        config.sequence_batching.direct.minimum_slot_utilization = draw(st.floats(allow_nan=True, width=32))
        state = config.sequence_batching.state.add(input_name=draw(names), dims=draw(st.lists(any_int, max_size=3)))
        state.initial_state.add(name=draw(names), dims=draw(st.lists(any_int, max_size=3)))
    elif scheduler == "ensemble":
        for _ in range(draw(st.integers(0, 3))):
            step = config.ensemble_scheduling.step.add(model_name=draw(st.sampled_from(["m", "n", "", "zz"])),
                                                       model_version=draw(st.integers(-2, 3)))  # fmt: skip
            for key, value in draw(st.dictionaries(names, names, max_size=2)).items():
                step.input_map[key] = value
            for key, value in draw(st.dictionaries(names, names, max_size=2)).items():
                step.output_map[key] = value
    for _ in range(draw(st.integers(0, 2))):
        config.instance_group.add(kind=draw(st.integers(0, 3)), count=draw(st.integers(-5, 5)),
                                  gpus=draw(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3)),
                                  profile=draw(st.lists(names, max_size=2)))  # fmt: skip
    config.model_transaction_policy.decoupled = draw(st.booleans())
    other = draw(python_configs())
    return {"m/config.pbtxt": text_format.MessageToString(config), "m/1/model.py": MODEL_PY,
            "n/config.pbtxt": text_format.MessageToString(other), "n/1/model.py": MODEL_PY}  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary_configs(), st.sampled_from([None, 0, 1, 8]))
def test_any_config_gets_problems_with_their_file_never_a_traceback(files: dict[str, str], gpus: int | None) -> None:
    with TemporaryDirectory() as scratch:
        repository = build(Path(scratch) / "repo", files)

        report = validate_repository(repository, gpus_per_instance=gpus)

        assert all(p.file is not None and p.file.is_relative_to(repository) for p in report.problems)
        assert all(len(p.render(relative_to=repository)) < 2_000 for p in report.problems)
