"""The plan review as a pull-request comment (markdown) or for a terminal (plain text).

Both only format an EnvironmentReview (model.py); the wording of each line is written once and the two
differ in markup and layout. The markdown keeps the full change lists in collapsible sections and stays
within GitHub's 65,536 characters per comment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tritonform.explain import clock
from tritonform.review.model import (
    AlarmChange,
    ChangedResource,
    EnvironmentReview,
    Finding,
    InstanceChange,
    Removal,
    UpdateCapacity,
    Verdict,
    VersionChange,
)

GITHUB_COMMENT_LIMIT = 65_536


@dataclass(frozen=True)
class _Markup:
    """How inline code (addresses, names) and emphasis (what changes to) are shown."""

    code: Callable[[str], str]
    strong: Callable[[str], str]


_MARKDOWN = _Markup(code=lambda text: f"`{text}`", strong=lambda text: f"**{text}**")
_PLAIN = _Markup(code=str, strong=str)


@dataclass(frozen=True)
class _Section:
    """A titled part of one environment's review: a lead line, a preformatted block, then list items."""

    title: str
    items: list[str]
    lead: str | None = None
    block: tuple[str, ...] = ()


def _version(version: VersionChange, markup: _Markup) -> str:
    if version.status != "changed":
        return f"{version.model_name} {version.version_id} ({version.status})"
    source = f" from {markup.code(version.commit[:12])}" if version.commit else ""
    return (
        f"{version.model_name} {version.base_version_id} -> {markup.strong(version.version_id)} "
        f"(sha256 {markup.code(version.sha256[:16] + '...')}, attached by {version.attached_by}{source}: "
        f"{version.reason}; {version.packaged_from or 'where it was packaged from is not recorded'})"
    )


def _removal(removal: Removal, markup: _Markup) -> str:
    line = f"{markup.strong(removal.action.upper())} {markup.code(removal.address)}"
    return f"{line}: {removal.why}" if removal.why else line


def _alarm(change: AlarmChange, markup: _Markup) -> str:
    if change.action == "delete":
        return f"removed: {markup.code(change.name)}"
    if change.action == "create":
        return f"added: {markup.code(change.name)}"
    return f"{change.action}: {markup.code(change.name)} ({', '.join(change.changed_keys)})"


def _instances(change: InstanceChange, markup: _Markup) -> list[str]:
    new = markup.strong(f"{change.new_count} x {change.new_type}")
    lines = [f"instances: {change.old_count} x {change.old_type} -> {new}"]
    if change.monthly_delta is not None:
        lines.append(f"steady state: {change.monthly_delta:+,.0f} {change.currency}/month (estimate, on-demand)")
    return lines


def _update(capacity: UpdateCapacity) -> list[str]:
    extra = capacity.extra_instances
    lines = [
        f"during the update: up to {extra} extra x {capacity.instance_type} ({extra * capacity.gpus} GPUs) for up "
        f"to {clock(capacity.total_s)}"
    ]
    if capacity.cost is not None:
        lines.append(f"update cost: about {capacity.cost:,.2f} {capacity.currency} (estimate, on-demand)")
    return lines


def _resource(change: ChangedResource, markup: _Markup) -> str:
    keys = f" ({', '.join(change.changed_keys)})" if change.action == "update" else ""
    return f"{change.action} {markup.code(change.address)}{keys}"


def _finding(finding: Finding, markup: _Markup) -> str:
    return f"{finding.check_id}: {finding.check_name} ({markup.code(finding.resource)})"


def _sections(review: EnvironmentReview, markup: _Markup) -> list[_Section]:
    sections: list[_Section] = []
    if review.rollout is not None:
        rollout = review.rollout
        lead = (f"policy {markup.code(rollout.policy_name)} ({rollout.kind}), up to {clock(rollout.total_s)}, "
                f"{rollout.alarm_count} rollback alarm(s)")  # fmt: skip
        sections.append(_Section("Rollout", [], lead, rollout.timeline))
    alarms = [_alarm(change, markup) for change in review.alarm_changes]
    alarms += [f"no longer watched during rollouts: {', '.join(u.alarm_names)}" for u in review.unwatched_alarms]
    if alarms:
        sections.append(_Section("Rollback alarms", alarms))
    capacity = [line for change in review.instance_changes for line in _instances(change, markup)]
    capacity += _update(review.update_capacity) if review.update_capacity else []
    if capacity:
        sections.append(_Section("Capacity and cost (estimate)", capacity))
    for group in review.resource_groups:
        sections.append(_Section(f"{group.name} changes", [_resource(c, markup) for c in group.changes]))
    if review.hardening_off:
        sections.append(_Section("Hardening controls turned off", [
            f"without {markup.strong(off.name)} ({markup.code(off.field)}): "
            + (f"exception {record}" if (record := off.exception_record())
               else f"no exception recorded ({review.tier} does not need one)")
            for off in review.hardening_off
        ]))  # fmt: skip
    if review.findings:
        sections.append(_Section("Security findings", [_finding(f, markup) for f in review.findings]))
    return sections


_BADGE = {Verdict.NO_CHANGE: "⚪ no change", Verdict.SAFE: "🟢 safe", Verdict.NEEDS_ATTENTION: "🔴 needs attention"}


def markdown(reviews: list[EnvironmentReview], limit: int = GITHUB_COMMENT_LIMIT) -> str:
    head = ["## tritonform plan review", ""]
    head += [f"- **{r.environment}** ({r.tier}): {_BADGE[r.verdict]}: {'; '.join(r.reasons)}" for r in reviews]
    body: list[str] = []
    details: list[str] = []
    for review in reviews:
        body += ["", f"### {review.environment}: {_BADGE[review.verdict]}", ""]
        body += [f"- {_removal(removal, _MARKDOWN)}" for removal in review.removals]
        body.append(f"- model version: {_version(review.version, _MARKDOWN)}")
        for section in _sections(review, _MARKDOWN):
            body += ["", f"**{section.title}**", ""]
            body += [section.lead] if section.lead is not None else []
            body += ["```", *section.block, "```"] if section.block else []
            body += [f"- {item}" for item in section.items]
        changes = [f"{change.action:<8} {change.address}" for change in review.changes]
        details += ["", f"<details><summary>{review.environment}: all {len(changes)} change(s)</summary>",
                    "", "```", *changes, "```", "</details>"]  # fmt: skip
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
        lines += [f"  ! {_removal(removal, _PLAIN)}" for removal in review.removals]
        lines.append(f"  version  {_version(review.version, _PLAIN)}")
        for section in _sections(review, _PLAIN):
            lines.append(f"  {section.title}:")
            lines += [f"    {line}" for line in ([section.lead] if section.lead is not None else [])]
            lines += [f"    {line}" for line in [*section.block, *section.items]]
        lines.append(f"  {len(review.changes)} change(s)")
    return "\n".join(lines) + "\n"
