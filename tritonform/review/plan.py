"""Reading a real Terraform plan (`terraform show -json PLAN`) into the changes a reviewer cares about.

The plan is a file from CI or a user, so it is read like every other such file (tritonform.documents:
bounded in size and nesting) and its shape is checked before anything trusts it: a damaged plan is an error
naming the file and the entry, never a traceback. Format:
https://developer.hashicorp.com/terraform/internals/json-format#plan-representation
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tritonform.documents import read_json
from tritonform.errors import UserError
from tritonform.review.values import AttributeChange, JsonValue, Sides

MAX_PLAN_BYTES = 32 * 1024 * 1024
"""One tritonform stack's plan is about 100 KB (a few dozen resources): 32 MiB is over 300 times that, and
parsing it (Python needs several times the text in memory) stays within a few hundred MB on a CI runner; a
larger file is refused instead of exhausting the machine a pull request's review runs on."""
ACTIONS = {("no-op",), ("create",), ("read",), ("update",), ("delete",), ("delete", "create"), ("create", "delete"),
           ("forget",), ("create", "forget")}  # fmt: skip
"""The action lists `terraform show -json` writes (forget: Terraform 1.7 and later, removed blocks)."""


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    actions: tuple[str, ...]
    before: dict[str, JsonValue] = field(default_factory=dict)
    after: dict[str, JsonValue] = field(default_factory=dict)
    replace_paths: tuple[str, ...] = ()
    after_unknown: JsonValue = None
    before_sensitive: JsonValue = None
    after_sensitive: JsonValue = None

    @property
    def action(self) -> str:
        """create, update, delete, replace (either order) or no-op."""
        if set(self.actions) == {"create", "delete"}:
            return "replace"
        if self.actions in {("no-op",), ("read",)}:
            return "no-op"
        if self.actions == ("forget",):
            return "forget"
        return self.actions[0] if self.actions else "no-op"

    @property
    def create_before_destroy(self) -> bool:
        return self.actions == ("create", "delete")

    @property
    def sides(self) -> Sides:
        return Sides(self.before, self.after, self.after_unknown, self.before_sensitive, self.after_sensitive)

    def attribute_changes(self) -> tuple[AttributeChange, ...]:
        """old -> new for every attribute an update or replacement changes (none for a create or delete)."""
        if self.action not in {"update", "replace"}:
            return ()
        return self.sides.attribute_changes()


@dataclass(frozen=True)
class Plan:
    stack: str
    path: Path
    changes: list[ResourceChange]
    changed_outputs: frozenset[str] = frozenset()
    """Stack outputs the plan creates, updates or deletes."""
    output_values: dict[str, JsonValue] = field(default_factory=dict)
    """Each output's value after apply (null included), for the outputs whose value the plan knows."""

    @property
    def effective(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action != "no-op"]

    def of_type(self, *types: str) -> list[ResourceChange]:
        return [c for c in self.effective if c.type in types]


def load_plan(stack: str, path: Path) -> Plan:
    """A plan as `terraform show -json` prints it; anything else is a clear error (exit 2)."""
    if not path.exists():
        raise UserError.single("no such plan file (make it with: terraform show -json PLAN > FILE)", file=path)
    return parse_plan(stack, path, read_json(path, limit=MAX_PLAN_BYTES, what="a Terraform JSON plan"))


def parse_plan(stack: str, path: Path, document: object) -> Plan:
    """A plan document already read from `path` (named in errors), checked for the shape Terraform writes."""
    if not isinstance(document, dict) or "format_version" not in document:
        raise UserError.single("not a Terraform JSON plan: no format_version (terraform show -json PLAN)", file=path)
    raw = document.get("resource_changes", [])
    if not isinstance(raw, list):
        raise UserError.single("must be a list: the plan is damaged", file=path, field="resource_changes")
    changes = [_resource_change(entry, f"resource_changes[{index}]", path) for index, entry in enumerate(raw)]
    outputs = document.get("output_changes") or {}
    changed_outputs = frozenset(
        name
        for name, change in (outputs.items() if isinstance(outputs, dict) else [])
        if isinstance(change, dict) and change.get("actions") != ["no-op"]
    )
    output_values = {
        name: change.get("after")
        for name, change in (outputs.items() if isinstance(outputs, dict) else [])
        if isinstance(change, dict) and change.get("after_unknown") is not True and not change.get("after_sensitive")
    }
    return Plan(stack, path, changes, changed_outputs, output_values)


def _resource_change(entry: JsonValue, where: str, path: Path) -> ResourceChange:
    def damaged(field_name: str, what: str) -> UserError:
        return UserError.single(f"{what}: the plan is damaged", file=path, field=f"{where}{field_name}")

    if not isinstance(entry, dict):
        raise damaged("", "must be an object")
    change = entry.get("change")
    if not isinstance(change, dict):
        raise damaged(".change", "lacks 'change' (an object)")
    for key in ("address", "type"):
        if not isinstance(entry.get(key), str):
            raise damaged(f".{key}", f"lacks '{key}' (a string)")
    actions = change.get("actions")
    if not isinstance(actions, list) or tuple(actions) not in ACTIONS:
        allowed = " or ".join(str(list(a)) for a in sorted(ACTIONS))
        raise damaged(".change.actions", f"{str(actions)[:80]} is not an action list; allowed: {allowed}")
    sides = {}
    for side in ("before", "after"):
        value = change.get(side)
        if value is not None and not isinstance(value, dict):
            raise damaged(f".change.{side}", "must be an object or null")
        sides[side] = value or {}
    replace_paths = change.get("replace_paths") or []
    return ResourceChange(
        address=str(entry["address"]),
        type=str(entry["type"]),
        actions=tuple(str(a) for a in actions),
        before=sides["before"],
        after=sides["after"],
        replace_paths=tuple(str(p) for p in replace_paths) if isinstance(replace_paths, list) else (),
        after_unknown=change.get("after_unknown"),
        before_sensitive=change.get("before_sensitive"),
        after_sensitive=change.get("after_sensitive"),
    )
