"""Attribute values of a Terraform JSON plan: reading a path, listing what changed as old -> new, and showing
a value the way a reviewer can read it.

`terraform show -json` writes each resource's `before` and `after` values, and beside them `after_unknown`
(true where a value is known only after apply) and `before_sensitive` / `after_sensitive` (true where a value
is sensitive), each shaped like the values they describe
(https://developer.hashicorp.com/terraform/internals/json-format#change-representation). A sensitive value
is shown as Terraform's own plan output shows it, "(sensitive value)"; an unknown one as "(known after
apply)". Walks are bounded in depth, so a hostile plan cannot exhaust the stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
Values: TypeAlias = Mapping[str, JsonValue]
Step: TypeAlias = str | int
Path: TypeAlias = tuple[Step, ...]

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ABSENT = "(none)"
MAX_SHOWN_CHARS = 120
MAX_DEPTH = 24
"""Deeper than any provider schema nests its blocks; below that a whole subtree is compared as one value."""
COMPUTED_KEYS = frozenset({"tags_all", "id", "arn"})
"""Derived by the provider from other attributes: a change to them is already shown where it comes from."""


@dataclass(frozen=True)
class AttributeChange:
    """One attribute an in-place change or replacement sets to another value, both shown for a reviewer."""

    path: str
    old: str
    new: str


def at(values: JsonValue, path: Path) -> JsonValue:
    """The value at `path` (keys and list indexes), or None where any step is missing (a negative index
    names no element: it stands for a block present on the other side only)."""
    current = values
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list) or not 0 <= step < len(current):
                return None
            current = current[step]
        else:
            if not isinstance(current, dict):
                return None
            current = current.get(step)
    return current


def flagged(marks: JsonValue, path: Path) -> bool:
    """Whether an after_unknown / *_sensitive tree marks `path` (or a block that contains it) true."""
    current = marks
    for step in path:
        if current is True:
            return True
        current = at(current, (step,))
    return current is True


def render_path(path: Path) -> str:
    """Terraform's way of naming a nested attribute: rule[0].apply_server_side_encryption_by_default[0]."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def shown(value: JsonValue, *, limit: int = MAX_SHOWN_CHARS) -> str:
    """A value as JSON (strings quoted, null as (none)), cut at `limit` characters."""
    if value is None:
        return ABSENT
    text = _compact(value, MAX_DEPTH)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _compact(value: JsonValue, depth: int) -> str:
    if isinstance(value, dict):
        if depth <= 0:
            return "{...}"
        return "{" + ", ".join(f"{json.dumps(k)}: {_compact(v, depth - 1)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[...]" if depth <= 0 else "[" + ", ".join(_compact(v, depth - 1) for v in value) + "]"
    return json.dumps(value)


def shown_at(values: JsonValue, sensitive: JsonValue, path: Path, unknown: JsonValue = None) -> str:
    """The value at `path` as a reviewer may see it: masked where sensitive, marked where unknown."""
    if unknown is not None and flagged(unknown, path):
        return UNKNOWN
    if flagged(sensitive, path):
        return SENSITIVE
    return shown(at(values, path))


@dataclass(frozen=True)
class Sides:
    """Both sides of one resource change with their unknown and sensitive marks."""

    before: Values
    after: Values
    after_unknown: JsonValue = None
    before_sensitive: JsonValue = None
    after_sensitive: JsonValue = None

    def change_at(self, path: Path) -> AttributeChange:
        return AttributeChange(
            render_path(path),
            shown_at(dict(self.before), self.before_sensitive, path),
            shown_at(dict(self.after), self.after_sensitive, path, self.after_unknown),
        )

    def change_between(self, name: str, before: Path, after: Path) -> AttributeChange:
        """old -> new of one attribute that sits at another path on each side (a block matched by id)."""
        return AttributeChange(
            name,
            shown_at(dict(self.before), self.before_sensitive, before),
            shown_at(dict(self.after), self.after_sensitive, after, self.after_unknown),
        )

    def unknown_at(self, path: Path) -> bool:
        return flagged(self.after_unknown, path)

    def changed_paths(self) -> list[Path]:
        """Every leaf path whose value differs (or becomes unknown), skipping the provider's derived keys."""
        found: list[Path] = []
        keys = sorted((set(self.before) | set(self.after)) - COMPUTED_KEYS)
        for key in keys:
            _diff(self.before.get(key), self.after.get(key), (key,), self, found)
        return found

    def attribute_changes(self) -> tuple[AttributeChange, ...]:
        return tuple(self.change_at(path) for path in self.changed_paths())


def _diff(old: JsonValue, new: JsonValue, path: Path, sides: Sides, found: list[Path]) -> None:
    if sides.unknown_at(path):
        found.append(path)
        return
    if old == new:
        return
    if len(path) < MAX_DEPTH and isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), (*path, key), sides, found)
        return
    if len(path) < MAX_DEPTH and _same_length_lists(old, new):
        assert isinstance(old, list) and isinstance(new, list)
        for index, (left, right) in enumerate(zip(old, new, strict=True)):
            _diff(left, right, (*path, index), sides, found)
        return
    found.append(path)


def _same_length_lists(old: JsonValue, new: JsonValue) -> bool:
    return isinstance(old, list) and isinstance(new, list) and len(old) == len(new)


def strings(value: JsonValue) -> list[str]:
    """A JSON value that should be a string or a list of strings, as a list (anything else: empty)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [item for item in value if isinstance(item, str)]
    return []
