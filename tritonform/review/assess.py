"""What a reviewer needs to approve or stop a model rollout, read from an environment's real plan: the
model version old -> new, the rollout policy, rollback alarms added or removed, instance and capacity
changes with the extra GPUs an update needs and a cost *estimate*, autoscaling / IAM / KMS / S3 changes,
hardening controls turned off, security findings, anything replaced or destroyed (but an older release's
model and configuration the stack no longer declares, retired: expected), and every protection the plan
weakens (protections.py). Every concern found here is a reason the review needs attention
(model.EnvironmentReview.verdict)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from tritonform.config.hardening import SECURITY_EXCEPTIONS_OUTPUT, ControlOff, hardening_state
from tritonform.config.loader import Deployment
from tritonform.config.names import FALLBACK_OUTPUT
from tritonform.config.release import ReleaseConfig
from tritonform.explain import timeline
from tritonform.review.judgement import Observed, PlanContext, Severity
from tritonform.review.model import (
    BASE_NOT_GIVEN,
    AlarmChange,
    BaseNotGiven,
    ChangedResource,
    ContractReview,
    EnvironmentReview,
    Finding,
    InstanceChange,
    PlannedChange,
    Removal,
    ResourceGroup,
    Retirement,
    RolloutSummary,
    UnwatchedAlarms,
    UpdateCapacity,
    VersionChange,
    Weakening,
)
from tritonform.review.plan import Plan, ResourceChange
from tritonform.review.protections import label_of, protections_of
from tritonform.review.table_paths import locate
from tritonform.review.values import JsonValue, at, strings

HOURS_PER_MONTH = 730
ENDPOINT = "aws_sagemaker_endpoint"
CONFIGURATION = "aws_sagemaker_endpoint_configuration"
MODEL = "aws_sagemaker_model"
ALARM = "aws_cloudwatch_metric_alarm"
VERSION_TAG = "tritonform:version-id"
SCALABLE_TARGET = "aws_appautoscaling_target"
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
    deployment: Deployment,
    plan: Plan,
    base_release: ReleaseConfig | BaseNotGiven | None,
    findings: list[Finding] | None = None,
    contract: ContractReview | None = None,
) -> EnvironmentReview:
    """`base_release` is the environment's release on the base branch (None: the environment is new there;
    BASE_NOT_GIVEN: no base was given, so the old version is unknown); `findings` the failed security checks
    on its stacks; `contract` the inference contract's change, where known."""
    env = deployment.environment
    version = _version(deployment, base_release)
    changes = tuple(PlannedChange(c.action, c.address, c.attribute_changes()) for c in plan.effective)
    if not changes:
        return EnvironmentReview(env.name, env.tier, version, contract=contract)

    concerns: list[str] = []  # each a reason for attention, in the order found
    running = _running_configurations(plan)
    removals, retirements = _removals(concerns, plan.effective, running)
    weakenings = _weakenings(concerns, plan.effective, _context(plan))
    alarm_changes, unwatched = _alarms(concerns, plan)
    instance_changes = _instance_changes(concerns, deployment, plan)
    _instance_type_of_a_scaled_variant(concerns, plan)
    groups = _resource_groups(concerns, plan)
    hardening_off = _hardening(concerns, deployment, plan)
    if findings:
        concerns.append(f"{len(findings)} security finding(s)")
    if contract is not None and contract.status == "breaking":
        concerns.append(f"breaking change of the inference contract: {contract.summary}")
    policy = deployment.rollout
    return EnvironmentReview(
        env.name,
        env.tier,
        version,
        changes=changes,
        concerns=tuple(concerns),
        removals=removals,
        retirements=retirements,
        weakenings=weakenings,
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
        contract=contract,
    )


def _version(deployment: Deployment, base_release: ReleaseConfig | BaseNotGiven | None) -> VersionChange:
    release = deployment.release
    if base_release is BASE_NOT_GIVEN:
        return VersionChange(release.model_name, release.version_id, "base not given")
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


