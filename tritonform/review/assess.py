"""What a reviewer needs to approve or stop a model rollout, read from an environment's real plan: the
model version old -> new, the rollout policy, rollback alarms added or removed, instance and capacity
changes with the extra GPUs an update needs and a cost *estimate*, autoscaling / IAM / KMS / S3 changes,
hardening controls turned off, security findings, and anything replaced or destroyed. Every concern found
here is a reason the review needs attention (model.EnvironmentReview.verdict)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from tritonform.config.hardening import SECURITY_EXCEPTIONS_OUTPUT, ControlOff, hardening_state
from tritonform.config.loader import Deployment
from tritonform.config.release import ReleaseConfig
from tritonform.explain import timeline
from tritonform.review.model import (
    AlarmChange,
    ChangedResource,
    EnvironmentReview,
    Finding,
    InstanceChange,
    PlannedChange,
    Removal,
    ResourceGroup,
    RolloutSummary,
    UnwatchedAlarms,
    UpdateCapacity,
    VersionChange,
)
from tritonform.review.plan import Plan, ResourceChange

HOURS_PER_MONTH = 730
ENDPOINT = "aws_sagemaker_endpoint"
CONFIGURATION = "aws_sagemaker_endpoint_configuration"
MODEL = "aws_sagemaker_model"
ALARM = "aws_cloudwatch_metric_alarm"
RESOURCE_GROUPS = {
    "autoscaling": ("aws_appautoscaling_target", "aws_appautoscaling_policy"),
    "IAM": ("aws_iam_role", "aws_iam_role_policy"),
    "KMS": ("aws_kms_key", "aws_kms_alias"),
    "S3": ("aws_s3_bucket", "aws_s3_bucket_policy", "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
           "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration",
           "aws_s3_bucket_ownership_controls"),
}  # fmt: skip
GROUPS_NEEDING_ATTENTION = {"IAM", "KMS"}


@cache
def price_table() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(resources.files("tritonform.review").joinpath("prices.yaml").read_text())
    return loaded


def hourly_price(region: str, instance_type: str) -> float | None:
    regions = price_table()["regions"]
    price = regions.get(region, {}).get(instance_type) or regions["us-east-1"].get(instance_type)
    return float(price) if price is not None else None


def review_environment(
    deployment: Deployment, plan: Plan, base_release: ReleaseConfig | None, findings: list[Finding] | None = None
) -> EnvironmentReview:
    """`base_release` is the environment's release on the base branch (None: the environment is new);
    `findings` the failed security checks on its stacks."""
    env = deployment.environment
    version = _version(deployment, base_release)
    changes = tuple(PlannedChange(c.action, c.address) for c in plan.effective)
    if not changes:
        return EnvironmentReview(env.name, env.tier, version)

    concerns: list[str] = []  # each a reason for attention, in the order found
    removals = _removals(concerns, plan.effective)
    alarm_changes, unwatched = _alarms(concerns, plan)
    instance_changes = _instance_changes(concerns, deployment, plan)
    groups = _resource_groups(concerns, plan)
    hardening_off = _hardening(concerns, deployment, plan)
    if findings:
        concerns.append(f"{len(findings)} security finding(s)")
    policy = deployment.rollout
    return EnvironmentReview(
        env.name,
        env.tier,
        version,
        changes=changes,
        concerns=tuple(concerns),
        removals=removals,
        rollout=RolloutSummary(
            policy.policy_name, policy.policy.kind, policy.total_s, len(policy.alarms), tuple(timeline(policy))
        ),
        alarm_changes=alarm_changes,
        unwatched_alarms=unwatched,
        instance_changes=instance_changes,
        update_capacity=_update_capacity(deployment, plan),
        resource_groups=groups,
        hardening_off=hardening_off,
        findings=tuple(findings or ()),
    )


def _version(deployment: Deployment, base_release: ReleaseConfig | None) -> VersionChange:
    release = deployment.release
    if base_release is None:
        return VersionChange(release.model_name, release.version_id, "new environment")
    if base_release.artifact.sha256 == release.artifact.sha256:
        return VersionChange(release.model_name, release.version_id, "unchanged", base_release.version_id)
    return VersionChange(
        release.model_name,
        release.version_id,
        "changed",
        base_release.version_id,
        sha256=release.artifact.sha256,
        attached_by=release.attached.by,
        commit=release.attached.commit,
        reason=release.attached.reason,
        packaged_from=release.artifact.source.describe() if release.artifact.source else None,
    )


def _removals(concerns: list[str], effective: list[ResourceChange]) -> tuple[Removal, ...]:
    """Anything replaced or destroyed; replacing the endpoint is downtime, so it leads."""
    removals: list[Removal] = []
    for change in effective:
        if change.action not in {"replace", "delete"}:
            continue
        action: Literal["replace", "delete"] = "replace" if change.action == "replace" else "delete"
        if change.type == ENDPOINT:
            why = "replacing the endpoint is downtime"
            if _alarm_names(change, "before") != _alarm_names(change, "after"):
                why += " (and the rollback alarms it watches change)"
            removals.insert(0, Removal(action, change.address, why))
            concerns.append(why)
        elif not (change.type in {MODEL, CONFIGURATION} and change.create_before_destroy):
            removals.append(Removal(action, change.address))
            concerns.append(f"{change.address} is {'destroyed' if action == 'delete' else 'replaced'}")
    return tuple(removals)


def _alarm_names(change: ResourceChange, side: str) -> set[str]:
    values = change.before if side == "before" else change.after
    config = (values.get("deployment_config") or [{}])[0] if values.get("deployment_config") else {}
    rollback = (config.get("auto_rollback_configuration") or [{}])[0] if config else {}
    return {a.get("alarm_name", "") for a in (rollback or {}).get("alarms", []) or []}


def _alarms(concerns: list[str], plan: Plan) -> tuple[tuple[AlarmChange, ...], tuple[UnwatchedAlarms, ...]]:
    changes: list[AlarmChange] = []
    for change in plan.of_type(ALARM):
        name = str((change.after or change.before).get("alarm_name", change.address))
        if change.action == "delete":
            concerns.append(f"rollback alarm {name} is removed")
        keys = () if change.action in {"create", "delete"} else tuple(change.changed_keys())
        changes.append(AlarmChange(change.action, name, keys))
    unwatched: list[UnwatchedAlarms] = []
    for change in plan.of_type(ENDPOINT):
        removed = _alarm_names(change, "before") - _alarm_names(change, "after")
        if removed and change.action == "update":
            unwatched.append(UnwatchedAlarms(change.address, tuple(sorted(removed))))
            concerns.append("the endpoint stops watching a rollback alarm")
    return tuple(changes), tuple(unwatched)


def _variant(change: ResourceChange, side: str) -> dict[str, Any]:
    values = change.before if side == "before" else change.after
    variants = values.get("production_variants") or [{}]
    return dict(variants[0]) if isinstance(variants, list) and variants else {}


def _instance_changes(concerns: list[str], deployment: Deployment, plan: Plan) -> tuple[InstanceChange, ...]:
    region = deployment.environment.region
    found: list[InstanceChange] = []
    for change in plan.of_type(CONFIGURATION):
        if change.action not in {"create", "replace"}:
            continue
        before, after = _variant(change, "before"), _variant(change, "after")
        old = before if change.action == "replace" or before else after
        old_type, new_type = old.get("instance_type"), after.get("instance_type")
        old_count, new_count = old.get("initial_instance_count"), after.get("initial_instance_count")
        if not old_type or (old_type == new_type and old_count == new_count):
            continue
        concerns.append("the instance type or count changes")
        old_price, new_price = hourly_price(region, str(old_type)), hourly_price(region, str(new_type))
        monthly = None
        if old_price is not None and new_price is not None and old_count and new_count:
            monthly = (new_price * int(new_count) - old_price * int(old_count)) * HOURS_PER_MONTH
        found.append(InstanceChange(old_count, str(old_type), new_count, str(new_type), monthly,
                                    price_table()["currency"]))  # fmt: skip
    return tuple(found)


def _update_capacity(deployment: Deployment, plan: Plan) -> UpdateCapacity | None:
    """An update that brings a new endpoint configuration runs both fleets side by side for a while."""
    if not (plan.of_type(CONFIGURATION) and plan.of_type(ENDPOINT)):
        return None
    env, rollout = deployment.environment, deployment.rollout
    extra = rollout.peak_extra_instances
    price = hourly_price(env.region, env.endpoint.instance_type)
    cost = extra * price * rollout.total_s / 3600 if price is not None else None
    return UpdateCapacity(extra, env.endpoint.instance_type, env.endpoint.instance.gpus, rollout.total_s, cost,
                          price_table()["currency"])  # fmt: skip


def _resource_groups(concerns: list[str], plan: Plan) -> tuple[ResourceGroup, ...]:
    groups: list[ResourceGroup] = []
    for name, types in RESOURCE_GROUPS.items():
        changes = tuple(
            ChangedResource(c.action, c.address, tuple(c.changed_keys()) if c.action == "update" else ())
            for c in plan.of_type(*types)
        )
        if changes:
            groups.append(ResourceGroup(name, changes))
            if name in GROUPS_NEEDING_ATTENTION:
                concerns.append(f"{name} changes: check the permissions and keys")
    return tuple(groups)


def _hardening(concerns: list[str], deployment: Deployment, plan: Plan) -> tuple[ControlOff, ...]:
    """Every control the environment runs without is shown; a change to the recorded exceptions is a concern."""
    turned_off = hardening_state(deployment.environment)
    if turned_off and SECURITY_EXCEPTIONS_OUTPUT in plan.changed_outputs:
        concerns.append("the hardening controls this environment runs without change: check the exceptions")
    return turned_off
