"""The inference contract: read from real repositories (the example, edited as a model team would), compared,
and each change classified breaking or compatible with a reason; `tritonform contract diff` and its exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRun, copy_model_repository
from tritonform.config import ProjectLayout
from tritonform.errors import UserError
from tritonform.release.attach import current_release
from tritonform.release.compare_inputs import baseline_directory
from tritonform.release.package import MANIFEST, Manifest, package
from tritonform.release.reproduce import reproduces
from tritonform.triton.contract import Contract
from tritonform.triton.contract_diff import ContractDiff, diff_contracts
from tritonform.triton.contract_extract import repository_contract

pytestmark = pytest.mark.config

ECHO_CONFIG = """name: "echo"
backend: "python"
max_batch_size: 0
input [ { name: "X" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]
"""


def repository(tmp_path: Path, name: str, echo: str | None = ECHO_CONFIG) -> Path:
    """A copy of the example repository with a model clients call by name (`echo`) beside the ensemble."""
    path = copy_model_repository(tmp_path / name)
    if echo is not None:
        (path / "echo" / "1").mkdir(parents=True)
        (path / "echo" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
        (path / "echo" / "config.pbtxt").write_text(echo)
    return path


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def contract(path: Path, default_model: str = "text_embedder") -> Contract:
    return repository_contract(path, default_model=default_model)


def changes(diff: ContractDiff) -> list[tuple[str, str | None, str]]:
    return [(change.kind, change.model, change.what) for change in diff.changes]


def test_the_example_contract_records_the_client_interface_and_the_wiring(tmp_path: Path) -> None:
    recorded = contract(repository(tmp_path, "a"))
    embedder, echo = recorded.model("text_embedder"), recorded.model("echo")
    assert embedder is not None and echo is not None
    assert (embedder.role, embedder.backend, embedder.max_batch_size) == ("default", "ensemble", 64)
    assert [(t.name, t.data_type, t.dims) for t in embedder.inputs] == [("TEXT", "STRING", [1])]
    assert [(t.name, t.data_type, t.dims) for t in embedder.outputs] == [("EMBEDDING", "FP32", [64])]
    assert [(s.model, s.output_map) for s in embedder.steps] == [
        ("text_preprocessor", {"FEATURES": "features"}),
        ("vector_normalizer", {"NORMALIZED": "EMBEDDING"}),
    ]
    assert echo.role == "direct" and echo.inputs[0].dims == [-1]
    assert {m.name: m.role for m in recorded.models}["vector_normalizer"] == "internal"
    # the digest is of the canonical JSON: it reads back to the same contract and the same digest
    again = Contract.model_validate_json(recorded.canonical_json())
    assert again == recorded and again.sha256 == recorded.sha256
    assert diff_contracts(recorded, again).verdict == "unchanged"


def test_a_renamed_output_is_breaking_and_names_the_likely_new_name(tmp_path: Path) -> None:
    old = contract(repository(tmp_path, "a"))
    path = repository(tmp_path, "b")
    replace(path / "text_embedder" / "config.pbtxt", 'name: "EMBEDDING"', 'name: "VECTOR"')
    replace(path / "text_embedder" / "config.pbtxt", 'value: "EMBEDDING"', 'value: "VECTOR"')
    replace(path / "text_embedder" / "smoke.yaml", "EMBEDDING", "VECTOR")

    diff = diff_contracts(old, contract(path))

    assert diff.verdict == "breaking"
    removed = next(c for c in diff.breaking if c.what == "output EMBEDDING removed")
    assert "renamed to VECTOR?" in removed.reason and "no longer find it" in removed.reason
    assert ("compatible", "text_embedder", "output VECTOR added") in changes(diff)


def test_widened_input_dims_are_compatible_and_a_lower_batch_limit_is_breaking(tmp_path: Path) -> None:
    old = contract(repository(tmp_path, "a"))
    wider = repository(tmp_path, "wider")
    for model in ("text_embedder", "text_preprocessor"):
        replace(wider / model / "config.pbtxt", "dims: [ 1 ]", "dims: [ -1 ]")
    smaller = repository(tmp_path, "smaller")
    for model in ("text_embedder", "text_preprocessor", "vector_normalizer"):
        replace(smaller / model / "config.pbtxt", "max_batch_size: 64", "max_batch_size: 32")

    widened = diff_contracts(old, contract(wider))
    lowered = diff_contracts(old, contract(smaller))

    assert widened.verdict == "compatible"
    assert changes(widened) == [("compatible", "text_embedder", "input TEXT dims [1] -> [-1]")]
    assert lowered.verdict == "breaking"
    assert changes(lowered) == [("breaking", "text_embedder", "max_batch_size 64 -> 32")]
    assert "more than 32" in lowered.breaking[0].reason
    assert diff_contracts(contract(wider), old).breaking[0].what == "input TEXT dims [-1] -> [1]"  # narrowed back


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('dims: [ -1 ] } ]\noutput', 'dims: [ -1 ] }, { name: "MASK" data_type: TYPE_INT32 dims: [ -1 ] } ]\noutput'),
         ("breaking", "required input MASK added")),
        (('dims: [ -1 ] } ]\noutput', 'dims: [ -1 ] }, { name: "MASK" data_type: TYPE_INT32 dims: [ -1 ] '
          'optional: true } ]\noutput'), ("compatible", "optional input MASK added")),
        (('name: "X" data_type: TYPE_FP32', 'name: "X" data_type: TYPE_FP16'),
         ("breaking", "input X data type FP32 -> FP16")),
        (('name: "X" data_type: TYPE_FP32 dims: [ -1 ]', 'name: "X" data_type: TYPE_FP32 dims: [ 8 ]'),
         ("breaking", "input X dims [-1] -> [8]")),
        (('dims: [ 4 ] } ]', 'dims: [ -1 ] } ]'), ("breaking", "output Y dims [4] -> [-1]")),
        (('dims: [ 4 ] } ]', 'dims: [ 4 ] }, { name: "Z" data_type: TYPE_FP32 dims: [ 1 ] } ]'),
         ("compatible", "output Z added")),
        (("max_batch_size: 0", "max_batch_size: 8"), ("breaking", "max_batch_size 0 -> 8")),
    ],
    ids=["required-input", "optional-input", "input-type", "input-dims-fixed", "output-dims-varying", "new-output",
         "batch-dim-added"],
)  # fmt: skip
def test_each_change_of_a_model_clients_call_is_classified(
    tmp_path: Path, edit: tuple[str, str], expected: tuple[str, str]
) -> None:
    old = contract(repository(tmp_path, "a"))
    new = contract(repository(tmp_path, "b", ECHO_CONFIG.replace(*edit)))

    diff = diff_contracts(old, new)

    assert changes(diff) == [(expected[0], "echo", expected[1])]
    assert diff.verdict == expected[0] and diff.changes[0].reason


def test_another_default_model_and_other_wiring_behind_an_output_are_breaking(tmp_path: Path) -> None:
    path = repository(tmp_path, "a")
    old = contract(path)
    pinned = repository(tmp_path, "pinned")
    replace(pinned / "text_embedder" / "config.pbtxt", 'model_name: "vector_normalizer"\n      model_version: -1',
            'model_name: "vector_normalizer"\n      model_version: 1')  # fmt: skip

    other_default = diff_contracts(old, contract(path, default_model="echo"))
    rewired = diff_contracts(old, contract(pinned))

    assert changes(other_default)[0] == ("breaking", None, "default model text_embedder -> echo")
    assert rewired.verdict == "breaking"
    (change,) = rewired.changes
    assert change.what.startswith("output EMBEDDING is computed differently")
    assert "vector_normalizer (version 1" in change.what and "other models or steps" in change.reason


def test_removing_a_model_clients_call_is_breaking_and_adding_one_compatible(tmp_path: Path) -> None:
    with_echo, without = contract(repository(tmp_path, "a")), contract(repository(tmp_path, "b", echo=None))

    assert changes(diff_contracts(with_echo, without)) == [("breaking", "echo", "model removed")]
    assert changes(diff_contracts(without, with_echo)) == [("compatible", "echo", "model added")]


# --- the command ------------------------------------------------------------------------------------------


def test_contract_diff_exit_codes_text_and_json(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    old = repository(tmp_path, "old")
    new = repository(tmp_path, "new")
    replace(new / "echo" / "config.pbtxt", 'name: "X"', 'name: "INPUT"')
    package(old, tmp_path / "pkg", default_model="text_embedder", triton_version="24.09")
    recorded = Manifest.read(tmp_path / "pkg" / MANIFEST)

    same = run_cli("contract", "diff", str(old), str(old))
    breaking = run_cli("contract", "diff", str(tmp_path / "pkg"), str(new))
    as_json = run_cli("contract", "diff", "--json", str(old), str(new))
    missing = run_cli("contract", "diff", str(old), str(tmp_path / "nothing"))
    unknown_env = run_cli("contract", "diff", str(old), "env:nowhere")

    assert same.code == 0 and "unchanged: 0 breaking, 0 compatible" in same.out
    assert breaking.code == 1, breaking.err
    assert f"old  {recorded.contract_sha256[:12]}  the package in {tmp_path / 'pkg'}" in breaking.out  # type: ignore[index]
    assert "breaking    echo: input X removed" in breaking.out and "renamed to INPUT?" in breaking.out
    assert "breaking    echo: required input INPUT added" in breaking.out
    document = json.loads(as_json.out)
    assert as_json.code == 1 and document["verdict"] == "breaking"
    assert {"kind": "breaking", "model": "echo", "change": "required input INPUT added",
            "reason": "requests that do not send it are refused"} in document["changes"]  # fmt: skip
    assert missing.code == 2 and "not a directory" in missing.err
    assert unknown_env.code == 2 and "no environment 'nowhere'" in unknown_env.err


def test_an_environment_side_is_the_contract_its_release_pins(project: Path, run_cli: Callable[..., CliRun]) -> None:
    """The shipped dev release pins the example repository as it is: reproduced here without AWS."""
    changed = repository(project.parent, "changed", echo=None)
    for model in ("text_embedder", "text_preprocessor", "vector_normalizer"):
        replace(changed / model / "config.pbtxt", "max_batch_size: 64", "max_batch_size: 32")

    result = run_cli("--root", str(project), "contract", "diff", "env:dev", str(project / "model_repository"))
    lowered = run_cli("--root", str(project), "contract", "diff", "env:dev", str(changed))
    invalid = run_cli("--root", str(project), "contract", "diff", "env:dev", str(project / "environments"))

    assert result.code == 0, result.err
    assert "dev's release (version" in result.out and "reproduced from this checkout" in result.out
    assert lowered.code == 1 and "breaking    text_embedder: max_batch_size 64 -> 32" in lowered.out
    assert invalid.code == 2 and "not a valid model repository" in invalid.err


def test_a_compare_baseline_is_a_directory_or_a_release_this_checkout_reproduces(project: Path) -> None:
    layout = ProjectLayout(project)
    release = current_release(layout, "dev")
    assert release is not None

    with baseline_directory(layout, release.version_id, None) as baseline:
        reproduced = baseline.directory
        assert reproduces(reproduced, release.artifact.sha256, release.artifact.size_bytes)
        assert baseline.said.startswith(f"dev's version {release.version_id}") and baseline.release == release
    with baseline_directory(layout, str(project / "model_repository"), "dev") as given:
        assert given.directory == project / "model_repository" and given.release is None
    missing = baseline_directory(layout, "0123456789ab", "dev")
    with pytest.raises(UserError, match="neither a directory nor the version id of a release of dev"), missing:
        pass
