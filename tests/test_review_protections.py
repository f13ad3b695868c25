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


TWO_ALARMS = [{"alarm_name": "text-embedder-dev-rollback-5xx-rate"},
              {"alarm_name": "text-embedder-dev-rollback-model-latency-p99"}]  # fmt: skip


def _canary_policy(before: dict[str, Any]) -> None:
    put(before, ROUTING, dict(CANARY))
    put(before, ("deployment_config", 0, "blue_green_update_policy", 0, "termination_wait_in_seconds"), 600)
    put(before, ALARMS, [dict(alarm) for alarm in TWO_ALARMS])


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
    after = [TWO_ALARMS[i] for i in kept]
    return "deployment_config[0].auto_rollback_configuration[0].alarms", lambda a: put(a, ALARMS, after), TWO_ALARMS, after  # fmt: skip


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


# --- metric math rollback alarms: each judged field of metric_query (blocks matched by id) -----------------

ALARM = "aws_cloudwatch_metric_alarm"
GUARDED_RATE = "IF(invocations >= 40, 100 * FILL(errors, 0) / invocations, 0)"
GUARDED_LATENCY = "IF(invocations >= 40, latency / 1000, 0)"


def running_configuration() -> str:
    """The configuration the base plan's endpoint runs (and, unchanged, runs after it)."""
    name: str = entry(base_document(), "aws_sagemaker_endpoint")["change"]["after"]["endpoint_config_name"]
    return name


