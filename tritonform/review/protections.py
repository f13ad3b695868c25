"""The protections a plan can weaken, in one table: for each resource type and attribute that guards
something, what it guards and how to tell whether a change old -> new weakens it.

A change is judged WEAKENS (the protection is less than it was, with why), UNCHECKED (it cannot be told
before apply, or the change alters what the protection means: a reviewer must look) or not at all
(stronger or neutral). Either verdict makes the review "needs attention". What each attribute does is the
provider's and the AWS API's documentation:
- S3: https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket_public_access_block,
  .../s3_bucket_versioning, .../s3_bucket_server_side_encryption_configuration, .../s3_bucket_policy
- CloudWatch alarms: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
  (datapoints to alarm, evaluation periods, treating missing data); metric math alarms:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html (a query's id,
  expression, return_data and MetricStat), and the dimensions SageMaker publishes during a blue/green update
  ("Auto-Rollback Configuration and Monitoring", SageMaker Developer Guide: EndpointConfigName names the
  new fleet's configuration); their judges are in alarm_queries.py
- SageMaker DeploymentConfig: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeploymentConfig.html
- Application Auto Scaling: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html
- KMS: https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html, key rotation
The blue/green and rolling maximum execution timeouts are not protections: exceeding one fails the update,
and SageMaker keeps the old fleet serving, so neither a longer nor a shorter timeout removes a safeguard.
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonform.review.alarm_queries import NOT_JUDGED, dimension_kept, expression_kept, query_kept, stat_kept
from tritonform.review.judgement import Judge, Judgement, Observed, unchecked, weakens
from tritonform.review.policy_documents import NotAPolicyError, growth
from tritonform.review.table_paths import BY_ID, EACH, EACH_KEY, TypePath
from tritonform.review.values import JsonValue, at, strings

# --- judges ---------------------------------------------------------------------------------------------


def stays_on(seen: Observed) -> Judgement | None:
    """A flag that protects while true: turning it off (false or unset) weakens."""
    return weakens("turned off") if seen.old is True and seen.new is not True else None


def stays_off(seen: Observed) -> Judgement | None:
    """A flag that removes a protection while true (disable_scale_in is the opposite: see stays_on)."""
    return weakens("turned on") if seen.old is not True and seen.new is True else None


def stays_set(why: str) -> Judge:
    def judge(seen: Observed) -> Judgement | None:
        return weakens(why) if _is_set(seen.old) and not _is_set(seen.new) else None

    return judge


def _is_set(value: JsonValue) -> bool:
    return value not in (None, "", [], {})


def ranked(order: tuple[str, ...], what: str) -> Judge:
    """An enumeration from weakest to strongest; a value outside it counts as the weakest. A value that is
    gone with its block is judged where the block is (e.g. the blue/green policy as a whole)."""

    def judge(seen: Observed) -> Judgement | None:
        if seen.old is None or seen.new is None or str(seen.old) not in order:
            return None
        old, new = order.index(str(seen.old)), order.index(str(seen.new)) if str(seen.new) in order else -1
        return weakens(f"{what} is weaker") if new < old else None

    return judge


def no_lower(what: str) -> Judge:
    """A number that protects more the higher it is (a number gone with its block: judged with the block)."""

    def judge(seen: Observed) -> Judgement | None:
        old, new = _number(seen.old), _number(seen.new)
        return weakens(what) if old is not None and new is not None and new < old else None

    return judge


def no_higher(what: str) -> Judge:
    def judge(seen: Observed) -> Judgement | None:
        old, new = _number(seen.old), _number(seen.new)
        return weakens(what) if old is not None and new is not None and new > old else None

    return judge


def _number(value: JsonValue) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def unchanged(what: str) -> Judge:
    """An attribute that changes what the protection means: any change needs a reviewer's eye."""

    def judge(seen: Observed) -> Judgement | None:
        return unchecked(f"{what}: check that it still protects") if seen.old != seen.new and seen.old else None

    return judge


def traffic_kept(seen: Observed) -> Judgement | None:
    """ALL_AT_ONCE shifts every request at once; CANARY and LINEAR first expose only a part of the traffic
    (API_TrafficRoutingConfig.html). Between the two gradual kinds neither is plainly weaker."""
    old, new = str(seen.old or ""), str(seen.new or "")
    if not old or not new or old == new:
        return None
    if new == "ALL_AT_ONCE":
        return weakens(f"{old.lower()} -> all at once: every request reaches the new version at once")
    if old == "ALL_AT_ONCE":
        return None
    return unchecked(f"{old.lower()} -> {new.lower()}: check the new steps")


