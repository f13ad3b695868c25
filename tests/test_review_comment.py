"""The review's comment and command without Terraform: bad and hostile input (exit 2, never a traceback), one
plan per environment, the base checkout, security findings, the verdict and the two renderers, and a comment
that stays within GitHub's limit while every environment keeps its verdict and most important lines."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO_ROOT, CliRun
from tests.review_plans import base_document, entry
from tritonform.review import plan as plan_module
from tritonform.review.model import (
    AttributeChange,
    EnvironmentReview,
    Finding,
    PlannedChange,
    Removal,
    RolloutSummary,
    Verdict,
    VersionChange,
    Weakening,
)
from tritonform.review.plan import load_plan
from tritonform.review.render import GITHUB_COMMENT_LIMIT, markdown, plain

pytestmark = pytest.mark.config


# --- bad input and size limits (no Terraform needed) -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [("{", "not valid JSON"), ('{"resource_changes": []}', "no format_version"),
     ('{"format_version": "1.2", "resource_changes": [{"address": "x"}]}', "lacks 'change'")],
    ids=["malformed", "not a plan", "damaged change"],
)  # fmt: skip
def test_bad_plans_are_refused_with_exit_2(
    tmp_path: Path, run_cli: Callable[..., CliRun], content: str, words: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={path}")

    assert result.code == 2
    assert words in result.err and "Traceback" not in result.err


def test_missing_plan_and_unknown_stack_exit_2(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    missing = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={tmp_path / 'none.json'}")
    unknown = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"qa={tmp_path / 'none.json'}")
    malformed = run_cli("--root", str(REPO_ROOT), "review", "--plan", "dev")

    assert (missing.code, unknown.code, malformed.code) == (2, 2, 2)
    assert "no such plan file" in missing.err
    assert "no environment 'qa'" in unknown.err
    assert "expected ENV=FILE" in malformed.err


def test_a_huge_review_is_truncated_within_githubs_limit() -> None:
    changes = tuple(PlannedChange("update", f"aws_thing.resource_{i:06d}") for i in range(20_000))
    review = EnvironmentReview("prod", "prod", VersionChange("m", "2", "changed", "1"), changes=changes)

    text = markdown([review])

    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "left out" in text or "Truncated" in text
    assert plain([review]).startswith("prod (prod): safe")


def test_plan_json_fixture_shape_matches_terraform(tmp_path: Path) -> None:
    """load_plan reads the structure Terraform documents for `show -json` (a minimal hand-made plan)."""
    plan = {"format_version": "1.2", "resource_changes": [
        {"address": "aws_sagemaker_endpoint.e", "type": "aws_sagemaker_endpoint",
         "change": {"actions": ["delete", "create"], "before": {"name": "a"}, "after": {"name": "b"}}}]}  # fmt: skip
    path = tmp_path / "p.json"
    path.write_text(json.dumps(plan))

    loaded = load_plan("s", path)

    assert loaded.changes[0].action == "replace" and not loaded.changes[0].create_before_destroy
    assert loaded.changes[0].attribute_changes() == (AttributeChange("name", '"a"', '"b"'),)


def test_security_findings_are_shown_per_environment(tmp_path: Path, run_cli: Callable[..., CliRun]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format_version": "1.2", "resource_changes": [
        {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "change": {"actions": ["update"],
         "before": {"force_destroy": False}, "after": {"force_destroy": True}}}]}))  # fmt: skip
    report = tmp_path / "checkov.json"
    report.write_text(json.dumps({"check_type": "terraform_json", "results": {"failed_checks": [
        {"check_id": "CKV_AWS_98", "check_name": "Ensure endpoint configuration uses KMS",
         "resource": "aws_sagemaker_endpoint_configuration.c",
         "file_path": "/cdktf.out/stacks/tritonform-dev/cdk.tf.json"},
        {"check_id": "CKV_AWS_1", "check_name": "other env", "resource": "r",
         "file_path": "/cdktf.out/stacks/tritonform-prod/cdk.tf.json"}]}}))  # fmt: skip

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={plan}", "--findings", str(report))

    assert result.code == 0, result.err
    assert "**Security findings**" in result.out
    assert "CKV_AWS_98: Ensure endpoint configuration uses KMS" in result.out
    assert "CKV_AWS_1" not in result.out
    assert "1 security finding(s)" in result.out
    bad = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={plan}", "--findings", str(plan))
    assert bad.code == 2 and "not a checkov JSON report" in bad.err


# --- the verdict and the two renderers, from a review built by hand (no Terraform needed) -------------------

ALARM_ADDRESS = "aws_cloudwatch_metric_alarm.errors"


def _review(**fields: Any) -> EnvironmentReview:
    return EnvironmentReview(
        "prod", "prod", VersionChange("m", "v2", "changed", "v1", sha256="cd" * 32, attached_by="bob",
                                      commit="0123456789abcdef", reason="retrained"),
        changes=(PlannedChange("update", "aws_sagemaker_endpoint.e"),), **fields,
    )  # fmt: skip


def test_the_verdict_follows_the_concerns_not_the_text() -> None:
    assert _review().verdict is Verdict.SAFE
    assert _review().reasons == [
        "new version through the rollout policy, nothing destroyed; no checked protection weakened"
    ]
    assert _review(concerns=("x is replaced",)).verdict is Verdict.NEEDS_ATTENTION
    unchanged = EnvironmentReview("prod", "prod", VersionChange("m -> n", "v1", "unchanged", "v1"),
                                  changes=(PlannedChange("update", "aws_s3_bucket.b"),))  # fmt: skip
    assert unchanged.reasons == [
        "in-place changes only; no checked protection weakened"
    ]  # an arrow in a model name is not a new version
    assert EnvironmentReview("prod", "prod", unchanged.version).verdict is Verdict.NO_CHANGE


def test_markdown_and_plain_text_say_the_same_with_and_without_markup() -> None:
    review = _review(
        concerns=(f"{ALARM_ADDRESS} is destroyed", "1 security finding(s)"),
        removals=(Removal("delete", ALARM_ADDRESS),),
        rollout=RolloutSummary("canary", "canary", 900, 2, ("00:00 shift 10%", "15:00 shift the rest")),
        findings=(Finding("CKV_AWS_98", "Ensure KMS", "aws_sagemaker_endpoint_configuration.c"),),
    )

    text, lines = markdown([review]), plain([review]).splitlines()

    assert f"- **DELETE** `{ALARM_ADDRESS}`" in text
    assert "- model version: m v1 -> **v2** (sha256 `cdcdcdcdcdcdcdcd...`, attached by bob from `0123456789ab`" in text
    assert "```\n00:00 shift 10%\n15:00 shift the rest\n```" in text
    assert "- CKV_AWS_98: Ensure KMS (`aws_sagemaker_endpoint_configuration.c`)" in text
    assert lines[0] == f"prod (prod): needs attention: {ALARM_ADDRESS} is destroyed; 1 security finding(s)"
    assert f"  ! DELETE {ALARM_ADDRESS}" in lines
    assert (
        "  version  m v1 -> v2 (sha256 cdcdcdcdcdcdcdcd..., attached by bob from 0123456789ab: retrained; where it "
        "was packaged from is not recorded)"
    ) in lines
    assert lines[3:6] == [
        "  Rollout:",
        "    policy canary (canary), up to 15:00, 2 rollback alarm(s)",
        "    00:00 shift 10%",
    ]
    assert "    CKV_AWS_98: Ensure KMS (aws_sagemaker_endpoint_configuration.c)" in lines
    assert not any("`" in line or "**" in line for line in lines)
    outside_git = VersionChange("m", "v2", "changed", "v1", sha256="cd" * 32, attached_by="bob", reason="retrained")
    assert "attached by bob: retrained; where it was packaged from" in plain(
        [EnvironmentReview("prod", "prod", outside_git)]
    )


# --- one plan per environment, the base, hostile files ----------------------------------------------------


@pytest.fixture
def noop_plan(tmp_path: Path) -> Path:
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(base_document()))
    return path


def test_two_plans_for_one_environment_are_refused(noop_plan: Path, run_cli: Callable[..., CliRun]) -> None:
    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={noop_plan}", "--plan", f"dev={noop_plan}")

    assert result.code == 2 and result.out == ""
    assert "dev already has a plan" in result.err and "one plan per environment" in result.err


def test_a_base_that_is_not_a_checkout_is_an_error(
    noop_plan: Path, tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    for base, words in ((tmp_path / "absent", "directory"), (noop_plan, "directory"),
                        (tmp_path, "no environments/ directory")):  # fmt: skip
        result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={noop_plan}", "--base", str(base))
        assert (result.code, result.out) == (2, ""), base
        assert words in result.err and str(base) in result.err and "Traceback" not in result.err


def test_without_a_base_the_review_says_so(noop_plan: Path, run_cli: Callable[..., CliRun]) -> None:
    document = base_document()
    entry(document, "aws_kms_key")["change"].update(actions=["update"])
    entry(document, "aws_kms_key")["change"]["after"]["enable_key_rotation"] = False
    noop_plan.write_text(json.dumps(document))

    without = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={noop_plan}")
    with_base = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={noop_plan}", "--base", str(REPO_ROOT))

    assert without.code == 0, without.err
    assert "(base not given: the version before is unknown)" in without.out
    assert "new environment" not in without.out
    assert "(unchanged)" in with_base.out
    assert "- **weakens** the KMS key: `aws_kms_key." in without.out
    assert "`enable_key_rotation`: `true` -> `false` (turned off)" in without.out


def _nested(depth: int) -> str:
    return (
        '{"format_version": "1.2", "resource_changes": [{"address": "a", "type": "t", "change": '
        + '{"actions": ["update"], "before": {"x": '
        + "[" * depth
        + "]" * depth
        + "}}}]}"
    )


@pytest.mark.parametrize("depth", [30, 5_000, 200_000], ids=["deep", "past-recursion-limit", "hostile"])
def test_a_deeply_nested_plan_is_reviewed_or_refused_never_a_traceback(
    tmp_path: Path, run_cli: Callable[..., CliRun], depth: int
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(_nested(depth))

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={path}")

    assert "Traceback" not in result.err
    if depth < 100:
        assert result.code == 0, result.err  # walked to a bounded depth, shown cut short
    else:
        assert result.code == 2 and "nested thousands of levels deep" in result.err


def test_a_plan_that_is_too_large_a_directory_or_a_pipe_is_refused(
    tmp_path: Path, run_cli: Callable[..., CliRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_module, "MAX_PLAN_BYTES", 1_000)
    large = tmp_path / "large.json"
    large.write_text(json.dumps({"format_version": "1.2", "pad": "x" * 2_000}))
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # reading it would wait for a writer forever

    for path, words in ((large, "larger than 1,000 bytes"), (tmp_path, "is a directory"), (fifo, "not a regular file")):
        result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={path}")
        assert result.code == 2 and words in result.err, (path, result.err)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [({"actions": "update"}, "resource_changes[0].change.actions", "is not an action list"),
     ({"actions": ["update", "update"]}, "resource_changes[0].change.actions", "is not an action list"),
     ({"actions": ["update"], "before": [1]}, "resource_changes[0].change.before", "must be an object or null")],
    ids=["actions-not-a-list", "unknown-actions", "before-not-an-object"],
)  # fmt: skip
def test_a_damaged_resource_change_names_its_field(
    tmp_path: Path, run_cli: Callable[..., CliRun], change: dict[str, Any], field: str, words: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": "1.2",
                                "resource_changes": [{"address": "a.b", "type": "a", "change": change}]}))  # fmt: skip

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={path}")

    assert result.code == 2
    assert f"{path}: {field}: " in result.err and words in result.err


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, '{"results": []}', '[{"results": {"failed_checks": [1]}}]'],
                         ids=["nested", "results-not-an-object", "check-not-an-object"])  # fmt: skip
def test_a_hostile_findings_report_is_refused(
    noop_plan: Path, tmp_path: Path, run_cli: Callable[..., CliRun], content: str
) -> None:
    report = tmp_path / "checkov.json"
    report.write_text(content)

    result = run_cli("--root", str(REPO_ROOT), "review", "--plan", f"dev={noop_plan}", "--findings", str(report))

    assert result.code == 2 and "Traceback" not in result.err and str(report) in result.err


# --- within GitHub's limit, every environment keeps its verdict and most important lines -------------------


def _weakening(index: int, width: int) -> Weakening:
    return Weakening(f"aws_s3_bucket_public_access_block.b{index}", "the bucket's public access block",
                     AttributeChange("block_public_acls", "true", "false" + "x" * width), "turned off")  # fmt: skip


Sizes = tuple[int, int, int, int, int]
"""One environment's changes, weakenings, removals, value width and reason length."""