def _removals(
    concerns: list[str], effective: list[ResourceChange], running: _Running | None
) -> tuple[tuple[Removal, ...], tuple[Retirement, ...]]:
    """Anything replaced or destroyed; losing the endpoint is downtime, so it leads. A destroyed endpoint
    is called deleted: nothing takes its place. A model or configuration destroyed is judged by _retirement."""
    removals: list[Removal] = []
    retirements: list[Retirement] = []
    for change in effective:
        if change.action == "forget":
            concerns.append(f"{change.address} is no longer managed by Terraform (removed from state, not destroyed)")
        if change.action not in {"replace", "delete"}:
            continue
        action: Literal["replace", "delete"] = "replace" if change.action == "replace" else "delete"
        if change.type == ENDPOINT:
            why = ("replacing the endpoint is downtime" if action == "replace"
                   else "the endpoint is deleted: it stops serving, and nothing replaces it")  # fmt: skip
            if action == "replace" and _alarm_names(change.before) != _alarm_names(change.after):
                why += " (and the rollback alarms it watches change)"
            removals.insert(0, Removal(action, change.address, why))
            concerns.append(why)
            continue
        if change.type in {MODEL, CONFIGURATION}:
            kept = _still_needed(change, running)
            if kept is not None:
                removals.append(Removal(action, change.address, kept))
                concerns.append(f"{change.address} is {'destroyed' if action == 'delete' else 'replaced'}: {kept}")
                continue
            if change.create_before_destroy:
                continue  # a new name for the same release: created before the old one goes
            if running is not None and action == "delete" and running.fallback_known:
                retirements.append(_retired(change))
                continue
        guarded = label_of(change.type) if action == "delete" else None
        removals.append(Removal(action, change.address, f"{guarded} goes with it" if guarded else None))
        concerns.append(f"{change.address} is {'destroyed' if action == 'delete' else 'replaced'}"
                        + (f": {guarded} goes with it" if guarded else ""))  # fmt: skip
    return tuple(removals), tuple(retirements)


@dataclass(frozen=True)
class _Running:
    """The configurations a plan must keep: the one the endpoint runs now (before), the one it runs after
    apply, and the stack's declared fallback (its output; fallback_known False where the plan does not
    say which it is)."""

    before: str | None
    after: str | None
    fallback: str | None
    fallback_known: bool

    def needs(self, name: str) -> str | None:
        """Why a configuration (or the model of the same name) must not be destroyed, or None."""
        if name == self.before:
            return ("the endpoint runs it now: if SageMaker rolls the update back, the endpoint is left on a "
                    "configuration that no longer exists (terraform-provider-aws issue 48997)")  # fmt: skip
        if name == self.fallback:
            return "it is the declared fallback: an emergency rollback switches to it"
        if name == self.after:
            return "the endpoint runs it after this plan"
        return None


def _running_configurations(plan: Plan) -> _Running | None:
    """What the endpoint runs, from its entry in the plan (no-op included); None without an endpoint that
    stays (a deleted endpoint is judged as deleted)."""
    endpoint = next((c for c in plan.changes if c.type == ENDPOINT), None)
    if endpoint is None or endpoint.action == "delete":
        return None
    before, after = endpoint.before.get("endpoint_config_name"), endpoint.after.get("endpoint_config_name")
    fallback = plan.output_values.get(FALLBACK_OUTPUT)
    return _Running(
        str(before) if isinstance(before, str) else None,
        str(after) if isinstance(after, str) and not endpoint.sides.unknown_at(("endpoint_config_name",)) else None,
        fallback if isinstance(fallback, str) else None,
        FALLBACK_OUTPUT in plan.output_values and (fallback is None or isinstance(fallback, str)),
    )


def _still_needed(change: ResourceChange, running: _Running | None) -> str | None:
    """Why destroying this model or configuration (its old name: a replacement destroys that one) is
    trouble; a model counts as its configuration (they share a name, and the configuration names it)."""
    if running is None:
        return None
    name = change.before.get("name")
    return running.needs(str(name)) if isinstance(name, str) else None


def _retired(change: ResourceChange) -> Retirement:
    tags = change.before.get("tags")
    version = tags.get(VERSION_TAG) if isinstance(tags, dict) else None
    kind: Literal["model", "configuration"] = "model" if change.type == MODEL else "configuration"
    return Retirement(change.address, kind, str(change.before.get("name") or change.address),
                      str(version) if isinstance(version, str) else None)  # fmt: skip


def _context(plan: Plan) -> PlanContext:
    running = _running_configurations(plan)
    return PlanContext(release_configuration=running.after if running else None)


def _alarm_names(values: dict[str, JsonValue]) -> set[str]:
    alarms = at(values, ("deployment_config", 0, "auto_rollback_configuration", 0, "alarms"))
    return {
        name for alarm in (alarms if isinstance(alarms, list) else []) for name in strings(at(alarm, ("alarm_name",)))
    }


