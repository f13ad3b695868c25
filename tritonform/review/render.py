"""The plan review as a pull-request comment (markdown) or for a terminal (plain text).

Both only format an EnvironmentReview (model.py); the wording of each line is written once and the two
differ in markup and layout. The markdown stays within GitHub's 65,536 characters per comment
(https://docs.github.com/en/rest/issues/comments, "body" is limited to 65536 characters): when the whole
review does not fit, it is shortened step by step (DETAIL_LEVELS), the same for every environment, so each
keeps its verdict and its most important lines: what is destroyed or replaced, what weakens a protection,
and the model version. The plain text is never shortened (beyond cutting a single name, value or reason
longer than MAX_NAME_CHARS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tritonform.explain import clock
from tritonform.review.model import (
    AlarmChange,
    AttributeChange,
    ChangedResource,
    EnvironmentReview,
    Finding,
    InstanceChange,
    PlannedChange,
    Removal,
    Retirement,
    UpdateCapacity,
    Verdict,
    VersionChange,
    Weakening,
)

GITHUB_COMMENT_LIMIT = 65_536
MAX_NAME_CHARS = 200
"""Addresses, names and reasons come from files a user gives: a longer one is cut, so one line cannot fill a
comment."""


def _inline(text: str) -> str:
    """Text made safe for one line: no control characters, bounded length."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    return flat if len(flat) <= MAX_NAME_CHARS else flat[: MAX_NAME_CHARS - 3] + "..."


@dataclass(frozen=True)
class _Markup:
    """How inline code (addresses, names, values) and emphasis (what changes to) are shown."""

    code: Callable[[str], str]
    strong: Callable[[str], str]


# A backtick inside a code span would end it: markdown shows it as ' (the plain text keeps it).
_MARKDOWN = _Markup(code=lambda text: f"`{_inline(text).replace('`', chr(39))}`", strong=lambda text: f"**{text}**")
_PLAIN = _Markup(code=_inline, strong=str)


@dataclass(frozen=True)
class _Detail:
    """How much of every environment the markdown keeps."""

    change_list: bool
    """The collapsible list of every change."""
    values: bool
    """old -> new under each changed resource."""
    sections: bool
    """Rollout, alarms, capacity, resource groups, hardening, findings."""
    max_items: int | None = None
    """Items kept per list (None: all); the rest are counted."""
    max_reasons: int | None = None


FULL = _Detail(change_list=True, values=True, sections=True)
DETAIL_LEVELS = (
    FULL,
    _Detail(change_list=True, values=False, sections=True),
    _Detail(change_list=False, values=True, sections=True),
    _Detail(change_list=False, values=True, sections=True, max_items=50),
    _Detail(change_list=False, values=False, sections=True, max_items=20, max_reasons=10),
    _Detail(change_list=False, values=False, sections=True, max_items=5, max_reasons=5),
    _Detail(change_list=False, values=False, sections=False, max_items=3, max_reasons=3),
    _Detail(change_list=False, values=False, sections=False, max_items=1, max_reasons=1),
)
"""From everything to each environment's verdict, first removal, first weakening and version line."""
_FULL_REVIEW = "`tritonform review --format text`"


def _capped(items: list[str], limit: int | None, what: str = "more") -> list[str]:
    if limit is None or len(items) <= limit:
        return items
    return [*items[:limit], f"... and {len(items) - limit} {what} (all of them: {_FULL_REVIEW})"]


@dataclass(frozen=True)
class _Section:
    """A titled part of one environment's review: a lead line, a preformatted block, then list items (an
    item may carry sub-items: the old -> new values of a changed resource)."""

    title: str
    items: list[tuple[str, list[str]]]
    lead: str | None = None
    block: tuple[str, ...] = ()


def _version(version: VersionChange, markup: _Markup) -> str:
    if version.status == "base not given":
        return f"{version.model_name} {version.version_id} (base not given: the version before is unknown)"
    if version.status != "changed":
        return f"{version.model_name} {version.version_id} ({version.status})"
    source = f" from {markup.code(version.commit[:12])}" if version.commit else ""
    return (
        f"{version.model_name} {version.base_version_id} -> {markup.strong(version.version_id)} "
        f"(sha256 {markup.code(version.sha256[:16] + '...')}, attached by {version.attached_by}{source}: "
        f"{_inline(version.reason)}; {version.packaged_from or 'where it was packaged from is not recorded'})"
    )


