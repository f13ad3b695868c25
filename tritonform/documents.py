"""Reading a user's YAML file into a frozen model, with problems that name the file, the line and the field.

Shared by everything that reads user input (environments, releases, policies, smoke files, the security
baseline), so each reader reports a mistake in the same words.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from types import UnionType
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from tritonform.errors import Problem, UserError

ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = tuple[str | int, ...]
MAX_CONFIG_BYTES = 1_000_000
# A YAML alias repeats a node by reference, so a few lines can stand for billions of values (the "billion
# laughs" attack) or contain themselves. Configuration files need neither: bound both before anything walks
# the document. Plain values are already bounded by the file size.
MAX_ALIAS_EXPANSION = 10_000
MAX_NESTING = 32


class FrozenModel(BaseModel):
    """Immutable, closed, strictly typed: a typo is an error, never a silently ignored key."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )


class FieldError(ValueError):
    """Raised by cross-field validators so the error points at the field to change, not the whole file.

    `field` is relative to the model that raised it (dotted, e.g. "capacity.min_instances").
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- reading a file a user can change ------------------------------------------------------------------


def read_text(path: Path, *, limit: int = MAX_CONFIG_BYTES, what: str = "a configuration file") -> str:
    """The UTF-8 text of a regular file no larger than `limit`: anything else is refused, never half-read."""
    try:
        if path.is_dir():
            raise UserError.single(f"is a directory, but {what} is expected here", file=path)
        if not path.exists():
            raise UserError.single("file not found", file=path)
        if not path.is_file():
            raise UserError.single(f"is not a regular file (a pipe, socket or device?), but {what} is expected",
                                   file=path)  # fmt: skip
        if path.stat().st_size > limit:
            raise UserError.single(f"larger than {limit:,} bytes: not {what}", file=path)
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may grow after stat: never read more than allowed
        if len(data) > limit:
            raise UserError.single(f"larger than {limit:,} bytes: not {what}", file=path)
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError.single(f"not UTF-8 text (byte {err.start})", file=path) from None
    except OSError as err:
        raise UserError.single(f"cannot be read: {err.strerror}", file=path) from None


def parse_json(text: str, path: Path, *, line: int | None = None) -> object:
    """One JSON document (or one JSON Lines record at `line`), refused with its place when it is not JSON or
    nests deeper than Python's parser can follow."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = line if line is not None else err.lineno
        column = None if line is not None else err.colno
        raise UserError([Problem(file=path, field=None, line=where, column=column,
                                 message=f"not valid JSON: {err.msg}")]) from None  # fmt: skip
    except RecursionError:
        message = "JSON nested thousands of levels deep: refused (no file tritonform reads nests like that)"
        raise UserError([Problem(file=path, field=None, line=line, message=message)]) from None


def read_json(path: Path, *, limit: int, what: str) -> object:
    """A whole JSON file, bounded in size and nesting (see read_text and parse_json)."""
    return parse_json(read_text(path, limit=limit, what=what), path)


# --- YAML with line numbers ----------------------------------------------------------------------------


def read_yaml(path: Path) -> tuple[object, dict[Loc, int]]:
    """Parse one YAML document; return the data and the line of every key and list item in it."""
    text = read_text(path)

    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as err:  # e.g. a control character: the reader refuses it before parsing
        raise UserError.single(f"invalid YAML: {err}".replace("\n", " "), file=path) from None
    try:
        _refuse_deep_nesting(text, path)  # before composing: PyYAML's composer recurses once per level
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        if node is not None:
            _refuse_unbounded(node, path)
            _index_lines(node, (), lines, path)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        reason = err.problem or err.context or "invalid YAML"
        raise UserError([Problem(file=path, field=None, message=f"invalid YAML: {reason}", line=line)]) from None
    except yaml.YAMLError as err:
        raise UserError.single(f"invalid YAML: {err}".replace("\n", " "), file=path) from None
    finally:
        loader.dispose()
    return data, lines


def _refuse_deep_nesting(text: str, path: Path) -> None:
    """Read the event stream (PyYAML's parser is a state machine, not recursive) and refuse deep nesting."""
    events = yaml.SafeLoader(text)
    depth = 0
    try:
        while events.check_event():
            event = events.get_event()  # type: ignore[no-untyped-call]
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    _refuse_nesting(path, event.start_mark.line + 1 if event.start_mark else 1)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        events.dispose()


def _refuse_nesting(path: Path, line: int) -> None:
    raise UserError([Problem(file=path, field=None, line=line, message=(
        f"nested more than {MAX_NESTING} levels deep; tritonform's files need far fewer"))])  # fmt: skip