def _weakenings(concerns: list[str], effective: list[ResourceChange], context: PlanContext) -> tuple[Weakening, ...]:
    """Every protected attribute an update or replacement changes, judged by its protection (a new value
    known only after apply cannot be judged: that needs a look too)."""
    found: list[Weakening] = []
    for change in effective:
        if change.action not in {"update", "replace"}:
            continue
        sides = change.sides
        for protection in protections_of(change.type):
            for place in locate(protection.path, sides):
                old, new = at(change.before, place.before), at(change.after, place.after)
                seen = Observed(old, new, sides, place.keys, context)
                if sides.unknown_at(place.after) and old not in (None, "", [], {}):
                    why, certain = "the new value is known only after apply: it cannot be checked now", False
                elif old == new or (judged := protection.judge(seen)) is None:
                    continue
                else:
                    why, certain = judged.why, judged.severity is Severity.WEAKENS
                attribute = sides.change_between(place.name, place.before, place.after)
                found.append(Weakening(change.address, protection.guards, attribute, why, certain))
    for certain in (True, False):
        labels = list(dict.fromkeys(w.protection for w in found if w.certain is certain))
        if labels:
            verb = "weakens" if certain else "cannot check before apply, or changes what it means"
            concerns.append(f"{verb}: {', '.join(labels)}")
    return tuple(found)


def _alarms(concerns: list[str], plan: Plan) -> tuple[tuple[AlarmChange, ...], tuple[UnwatchedAlarms, ...]]:
    changes: list[AlarmChange] = []
    for change in plan.of_type(ALARM):
        name = str((change.after or change.before).get("alarm_name") or change.address)
        if change.action == "delete":
            concerns.append(f"rollback alarm {name} is removed")
        changes.append(AlarmChange(change.action, name, change.attribute_changes()))
    unwatched: list[UnwatchedAlarms] = []
    for change in plan.of_type(ENDPOINT):
        removed = _alarm_names(change.before) - _alarm_names(change.after)
        if removed and change.action == "update":  # the concern is the weakening of the rollback alarms
            unwatched.append(UnwatchedAlarms(change.address, tuple(sorted(removed))))
    return tuple(changes), tuple(unwatched)


def _variant(values: dict[str, JsonValue]) -> dict[str, JsonValue]:
    variant = at(values, ("production_variants", 0))
    return variant if isinstance(variant, dict) else {}


def _instance_changes(concerns: list[str], deployment: Deployment, plan: Plan) -> tuple[InstanceChange, ...]:
    region = deployment.environment.region
    found: list[InstanceChange] = []
    for change in plan.of_type(CONFIGURATION):
        if change.action not in {"create", "replace"}:
            continue
        before, after = _variant(change.before), _variant(change.after)
        old = before if change.action == "replace" or before else after
        old_type, new_type = old.get("instance_type"), after.get("instance_type")
        old_count, new_count = _count(old.get("initial_instance_count")), _count(after.get("initial_instance_count"))
        if not old_type or (old_type == new_type and old_count == new_count):
            continue
        concerns.append("the instance type or count changes")
        old_price, new_price = hourly_price(region, str(old_type)), hourly_price(region, str(new_type))
        monthly = None
        if old_price is not None and new_price is not None and old_count and new_count:
            monthly = (new_price * new_count - old_price * old_count) * HOURS_PER_MONTH
        found.append(InstanceChange(old_count, str(old_type), new_count, str(new_type), monthly,
                                    price_table()["currency"]))  # fmt: skip
    return tuple(found)


def _instance_type_of_a_scaled_variant(concerns: list[str], plan: Plan) -> None:
    """SageMaker refuses an update that changes the instance type of a variant registered as a scalable target
    ("Update endpoints that use auto scaling", SageMaker Developer Guide): say so, with the procedure."""
    registered = {
        str(change.before.get("resource_id"))
        for change in plan.changes
        if change.type == SCALABLE_TARGET and change.before and change.action != "delete"
    }
    for change in plan.of_type(CONFIGURATION):
        before, after = _variant(change.before), _variant(change.after)
        old, new, variant = before.get("instance_type"), after.get("instance_type"), before.get("variant_name")
        if change.action != "replace" or not old or old == new:
            continue
        if any(resource_id.endswith(f"/variant/{variant}") for resource_id in registered):
            concerns.append(
                f"the instance type of variant {variant} changes ({old} -> {new}) while it is registered for "
                "autoscaling, and SageMaker refuses that update: deregister its scalable target first (which "
                "deletes its scaling policies), then apply, which registers them again after the endpoint; if the "
                'apply fails, register the old target again (README: "Instance-type changes of an autoscaled '
                'endpoint")'
            )


def _count(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
        changes = tuple(ChangedResource(c.action, c.address, c.attribute_changes()) for c in plan.of_type(*types))
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
