"""Honest reviews: every class of plan change that weakens a protection, generated many times over (hypothesis)
as plan documents in the shape `terraform show -json` writes (tests/review_plans.py), is "needs attention" with
the attribute's old -> new values; changes that strengthen the same protections are not. The same classes in
real Terraform plans are in tests/test_review.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.review_plans import Edit, base_document, entry, put, review_of, with_change
from tritonform.review.model import EnvironmentReview, Verdict
from tritonform.review.render import markdown, plain

pytestmark = pytest.mark.config
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
ROUTING = ("deployment_config", 0, "blue_green_update_policy", 0, "traffic_routing_configuration", 0)
ALARMS = ("deployment_config", 0, "auto_rollback_configuration", 0, "alarms")
TRACKING = ("target_tracking_scaling_policy_configuration", 0)


def shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)


def assert_weakened(review: EnvironmentReview, path: str, old: Any, new: Any, *, certain: bool = True) -> None:
    """Needs attention, names the attribute with both values, in the model and in both renderings."""
    assert review.verdict is Verdict.NEEDS_ATTENTION, review.reasons
    found = [w for w in review.weakenings if w.attribute.path == path]
    assert found, (path, review.weakenings)
    assert (found[0].attribute.old, found[0].attribute.new, found[0].certain) == (shown(old), shown(new), certain)
    assert f"`{path}`: `{shown(old)}` -> `{shown(new)}`" in markdown([review])
    assert f"{path}: {shown(old)} -> {shown(new)}" in plain([review])
    assert "in-place changes only" not in markdown([review])


@EXAMPLES
@given(st.sets(st.sampled_from(FLAGS), min_size=1), st.sampled_from([False, None]))
def test_turning_off_the_public_access_block(flags: set[str], off: bool | None) -> None:
    review = review_of(
        with_change("aws_s3_bucket_public_access_block", lambda after: after.update(dict.fromkeys(flags, off)))
    )

    for flag in flags:
        assert_weakened(review, flag, True, off)
    assert {w.attribute.path for w in review.weakenings} == flags


@EXAMPLES
@given(st.sampled_from(["Suspended", "Disabled"]))
def test_suspending_versioning(status: str) -> None:
    review = review_of(with_change("aws_s3_bucket_versioning",
                                   lambda after: put(after, ("versioning_configuration", 0, "status"), status)))  # fmt: skip

    assert_weakened(review, "versioning_configuration[0].status", "Enabled", status)


SSE = ("rule", 0, "apply_server_side_encryption_by_default", 0)


@EXAMPLES
@given(st.sampled_from(["AES256", "aws:kms"]), st.sampled_from(["", None]), st.sampled_from([False, None, True]))
def test_downgrading_encryption(algorithm: str, key: str | None, bucket_key: bool | None) -> None:
    def downgrade(after: dict[str, Any]) -> None:
        put(after, (*SSE, "sse_algorithm"), algorithm)
        put(after, (*SSE, "kms_master_key_id"), key)
        put(after, ("rule", 0, "bucket_key_enabled"), bucket_key)

    review = review_of(with_change("aws_s3_bucket_server_side_encryption_configuration", downgrade))

    old_key = entry(base_document(), "aws_s3_bucket_server_side_encryption_configuration")["change"]["before"]
    assert_weakened(review, "rule[0].apply_server_side_encryption_by_default[0].kms_master_key_id",
                    old_key["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"], key)  # fmt: skip
    if algorithm == "AES256":
        assert_weakened(review, "rule[0].apply_server_side_encryption_by_default[0].sse_algorithm", "aws:kms", "AES256")
    if bucket_key is not True:
        assert_weakened(review, "rule[0].bucket_key_enabled", True, bucket_key)


@st.composite
def alarm_weakenings(draw: st.DrawFn) -> tuple[dict[str, Any], str, Any, Any]:
    """A rollback alarm's starting state, and one change that makes it fire later or never."""
    periods = draw(st.integers(2, 10))
    start: dict[str, Any] = {"evaluation_periods": periods, "datapoints_to_alarm": draw(st.integers(1, periods - 1)),
             "threshold": draw(st.integers(1, 1000)), "period": draw(st.sampled_from([10, 30, 60, 300])),
             "comparison_operator": "GreaterThanOrEqualToThreshold", "treat_missing_data": "breaching"}  # fmt: skip
    weaker = draw(st.sampled_from([
        ("threshold", draw(st.integers(start["threshold"] + 1, 10**9))),
        ("datapoints_to_alarm", draw(st.integers(start["datapoints_to_alarm"] + 1, periods))),
        ("period", draw(st.sampled_from([p for p in (60, 300, 900, 3600) if p > start["period"]]))),
        ("comparison_operator", draw(st.sampled_from(["GreaterThanThreshold", "LessThanThreshold"]))),
        ("treat_missing_data", draw(st.sampled_from(["notBreaching", "missing", "ignore"]))),
        ("evaluation_periods", draw(st.integers(start["datapoints_to_alarm"], periods - 1))),
    ]))  # fmt: skip
    return start, weaker[0], start[weaker[0]], weaker[1]


