"""Paths of the protection table (protections.py) and where they lead in one resource change: a path may
step over every element of a list, every block of a set matched by id, or every key of a map."""

from __future__ import annotations

from dataclasses import dataclass

from tritonform.review.values import JsonValue, Path, Sides, Step, at

EACH = "*"
"""A path step over every element of a list of blocks (compared by position)."""
BY_ID = "*id"
"""A path step over every element of a list of blocks, matched on both sides by its `id` (a set of blocks,
such as an alarm's metric_query, which the plan lists in no meaningful order)."""
EACH_KEY = "*key"
"""A path step over every key of a map on either side (such as a metric's dimensions)."""
TypePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Located:
    """One concrete attribute of a table path: its name as a reviewer reads it, where it is on each side
    (a block matched by id may sit at another index), and the ids and keys it was matched by."""

    name: str
    before: Path
    after: Path
    keys: tuple[str, ...] = ()


def locate(path: TypePath, sides: Sides) -> list[Located]:
    """The table's path with every EACH, BY_ID and EACH_KEY step expanded to what is present on either side."""
    found = [Located("", (), ())]
    before, after = dict(sides.before), dict(sides.after)
    for step in path:
        expanded: list[Located] = []
        for item in found:
            old, new = at(before, item.before), at(after, item.after)
            if step == EACH:
                lengths = [len(v) for v in (old, new) if isinstance(v, list)]
                expanded += [_step(item, index, index, f"[{index}]") for index in range(max(lengths, default=0))]
            elif step == BY_ID:
                old_ids, new_ids = _ids(old), _ids(new)
                for key in dict.fromkeys([*old_ids, *new_ids]):
                    expanded.append(_step(item, old_ids.get(key, _ABSENT), new_ids.get(key, _ABSENT),
                                          f"[id={key}]", key))  # fmt: skip
            elif step == EACH_KEY:
                keys = [k for v in (old, new) if isinstance(v, dict) for k in v]
                expanded += [_step(item, key, key, f".{key}", key) for key in dict.fromkeys(sorted(keys))]
            else:
                text = f"[{step}]" if isinstance(step, int) else f".{step}"
                expanded.append(_step(item, step, step, text))
        found = expanded
    return found


_ABSENT = -1
"""An index no list has: `at` finds nothing there (a block present on the other side only)."""


def _step(item: Located, before: Step, after: Step, text: str, key: str | None = None) -> Located:
    name = item.name + text if item.name or not text.startswith(".") else text[1:]
    keys = (*item.keys, key) if key is not None else item.keys
    return Located(name, (*item.before, before), (*item.after, after), keys)


def _ids(blocks: JsonValue) -> dict[str, int]:
    if not isinstance(blocks, list):
        return {}
    return {str(at(block, ("id",))): index for index, block in enumerate(blocks) if isinstance(block, dict)}