def query(values: dict[str, Any], query_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(q for q in values["metric_query"] if q["id"] == query_id)
    return found


def metric(values: dict[str, Any], query_id: str) -> dict[str, Any]:
    found: dict[str, Any] = query(values, query_id)["metric"][0]
    return found


def _latency_alarm(before: dict[str, Any]) -> None:
    """dev's one alarm made a p99 latency alarm, as the built-in model-latency-p99 alarm is declared."""
    latency = query(before, "errors")
    latency["id"] = "latency"
    latency["metric"][0].update(metric_name="ModelLatency", stat="p99")
    query(before, "judged").update(expression=GUARDED_LATENCY, label="latency-p99")
    before.update(comparison_operator="GreaterThanThreshold", threshold=500)


@st.composite
def metric_query_weakenings(draw: st.DrawFn) -> tuple[Edit | None, Edit, str, Any, Any, bool]:
    """(before edit, after edit, path, old, new, certain): one change inside metric_query that makes the alarm
    fire later or watch the wrong fleet; certain False where it cannot be judged mechanically."""
    kind = draw(st.sampled_from(["guard", "rewritten", "period", "percentile", "fleet-dropped", "fleet-other",
                                 "endpoint-dimension"]))  # fmt: skip
    watched = draw(st.sampled_from(["errors", "invocations"]))
    configuration = running_configuration()
    if kind == "guard":
        minimum = draw(st.integers(41, 10**6))
        raised = GUARDED_RATE.replace(">= 40", f">= {minimum}")
        return (None, lambda a: query(a, "judged").update(expression=raised),
                "metric_query[id=judged].expression", GUARDED_RATE, raised, True)  # fmt: skip
    if kind == "rewritten":
        rewritten = draw(st.sampled_from(["100 * errors / invocations", "IF(invocations >= 40, errors, 0)",
                                          "IF(invocations >= 40, 100 * FILL(errors, 0) / invocations / 10, 0)", "0"]))  # fmt: skip
        return (None, lambda a: query(a, "judged").update(expression=rewritten),
                "metric_query[id=judged].expression", GUARDED_RATE, rewritten, False)  # fmt: skip
    if kind == "period":
        period = draw(st.sampled_from([120, 300, 900, 3600]))
        return (None, lambda a: metric(a, watched).update(period=period),
                f"metric_query[id={watched}].metric[0].period", 60, period, True)  # fmt: skip
    if kind == "percentile":
        lower = draw(st.sampled_from(["p50", "p90", "p95", "p98.5"]))
        return (_latency_alarm, lambda a: metric(a, "latency").update(stat=lower),
                "metric_query[id=latency].metric[0].stat", "p99", lower, True)  # fmt: skip
    dimensions = f"metric_query[id={watched}].metric[0].dimensions."
    if kind == "fleet-dropped":
        return (None, lambda a: metric(a, watched)["dimensions"].pop("EndpointConfigName"),
                dimensions + "EndpointConfigName", configuration, None, True)  # fmt: skip
    if kind == "fleet-other":
        other = draw(st.sampled_from(["text-embedder-dev-0123456789ab-00000000", "text-embedder-prod-x-1"]))
        return (None, lambda a: metric(a, watched)["dimensions"].update(EndpointConfigName=other),
                dimensions + "EndpointConfigName", configuration, other, True)  # fmt: skip
    key = draw(st.sampled_from(["EndpointName", "VariantName"]))
    old = {"EndpointName": "text-embedder-dev", "VariantName": "AllTraffic"}[key]
    new = draw(st.sampled_from([None, "elsewhere"]))

    def change_endpoint_dimension(after: dict[str, Any]) -> None:
        dims = metric(after, watched)["dimensions"]
        dims.pop(key) if new is None else dims.update({key: new})

    return None, change_endpoint_dimension, dimensions + key, old, new, True


@EXAMPLES
@given(metric_query_weakenings())
def test_a_metric_math_alarm_that_fires_later_or_watches_the_wrong_fleet(
    case: tuple[Edit | None, Edit, str, Any, Any, bool],
) -> None:
    start, weaken, path, old, new, certain = case

    review = review_of(with_change(ALARM, weaken, before=start))

    assert_weakened(review, path, old, new, certain=certain)
    (weakening,) = [w for w in review.weakenings if w.attribute.path == path]
    assert weakening.protection == "a rollback alarm"
    if not certain:
        assert "changed, not judged" in weakening.why
        assert f"**check** a rollback alarm: `{weakening.address}` `{path}`" in markdown([review])


def test_a_metric_query_removed_or_renamed_is_changed_not_judged() -> None:
    def rename(after: dict[str, Any]) -> None:
        query(after, "errors")["id"] = "failures"
        query(after, "judged")["expression"] = GUARDED_RATE.replace("errors", "failures")

    review = review_of(with_change(ALARM, rename))

    assert review.verdict is Verdict.NEEDS_ATTENTION
    why = {w.attribute.path: (w.certain, w.why) for w in review.weakenings}
    assert why["metric_query[id=errors]"] == (False, "changed, not judged: metric query errors is removed")
    assert why["metric_query[id=failures]"] == (False, "changed, not judged: metric query failures is added")
    assert why["metric_query[id=judged].expression"][0] is False


def _release_of(configuration: str) -> Edit:
    """Every metric of the alarm named with the fleet dimension of `configuration`."""

    def edit(values: dict[str, Any]) -> None:
        for each in values["metric_query"]:
            for one in each["metric"]:
                one["dimensions"]["EndpointConfigName"] = configuration

    return edit


STRONGER_ALARMS = [
    ("guard lowered", None, lambda a: query(a, "judged").update(expression=GUARDED_RATE.replace(">= 40", ">= 10"))),
    ("shorter period", None, lambda a: metric(a, "errors").update(period=30)),
    ("higher percentile", _latency_alarm, lambda a: metric(a, "latency").update(stat="p99.9")),
    ("fewer datapoints", None, lambda a: a.update(datapoints_to_alarm=1)),
    ("more evaluation periods", None, lambda a: a.update(evaluation_periods=5)),
    ("missing data breaches", None, lambda a: a.update(treat_missing_data="breaching")),
    ("the release's fleet", _release_of("text-embedder-dev-0123456789ab-00000000"),
     _release_of(running_configuration())),
    ("the new fleet only", lambda b: [metric(b, i)["dimensions"].pop("EndpointConfigName")
                                      for i in ("errors", "invocations")],
     _release_of(running_configuration())),
    ("label", None, lambda a: query(a, "judged").update(label="renamed")),
]  # fmt: skip


@pytest.mark.parametrize(("start", "strengthen"), [c[1:] for c in STRONGER_ALARMS], ids=[c[0] for c in STRONGER_ALARMS])
def test_a_stronger_or_neutral_metric_math_alarm_is_safe_with_its_values(start: Edit | None, strengthen: Edit) -> None:
    review = review_of(with_change(ALARM, strengthen, before=start))

    assert review.verdict is Verdict.SAFE, review.reasons
    assert review.weakenings == ()
    (alarm,) = review.alarm_changes
    assert alarm.action == "update" and alarm.attributes  # the values are still shown, old -> new
    assert all(f"{a.path}: {a.old} -> {a.new}" in plain([review]) for a in alarm.attributes)


def test_the_fleet_dimension_following_the_release_is_the_normal_release() -> None:
    """The endpoint moves to a new configuration and the alarm's EndpointConfigName follows it: not a
    weakening; the same value left on the old configuration, or set to another one, is."""
    new_configuration = "text-embedder-dev-0123456789ab-00000000"

    def release(document: dict[str, Any], alarm_configuration: str) -> EnvironmentReview:
        with_change("aws_sagemaker_endpoint", lambda a: a.update(endpoint_config_name=new_configuration),
                    document=document)  # fmt: skip
        return review_of(with_change(ALARM, _release_of(alarm_configuration), document=document))

    followed = release(base_document(), new_configuration)
    assert not any(w.protection == "a rollback alarm" for w in followed.weakenings), followed.weakenings

    elsewhere = release(base_document(), "text-embedder-dev-fedcba987654-00000000")
    assert_weakened(elsewhere, "metric_query[id=errors].metric[0].dimensions.EndpointConfigName",
                    running_configuration(), "text-embedder-dev-fedcba987654-00000000")  # fmt: skip
    (left,) = {w.why for w in elsewhere.weakenings if w.attribute.path.endswith("EndpointConfigName")}
    assert new_configuration in left


def test_removing_the_last_rollback_alarm_turns_automatic_rollback_off() -> None:
    """The provider drops the whole auto_rollback_configuration block with the last alarm."""
    review = review_of(with_change("aws_sagemaker_endpoint",
                                   lambda a: put(a, ("deployment_config", 0, "auto_rollback_configuration"), [])))  # fmt: skip

    (weakening,) = [w for w in review.weakenings if w.protection == "the rollback alarms"]
    assert weakening.certain and weakening.attribute.new == "(none)"
    assert weakening.why.startswith("automatic rollback is off: no alarm is watched during updates")
    assert [u.alarm_names for u in review.unwatched_alarms] == [("text-embedder-dev-rollback-5xx-rate",)]
    assert "- no longer watched during rollouts: text-embedder-dev-rollback-5xx-rate" in markdown([review])
    assert review.verdict is Verdict.NEEDS_ATTENTION


# --- retired releases: a model and configuration neither running nor the fallback may go -------------------

CONFIGURATION = "aws_sagemaker_endpoint_configuration"
MODEL = "aws_sagemaker_model"
VERSIONS = st.text("0123456789abcdef", min_size=12, max_size=12)


def _named(version: str) -> str:
    return f"text-embedder-dev-{version}-0333912b"


def _release_entries(document: dict[str, Any], version: str, actions: list[str]) -> list[str]:
    """The model and configuration of another release, as the serving stack declares them (version-keyed
    construct ids, named <endpoint>-<version>-<digest>, tagged with the version), with `actions`."""
    addresses = []
    for resource_type in (MODEL, CONFIGURATION):
        template = entry(document, resource_type)
        values = json.loads(json.dumps(template["change"]["before"]).replace(
            template["change"]["before"]["name"], _named(version)))  # fmt: skip
        values["tags"]["tritonform:version-id"] = values["tags_all"]["tritonform:version-id"] = version
        name = template["name"].split("-")[0] + f"-{version}_0123ABCD"
        added = {**template, "address": f"{resource_type}.{name}", "name": name,
                 "change": {**template["change"], "actions": actions, "before": values,
                            "after": None if actions == ["delete"] else values}}  # fmt: skip
        document["resource_changes"].append(added)
        addresses.append(added["address"])
    return addresses


def _fallback(document: dict[str, Any], name: str | None) -> None:
    document["output_changes"]["fallback_configuration_name"].update(before=name, after=name)


def _endpoint_moves_to(document: dict[str, Any], version: str) -> None:
    with_change("aws_sagemaker_endpoint", lambda a: a.update(endpoint_config_name=_named(version)), document=document)
    _release_entries(document, version, ["create"])


@EXAMPLES
@given(st.lists(VERSIONS, min_size=3, max_size=3, unique=True))
def test_retiring_an_older_fallback_is_expected_and_says_which_version(versions: list[str]) -> None:
    """A normal release after the fallback moved on: the new release's model and configuration are created,
    the fallback's kept, the endpoint updated, and the previous fallback's destroyed."""
    new, fallback, retired = versions
    document = base_document()
    _endpoint_moves_to(document, new)
    _release_entries(document, fallback, ["no-op"])
    _fallback(document, _named(fallback))
    addresses = _release_entries(document, retired, ["delete"])

    review = review_of(document)

    assert review.verdict is Verdict.SAFE, review.reasons
    assert review.removals == ()
    assert {(r.address, r.version_id) for r in review.retirements} == {(a, retired) for a in addresses}
    assert f"retires version {retired}" in review.reasons[0]
    text = markdown([review])
    assert f"- retired: version {retired}'s configuration `{_named(retired)}`" in text
    assert f"retired: version {retired}'s model {_named(retired)}" in plain([review])


@EXAMPLES
@given(st.lists(VERSIONS, min_size=2, max_size=2, unique=True), st.sampled_from(["running", "fallback"]))
def test_destroying_what_runs_now_or_the_fallback_needs_attention(versions: list[str], which: str) -> None:
    """Destroying the configuration the endpoint runs before the update (no fallback kept it: if SageMaker
    rolls back, the endpoint is left on nothing, provider issue 48997) or the declared fallback."""
    new, fallback = versions
    document = base_document()
    running = entry(document, CONFIGURATION)
    if which == "running":  # the release before is not kept: its model and configuration are destroyed
        _fallback(document, None)
        for resource_type in (MODEL, CONFIGURATION):
            entry(document, resource_type)["change"].update(actions=["delete"], after=None)
    else:
        _release_entries(document, fallback, ["delete"])
        _fallback(document, _named(fallback))
    _endpoint_moves_to(document, new)

    review = review_of(document)

    assert review.verdict is Verdict.NEEDS_ATTENTION
    assert review.retirements == ()
    configuration = next(r for r in review.removals if r.address.startswith(CONFIGURATION))
    if which == "running":
        assert configuration.address == running["address"]
        assert "the endpoint runs it now" in (configuration.why or "") and "48997" in (configuration.why or "")
    else:
        assert "it is the declared fallback" in (configuration.why or "")
    assert f"`{configuration.address}`: {configuration.why}" in markdown([review])
    assert any(r.startswith(f"{configuration.address} is destroyed: ") for r in review.reasons)


@EXAMPLES
@given(VERSIONS)
def test_a_destroyed_release_is_not_called_retired_without_the_fallback_output(version: str) -> None:
    """A plan that does not say which configuration is the fallback (a stack from before the output, or
    one known only after apply) cannot show the destroyed one is not it."""
    document = base_document()
    _release_entries(document, version, ["delete"])
    del document["output_changes"]["fallback_configuration_name"]

    review = review_of(document)

    assert review.verdict is Verdict.NEEDS_ATTENTION and review.retirements == ()
    assert any(r.address.endswith(f"-{version}_0123ABCD") for r in review.removals)


def test_a_deleted_endpoint_with_its_configurations_stays_deleted() -> None:
    document = base_document()
    for resource_type in ("aws_sagemaker_endpoint", MODEL, CONFIGURATION):
        entry(document, resource_type)["change"].update(actions=["delete"], after=None)

    review = review_of(document)

    assert review.verdict is Verdict.NEEDS_ATTENTION and review.retirements == ()
    assert review.removals[0].action == "delete" and "deleted" in (review.removals[0].why or "")
    assert review.reasons[0] == "the endpoint is deleted: it stops serving, and nothing replaces it"