@EXAMPLES
@given(alarm_weakenings())
def test_an_alarm_that_fires_later(case: tuple[dict[str, Any], str, Any, Any]) -> None:
    start, attribute, old, new = case

    review = review_of(with_change("aws_cloudwatch_metric_alarm", lambda after: after.update({attribute: new}),
                                   before=lambda before: before.update(start)))  # fmt: skip

    assert_weakened(review, attribute, old, new)
    alarm = next(a for a in review.alarm_changes if a.action == "update")
    assert any(a.path == attribute and a.new == shown(new) for a in alarm.attributes)


CANARY = {"type": "CANARY", "canary_size": [{"type": "CAPACITY_PERCENT", "value": 10}], "linear_step_size": [],
          "wait_interval_in_seconds": 600}  # fmt: skip


def _canary_policy(before: dict[str, Any]) -> None:
    put(before, ROUTING, dict(CANARY))
    put(before, ("deployment_config", 0, "blue_green_update_policy", 0, "termination_wait_in_seconds"), 600)


@st.composite
def rollout_weakenings(draw: st.DrawFn) -> tuple[str, Edit, Any, Any]:
    policy = "deployment_config[0].blue_green_update_policy[0]."
    routing = policy + "traffic_routing_configuration[0]."
    kind = draw(st.sampled_from(["all-at-once", "canary", "bake", "termination", "alarms"]))
    if kind == "all-at-once":
        return (
            routing + "type",
            lambda a: put(a, ROUTING, {**CANARY, "type": "ALL_AT_ONCE", "canary_size": []}),
            "CANARY",
            "ALL_AT_ONCE",
        )
    if kind == "canary":
        size = draw(st.integers(11, 100))
        return routing + "canary_size[0].value", lambda a: put(a, (*ROUTING, "canary_size", 0, "value"), size), 10, size
    if kind == "bake":
        wait = draw(st.integers(0, 599))
        return (
            routing + "wait_interval_in_seconds",
            lambda a: put(a, (*ROUTING, "wait_interval_in_seconds"), wait),
            600,
            wait,
        )
    if kind == "termination":
        wait = draw(st.integers(0, 599))
        path = ("deployment_config", 0, "blue_green_update_policy", 0, "termination_wait_in_seconds")
        return policy + "termination_wait_in_seconds", lambda a: put(a, path, wait), 600, wait
    kept = draw(st.sampled_from([[], [0], [1]]))
    before = [
        {"alarm_name": "text-embedder-dev-rollback-5xx-errors"},
        {"alarm_name": "text-embedder-dev-rollback-model-errors"},
    ]
    after = [before[i] for i in kept]
    return "deployment_config[0].auto_rollback_configuration[0].alarms", lambda a: put(a, ALARMS, after), before, after  # fmt: skip


@EXAMPLES
@given(rollout_weakenings())
def test_weakening_the_deployment_config(case: tuple[str, Edit, Any, Any]) -> None:
    path, weaken, old, new = case

    review = review_of(with_change("aws_sagemaker_endpoint", weaken, before=_canary_policy))

    assert_weakened(review, path, old, new)


def test_dropping_the_deployment_config_is_a_weakening_not_a_policy_change() -> None:
    review = review_of(with_change("aws_sagemaker_endpoint", lambda a: a.update(deployment_config=[])))

    assert review.verdict is Verdict.NEEDS_ATTENTION
    assert any("updates go all at once, unbaked, without rollback" in w.why for w in review.weakenings)
    assert any("stops watching" in w.why for w in review.weakenings)


@st.composite
def autoscaling_weakenings(draw: st.DrawFn) -> tuple[str, str, Edit, Edit, Any, Any]:
    """A wider or slower autoscaling setting: (resource type, path, before edit, after edit, old, new)."""
    low, high = draw(st.integers(2, 10)), draw(st.integers(11, 50))
    kind = draw(st.sampled_from(["min", "max", "target", "scale-in", "scale-out", "disable-scale-in"]))
    target = "aws_appautoscaling_target"

    def bounds(values: dict[str, Any]) -> None:
        values.update(min_capacity=low, max_capacity=high)

    if kind == "min":
        new = draw(st.integers(1, low - 1))
        return target, "min_capacity", bounds, lambda a: a.update(min_capacity=new), low, new
    if kind == "max":
        new = draw(st.integers(high + 1, 100))
        return target, "max_capacity", bounds, lambda a: a.update(max_capacity=new), high, new
    setting, start, new = {
        "target": ("target_value", 200, draw(st.integers(201, 100_000))),
        "scale-in": ("scale_in_cooldown", 300, draw(st.integers(0, 299))),
        "scale-out": ("scale_out_cooldown", 120, draw(st.integers(121, 3600))),
        "disable-scale-in": ("disable_scale_in", True, False),
    }[kind]
    return ("aws_appautoscaling_policy", f"target_tracking_scaling_policy_configuration[0].{setting}",
            lambda b: put(b, (*TRACKING, setting), start), lambda a: put(a, (*TRACKING, setting), new), start, new)  # fmt: skip


