"""Static validation of model repositories: a corpus of broken repositories, each rejected with the right
message, and valid ones (the example and configs shaped after Triton's documented examples) accepted."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, CliRun
from tritonform.release.reproduce import archive_digest
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.config

# A small valid repository: a Python preprocessing model, an ONNX model on the GPU, and an ensemble.
PRE = """name: "pre"
backend: "python"
max_batch_size: 8
input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "FEAT" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
"""
NET = """name: "net"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "FEAT" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "SCORE" data_type: TYPE_FP32 dims: [ 2 ] } ]
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
instance_group [ { count: 1 kind: KIND_GPU gpus: [ 0 ] } ]
"""
PIPE = """name: "pipe"
platform: "ensemble"
max_batch_size: 8
input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "SCORE" data_type: TYPE_FP32 dims: [ 2 ] } ]
ensemble_scheduling {
  step [
    { model_name: "pre" model_version: -1 input_map { key: "RAW" value: "RAW" } output_map { key: "FEAT" value: "f" } },
    { model_name: "net" model_version: -1 input_map { key: "FEAT" value: "f" } output_map { key: "SCORE" value: "SCORE" } }
  ]
}
"""
BASE: dict[str, str] = {
    "pre/config.pbtxt": PRE,
    "pre/1/model.py": "class TritonPythonModel:\n    pass\n",
    "net/config.pbtxt": NET,
    "net/1/model.onnx": "",
    "pipe/config.pbtxt": PIPE,
    "pipe/1/.keep": "",
}


def build(root: Path, files: Mapping[str, str | None]) -> Path:
    for relative, content in files.items():
        if content is None:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def variant(**changes: str | None) -> dict[str, str | None]:
    """BASE with files replaced (a value), removed (None); keys use '__' for '/' and '_dot_' for '.'."""
    files: dict[str, str | None] = dict(BASE)
    for key, value in changes.items():
        files[key.replace("__", "/").replace("_dot_", ".")] = value
    return files


def replace(model: str, old: str, new: str) -> dict[str, str | None]:
    files: dict[str, str | None] = dict(BASE)
    text = BASE[f"{model}/config.pbtxt"]
    assert old in text, old
    files[f"{model}/config.pbtxt"] = text.replace(old, new)
    return files


SEQUENCE = """name: "seq"
backend: "python"
max_batch_size: 4
input [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ 1 ] } ]
sequence_batching {
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
}
"""


def with_sequence(old: str = "", new: str = "") -> dict[str, str | None]:
    files: dict[str, str | None] = dict(BASE)
    files["seq/config.pbtxt"] = SEQUENCE.replace(old, new) if old else SEQUENCE
    files["seq/1/model.py"] = "class TritonPythonModel:\n    pass\n"
    return files


CORPUS: list[tuple[str, dict[str, str | None], str, str]] = [
    # (defect, files, path fragment of the problem, words of the message)
    ("top-level config", {**BASE, "config.pbtxt": PRE}, "config.pbtxt", "SageMaker Triton container refuses it"),
    ("no config.pbtxt, so no inputs for the ensemble", variant(pre__config_dot_pbtxt=None), "pipe/config.pbtxt:8",
     "input_map key 'RAW' is not an input of pre (inputs: )"),
    ("name differs from directory", replace("pre", 'name: "pre"', 'name: "preprocess"'), "pre/config.pbtxt:1",
     "name is 'preprocess' but the directory is 'pre'"),
    ("no version directory", variant(pre__1__model_dot_py=None), "pre", "no version directory"),
    ("leading-zero version only", {**variant(pre__1__model_dot_py=None), "pre/01/model.py": "x"}, "pre/01",
     "version directory '01': Triton ignores it; versions are integers without leading zeros (1/)"),
    ("python model file missing", {**variant(pre__1__model_dot_py=None), "pre/1/other.py": ""},
     "pre/1/model.py", "the python backend loads model.py"),
    ("onnx model file missing", {**variant(net__1__model_dot_onnx=None), "net/1/readme.txt": ""},
     "net/1/model.onnx", "the onnxruntime backend loads model.onnx"),
    ("default_model_filename missing", replace("net", 'max_batch_size: 8', 'max_batch_size: 8\ndefault_model_filename: "net.onnx"'),
     "net/1/net.onnx", "default_model_filename loads net.onnx"),
    ("unknown field", replace("pre", "max_batch_size: 8", "max_batch_size: 8\nmax_batchsize: 8"), "pre/config.pbtxt:4:",
     'has no field named "max_batchsize"'),
    ("bad enum", replace("pre", "TYPE_FP32 dims: [ 4 ] } ]\noutput", "TYPE_FLOAT32 dims: [ 4 ] } ]\noutput"),
     "pre/config.pbtxt:4:", "TYPE_FLOAT32"),
    ("bad number", replace("pre", "max_batch_size: 8", 'max_batch_size: "eight"'), "pre/config.pbtxt:3:",
     "Couldn't parse integer"),
    ("scheduler oneof conflict", replace("net", "instance_group", "sequence_batching { }\ninstance_group"),
     "net/config.pbtxt:", "oneof"),
    ("no backend and no model file that implies one", {**replace("pre", 'backend: "python"\n', ""), "pre/1/model.py": None, "pre/1/main.py": ""},
     "pre/config.pbtxt", "neither platform nor backend is set, and Triton cannot infer a backend: it looks at 1/"),
    ("unknown platform", replace("net", "onnxruntime_onnx", "onnx"), "net/config.pbtxt:2", "platform 'onnx' names no backend Triton knows"),
    ("platform and backend disagree", replace("net", 'platform: "onnxruntime_onnx"', 'platform: "onnxruntime_onnx"\nbackend: "tensorrt"'),
     "net/config.pbtxt:2", "platform 'onnxruntime_onnx' does not run on backend 'tensorrt'"),
    ("negative max_batch_size", replace("pre", "max_batch_size: 8", "max_batch_size: -1"), "pre/config.pbtxt:3",
     "must be 0 (no batching) or positive"),
    ("preferred size on a model that does not batch", replace("net", "max_batch_size: 8", "max_batch_size: 0"),
     "net/config.pbtxt:6", "dynamic_batching preferred_batch_size 4: must be between 1 and max_batch_size (0)"),
    ("preferred above max", replace("net", "[ 4, 8 ]", "[ 4, 16 ]"), "net/config.pbtxt:6",
     "preferred_batch_size 16: must be between 1 and max_batch_size (8)"),
    ("preferred zero", replace("net", "[ 4, 8 ]", "[ 0 ]"), "net/config.pbtxt", "preferred_batch_size 0"),
    ("default priority beyond levels", replace("net", "max_queue_delay_microseconds: 100",
     "priority_levels: 2 default_priority_level: 3"), "net/config.pbtxt", "with priority_levels 2 it must be 1-2"),
    ("priority policy level beyond levels", replace("net", "max_queue_delay_microseconds: 100",
     "priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value: { timeout_action: REJECT } }"),
     "net/config.pbtxt", "priority_queue_policy for level 5: levels are 1-2"),
    ("input without data_type", replace("pre", 'name: "RAW" data_type: TYPE_FP32', 'name: "RAW"'), "pre/config.pbtxt:4",
     "input 'RAW' has no data_type"),
    ("input without dims", replace("pre", 'TYPE_FP32 dims: [ 4 ] } ]\noutput', 'TYPE_FP32 } ]\noutput'),
     "pre/config.pbtxt:4", "input 'RAW' has no dims"),
    ("zero dim", replace("pre", "dims: [ 4 ] } ]\noutput", "dims: [ 0 ] } ]\noutput"), "pre/config.pbtxt:4",
     "each dim is a positive size or -1"),
    ("reshape element count", replace("pre", "dims: [ 4 ] } ]\noutput", "dims: [ 4 ] reshape: { shape: [ 2, 3 ] } } ]\noutput"),
     "pre/config.pbtxt:4", "dims [4] and reshape [2, 3] hold 4 and 6 elements"),
    ("reshape fixed vs variable", replace("pre", "dims: [ 4 ] } ]\noutput", "dims: [ 4 ] reshape: { shape: [ -1 ] } } ]\noutput"),
     "pre/config.pbtxt:4", "must both be fixed or both variable"),
    ("gpus on a CPU group", replace("pre", "kind: KIND_CPU", "kind: KIND_CPU gpus: [ 0 ]"), "pre/config.pbtxt:6",
     "KIND_CPU lists gpus"),
    ("GPU id beyond the instance", replace("net", "gpus: [ 0 ]", "gpus: [ 0, 1 ]"), "net/config.pbtxt:7",
     "instance type has 1 GPU(s), ids 0-0"),
    ("instance group on an ensemble", replace("pipe", "ensemble_scheduling {", "instance_group [ { kind: KIND_CPU } ]\nensemble_scheduling {"),
     "pipe/config.pbtxt", "an ensemble has no instance_group"),
    ("TensorRT on the CPU", {**replace("net", 'platform: "onnxruntime_onnx"', 'platform: "tensorrt_plan"'),
                             "net/config.pbtxt": NET.replace("onnxruntime_onnx", "tensorrt_plan").replace("KIND_GPU gpus: [ 0 ]", "KIND_CPU"),
                             "net/1/model.plan": ""},
     "net/config.pbtxt", "the tensorrt backend runs on GPUs only"),
    ("ensemble step model missing", replace("pipe", 'model_name: "net"', 'model_name: "nett"'), "pipe/config.pbtxt",
     "step 2 (nett): no such model in the repository"),
    ("ensemble step version not served", replace("pipe", 'model_name: "net" model_version: -1', 'model_name: "net" model_version: 2'),
     "pipe/config.pbtxt:9", "step 2 (net): version 2 is not served (served: [1])"),
    ("input_map key unknown", replace("pipe", 'input_map { key: "FEAT" value: "f" }', 'input_map { key: "FEATURES" value: "f" }'),
     "pipe/config.pbtxt:9", "input_map key 'FEATURES' is not an input of net (inputs: FEAT)"),
    ("output_map key unknown", replace("pipe", 'output_map { key: "SCORE" value: "SCORE" }', 'output_map { key: "SCORES" value: "SCORE" }'),
     "pipe/config.pbtxt:9", "output_map key 'SCORES' is not an output of net (outputs: SCORE)"),
    ("tensor type mismatch", replace("net", 'name: "FEAT" data_type: TYPE_FP32', 'name: "FEAT" data_type: TYPE_FP16'),
     "pipe/config.pbtxt:9", "'f' is TYPE_FP32 from step 1 (pre) but TYPE_FP16 where it is used"),
    ("tensor shape mismatch", replace("net", 'name: "FEAT" data_type: TYPE_FP32 dims: [ 4 ]', 'name: "FEAT" data_type: TYPE_FP32 dims: [ 8 ]'),
     "pipe/config.pbtxt:9", "'f' has dims [4] from step 1 (pre) but [8] where it is used"),
    ("ensemble input unused", replace("pipe", 'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] } ]',
     'input [ { name: "RAW" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "EXTRA" data_type: TYPE_FP32 dims: [ 1 ] } ]'),
     "pipe/config.pbtxt:4", "ensemble input 'EXTRA' is not consumed by any step"),
    ("ensemble output not produced", replace("pipe", 'output [ { name: "SCORE" data_type: TYPE_FP32 dims: [ 2 ] } ]',
     'output [ { name: "SCORE" data_type: TYPE_FP32 dims: [ 2 ] }, { name: "LOGITS" data_type: TYPE_FP32 dims: [ 2 ] } ]'),
     "pipe/config.pbtxt:5", "ensemble output 'LOGITS' is not produced by any step"),
    ("step input not mapped", replace("pipe", 'input_map { key: "FEAT" value: "f" } output_map { key: "SCORE"',
     'output_map { key: "SCORE"'), "pipe/config.pbtxt:9", "input(s) FEAT of net are not mapped"),
    ("ensemble batch above step", replace("pre", "max_batch_size: 8", "max_batch_size: 4"), "pipe/config.pbtxt:8",
     "the ensemble batches up to 8 but pre takes max_batch_size 4"),
    ("ensemble cycle", {**BASE, "loop/config.pbtxt": PIPE.replace('name: "pipe"', 'name: "loop"').replace('model_name: "net"', 'model_name: "loop"'),
                        "loop/1/.keep": ""},
     "loop/config.pbtxt", "ensemble cycle: loop -> loop"),
    ("version policy serves no version", replace("pre", 'backend: "python"', 'backend: "python"\nversion_policy: { specific: { versions: [ 3 ] } }'),
     "pre/config.pbtxt:3", "version_policy serves none of the versions [1]: Triton needs at least one"),
    ("latest zero versions", replace("pre", 'backend: "python"', 'backend: "python"\nversion_policy: { latest: { num_versions: 0 } }'),
     "pre/config.pbtxt:3", "version_policy serves none of the versions [1]"),
    ("ensemble_scheduling on a plain model", replace("pre", "instance_group", 'ensemble_scheduling { step [ { model_name: "net" model_version: -1 } ] }\ninstance_group'),
     "pre/config.pbtxt:6", 'ensemble_scheduling is only allowed with platform: "ensemble"'),
    ("sequence control with three values", with_sequence("int32_false_true: [ 0, 1 ]", "int32_false_true: [ 0, 1, 2 ]"),
     "seq/config.pbtxt:8", "CONTROL_SEQUENCE_START needs exactly one of int32_false_true"),
    ("sequence correlation id type", with_sequence("data_type: TYPE_UINT64", "data_type: TYPE_FP32"),
     "seq/config.pbtxt:9", "CONTROL_SEQUENCE_CORRID needs data_type TYPE_UINT64"),
    ("same control twice", with_sequence("CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64", "CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ]"),
     "seq/config.pbtxt", "sequence control CONTROL_SEQUENCE_START is given twice"),
    ("smoke input unknown", {**BASE, "pre/smoke.yaml": "requests:\n- name: r\n  inputs:\n    RAWW: {datatype: FP32, shape: [1, 4], data: [1, 2, 3, 4]}\n  expect:\n    FEAT: {datatype: FP32, shape: [1, 4]}\n"},
     "pre/smoke.yaml", "'RAWW' is not an input of pre (inputs: RAW)"),
    ("smoke datatype mismatch", {**BASE, "pre/smoke.yaml": "requests:\n- name: r\n  inputs:\n    RAW: {datatype: INT32, shape: [1, 4], data: [1, 2, 3, 4]}\n  expect:\n    FEAT: {datatype: FP32, shape: [1, 4]}\n"},
     "pre/smoke.yaml", "'RAW' is TYPE_FP32 in the config (protocol FP32), not INT32"),
    ("smoke data count", {**BASE, "pre/smoke.yaml": "requests:\n- name: r\n  inputs:\n    RAW: {datatype: FP32, shape: [1, 4], data: [1, 2]}\n  expect:\n    FEAT: {datatype: FP32, shape: [1, 4]}\n"},
     "pre/smoke.yaml:4", "shape [1, 4] holds 4 values, data has 2"),
]  # fmt: skip


def test_the_corpus_has_at_least_30_distinct_defects() -> None:
    assert len({case[0] for case in CORPUS}) == len(CORPUS) >= 30


def test_the_base_repository_is_valid(tmp_path: Path) -> None:
    report = validate_repository(build(tmp_path / "repo", dict(BASE)), default_model="pipe", gpus_per_instance=1)

    assert report.problems == []
    assert sorted(report.models) == ["net", "pipe", "pre"]


@pytest.mark.parametrize(("files", "where", "words"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_broken_repository_is_rejected_with_the_right_message(
    tmp_path: Path, files: dict[str, str | None], where: str, words: str
) -> None:
    repository = build(tmp_path / "repo", files)

    report = validate_repository(repository, default_model="pipe", gpus_per_instance=1)

    rendered = [p.render(relative_to=repository) for p in report.problems]
    assert not report.valid
    matching = [line for line in rendered if words in line]
    assert matching, "\n".join(rendered)
    assert any(line.startswith(where) for line in matching), "\n".join(rendered)


def test_default_model_must_exist(tmp_path: Path) -> None:
    report = validate_repository(build(tmp_path / "repo", dict(BASE)), default_model="ranker")

    assert [p.message for p in report.problems] == [
        "the default model 'ranker' (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME) is not in the repository; models: net, pipe, pre"
    ]


# Configurations shaped after the examples in Triton's model-configuration documentation: all accepted.
DOCUMENTED = {
    "tensorrt with dynamic batching": {
        "trt/config.pbtxt": 'platform: "tensorrt_plan"\nmax_batch_size: 8\ninput [ { name: "input0" data_type: TYPE_FP32 dims: [ 16 ] } ]\n'
                            'output [ { name: "output0" data_type: TYPE_FP32 dims: [ 16 ] } ]\n'
                            'dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }\n'
                            'instance_group [ { count: 2 kind: KIND_GPU } ]\n',
        "trt/1/model.plan": "",
    },
    "scalar input through reshape": {
        "scalar/config.pbtxt": 'backend: "onnxruntime"\nmax_batch_size: 8\n'
                               'input [ { name: "in" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]\n'
                               'output [ { name: "out" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]\n',
        "scalar/1/model.onnx": "",
    },
    "variable dims and string tensors": {
        "tok/config.pbtxt": 'backend: "python"\nmax_batch_size: 0\ninput [ { name: "text" data_type: TYPE_STRING dims: [ -1 ] } ]\n'
                            'output [ { name: "ids" data_type: TYPE_INT64 dims: [ -1, -1 ] } ]\n',
        "tok/1/model.py": "",
    },
    "sequence batching with controls": {
        "seq/config.pbtxt": SEQUENCE.replace('name: "seq"\n', "").replace(
            '{ name: "CORRID"', '{ name: "READY" control [ { kind: CONTROL_SEQUENCE_READY fp32_false_true: [ 0, 1 ] } ] },\n    { name: "CORRID"'),
        "seq/1/model.py": "",
    },
    "latest two of three versions": {
        "m/config.pbtxt": 'backend: "python"\nmax_batch_size: 4\nversion_policy: { latest: { num_versions: 2 } }\n'
                          'input [ { name: "x" data_type: TYPE_INT32 dims: [ 3 ] } ]\noutput [ { name: "y" data_type: TYPE_INT32 dims: [ 3 ] } ]\n',
        "m/1/other.txt": "", "m/2/model.py": "", "m/3/model.py": "",
    },
    "priority levels": {
        "p/config.pbtxt": 'backend: "python"\nmax_batch_size: 16\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 2 ] } ]\n'
                          'output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]\n'
                          'dynamic_batching { priority_levels: 2 default_priority_level: 2 '
                          'priority_queue_policy { key: 1 value: { max_queue_size: 10 } } }\n',
        "p/1/model.py": "",
    },
    "savedmodel directory and named instance groups": {
        "tf/config.pbtxt": 'platform: "tensorflow_savedmodel"\nmax_batch_size: 4\n'
                           'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3, 224, 224 ] } ]\n'
                           'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1000 ] } ]\n'
                           'instance_group [ { name: "a" kind: KIND_GPU gpus: [ 0 ] }, { name: "b" kind: KIND_GPU gpus: [ 1 ] } ]\n',
        "tf/1/model.savedmodel/saved_model.pb": "",
    },
}  # fmt: skip


@pytest.mark.parametrize("files", list(DOCUMENTED.values()), ids=list(DOCUMENTED))
def test_documented_configurations_are_accepted(tmp_path: Path, files: dict[str, str | None]) -> None:
    repository = build(tmp_path / "repo", files)

    report = validate_repository(repository, gpus_per_instance=4)

    assert report.problems == [], [p.render(relative_to=repository) for p in report.problems]


def test_the_example_repository_is_valid() -> None:
    report = validate_repository(REPO_ROOT / "model_repository", default_model="text_embedder", gpus_per_instance=1)

    assert report.problems == []
    assert sorted(report.models) == ["text_embedder", "text_preprocessor", "vector_normalizer"]
    assert all(model.smoke is not None for model in report.models.values() if model.name != "text_preprocessor")


def test_cli_prints_one_line_per_problem_and_a_summary(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    repository = build(tmp_path / "repo", replace("pre", "max_batch_size: 8", "max_batch_size: -1"))

    result = run_cli("--root", str(tmp_path), "repo", "validate", str(repository))

    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith("repo/pre/config.pbtxt:3: max_batch_size -1")
    assert lines[-1].endswith("NOT valid")


def test_cli_json_report(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    repository = build(tmp_path / "repo", replace("net", "[ 4, 8 ]", "[ 4, 16 ]"))

    result = run_cli("--root", str(tmp_path), "repo", "validate", str(repository), "--json")

    document = json.loads(result.out)
    assert result.code == 1
    assert document["valid"] is False
    assert document["problems"][0]["file"] == "repo/net/config.pbtxt"
    assert document["problems"][0]["line"] == 6
    assert document["models"]["net"]["checked"] == "static"


def test_cli_usage_errors_exit_2(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    assert run_cli("repo", "validate", str(tmp_path / "missing")).code == 2
    assert run_cli("repo", "validate", "--gpus", "0", str(tmp_path)).code == 2
    assert run_cli("repo", "frobnicate").code == 2


def test_synth_refuses_an_environment_whose_release_pins_an_invalid_repository(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    config = project / "model_repository" / "vector_normalizer" / "config.pbtxt"
    config.write_text(config.read_text().replace("max_batch_size: 64", "max_batch_size: 32"))
    pinned = archive_digest(project / "model_repository", "fast")  # dev's release pins these very bytes
    assert pinned is not None
    sha256, size = pinned
    release_file = project / "environments" / "releases" / "dev.yaml"
    release = yaml.safe_load(release_file.read_text())
    release["version_id"] = sha256[:12]
    release["artifact"] = {"s3_uri": f"s3://acme-tritonform-dev-artifacts/text_embedder/{sha256}/model.tar.gz",
                           "sha256": sha256, "size_bytes": size}  # fmt: skip
    release_file.write_text(yaml.safe_dump(release, sort_keys=False))

    result = run_cli("--root", str(project), "synth", "--env", "dev", "--outdir", str(project / "out"))

    assert result.code == 2
    assert "model_name: model_repository/ is not loadable by Triton" in result.err
    assert "the ensemble batches up to 64 but vector_normalizer takes max_batch_size 32" in result.err
    assert not (project / "out").exists()
