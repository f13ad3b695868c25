"""The load-time rule pairs proven against the real local tritonserver (Python backend): every near miss the
validator accepts loads, every refused half fails to load; and a Python model that completes its own config
is loaded, then its completed config is read back from the server and checked by the static rules.
Every server here is started by the code under test on free 127.0.0.1 ports and stopped by process group."""

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
from tests.triton_load_cases import MODEL_PY, PAIRS, Pair, ensemble, python, step
from tritonform.triton.server import check_with_server
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.e2e


def prefixed(files: dict[str, str], prefix: str) -> dict[str, str]:
    """A pair's repository with every model renamed <prefix><name>, so many pairs share one server."""
    return {prefix + path: text.replace('model_name: "', f'model_name: "{prefix}') for path, text in files.items()}


def on_local_server(case: Pair, files: dict[str, str], tmp_path: Path) -> bool:
    """Whether the local server can judge this half: no GPU rule, only Python models and ensembles."""
    if case.gpus is not None:
        return False
    report = validate_repository(build(tmp_path, dict(files)))
    return all(model.backend == "python" or model.is_ensemble for model in report.models.values())


def test_every_near_miss_loads_into_triton(tmp_path: Path) -> None:
    files: dict[str, str] = {}
    for index, case in enumerate(PAIRS):
        if on_local_server(case, case.accepted, tmp_path / f"probe{index}"):
            files |= prefixed(case.accepted, f"p{index}_")
    report = validate_repository(build(tmp_path / "repo", files))
    assert report.problems == []

    result = check_with_server(report)

    assert result.failed == {}
    assert sorted(result.loaded) == sorted(report.models)
    assert len({name.split("_")[0] for name in result.loaded}) >= 25  # pairs proven


def test_every_refused_half_fails_to_load_in_triton(tmp_path: Path) -> None:
    files: dict[str, str] = {}
    proven: list[str] = []
    for index, case in enumerate(PAIRS):
        if on_local_server(case, case.refused, tmp_path / f"probe{index}"):
            files |= prefixed(case.refused, f"p{index}_")
            proven.append(f"p{index}")
    report = validate_repository(build(tmp_path / "repo", files))

    result = check_with_server(report)

    refused = {name.split("_")[0] for name in result.failed}
    assert sorted(refused) == sorted(proven), result.loaded
    assert len(proven) >= 25


ECHO = """import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(config):
        config.add_input({"name": "X", "data_type": "TYPE_FP32", "dims": [4]})
        config.add_output({"name": "Y", "data_type": "TYPE_FP32", "dims": [4]})
        config.set_max_batch_size(8)
        return config

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("Y", pb_utils.get_input_tensor_by_name(r, "X").as_numpy())])
                for r in requests]
"""
SMOKE = """requests:
- name: echo
  inputs:
    {name}: {{datatype: FP32, shape: [1, 4], data: [1, 2, 3, 4]}}
  expect:
    Y: {{datatype: FP32, shape: [1, 4], data: [1, 2, 3, 4]}}
"""


def test_a_self_completing_python_model_is_checked_on_the_config_the_server_completed(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {
        **python("", "echo", ECHO), "echo/smoke.yaml": SMOKE.format(name="X"),
        "e/config.pbtxt": ensemble(step("echo", {"X": "X"}, {"Y": "Y"})), "e/1/.keep": "",
    })  # fmt: skip
    report = validate_repository(repository)
    assert report.valid and report.models["echo"].completed_at_load

    result = check_with_server(report)

    assert result.ok, result.lines()
    assert sorted(result.loaded) == ["e", "echo"]
    assert result.smoke_passed == 2  # the smoke file, judged against the completed config, ran over both protocols


def test_the_completed_config_catches_what_static_checks_had_to_skip(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {**python("", "echo", ECHO), "echo/smoke.yaml": SMOKE.format(name="INPUT")})
    report = validate_repository(repository)
    assert report.valid  # the inputs are unknown until the model completes its config

    result = check_with_server(report)

    assert not result.ok
    assert result.loaded == ["echo"]
    assert any("as completed at load time: echo/smoke.yaml" in p and "'INPUT' is not an input of echo (inputs: X)" in p
               for p in result.completed_problems), result.completed_problems  # fmt: skip


# One sample of 10: every Python model starts its own backend stub, so a sample costs seconds per model.
@settings(max_examples=1, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(python_configs(), min_size=10, max_size=10))
def test_the_config_grammar_makes_only_configs_triton_loads(configs: list[mc.ModelConfig]) -> None:
    """The property test's generator, proven: a sample of its configs loads into the real server."""
    files: dict[str, str] = {}
    for index, config in enumerate(configs):
        files |= {f"g{index}/config.pbtxt": text_format.MessageToString(config), f"g{index}/1/model.py": MODEL_PY}
    with TemporaryDirectory() as scratch:
        report = validate_repository(build(Path(scratch) / "repo", files))
        assert report.problems == []

        result = check_with_server(report)

        assert result.failed == {}
        assert len(result.loaded) == len(configs)
