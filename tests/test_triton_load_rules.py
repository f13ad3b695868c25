"""Triton's load-time rules that need no model file: each refused with its message, each beside a near miss
that Triton loads (no false rejects); backend inference and auto-completing Python models; the file rules
`repo validate` shares with `release package`; configs that abuse size refused in bounded time."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRun, copy_model_repository
from tests.test_triton_repository import build
from tests.triton_load_cases import AUTO_COMPLETE_PY, MODEL_PY, PAIRS, Pair, ensemble, python, step
from tritonform.errors import UserError
from tritonform.release.package import package
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.config
HEAD_WITH_IO = 'backend: "python"\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'


def rendered(repository: Path, gpus: int | None) -> list[str]:
    report = validate_repository(repository, gpus_per_instance=gpus)
    return [p.render(relative_to=repository) for p in report.problems]


def test_every_rule_has_its_own_pair() -> None:
    assert len({p.rule for p in PAIRS}) == len(PAIRS) >= 30


@pytest.mark.parametrize("case", PAIRS, ids=[p.rule for p in PAIRS])
def test_what_triton_refuses_is_refused_with_its_message(tmp_path: Path, case: Pair) -> None:
    problems = rendered(build(tmp_path / "repo", dict(case.refused)), case.gpus)

    matching = [line for line in problems if case.words in line]
    assert matching, "\n".join(problems)
    assert any(line.startswith(case.where) for line in matching), "\n".join(problems)


@pytest.mark.parametrize("case", PAIRS, ids=[p.rule for p in PAIRS])
def test_the_near_miss_triton_loads_is_accepted(tmp_path: Path, case: Pair) -> None:
    assert rendered(build(tmp_path / "repo", dict(case.accepted)), case.gpus) == []


@pytest.mark.parametrize(
    ("files", "backend", "platform"),
    [
        ({"m/1/model.onnx": ""}, "onnxruntime", "onnxruntime_onnx"),
        ({"m/1/model.onnx/model.onnx": ""}, "onnxruntime", "onnxruntime_onnx"),  # a large ONNX model: a directory
        ({"m/1/model.plan": ""}, "tensorrt", "tensorrt_plan"),
        ({"m/1/model.pt": ""}, "pytorch", "pytorch_libtorch"),
        ({"m/1/model.savedmodel/saved_model.pb": ""}, "tensorflow", "tensorflow_savedmodel"),
        ({"m/1/model.graphdef": ""}, "tensorflow", "tensorflow_graphdef"),
        ({"m/1/model.xml": "", "m/1/model.bin": ""}, "openvino", ""),
        ({"m/1/model.py": MODEL_PY}, "python", ""),
    ],
)
def test_a_config_without_backend_gets_the_one_its_model_file_implies(
    tmp_path: Path, files: dict[str, str], backend: str, platform: str
) -> None:
    config = 'max_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
    if backend == "tensorrt":
        config += "instance_group [ { kind: KIND_GPU } ]\n"
    report = validate_repository(build(tmp_path / "repo", {"m/config.pbtxt": config, **files}), gpus_per_instance=1)

    assert report.problems == []
    model = report.models["m"]
    assert model.config is not None and model.declared is not None
    assert (model.backend, model.config.platform) == (backend, platform)
    assert model.declared.backend == ""  # the config as written is kept for messages


def test_only_the_first_version_directory_implies_the_backend(tmp_path: Path) -> None:
    """Triton inspects the first subdirectory in byte order: 1/ here, which holds no model file."""
    repository = build(tmp_path / "repo", {"m/config.pbtxt": "", "m/1/notes.txt": "", "m/2/model.onnx": ""})

    assert any("it looks at 1/" in line for line in rendered(repository, None))


def test_a_model_plan_directory_does_not_imply_tensorrt(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {"m/config.pbtxt": "", "m/1/model.plan/x": ""})

    assert any("Triton cannot infer a backend" in line for line in rendered(repository, None))


def test_a_python_model_completing_its_own_config_is_accepted_and_reported(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {
        **python("", "a", AUTO_COMPLETE_PY),
        "e/config.pbtxt": ensemble(step("a", {"X": "X"}, {"Y": "Y"})), "e/1/.keep": "",
        "a/smoke.yaml": "requests:\n- name: r\n  inputs:\n    X: {datatype: FP32, shape: [1, 4], data: [1, 2, 3, 4]}\n"
                        "  expect:\n    Y: {datatype: FP32, shape: [1, 4]}\n",
    })  # fmt: skip

    report = validate_repository(repository)

    assert report.problems == []
    assert report.models["a"].completed_at_load and report.models["a"].backend == "python"
    assert report.notes == [
        "a: completed by the model at load time (auto_complete_config): its inputs, outputs and batching are "
        "checked by --server only"
    ]


def test_a_python_model_without_auto_complete_is_checked_in_full(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", {**python("", "a"), "e/config.pbtxt": ensemble(step("a", {"X": "X"}, {"Y": "Y"})),
                                           "e/1/.keep": ""})  # fmt: skip

    problems = rendered(repository, None)

    assert any("input_map key 'X' is not an input of a" in line for line in problems), problems


def test_the_json_report_says_which_models_only_the_server_checks(
    tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    repository = build(tmp_path / "repo", {**python("", "a", AUTO_COMPLETE_PY), **python("", "b")})

    result = run_cli("--root", str(tmp_path), "repo", "validate", str(repository), "--json")

    document = json.loads(result.out)
    assert result.code == 0 and document["valid"] is True
    assert document["models"]["a"]["checked"] == "static; completed by the model at load time: checked by --server only"
    assert document["models"]["b"]["checked"] == "static"
    assert document["models"]["b"]["backend"] == "python"


def test_the_shipped_repository_prints_no_note(run_cli: Callable[..., CliRun], tmp_path: Path) -> None:
    repository = copy_model_repository(tmp_path / "repo")

    result = run_cli("--root", str(tmp_path), "repo", "validate", str(repository))

    assert result.code == 0
    assert result.out.splitlines() == ["3 model(s), 0 problem(s): valid"]


# --- files that cannot ship: the rules repo validate shares with release package -------------------------


def broken_files(repository: Path, kind: str) -> Path:
    copy_model_repository(repository)
    model = repository / "vector_normalizer" / "1"
    if kind == "link out":
        (model / "weights.bin").symlink_to("/etc/hostname")
    elif kind == "backslash":
        (model / "a\\b.txt").write_text("x")
    elif kind == "control character":
        (model / "bell\x07.txt").write_text("x")
    elif kind == "pipe":
        os.mkfifo(model / "pipe")
    elif kind == "dangling link":
        (model / "gone").symlink_to(model / "missing")
    return model


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("link out", "symbolic link to /etc/hostname, outside the repository"),
        ("backslash", "contains a backslash"),
        ("control character", "contains a control character"),
        ("pipe", "not a regular file or directory (device, socket or pipe)"),
        ("dangling link", "which does not exist"),
    ],
)
def test_repo_validate_refuses_what_release_package_refuses(tmp_path: Path, kind: str, words: str) -> None:
    repository = tmp_path / "repo"
    model = broken_files(repository, kind)

    report = validate_repository(repository, default_model="text_embedder")
    with pytest.raises(UserError) as refused:
        package(repository, tmp_path / "out", default_model="text_embedder")

    validator = [p for p in report.problems if words in p.message]
    packager = [p for p in refused.value.problems if words in p.message]
    assert validator and packager
    assert validator[0].file is not None and validator[0].file.parent == model
    assert [p.message for p in validator] == [p.message for p in packager]


# --- size: bounded reads, clear refusals, linear time --------------------------------------------------


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_text("#" * 1_000_001), "larger than 1,000,000 bytes: not a Triton model configuration"),
        (lambda p: p.write_bytes(b'backend: "python"\n\xff\xfe'), "not UTF-8 text (byte 18)"),
        (lambda p: p.mkdir(), "is a directory, but a Triton model configuration is expected here"),
        (os.mkfifo, "is not a regular file (a pipe, socket or device?)"),
    ],
    ids=["oversized", "not UTF-8", "a directory", "a pipe"],
)
def test_a_config_that_is_not_a_small_text_file_is_refused_with_its_name(
    tmp_path: Path, make: Callable[[Path], object], words: str
) -> None:
    repository = build(tmp_path / "repo", {"m/1/model.py": MODEL_PY})
    make(repository / "m" / "config.pbtxt")

    started = time.monotonic()
    problems = rendered(repository, None)

    assert any(line.startswith("m/config.pbtxt") and words in line for line in problems), problems
    assert time.monotonic() - started < 5


def test_a_config_with_thousands_of_tensors_and_steps_validates_in_linear_time(tmp_path: Path) -> None:
    count = 5_000
    tensors = ",\n".join(f'{{ name: "t{i}" data_type: TYPE_FP32 dims: [ 0 ] }}' for i in range(count))
    steps = ", ".join(step(f"s{i}", {"IN": "X"}, {"OUT": f"o{i}"}) for i in range(count))
    repository = build(tmp_path / "repo", {
        **python(f'backend: "python"\ninput [\n{tensors}\n]\n'), "e/config.pbtxt": ensemble(steps), "e/1/.keep": "",
    })  # fmt: skip

    started = time.monotonic()
    problems = rendered(repository, None)

    assert time.monotonic() - started < 20
    assert sum("dims [0]: each dim is a positive size" in line for line in problems) == count
    assert "m/config.pbtxt:4000:" in "\n".join(problems)  # each tensor at its own line


def test_a_smoke_file_that_is_not_a_file_is_refused_with_its_name(tmp_path: Path) -> None:
    repository = build(tmp_path / "repo", python(HEAD_WITH_IO))
    (repository / "m" / "smoke.yaml").mkdir()

    assert rendered(repository, None) == ["m/smoke.yaml: is a directory, but a configuration file is expected here"]


def test_huge_dims_are_counted_in_bounded_time_and_shown_short(tmp_path: Path) -> None:
    """Element counts saturate at int64, as Triton counts: tens of thousands of 12-digit dims stay linear."""
    dims = ", ".join(["999999999999"] * 30_000)
    config = (f'backend: "python"\nmax_batch_size: 2\ninput [ {{ name: "x" data_type: TYPE_FP32 dims: [ {dims}, -1, 3 ] '
              f"reshape: {{ shape: [ {dims}, -1, 4 ] }} }} ]\n")  # fmt: skip
    repository = build(tmp_path / "repo", python(config))

    started = time.monotonic()
    problems = rendered(repository, None)

    assert time.monotonic() - started < 20
    assert len(problems) == 1 and len(problems[0]) < 500
    assert "999999999999, ... (30002 dims)] and reshape" in problems[0]
    assert "differ between their variable dims" in problems[0]


def test_metric_controls_need_a_family_and_buckets(tmp_path: Path) -> None:
    """Not a Pair: the local tritonserver 2.51 predates model_metrics and refuses the field itself."""
    complete = 'metric_control [ { metric_identifier { family: "nv_inference_first_response_histogram_ms" } ' \
               "histogram_options { buckets: [ 1, 10, 100 ] } } ]"  # fmt: skip
    accepted = build(tmp_path / "ok", python(f"{HEAD_WITH_IO}model_metrics {{ {complete} }}\n"))
    refused = build(tmp_path / "bad", python(f"{HEAD_WITH_IO}model_metrics {{ metric_control [ {{ }} ] }}\n"))

    assert rendered(accepted, None) == []
    assert rendered(refused, None) == [
        "m/config.pbtxt:3: model_metrics metric_control 1 needs metric_identifier with a family",
        "m/config.pbtxt:3: model_metrics metric_control 1 needs histogram_options with buckets",
    ]


@pytest.mark.parametrize(
    ("source", "completes"),
    [
        (MODEL_PY, False),
        ("class TritonPythonModel(object):\n    pass\n", False),
        (AUTO_COMPLETE_PY, True),
        ("from shared.base import Model as TritonPythonModel\n", True),  # the class comes from elsewhere
        ("from shared.base import Base\n\n\nclass TritonPythonModel(Base):\n    pass\n", True),  # may inherit it
    ],
    ids=["plain class", "on object", "defines it", "imported", "inherits"],
)
def test_which_python_models_may_complete_their_config(tmp_path: Path, source: str, completes: bool) -> None:
    report = validate_repository(build(tmp_path / "repo", python('backend: "python"\n', "m", source)))

    assert report.models["m"].completed_at_load is completes


@pytest.mark.parametrize(
    ("parameters", "present", "missing"),
    [
        ("", "xgboost.model", None),
        ('parameters { key: "model_type" value: { string_value: "lightgbm" } }', "model.txt", None),
        (
            'parameters { key: "model_type" value: { string_value: "treelite_checkpoint" } }',
            "model.txt",
            "checkpoint.tl",
        ),
    ],
)
def test_the_fil_backend_file_follows_its_model_type(
    tmp_path: Path, parameters: str, present: str, missing: str | None
) -> None:
    config = f'backend: "fil"\nmax_batch_size: 4\n{parameters}\n'
    problems = rendered(build(tmp_path / "repo", {"m/config.pbtxt": config, f"m/1/{present}": ""}), None)

    assert problems == ([f"m/1/{missing}: missing: the fil backend loads {missing} from every served version (1)"]
                        if missing else [])  # fmt: skip
