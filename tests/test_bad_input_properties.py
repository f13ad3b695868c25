"""Property-based bad input: whatever bytes a user puts where tritonform reads configuration, the answer
is a clean result or a UserError naming the file, never a traceback (hypothesis generates the inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT, copy_project
from tritonform.config import ProjectLayout
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.loader import load_deployments, load_policy
from tritonform.config.release import ReleaseConfig
from tritonform.documents import validate_data
from tritonform.errors import UserError
from tritonform.security.scan import load_baseline
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.config

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=True),
                    st.text(max_size=40))  # fmt: skip
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)  # fmt: skip


def _mutations(base: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    """The shipped file with one key replaced by anything, or one unknown key added."""
    keys = sorted(base)
    return st.one_of(
        st.builds(lambda key, value: {**base, key: value}, st.sampled_from(keys), values),
        st.builds(lambda key, value: {**base, key: value}, st.text(min_size=1, max_size=12), values),
        st.builds(lambda key: {k: v for k, v in base.items() if k != key}, st.sampled_from(keys)),
    )


ENVIRONMENT = yaml.safe_load((REPO_ROOT / "environments/prod.yaml").read_text())
RELEASE = yaml.safe_load((REPO_ROOT / "environments/releases/prod.yaml").read_text())


@SETTINGS
@given(_mutations(ENVIRONMENT))
def test_any_environment_document_is_accepted_or_refused_cleanly(document: dict[str, object]) -> None:
    try:
        validate_data(EnvironmentConfig, document, Path("prod.yaml"))
    except UserError as err:
        assert err.problems and all(p.file == Path("prod.yaml") for p in err.problems)


@SETTINGS
@given(_mutations(RELEASE))
def test_any_release_document_is_accepted_or_refused_cleanly(document: dict[str, object]) -> None:
    try:
        validate_data(ReleaseConfig, document, Path("release.yaml"))
    except UserError as err:
        assert err.problems and all(p.message for p in err.problems)


@SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_as_an_environment_file(tmp_path_factory: object, content: bytes) -> None:
    root = copy_project(Path(str(tmp_path_factory.mktemp("p"))))  # type: ignore[attr-defined]
    (root / "environments" / "dev.yaml").write_bytes(content)
    try:
        load_deployments(ProjectLayout(root), ["dev"])
    except UserError as err:
        assert any("dev.yaml" in str(p.file) for p in err.problems)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_as_a_rollout_policy(tmp_path_factory: object, content: str) -> None:
    path = Path(str(tmp_path_factory.mktemp("policy"))) / "p.yaml"  # type: ignore[attr-defined]
    path.write_text(content, encoding="utf-8")
    try:
        load_policy(path)
    except UserError as err:
        assert err.problems


BASELINE = yaml.safe_load((REPO_ROOT / "security-baseline.yaml").read_text())


@SETTINGS
@given(st.one_of(st.text(max_size=300), _mutations(BASELINE["accepted"][0]).map(
    lambda entry: yaml.safe_dump({"accepted": [entry]}))))  # fmt: skip
def test_any_security_baseline_is_accepted_or_refused_cleanly(tmp_path_factory: object, content: str) -> None:
    root = Path(str(tmp_path_factory.mktemp("baseline")))  # type: ignore[attr-defined]
    (root / "security-baseline.yaml").write_text(content, encoding="utf-8")
    try:
        load_baseline(root)
    except UserError as err:
        assert err.problems and all("security-baseline.yaml" in str(p.file) for p in err.problems)


CONFIG_LINES = st.sampled_from([
    'name: "m"', 'backend: "python"', 'platform: "ensemble"', 'platform: "onnxruntime_onnx"', "max_batch_size: 8",
    "max_batch_size: -3", 'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]',
    'output [ { name: "y" data_type: TYPE_FP32 dims: [ -1, 0 ] reshape: { shape: [ 2 ] } } ]',
    "dynamic_batching { preferred_batch_size: [ 0, 99 ] priority_levels: 2 default_priority_level: 7 }",
    "instance_group [ { count: -1 kind: KIND_GPU gpus: [ 9 ] } ]", "version_policy: { specific: { versions: [ 3 ] } }",
    'ensemble_scheduling { step [ { model_name: "m" model_version: 4 input_map { key: "a" value: "b" } } ] }',
    "sequence_batching { control_input [ { name: \"x\" control [ { kind: CONTROL_SEQUENCE_START } ] } ] }",
    "}", "{", 'name: "', "max_batch_size: 99999999999999999999",
])  # fmt: skip


@SETTINGS
@given(st.lists(CONFIG_LINES, max_size=8), st.booleans())
def test_any_model_config_is_reported_not_raised(tmp_path_factory: object, lines: list[str], version: bool) -> None:
    root = Path(str(tmp_path_factory.mktemp("repo")))  # type: ignore[attr-defined]
    (root / "m").mkdir()
    (root / "m" / "config.pbtxt").write_text("\n".join(lines))
    if version:
        (root / "m" / "1").mkdir()
        (root / "m" / "1" / "model.py").write_text("")
    report = validate_repository(root, default_model="m", gpus_per_instance=1)
    assert all(p.message and p.file is not None for p in report.problems)
