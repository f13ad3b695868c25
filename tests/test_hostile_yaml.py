"""Hostile YAML: alias bombs, documents that contain themselves, and deep nesting are refused with the file
and line, in bounded memory, before anything walks the expanded document (hypothesis generates the shapes)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CliRun
from tritonform.documents import MAX_ALIAS_EXPANSION, MAX_NESTING, read_yaml
from tritonform.errors import UserError

pytestmark = pytest.mark.config

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MEMORY_BUDGET_BYTES = 64 * 1024 * 1024


def _alias_bomb(levels: int, fan_out: int) -> str:
    """`levels` anchors, each a list of `fan_out` aliases of the one before: fan_out**levels values."""
    lines = [f"bomb0: &bomb0 [{', '.join(['lol'] * fan_out)}]"]
    lines += [f"bomb{i}: &bomb{i} [{', '.join([f'*bomb{i - 1}'] * fan_out)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _expansion(levels: int, fan_out: int) -> int:
    """Values an alias repeats when the bomb is walked as a tree: every visit beyond the first of a node."""
    tree_size = 1 + fan_out  # bomb0 and its scalars
    visits = tree_size
    for _ in range(1, levels):
        tree_size = 1 + fan_out * tree_size
        visits += tree_size
    distinct = levels + fan_out  # the anchored lists and bomb0's scalars
    return visits - distinct


def _read_within_budget(path: Path) -> tuple[UserError | None, int]:
    tracemalloc.start()
    try:
        read_yaml(path)
        error = None
    except UserError as err:
        error = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


@SETTINGS
@given(levels=st.integers(1, 12), fan_out=st.integers(1, 12))
def test_alias_bombs_are_refused_in_bounded_memory(tmp_path: Path, levels: int, fan_out: int) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("name: dev\n" + _alias_bomb(levels, fan_out), encoding="utf-8")
    error, peak = _read_within_budget(path)
    assert peak < MEMORY_BUDGET_BYTES
    if _expansion(levels, fan_out) > MAX_ALIAS_EXPANSION:
        assert error is not None, "an alias bomb was read"
        (problem,) = error.problems
        assert problem.file == path and problem.line is not None
        assert "alias" in problem.message
    else:
        assert error is None, error


SELF_REFERENCES = [
    "x: &a [*a]",
    "x: &a {inner: *a}",
    "x: &a\n  inner:\n    - deeper: *a",
    "x: &a [1, [2, [3, *a]]]",
    "x: &a {<<: *a}",
]


@pytest.mark.parametrize("document", SELF_REFERENCES)
def test_a_document_that_contains_itself_is_refused_with_its_line(tmp_path: Path, document: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(f"kind: canary\n{document}\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        read_yaml(path)
    (problem,) = caught.value.problems
    assert problem.line == 2
    assert "contains it" in problem.message


@SETTINGS
@given(depth=st.integers(1, 20_000), style=st.sampled_from(["flow-list", "flow-map", "through-alias"]))
def test_nesting_is_bounded_whatever_its_depth(tmp_path: Path, depth: int, style: str) -> None:
    if style == "flow-list":
        text = "a: " + "[" * depth + "]" * depth
    elif style == "flow-map":
        text = "a: " + "{k: " * depth + "1" + "}" * depth
    else:  # an anchor just inside the limit, nested again through an alias
        inner = min(depth, MAX_NESTING - 1)
        text = f"a: &deep {'[' * inner}{']' * inner}\nb: {'[' * depth}*deep{']' * depth}"
    path = tmp_path / "deep.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    levels = {"flow-list": depth, "flow-map": depth, "through-alias": 1 + depth + min(depth, MAX_NESTING - 1)}[style]
    error, peak = _read_within_budget(path)
    assert peak < MEMORY_BUDGET_BYTES
    if levels > MAX_NESTING:
        assert error is not None and "levels deep" in error.problems[0].message
        assert error.problems[0].line is not None
    else:
        assert error is None, error


def test_a_few_shared_values_through_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("defaults: &defaults {period_s: 60, datapoints: 2}\nalarm: {<<: *defaults, threshold: 3}\n")
    data, _ = read_yaml(path)
    assert data == {
        "defaults": {"period_s": 60, "datapoints": 2},
        "alarm": {"period_s": 60, "datapoints": 2, "threshold": 3},
    }


def test_check_refuses_an_alias_bomb_in_an_environment_file(project: Path, run_cli: Callable[..., CliRun]) -> None:
    environment = project / "environments" / "dev.yaml"
    environment.write_text(environment.read_text() + _alias_bomb(9, 9), encoding="utf-8")
    result = run_cli("--root", str(project), "check")
    assert result.code == 2
    assert "environments/dev.yaml:" in result.err and "alias bomb" in result.err
    assert "Traceback" not in result.err


def test_policy_check_refuses_a_policy_that_contains_itself(project: Path, run_cli: Callable[..., CliRun]) -> None:
    policy = project / "rollout_policies" / "hostile.yaml"
    policy.write_text("kind: canary\ncanary: &c {percent: 10, bake: *c}\n", encoding="utf-8")
    result = run_cli("--root", str(project), "policy", "check", str(policy))
    assert result.code in (1, 2)
    assert "hostile.yaml:2" in result.err + result.out and "contains it" in result.err + result.out
    assert "Traceback" not in result.err
