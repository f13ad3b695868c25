"""Whether a new IAM policy document grants more than the old one: an Allow it did not have, or a Deny it
drops.

A statement is read as grants, one per action x resource x principal, each with the statement's condition
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html). A new Allow grant is
covered when an old Allow grant with the same principal and condition matches it through `*` and `?`
wildcards (as IAM matches action and resource names); an old Deny grant is kept when a new Deny covers it.
Anything else counts as growth: a changed condition, a NotAction, a new principal. That is conservative on
purpose: the review may ask for a look at a policy that did not grow, never call a grown one safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tritonform.review.values import JsonValue, strings

MAX_LISTED = 3
MAX_GRANTS = 2_000
"""IAM caps a policy at 6,144-20,480 characters (by kind), far fewer grants than this; more is not a policy
AWS would accept, and comparing it would only cost time."""


@dataclass(frozen=True)
class Grant:
    effect: str
    action: str
    resource: str
    principal: str
    condition: str

    def covers(self, other: Grant) -> bool:
        return (
            self.effect == other.effect
            and self.principal == other.principal
            and self.condition == other.condition
            and _matches(self.action.lower(), other.action.lower())
            and _matches(self.resource, other.resource)
        )

    def __str__(self) -> str:
        text = f"{self.action} on {self.resource}"
        text += f" for {self.principal}" if self.principal else ""
        return text + (" (with another condition)" if self.condition else "")


def _matches(pattern: str, name: str) -> bool:
    if pattern.startswith("Not") or name.startswith("Not"):  # NotAction:..., NotResource:...: exact only
        return pattern == name
    return fnmatchcase(name, pattern.replace("[", "[[]"))


class NotAPolicyError(ValueError):
    """The text is not a JSON policy document."""


def grants(document: JsonValue) -> set[Grant]:
    """Every grant of a policy document given as JSON text (what the provider stores) or parsed."""
    if document is None or document == "":
        return set()
    parsed: JsonValue = document
    if isinstance(document, str):
        try:
            parsed = json.loads(document)
        except (json.JSONDecodeError, RecursionError):
            raise NotAPolicyError("not JSON") from None
    if not isinstance(parsed, dict):
        raise NotAPolicyError("not a JSON object")
    statements = parsed.get("Statement", [])
    found: set[Grant] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            raise NotAPolicyError("a statement is not an object")
        found |= _statement_grants(statement)
        if len(found) > MAX_GRANTS:
            raise NotAPolicyError(f"more than {MAX_GRANTS:,} grants")
    return found


def _statement_grants(statement: dict[str, JsonValue]) -> set[Grant]:
    effect = str(statement.get("Effect", ""))
    actions = strings(statement.get("Action")) or [f"NotAction:{a}" for a in strings(statement.get("NotAction"))]
    resources = strings(statement.get("Resource")) or [
        f"NotResource:{r}" for r in strings(statement.get("NotResource"))
    ] or [""]  # fmt: skip
    principals = _principals(statement.get("Principal"), "") + _principals(statement.get("NotPrincipal"), "Not")
    condition = json.dumps(statement.get("Condition"), sort_keys=True) if statement.get("Condition") else ""
    return {
        Grant(effect, action, resource, principal, condition)
        for action in actions or [""]
        for resource in resources
        for principal in principals or [""]
    }


def _principals(value: JsonValue, prefix: str) -> list[str]:
    if isinstance(value, str):
        return [f"{prefix}{value}"]
    if isinstance(value, dict):
        return [f"{prefix}{kind}:{who}" for kind, names in value.items() for who in strings(names)]
    return []


def growth(old: JsonValue, new: JsonValue) -> str | None:
    """Why the new document grants more than the old (None: it does not); NotAPolicyError if either is not one."""
    before, after = grants(old), grants(new)
    allowed = sorted(str(g) for g in after - before if g.effect == "Allow" and not _covered(g, before))
    dropped = sorted(str(g) for g in before - after if g.effect == "Deny" and not _covered(g, after))
    reasons = []
    if allowed:
        reasons.append(f"allows {len(allowed)} grant(s) it did not: {_listed(allowed)}")
    if dropped:
        reasons.append(f"no longer denies {len(dropped)}: {_listed(dropped)}")
    return "; ".join(reasons) or None


def _covered(grant: Grant, by: set[Grant]) -> bool:
    return any(other.covers(grant) for other in by)


def _listed(items: list[str]) -> str:
    more = f", and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more
