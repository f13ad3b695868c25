"""`tritonform review`: what a reviewer needs to approve or stop a model rollout, from the real plans.

For each environment: a verdict (no change / safe / needs attention, with why), the model version old -> new,
the rollout policy and its timeline, rollback alarms added or removed, instance and capacity changes with the
extra GPUs an update needs and a cost *estimate*, autoscaling / IAM / KMS / S3 changes, and anything replaced
or destroyed first. The full change list sits in collapsible sections; the comment stays within GitHub's
65,536 characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from tritonform.config.environment import SECURITY_EXCEPTIONS_OUTPUT, weakened_controls
from tritonform.config.loader import Deployment
from tritonform.config.release import ReleaseConfig
from tritonform.explain import clock, timeline
from tritonform.review.plan import Plan, ResourceChange

GITHUB_COMMENT_LIMIT = 65_536
HOURS_PER_MONTH = 730
ENDPOINT = "aws_sagemaker_endpoint"
CONFIGURATION = "aws_sagemaker_endpoint_configuration"
MODEL = "aws_sagemaker_model"
ALARM = "aws_cloudwatch_metric_alarm"
GROUPS = {
    "autoscaling": ("aws_appautoscaling_target", "aws_appautoscaling_policy"),
    "IAM": ("aws_iam_role", "aws_iam_role_policy"),
    "KMS": ("aws_kms_key", "aws_kms_alias"),
    "S3": ("aws_s3_bucket", "aws_s3_bucket_policy", "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
           "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration",
           "aws_s3_bucket_ownership_controls"),
}  # fmt: skip


@cache
def price_table() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(resources.files("tritonform.review").joinpath("prices.yaml").read_text())
    return loaded


def hourly_price(region: str, instance_type: str) -> float | None:
    regions = price_table()["regions"]
    price = regions.get(region, {}).get(instance_type) or regions["us-east-1"].get(instance_type)
    return float(price) if price is not None else None


@dataclass
class EnvironmentReview:
    environment: str
    tier: str
    verdict: str = "safe"
    reasons: list[str] = field(default_factory=list)
    version_line: str = ""
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    first: list[str] = field(default_factory=list)

    def attention(self, reason: str) -> None:
        self.verdict = "needs attention"
        self.reasons.append(reason)


def _variant(change: ResourceChange, side: str) -> dict[str, Any]:
    values = change.before if side == "before" else change.after
    variants = values.get("production_variants") or [{}]
    return dict(variants[0]) if isinstance(variants, list) and variants else {}


def _alarm_names(change: ResourceChange, side: str) -> set[str]:
    values = change.before if side == "before" else change.after
    config = (values.get("deployment_config") or [{}])[0] if values.get("deployment_config") else {}
    rollback = (config.get("auto_rollback_configuration") or [{}])[0] if config else {}
    return {a.get("alarm_name", "") for a in (rollback or {}).get("alarms", []) or []}


def review_environment(
    deployment: Deployment, plan: Plan, base_release: ReleaseConfig | None, findings: list[str] | None = None
) -> EnvironmentReview:
    env, release = deployment.environment, deployment.release
    review = EnvironmentReview(env.name, env.tier)
    effective = plan.effective
    for change in plan.changes:
        if change.action != "no-op":
            review.changes.append(f"{change.action:<8} {change.address}")

    if base_release is None:
        review.version_line = f"{release.model_name} {release.version_id} (new environment)"
    elif base_release.artifact.sha256 != release.artifact.sha256:
        review.version_line = (
            f"{release.model_name} {base_release.version_id} -> **{release.version_id}** "
            f"(sha256 `{release.artifact.sha256[:16]}...`, attached by {release.attached.by} from "
            f"`{release.attached.commit[:12]}`: {release.attached.reason})"
        )
    else:
        review.version_line = f"{release.model_name} {release.version_id} (unchanged)"

    if not effective:
        review.verdict = "no change"
        review.reasons.append("the plan changes nothing")
        return review

    _destructive(review, effective)
    alarm_lines = _alarms(review, plan)
    capacity = _capacity(review, deployment, plan)
    policy = deployment.rollout
    rollout_lines = [
        f"policy `{policy.policy_name}` ({policy.policy.kind}), up to {clock(policy.total_s)}, "
        f"{len(policy.alarms)} rollback alarm(s)",
        "```",
        *timeline(policy),
        "```",
    ]
    review.sections.append(("Rollout", rollout_lines))
    if alarm_lines:
        review.sections.append(("Rollback alarms", alarm_lines))
    if capacity:
        review.sections.append(("Capacity and cost (estimate)", capacity))
    for group, types in GROUPS.items():
        lines = [f"{c.action} `{c.address}`" + (f" ({', '.join(c.changed_keys())})" if c.action == "update" else "")
                 for c in plan.of_type(*types)]  # fmt: skip
        if lines:
            review.sections.append((f"{group} changes", lines))
            if group in {"IAM", "KMS"}:
                review.attention(f"{group} changes: check the permissions and keys")
    _hardening(review, deployment, plan)
    if findings:
        review.sections.append(("Security findings", findings))
        review.attention(f"{len(findings)} security finding(s)")
    if review.verdict == "safe":
        review.reasons.append("new version through the rollout policy, nothing destroyed" if review.version_line
                              and "->" in review.version_line else "in-place changes only")  # fmt: skip
    return review


def _hardening(review: EnvironmentReview, deployment: Deployment, plan: Plan) -> None:
    """Every control the environment runs without is shown; a change to the recorded exceptions leads."""
    env = deployment.environment
    weakened = weakened_controls(env)
    if not weakened:
        return
    lines = []
    for control in weakened:
        exception = env.security_exception(control.name)
        lines.append(
            f"without **{control.name}** (`{control.field}`): "
            + (
                f"exception {exception.ticket} approved by {exception.approved_by}: {exception.reason}"
                if exception
                else f"no exception recorded ({env.tier} does not need one)"
            )
        )
    review.sections.append(("Hardening controls turned off", lines))
    if SECURITY_EXCEPTIONS_OUTPUT in plan.changed_outputs:
        review.attention("the hardening controls this environment runs without change: check the exceptions")


def _destructive(review: EnvironmentReview, effective: list[ResourceChange]) -> None:
    """Anything replaced or destroyed goes first: replacing the endpoint is downtime."""
    for change in effective:
        if change.type == ENDPOINT and change.action in {"replace", "delete"}:
            why = "replacing the endpoint is downtime"
            if _alarm_names(change, "before") != _alarm_names(change, "after"):
                why += " (and the rollback alarms it watches change)"
            review.first.insert(0, f"**{change.action.upper()}** `{change.address}`: {why}")  # downtime leads
            review.attention(why)
        elif change.action in {"replace", "delete"} and not (
            change.type in {MODEL, CONFIGURATION} and change.create_before_destroy
        ):
            review.first.append(f"**{change.action.upper()}** `{change.address}`")
            review.attention(f"{change.address} is {'destroyed' if change.action == 'delete' else 'replaced'}")


def _alarms(review: EnvironmentReview, plan: Plan) -> list[str]:
    alarm_lines = []
    for change in plan.of_type(ALARM):
        name = (change.after or change.before).get("alarm_name", change.address)
        if change.action == "delete":
            alarm_lines.append(f"removed: `{name}`")
            review.attention(f"rollback alarm {name} is removed")
        elif change.action == "create":
            alarm_lines.append(f"added: `{name}`")
        else:
            alarm_lines.append(f"{change.action}: `{name}` ({', '.join(change.changed_keys())})")
    for change in plan.of_type(ENDPOINT):
        removed = _alarm_names(change, "before") - _alarm_names(change, "after")
        if removed and change.action == "update":
            alarm_lines.append(f"no longer watched during rollouts: {', '.join(sorted(removed))}")
            review.attention("the endpoint stops watching a rollback alarm")
    return alarm_lines


def _capacity(review: EnvironmentReview, deployment: Deployment, plan: Plan) -> list[str]:
    env = deployment.environment
    lines: list[str] = []
    for change in plan.of_type(CONFIGURATION):
        if change.action not in {"create", "replace"}:
            continue
        before, after = _variant(change, "before"), _variant(change, "after")
        if change.action == "replace" or before:
            old_type, new_type = before.get("instance_type"), after.get("instance_type")
            old_count, new_count = before.get("initial_instance_count"), after.get("initial_instance_count")
        else:
            old_type = new_type = after.get("instance_type")
            old_count = new_count = after.get("initial_instance_count")
        if old_type and (old_type != new_type or old_count != new_count):
            lines.append(f"instances: {old_count} x {old_type} -> **{new_count} x {new_type}**")
            review.attention("the instance type or count changes")
            old_price, new_price = hourly_price(env.region, str(old_type)), hourly_price(env.region, str(new_type))
            if old_price is not None and new_price is not None and old_count and new_count:
                monthly = (new_price * int(new_count) - old_price * int(old_count)) * HOURS_PER_MONTH
                lines.append(f"steady state: {monthly:+,.0f} {price_table()['currency']}/month (estimate, on-demand)")
    rollout = deployment.rollout
    if plan.of_type(CONFIGURATION) and plan.of_type(ENDPOINT):
        gpus = env.endpoint.instance.gpus
        extra = rollout.peak_extra_instances
        lines.append(
            f"during the update: up to {extra} extra x {env.endpoint.instance_type} ({extra * gpus} GPUs) for up to "
            f"{clock(rollout.total_s)}"
        )
        price = hourly_price(env.region, env.endpoint.instance_type)
        if price is not None:
            cost = extra * price * rollout.total_s / 3600
            lines.append(f"update cost: about {cost:,.2f} {price_table()['currency']} (estimate, on-demand)")
    return lines


# --- output --------------------------------------------------------------------------------------------

_BADGE = {"no change": "⚪ no change", "safe": "🟢 safe", "needs attention": "🔴 needs attention"}


def markdown(reviews: list[EnvironmentReview], limit: int = GITHUB_COMMENT_LIMIT) -> str:
    head = ["## tritonform plan review", ""]
    head += [f"- **{r.environment}** ({r.tier}): {_BADGE[r.verdict]}: {'; '.join(r.reasons)}" for r in reviews]
    body: list[str] = []
    details: list[str] = []
    for review in reviews:
        body += ["", f"### {review.environment}: {_BADGE[review.verdict]}", ""]
        body += [f"- {line}" for line in review.first]
        body.append(f"- model version: {review.version_line}")
        for title, lines in review.sections:
            body += ["", f"**{title}**", ""]
            body += lines if lines and lines[0].startswith(("policy", "```")) else [f"- {line}" for line in lines]
        details += ["", f"<details><summary>{review.environment}: all {len(review.changes)} change(s)</summary>",
                    "", "```", *review.changes, "```", "</details>"]  # fmt: skip
    text = "\n".join([*head, *body, *details]) + "\n"
    if len(text) <= limit:
        return text
    note = "\n\n_The full change lists were left out: the comment would exceed GitHub's limit._\n"
    text = "\n".join([*head, *body]) + note
    if len(text) <= limit:
        return text
    cut = "\n\n_Truncated to GitHub's 65,536-character limit; run `tritonform review` for the rest._\n"
    return text[: limit - len(cut)] + cut


def plain(reviews: list[EnvironmentReview]) -> str:
    lines = []
    for review in reviews:
        lines.append(f"{review.environment} ({review.tier}): {review.verdict}: {'; '.join(review.reasons)}")
        lines += [f"  ! {line.replace('**', '').replace('`', '')}" for line in review.first]
        lines.append(f"  version  {review.version_line.replace('**', '').replace('`', '')}")
        for title, section in review.sections:
            lines.append(f"  {title}:")
            lines += [f"    {line.replace('**', '').replace('`', '')}" for line in section if line != "```"]
        lines.append(f"  {len(review.changes)} change(s)")
    return "\n".join(lines) + "\n"