def _refuse_unbounded(root: yaml.Node, path: Path) -> None:
    """Refuse a document that nests too deeply, contains itself, or repeats too much through aliases."""
    seen: set[int] = set()
    expanded = 0
    # (node, depth, ids of the collections it sits in): explicit stack, so hostile input cannot recurse
    stack: list[tuple[yaml.Node, int, frozenset[int]]] = [(root, 1, frozenset())]
    while stack:
        node, depth, ancestors = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in ancestors:
            raise UserError([Problem(file=path, field=None, line=line, message=(
                "a YAML alias refers to a collection that contains it (an endless document); "
                "write the values out instead"))])  # fmt: skip
        if id(node) in seen:
            expanded += 1
            if expanded > MAX_ALIAS_EXPANSION:
                raise UserError([Problem(file=path, field=None, line=line, message=(
                    f"YAML aliases repeat more than {MAX_ALIAS_EXPANSION:,} values (an alias bomb?); "
                    "a configuration file may use aliases only for a few shared values"))])  # fmt: skip
        seen.add(id(node))
        if depth > MAX_NESTING:  # reached through aliases: the text itself was checked before composing
            _refuse_nesting(path, line)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        inner = ancestors | {id(node)} if children else ancestors
        stack.extend((child, depth + 1, inner) for child in children)


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise UserError(
                    [
                        Problem(
                            file=path,
                            field=dotted((*loc, key)),
                            line=line,
                            message=f"duplicate key (first set on line {seen[key]}); YAML would silently keep the last",
                        )
                    ]
                )
            seen[key] = line
            _index_lines(value_node, (*loc, key), lines, path)
            lines[(*loc, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, index), lines, path)


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_loc(field: str) -> Loc:
    """A FieldError's dotted field as a location: "extra.0.name" -> ("extra", 0, "name")."""
    return tuple(int(part) if part.isdigit() else part for part in field.split("."))


def line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


# --- validation errors, in the user's words -----------------------------------------------------------


def parse_model(model: type[ModelT], path: Path) -> ModelT:
    data, lines = read_yaml(path)
    return validate_data(model, data, path, lines)


def validate_data(model: type[ModelT], data: object, path: Path, lines: dict[Loc, int] | None = None) -> ModelT:
    lines = lines or {}
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise UserError.single(f"must be a mapping of keys to values, but the file is {kind}", file=path)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = [_problem(model, error, path, lines) for error in err.errors(include_url=False)]
        raise UserError(problems) from None


def _problem(model: type[BaseModel], error: ErrorDetails, path: Path, lines: dict[Loc, int]) -> Problem:
    loc: Loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    message = error["msg"]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):
        loc = (*loc, *field_loc(cause.field))
        message = cause.message
    elif error["type"] == "extra_forbidden":
        allowed = sorted(_fields_at(model, loc[:-1]))
        message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
    elif error["type"] == "missing":
        message = "required, but missing"
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    elif error["type"] in {"string_type", "int_type", "bool_type", "list_type", "dict_type", "model_type"}:
        message = f"{message}, got {describe(error['input'])}"
        if error["type"] == "string_type" and isinstance(error["input"], int | float):
            message += " (YAML read it as a number: quote it)"
    elif error["type"] == "string_pattern_mismatch":
        message = f"{describe(error['input'])} is not allowed here: {_pattern_hint(loc)}"
    elif error["type"] in {"greater_than_equal", "less_than_equal", "too_long", "too_short", "literal_error"}:
        message = f"{message}, got {describe(error['input'])}"
    return Problem(file=path, field=dotted(loc) or None, message=message, line=line_for(loc, lines))


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the chosen union member's name ("int", "constrained-int", "EndpointSettings") into loc
    return isinstance(part, str) and (
        part in {"int", "str", "bool", "list", "dict", "none"} or part.startswith(("constrained-", "function-"))
    )


def describe(value: object) -> str:
    if value is None:
        return "null"
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{shown} ({type(value).__name__})"


_PATTERN_HINTS = {
    "name": "letters, digits and hyphens, starting and ending with a letter or digit, within the length limit",
    "account_id": "12 digits, quoted",
    "region": "an AWS region such as us-east-1",
    "bucket": "an S3 bucket name: 3-63 lower-case letters, digits and hyphens",
    "kms_key_arn": "a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>",
    "rollout_policy": "a policy name: lower-case letters, digits and hyphens",
    "sha256": "64 lower-case hex digits",
    "commit": "a full 40-digit git commit id",
    "version_id": "12 lower-case hex digits",
    "version": "a Triton release such as 24.09",
}


def _pattern_hint(loc: Loc) -> str:
    for part in reversed(loc):
        if isinstance(part, str) and part in _PATTERN_HINTS:
            return _PATTERN_HINTS[part]
        if isinstance(part, str) and part.endswith("_ids"):
            return "AWS resource ids such as subnet-0123abcd / sg-0123abcd"
    return "see the JSON Schema in schemas/"


def _fields_at(model: type[BaseModel], loc: Loc) -> set[str]:
    current: object = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = _by_key(current)
        if part not in fields:
            return set()
        current = model_in(fields[part].annotation)
        if current is None:
            return set()
    return set(_by_key(current))


def _by_key(model: object) -> dict[str, typing.Any]:
    """A model's fields by the key a document spells: the alias where there is one (`from` for `from_`)."""
    fields = getattr(model, "model_fields", None) or {}
    return {info.alias or name: info for name, info in fields.items()}


def model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in {typing.Union, UnionType, list, typing.Annotated}:
        for arg in typing.get_args(annotation):
            found = model_in(arg)
            if found is not None:
                return found
    return None