@EXAMPLES
@given(autoscaling_weakenings())
def test_widening_or_slowing_autoscaling(case: tuple[str, str, Edit, Edit, Any, Any]) -> None:
    resource_type, path, start, weaken, old, new = case

    review = review_of(with_change(resource_type, weaken, before=start))

    assert_weakened(review, path, old, new)


@EXAMPLES
@given(st.sampled_from(["rotation", "window", "disabled"]), st.integers(7, 29))
def test_weakening_the_kms_key(kind: str, window: int) -> None:
    attribute, new = {"rotation": ("enable_key_rotation", False), "window": ("deletion_window_in_days", window),
                      "disabled": ("is_enabled", False)}[kind]  # fmt: skip
    old = entry(base_document(), "aws_kms_key")["change"]["before"][attribute]

    review = review_of(with_change("aws_kms_key", lambda after: after.update({attribute: new})))

    assert_weakened(review, attribute, old, new)


@EXAMPLES
@given(st.sampled_from(["isolation", "vpc", "volume-key"]))
def test_leaving_isolation_the_vpc_or_encrypted_storage(kind: str) -> None:
    subnets = ["subnet-0123abcd"]
    resource_type, path, start, weaken, old, new = {
        "isolation": ("aws_sagemaker_model", "enable_network_isolation",
                      lambda b: b.update(enable_network_isolation=True),
                      lambda a: a.update(enable_network_isolation=False), True, False),
        "vpc": ("aws_sagemaker_model", "vpc_config[0].subnets",
                lambda b: b.update(vpc_config=[{"security_group_ids": ["sg-0123abcd"], "subnets": subnets}]),
                lambda a: a.update(vpc_config=[]), subnets, None),
        "volume-key": ("aws_sagemaker_endpoint_configuration", "kms_key_arn",
                       lambda b: b.update(kms_key_arn="arn:aws:kms:us-east-1:111111111111:key/k"),
                       lambda a: a.update(kms_key_arn=""), "arn:aws:kms:us-east-1:111111111111:key/k", ""),
    }[kind]  # fmt: skip

    review = review_of(with_change(resource_type, weaken, before=start))

    assert_weakened(review, path, old, new)


ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:*", "iam:PassRole", "kms:Encrypt", "sagemaker:*", "*"]


@EXAMPLES
@given(
    st.sampled_from(ACTIONS),
    st.sampled_from(["*", "arn:aws:s3:::other-bucket/*", "arn:aws:s3:::acme-tritonform-dev-artifacts/*"]),
)
def test_an_iam_policy_that_grants_more(action: str, resource: str) -> None:
    def grow(after: dict[str, Any]) -> None:
        policy = json.loads(after["policy"])
        policy["Statement"].append({"Effect": "Allow", "Action": action, "Resource": resource})
        after["policy"] = json.dumps(policy)

    review = review_of(with_change("aws_iam_role_policy", grow))

    (weakening,) = [w for w in review.weakenings if w.address.startswith("aws_iam_role_policy.")]
    assert weakening.certain and f"{action} on {resource}" in weakening.why
    assert f"allows 1 grant(s) it did not: {action} on {resource}" in markdown([review])


@EXAMPLES
@given(st.sampled_from(["aws_s3_bucket_policy", "aws_iam_role_policy"]), st.data())
def test_a_policy_that_denies_less_or_allows_less(resource_type: str, data: st.DataObject) -> None:
    def drop_one(after: dict[str, Any]) -> None:
        policy = json.loads(after["policy"])
        policy["Statement"].pop(data.draw(st.integers(0, len(policy["Statement"]) - 1)))
        after["policy"] = json.dumps(policy)

    review = review_of(with_change(resource_type, drop_one))

    weakened = [w for w in review.weakenings if w.address.startswith(resource_type + ".")]
    assert bool(weakened) is (resource_type == "aws_s3_bucket_policy")  # a Deny dropped; an Allow dropped is less
    if weakened:
        assert weakened[0].why.startswith("no longer denies 2: s3:* on arn:aws:s3:::acme-tritonform-dev-artifacts")