def rollout_kept(seen: Observed) -> Judgement | None:
    """The endpoint's DeploymentConfig: without one SageMaker updates all at once, with no bake and no
    automatic rollback (API_DeploymentConfig.html)."""
    old, new = _policy_kind(seen.old), _policy_kind(seen.new)
    if old is None or old == new:
        return None
    if new is None:
        return weakens(f"the {old} policy is removed: updates go all at once, unbaked, without rollback")
    return unchecked(f"the update policy changes from {old} to {new}: check its steps")


def _policy_kind(config: JsonValue) -> str | None:
    for key, kind in (("blue_green_update_policy", "blue/green"), ("rolling_update_policy", "rolling")):
        if at(config, (0, key, 0)) is not None:
            return kind
    return None


def no_more_grants(seen: Observed) -> Judgement | None:
    try:
        grown = growth(seen.old, seen.new)
    except NotAPolicyError as err:
        return unchecked(f"the policy cannot be compared ({err})")
    return weakens(grown) if grown else None


def alarm_names_kept(seen: Observed) -> Judgement | None:
    """The rollback alarms SageMaker watches during an update: one dropped is a failure it no longer sees."""
    old, new = _alarm_names(seen.old), _alarm_names(seen.new)
    dropped = sorted(old - new)
    if dropped and not new:  # the last alarm gone takes the whole auto_rollback_configuration block with it
        return weakens(f"automatic rollback is off: no alarm is watched during updates (no longer watched: "
                        f"{', '.join(dropped)}); stops watching {', '.join(dropped)} during updates")  # fmt: skip
    return weakens(f"stops watching {', '.join(dropped)} during updates") if dropped else None


def _alarm_names(value: JsonValue) -> set[str]:
    items = value if isinstance(value, list) else []
    return {name for item in items for name in strings(at(item, ("alarm_name",)))}


def threshold_kept(seen: Observed) -> Judgement | None:
    """A higher threshold on a greater-than alarm (a lower one on a less-than alarm) fires later."""
    old, new = _number(seen.old), _number(seen.new)
    if old is None:
        return None
    if new is None:
        return weakens("threshold removed")
    rising = "Greater" in str(at(dict(seen.sides.after), ("comparison_operator",)))
    if (new > old) if rising else (new < old):
        return weakens("the alarm fires only at a worse value")
    return None


def comparison_kept(seen: Observed) -> Judgement | None:
    old, new = str(seen.old or ""), str(seen.new or "")
    if not old or old == new:
        return None
    if ("Greater" in old) != ("Greater" in new) or "Anomaly" in old + new:
        return weakens("the alarm now fires on the other side of its threshold")
    if old.endswith("OrEqualToThreshold") and not new.endswith("OrEqualToThreshold"):
        return weakens("a value equal to the threshold no longer fires the alarm")
    return None


def datapoints_kept(seen: Observed) -> Judgement | None:
    """datapoints_to_alarm unset means every evaluation period must breach (AlarmThatSendsEmail.html)."""
    after = dict(seen.sides.after)
    new = _number(seen.new) if seen.new is not None else _number(at(after, ("evaluation_periods",)))
    before = dict(seen.sides.before)
    old = _number(seen.old) if seen.old is not None else _number(at(before, ("evaluation_periods",)))
    if old is not None and new is not None and new > old:
        return weakens("more breaching datapoints are needed before the alarm fires")
    return None


def evaluation_periods_kept(seen: Observed) -> Judgement | None:
    """N of M: with datapoints_to_alarm set, fewer periods make it harder to find N breaching ones;
    unset, every period must breach, so more periods delay the alarm."""
    old, new = _number(seen.old), _number(seen.new)
    if old is None or new is None:
        return None
    explicit = at(dict(seen.sides.after), ("datapoints_to_alarm",)) is not None
    if (new < old) if explicit else (new > old):
        return weakens("the alarm needs longer to fire" if not explicit else "fewer periods to breach in")
    return None


# --- the table ------------------------------------------------------------------------------------------

QUERY = ("metric_query", BY_ID)
QUERY_METRIC = (*QUERY, "metric", 0)
ALARM_TYPES = ("aws_cloudwatch_metric_alarm",)
BLUE_GREEN = ("deployment_config", 0, "blue_green_update_policy", 0)
ROUTING = (*BLUE_GREEN, "traffic_routing_configuration", 0)
ROLLING = ("deployment_config", 0, "rolling_update_policy", 0)
TRACKING = ("target_tracking_scaling_policy_configuration", 0)
SSE_DEFAULT = ("rule", EACH, "apply_server_side_encryption_by_default", 0)


