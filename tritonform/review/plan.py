"""Reading a real Terraform plan (`terraform show -json PLAN`) into the changes a reviewer cares about."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonform.errors import UserError

MAX_PLAN_BYTES = 200_000_000


@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    actions: tuple[str, ...]
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    replace_paths: tuple[str, ...] = ()

    @property
    def action(self) -> str:
        """create, update, delete, replace (either order) or no-op."""
        if set(self.actions) == {"create", "delete"}:
            return "replace"
        if self.actions in {("no-op",), ("read",)}:
            return "no-op"
        return self.actions[0] if self.actions else "no-op"

    @property
    def create_before_destroy(self) -> bool:
        return self.actions == ("create", "delete")

    def changed_keys(self) -> list[str]:
        keys = set(self.before) | set(self.after)
        return sorted(k for k in keys if self.before.get(k) != self.after.get(k) and k not in {"tags_all", "id", "arn"})


@dataclass(frozen=True)
class Plan:
    stack: str
    path: Path
    changes: list[ResourceChange]
    changed_outputs: frozenset[str] = frozenset()
    """Stack outputs the plan creates, updates or deletes."""

    @property
    def effective(self) -> list[ResourceChange]:
        return [c for c in self.changes if c.action != "no-op"]

    def of_type(self, *types: str) -> list[ResourceChange]:
        return [c for c in self.effective if c.type in types]


def load_plan(stack: str, path: Path) -> Plan:
    """A plan as `terraform show -json` prints it; anything else is a clear error (exit 2)."""
    if not path.is_file():
        raise UserError.single("no such plan file (make it with: terraform show -json PLAN > FILE)", file=path)
    if path.stat().st_size > MAX_PLAN_BYTES:
        raise UserError.single(f"larger than {MAX_PLAN_BYTES} bytes: not a plan of one stack", file=path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError.single(f"not JSON ({err}): give the output of terraform show -json", file=path) from None
    if not isinstance(document, dict) or "format_version" not in document:
        raise UserError.single("not a Terraform JSON plan: no format_version (terraform show -json PLAN)", file=path)
    raw = document.get("resource_changes", [])
    if not isinstance(raw, list):
        raise UserError.single("resource_changes is not a list: the plan is damaged", file=path)
    changes = []
    for entry in raw:
        try:
            change = entry["change"]
            changes.append(
                ResourceChange(
                    address=str(entry["address"]),
                    type=str(entry["type"]),
                    actions=tuple(change["actions"]),
                    before=change.get("before") or {},
                    after=change.get("after") or {},
                    replace_paths=tuple(json.dumps(p) for p in change.get("replace_paths") or []),
                )
            )
        except (KeyError, TypeError) as err:
            raise UserError.single(f"a resource change lacks {err}: the plan is damaged", file=path) from None
    outputs = document.get("output_changes") or {}
    changed_outputs = frozenset(
        name
        for name, change in (outputs.items() if isinstance(outputs, dict) else [])
        if isinstance(change, dict) and change.get("actions") != ["no-op"]
    )
    return Plan(stack, path, changes, changed_outputs)