STRONGER = [
    ("aws_cloudwatch_metric_alarm", lambda a: a.update(threshold=1, datapoints_to_alarm=1)),
    ("aws_sagemaker_endpoint", lambda a: put(a, (*ROUTING, "wait_interval_in_seconds"), 900)),
    ("aws_appautoscaling_target", lambda a: a.update(max_capacity=1)),
    ("aws_appautoscaling_policy", lambda a: put(a, (*TRACKING, "scale_in_cooldown"), 900)),
    ("aws_s3_bucket_versioning", lambda a: put(a, ("versioning_configuration", 0, "mfa_delete"), "Enabled")),
    ("aws_s3_bucket_server_side_encryption_configuration", lambda a: put(a, (*SSE, "sse_algorithm"), "aws:kms:dsse")),
]  # fmt: skip


@pytest.mark.parametrize(("resource_type", "strengthen"), STRONGER, ids=[t for t, _ in STRONGER])
def test_a_stronger_protection_is_safe_with_its_values(resource_type: str, strengthen: Edit) -> None:
    review = review_of(with_change(resource_type, strengthen))

    assert review.verdict is Verdict.SAFE, review.reasons
    assert review.weakenings == ()
    assert review.reasons == ["in-place changes only; no checked protection weakened"]
    (change,) = review.changes
    assert change.attributes and all(" -> " not in a.old for a in change.attributes)
    assert f"{change.attributes[0].path}: {change.attributes[0].old} -> {change.attributes[0].new}" in plain([review])


def test_a_sensitive_value_is_masked_but_still_judged() -> None:
    document = with_change("aws_s3_bucket_public_access_block", lambda a: a.update(block_public_acls=False))
    change = entry(document, "aws_s3_bucket_public_access_block")["change"]
    change["before_sensitive"] = change["after_sensitive"] = {"block_public_acls": True}

    review = review_of(document)

    (weakening,) = review.weakenings
    assert (weakening.attribute.old, weakening.attribute.new) == ("(sensitive value)", "(sensitive value)")
    assert "true" not in markdown([review]).split("block_public_acls")[1].split("\n")[0]


def test_a_protection_known_only_after_apply_cannot_be_called_safe() -> None:
    def unknown_key(after: dict[str, Any]) -> None:
        put(after, (*SSE, "kms_master_key_id"), None)

    document = with_change("aws_s3_bucket_server_side_encryption_configuration", unknown_key)
    entry(document, "aws_s3_bucket_server_side_encryption_configuration")["change"]["after_unknown"] = {
        "rule": [{"apply_server_side_encryption_by_default": [{"kms_master_key_id": True}]}]}  # fmt: skip

    review = review_of(document)

    (weakening,) = review.weakenings
    assert (weakening.certain, weakening.attribute.new) == (False, "(known after apply)")
    assert "**check** bucket encryption" in markdown([review])


@EXAMPLES
@given(st.sampled_from([["delete"], ["delete", "create"], ["create", "delete"]]))
def test_a_deleted_endpoint_is_called_deleted(actions: list[str]) -> None:
    document = base_document()
    change = entry(document, "aws_sagemaker_endpoint")["change"]
    change["actions"] = actions
    if actions == ["delete"]:
        change["after"] = None

    review = review_of(document)

    (removal,) = [r for r in review.removals if r.address.startswith("aws_sagemaker_endpoint.")]
    text = markdown([review])
    if actions == ["delete"]:
        assert removal.action == "delete" and "deleted" in (removal.why or "")
        assert "**DELETE** `aws_sagemaker_endpoint." in text
        assert "REPLACE" not in text and "replacing" not in text
    else:
        assert removal.action == "replace" and "replacing the endpoint is downtime" in (removal.why or "")
    assert review.verdict is Verdict.NEEDS_ATTENTION


def test_a_deleted_protection_says_what_goes_with_it() -> None:
    document = base_document()
    entry(document, "aws_s3_bucket_public_access_block")["change"].update(actions=["delete"], after=None)

    review = review_of(document)

    (removal,) = review.removals
    assert removal.why == "the bucket's public access block goes with it"
    assert "is destroyed: the bucket's public access block goes with it" in review.reasons[0]


def test_canary_to_linear_is_a_policy_to_check_not_called_weaker_or_safe() -> None:
    linear = {
        **CANARY,
        "type": "LINEAR",
        "canary_size": [],
        "linear_step_size": [{"type": "CAPACITY_PERCENT", "value": 10}],
    }

    review = review_of(with_change("aws_sagemaker_endpoint", lambda a: put(a, ROUTING, linear), before=_canary_policy))

    (weakening,) = [w for w in review.weakenings if w.attribute.path.endswith("traffic_routing_configuration[0].type")]
    assert (weakening.certain, weakening.why) == (False, "canary -> linear: check the new steps")
    assert review.verdict is Verdict.NEEDS_ATTENTION