def _removal(removal: Removal, markup: _Markup) -> str:
    line = f"{markup.strong(removal.action.upper())} {markup.code(removal.address)}"
    return f"{line}: {removal.why}" if removal.why else line


def _retirement(retirement: Retirement, markup: _Markup) -> str:
    version = f"version {retirement.version_id}" if retirement.version_id else "a release"
    what = f"{version}'s {retirement.kind} {markup.code(retirement.name)} ({markup.code(retirement.address)})"
    return f"retired: {what}: neither what the endpoint runs nor the declared fallback"


def _value_change(change: AttributeChange, markup: _Markup) -> str:
    return f"{markup.code(change.path)}: {markup.code(change.old)} -> {markup.code(change.new)}"


def _weakening(weakening: Weakening, markup: _Markup) -> str:
    verb = markup.strong("weakens" if weakening.certain else "check")
    return (f"{verb} {weakening.protection}: {markup.code(weakening.address)} "
            f"{_value_change(weakening.attribute, markup)} ({_inline(weakening.why)})")  # fmt: skip


def _values(attributes: tuple[AttributeChange, ...], markup: _Markup) -> list[str]:
    return [_value_change(change, markup) for change in attributes]


def _alarm(change: AlarmChange, markup: _Markup) -> tuple[str, list[str]]:
    if change.action == "delete":
        return f"removed: {markup.code(change.name)}", []
    if change.action == "create":
        return f"added: {markup.code(change.name)}", []
    return f"{change.action}: {markup.code(change.name)}", _values(change.attributes, markup)


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


def _resource(change: ChangedResource, markup: _Markup) -> tuple[str, list[str]]:
    return f"{change.action} {markup.code(change.address)}", _values(change.attributes, markup)


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
    alarms += [(f"no longer watched during rollouts: {', '.join(u.alarm_names)}", []) for u in review.unwatched_alarms]
    if alarms:
        sections.append(_Section("Rollback alarms", alarms))
    if review.retirements:
        sections.append(_Section("Fallback", [(_retirement(r, markup), []) for r in review.retirements]))
    capacity = [line for change in review.instance_changes for line in _instances(change, markup)]
    capacity += _update(review.update_capacity) if review.update_capacity else []
    if capacity:
        sections.append(_Section("Capacity and cost (estimate)", [(line, []) for line in capacity]))
    for group in review.resource_groups:
        sections.append(_Section(f"{group.name} changes", [_resource(c, markup) for c in group.changes]))
    if review.hardening_off:
        sections.append(_Section("Hardening controls turned off", [(
            f"without {markup.strong(off.name)} ({markup.code(off.field)}): "
            + (f"exception {record}" if (record := off.exception_record())
               else f"no exception recorded ({review.tier} does not need one)"), [])
            for off in review.hardening_off
        ]))  # fmt: skip
    if review.contract is not None and review.contract.changes:
        sections.append(_Section("Inference contract", [(_inline(line), []) for line in review.contract.changes]))
    if review.findings:
        sections.append(_Section("Security findings", [(_finding(f, markup), []) for f in review.findings]))
    return sections


_BADGE = {Verdict.NO_CHANGE: "⚪ no change", Verdict.SAFE: "🟢 safe", Verdict.NEEDS_ATTENTION: "🔴 needs attention"}


def _reasons(review: EnvironmentReview, limit: int | None) -> str:
    reasons = review.reasons
    if limit is not None and len(reasons) > limit:
        reasons = [*reasons[:limit], f"and {len(review.reasons) - limit} more"]
    return "; ".join(_inline(reason) for reason in reasons)


def _environment(review: EnvironmentReview, detail: _Detail) -> list[str]:
    """One environment's part of the comment: the lines that must survive any shortening come first."""
    lines = ["", f"### {review.environment}: {_BADGE[review.verdict]}", ""]
    lines += [f"- {line}" for line in _capped([_removal(r, _MARKDOWN) for r in review.removals], detail.max_items)]
    weakenings = [_weakening(w, _MARKDOWN) for w in review.weakenings]
    lines += [f"- {line}" for line in _capped(weakenings, detail.max_items, "more protection changes")]
    lines.append(f"- model version: {_version(review.version, _MARKDOWN)}")
    lines += [f"- inference contract: {_inline(review.contract.summary)}"] if review.contract else []
    if not detail.sections:
        return lines
    for section in _sections(review, _MARKDOWN):
        lines += ["", f"**{section.title}**", ""]
        lines += [section.lead] if section.lead is not None else []
        lines += ["```", *section.block, "```"] if section.block else []
        shown = section.items if detail.max_items is None else section.items[: detail.max_items]
        for item, values in shown:
            lines.append(f"- {item}")
            lines += [f"  - {value}" for value in _capped(values, detail.max_items)] if detail.values else []
        if len(shown) < len(section.items):
            lines.append(f"- ... and {len(section.items) - len(shown)} more (all of them: {_FULL_REVIEW})")
    return lines