def _big_review(number: int, sizes: Sizes) -> EnvironmentReview:
    changes, weakened, removed, width, reason = sizes
    weakenings = tuple(_weakening(i, width) for i in range(weakened))
    removals = tuple(Removal("delete", f"aws_thing.gone{i}") for i in range(removed))
    version = VersionChange("m", f"v{number}b", "changed", f"v{number}a", sha256="ab" * 32, attached_by="bob",
                            reason="r" * reason)  # fmt: skip
    return EnvironmentReview(
        f"env{number}", "prod", version,
        changes=tuple(PlannedChange("update", f"aws_thing.r{number}_{i:06d}", (AttributeChange("a" * 20, "1", "2" * width),))
                      for i in range(changes)),
        concerns=tuple(f"concern {i}" for i in range(weakened + removed)), removals=removals, weakenings=weakenings,
    )  # fmt: skip


SIZES = st.tuples(st.integers(0, 3_000), st.integers(0, 300), st.integers(0, 300), st.integers(0, 3_000),
                  st.integers(0, 2_000))  # fmt: skip


BADGES = {Verdict.NO_CHANGE: "⚪ no change", Verdict.SAFE: "🟢 safe", Verdict.NEEDS_ATTENTION: "🔴 needs attention"}


# Each example is a comment of megabytes; shrinking one takes minutes and the failing sizes are printed anyway.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # fmt: skip
@given(st.lists(SIZES, min_size=1, max_size=25))
def test_a_comment_too_long_for_github_keeps_every_verdict_and_the_first_lines(sizes: list[Sizes]) -> None:
    reviews = [_big_review(number, each) for number, each in enumerate(sizes)]

    text = markdown(reviews)

    assert len(text) <= GITHUB_COMMENT_LIMIT
    for review in reviews:
        badge = BADGES[review.verdict]
        assert f"- **{review.environment}** (prod): {badge}" in text
        section = text.split(f"### {review.environment}: {badge}\n", 1)[1].split("\n### ")[0]
        assert f"- model version: m {review.version.base_version_id} -> **{review.version.version_id}**" in section
        if review.removals:
            assert f"- **DELETE** `{review.removals[0].address}`" in section
        if review.weakenings:
            assert f"- **weakens** the bucket's public access block: `{review.weakenings[0].address}`" in section
    if len(markdown(reviews, limit=10**9)) > GITHUB_COMMENT_LIMIT:
        assert "_Shortened to fit GitHub's 65,536-character limit" in text


def test_a_comment_that_fits_is_not_shortened() -> None:
    review = EnvironmentReview("dev", "dev", VersionChange("m", "v1", "unchanged", "v1"),
                               changes=(PlannedChange("update", "aws_s3_bucket.b", (AttributeChange("x", "1", "2"),)),))  # fmt: skip

    text = markdown([review])

    assert "Shortened" not in text and "update   aws_s3_bucket.b\n         x: 1 -> 2" in text