@dataclass(frozen=True)
class Protection:
    resource_type: str
    path: TypePath
    guards: str
    """What the attribute protects, in words (the review's label for it)."""
    judge: Judge


def _p(resource_type: str, path: TypePath, guards: str, judge: Judge) -> Protection:
    return Protection(resource_type, path, guards, judge)


PUBLIC_ACCESS_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
MISSING_DATA_ORDER = ("notBreaching", "missing", "ignore", "breaching")
"""From never firing on missing data to treating it as a breach (AlarmThatSendsEmail.html#alarms-and-missing-data)."""

PROTECTIONS: tuple[Protection, ...] = (
    *(_p("aws_s3_bucket_public_access_block", (flag,), "the bucket's public access block", stays_on)
      for flag in PUBLIC_ACCESS_FLAGS),
    _p("aws_s3_bucket_versioning", ("versioning_configuration", 0, "status"), "bucket versioning",
       ranked(("Disabled", "Suspended", "Enabled"), "versioning")),
    _p("aws_s3_bucket_versioning", ("versioning_configuration", 0, "mfa_delete"), "bucket versioning",
       ranked(("", "Disabled", "Enabled"), "MFA delete")),
    _p("aws_s3_bucket", ("versioning", 0, "enabled"), "bucket versioning", stays_on),
    _p("aws_s3_bucket_server_side_encryption_configuration", (*SSE_DEFAULT, "sse_algorithm"),
       "bucket encryption", ranked(("AES256", "aws:kms", "aws:kms:dsse"), "the encryption")),
    _p("aws_s3_bucket_server_side_encryption_configuration", (*SSE_DEFAULT, "kms_master_key_id"),
       "bucket encryption", stays_set("the customer-managed KMS key is removed: S3 falls back to the aws/s3 key")),
    _p("aws_s3_bucket_server_side_encryption_configuration", ("rule", EACH, "bucket_key_enabled"),
       "bucket encryption", stays_on),
    _p("aws_s3_bucket_policy", ("policy",), "the bucket policy", no_more_grants),
    *(_p("aws_cloudwatch_metric_alarm", path, "a rollback alarm", judge) for path, judge in (
        (("threshold",), threshold_kept),
        (("comparison_operator",), comparison_kept),
        (("datapoints_to_alarm",), datapoints_kept),
        (("evaluation_periods",), evaluation_periods_kept),
        (("period",), no_higher("each datapoint covers a longer time: the alarm fires later")),
        (("treat_missing_data",), ranked(MISSING_DATA_ORDER, "missing data")),
        (("statistic",), unchanged("the alarm aggregates differently")),
        (("extended_statistic",), unchanged("the alarm watches another percentile")),
        (("metric_name",), unchanged("the alarm watches another metric")),
        (("namespace",), unchanged("the alarm watches another namespace")),
        (("dimensions",), unchanged("the alarm watches other dimensions")),
        (QUERY, query_kept),
        ((*QUERY, "expression"), expression_kept),
        ((*QUERY, "return_data"), unchanged(f"{NOT_JUDGED}: the alarm compares another query")),
        ((*QUERY, "period"), no_higher("each datapoint covers a longer time: the alarm fires later")),
        ((*QUERY_METRIC, "period"), no_higher("each datapoint covers a longer time: the alarm fires later")),
        ((*QUERY_METRIC, "stat"), stat_kept),
        ((*QUERY_METRIC, "metric_name"), unchanged(f"{NOT_JUDGED}: the alarm watches another metric")),
        ((*QUERY_METRIC, "namespace"), unchanged(f"{NOT_JUDGED}: the alarm watches another namespace")),
        ((*QUERY_METRIC, "unit"), unchanged(f"{NOT_JUDGED}: the alarm watches another unit")),
        ((*QUERY_METRIC, "dimensions", EACH_KEY), dimension_kept),
    )),
    _p("aws_sagemaker_endpoint", ("deployment_config",), "the rollout policy", rollout_kept),
    _p("aws_sagemaker_endpoint", (*ROUTING, "type"), "the rollout policy",
       traffic_kept),
    _p("aws_sagemaker_endpoint", (*ROUTING, "canary_size", 0, "type"), "the rollout policy",
       unchanged("the canary is measured differently")),
    _p("aws_sagemaker_endpoint", (*ROUTING, "canary_size", 0, "value"), "the rollout policy",
       no_higher("a larger canary: more traffic reaches the new version first")),
    _p("aws_sagemaker_endpoint", (*ROUTING, "linear_step_size", 0, "type"), "the rollout policy",
       unchanged("the linear step is measured differently")),
    _p("aws_sagemaker_endpoint", (*ROUTING, "linear_step_size", 0, "value"), "the rollout policy",
       no_higher("larger linear steps: more traffic moves before each bake")),
    _p("aws_sagemaker_endpoint", (*ROUTING, "wait_interval_in_seconds"), "the rollout policy",
       no_lower("a shorter bake between traffic shifts")),
    _p("aws_sagemaker_endpoint", (*BLUE_GREEN, "termination_wait_in_seconds"), "the rollout policy",
       no_lower("the old fleet is terminated sooner: less time to roll back to it")),
    _p("aws_sagemaker_endpoint", (*ROLLING, "maximum_batch_size", 0, "type"), "the rollout policy",
       unchanged("the rolling batch is measured differently")),
    _p("aws_sagemaker_endpoint", (*ROLLING, "maximum_batch_size", 0, "value"), "the rollout policy",
       no_higher("larger rolling batches: more instances change before each bake")),
    _p("aws_sagemaker_endpoint", (*ROLLING, "wait_interval_in_seconds"), "the rollout policy",
       no_lower("a shorter bake between rolling batches")),
    _p("aws_sagemaker_endpoint", ("deployment_config", 0, "auto_rollback_configuration", 0, "alarms"),
       "the rollback alarms", alarm_names_kept),
    _p("aws_appautoscaling_target", ("min_capacity",), "autoscaling",
       no_lower("fewer instances always running")),
    _p("aws_appautoscaling_target", ("max_capacity",), "autoscaling",
       no_higher("autoscaling may run more instances: the cost ceiling rises")),
    *(_p("aws_appautoscaling_target", ("suspended_state", 0, flag), "autoscaling", stays_off)
      for flag in ("dynamic_scaling_out_suspended", "dynamic_scaling_in_suspended", "scheduled_scaling_suspended")),
    _p("aws_appautoscaling_policy", (*TRACKING, "target_value"), "autoscaling",
       no_higher("a higher target: capacity is added only under more load")),
    _p("aws_appautoscaling_policy", (*TRACKING, "scale_out_cooldown"), "autoscaling",
       no_higher("capacity is added more slowly after a scale-out")),
    _p("aws_appautoscaling_policy", (*TRACKING, "scale_in_cooldown"), "autoscaling",
       no_lower("capacity is removed sooner after a spike")),
    _p("aws_appautoscaling_policy", (*TRACKING, "disable_scale_in"), "autoscaling", stays_on),
    _p("aws_kms_key", ("enable_key_rotation",), "the KMS key", stays_on),
    _p("aws_kms_key", ("is_enabled",), "the KMS key", stays_on),
    _p("aws_kms_key", ("deletion_window_in_days",), "the KMS key",
       no_lower("a deleted key is gone sooner: less time to cancel a deletion")),
    _p("aws_kms_key", ("policy",), "the KMS key policy", no_more_grants),
    _p("aws_sagemaker_endpoint_configuration", ("kms_key_arn",), "endpoint storage encryption",
       stays_set("the KMS key for the instances' storage is removed")),
    _p("aws_sagemaker_endpoint_configuration", ("data_capture_config", 0, "kms_key_id"),
       "data capture encryption", stays_set("the KMS key for captured data is removed")),
    _p("aws_sagemaker_model", ("enable_network_isolation",), "network isolation", stays_on),
    _p("aws_sagemaker_model", ("vpc_config", 0, "subnets"), "the VPC", stays_set("the model leaves its VPC")),
    _p("aws_sagemaker_model", ("vpc_config", 0, "security_group_ids"), "the VPC",
       unchanged("other security groups")),
    _p("aws_iam_role_policy", ("policy",), "an IAM policy", no_more_grants),
    _p("aws_iam_policy", ("policy",), "an IAM policy", no_more_grants),
    _p("aws_iam_role", ("assume_role_policy",), "who may assume the role", no_more_grants),
    _p("aws_iam_role", ("permissions_boundary",), "the role's permissions boundary",
       stays_set("the permissions boundary is removed")),
)  # fmt: skip

PROTECTED_TYPES = frozenset(p.resource_type for p in PROTECTIONS)


def protections_of(resource_type: str) -> tuple[Protection, ...]:
    return tuple(p for p in PROTECTIONS if p.resource_type == resource_type)


def label_of(resource_type: str) -> str | None:
    """What a resource of this type protects (its first protection's label), None for an unprotected type."""
    found = protections_of(resource_type)
    return found[0].guards if found else None