def _change_list(review: EnvironmentReview, detail: _Detail) -> list[str]:
    rows: list[str] = []
    for change in review.changes:
        rows.append(f"{change.action:<8} {_inline(change.address)}")
        if detail.values:
            rows += [f"         {line}" for line in _values(change.attributes, _PLAIN)]
    rows = [row.replace("`", "'") for row in rows]  # a ``` inside would end the block
    return ["", f"<details><summary>{review.environment}: all {len(review.changes)} change(s)</summary>", "",
            "```", *rows, "```", "</details>"]  # fmt: skip


def markdown(reviews: list[EnvironmentReview], limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """The comment at the most detail that fits `limit`; every environment is always there."""
    for detail in DETAIL_LEVELS:
        text = _markdown_at(reviews, detail, limit)
        if text is not None:
            return text
    text = _markdown_at(reviews, DETAIL_LEVELS[-1], None) or ""
    cut = "\n\n_Truncated to GitHub's 65,536-character limit; run `tritonform review --format text` for the rest._\n"
    return text[: limit - len(cut)] + cut  # only for more environments than a comment can name


def _markdown_at(reviews: list[EnvironmentReview], detail: _Detail, limit: int | None) -> str | None:
    """The comment at one level of detail, or None as soon as it grows past `limit` (a huge plan is not
    rendered whole at every level only to be thrown away)."""
    lines = ["## tritonform plan review", ""]
    lines += [f"- **{r.environment}** ({r.tier}): {_BADGE[r.verdict]}: {_reasons(r, detail.max_reasons)}"
              for r in reviews]  # fmt: skip
    size = sum(len(line) + 1 for line in lines)
    parts: list[Callable[[], list[str]]] = [partial(_environment, review, detail) for review in reviews]
    if detail.change_list:
        parts += [partial(_change_list, review, detail) for review in reviews]
    for part in parts:
        more = part()
        size += sum(len(line) + 1 for line in more)
        if limit is not None and size > limit:
            return None
        lines += more
    lines += [] if detail == FULL else ["", _shortened_note(detail)]
    text = "\n".join(lines) + "\n"
    return text if limit is None or len(text) <= limit else None


def _shortened_note(detail: _Detail) -> str:
    left_out = []
    if not detail.change_list:
        left_out.append("the full change lists")
    if not detail.values:
        left_out.append("the old -> new values of changed resources")
    if not detail.sections:
        left_out.append("the rollout, alarm, capacity and resource sections")
    if detail.max_items is not None:
        left_out.append(f"list items past the first {detail.max_items}")
    return (f"_Shortened to fit GitHub's 65,536-character limit ({', '.join(left_out)} left out); "
            f"{_FULL_REVIEW} shows everything._")  # fmt: skip


def plain(reviews: list[EnvironmentReview]) -> str:
    lines = []
    for review in reviews:
        lines.append(f"{review.environment} ({review.tier}): {review.verdict}: {'; '.join(review.reasons)}")
        lines += [f"  ! {_removal(removal, _PLAIN)}" for removal in review.removals]
        lines += [f"  ! {_weakening(weakening, _PLAIN)}" for weakening in review.weakenings]
        lines.append(f"  version  {_version(review.version, _PLAIN)}")
        lines += [f"  contract {review.contract.summary}"] if review.contract else []
        for section in _sections(review, _PLAIN):
            lines.append(f"  {section.title}:")
            lines += [f"    {line}" for line in ([section.lead] if section.lead is not None else [])]
            lines += [f"    {line}" for line in section.block]
            for item, values in section.items:
                lines.append(f"    {item}")
                lines += [f"      {value}" for value in values]
        lines.append(f"  {len(review.changes)} change(s)")
        lines += [line for change in review.changes for line in _plain_change(change)]
    return "\n".join(lines) + "\n"


def _plain_change(change: PlannedChange) -> list[str]:
    values = [f"             {value}" for value in _values(change.attributes, _PLAIN)]
    return [f"    {change.action:<8} {_inline(change.address)}", *values]
