"""CloudWatch metric math, one period at a time: the expressions a metric math alarm compares.

Follows "Using metric math" (CloudWatch User Guide): arithmetic (+ - * / ^, unary -) where a missing value of
a time series counts as 0 and a division by zero drops the data point; comparison (== != <= >= < >) and
logical (AND, &&, OR, ||) operators giving 1 or 0, a missing value of one of two time series counting as 0;
IF(condition, trueValue[, falseValue]) as its "Using IF expressions" section describes it (a condition of 0
is false, a missing true value of a time series is 0, a false condition without a false value drops the
point); FILL(series, scalar or series); ABS, CEIL, FLOOR, LOG and LOG10 point by point. A time series has a
data point in a period only if at least one of its series has one there.

Every other function (those over a whole series such as AVG, MAX or RATE, FILL with REPEAT or LINEAR,
METRICS, SEARCH, ...) raises UnsupportedError with its name: the local SageMaker reports such an alarm instead
of guessing its value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Point = float | None
"""One period's value of a time series; None: no data point in that period."""

_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^<>(),]))"
)
_ELEMENTWISE: dict[str, Callable[[float], float]] = {
    "ABS": abs,
    "CEIL": lambda value: float(math.ceil(value)),
    "FLOOR": lambda value: float(math.floor(value)),
    "LOG": math.log,
    "LOG10": math.log10,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


class UnsupportedError(ValueError):
    """An expression the local SageMaker cannot evaluate (or cannot read); the message says what and why."""


@dataclass(frozen=True)
class Node:
    kind: str
    """number, id, unary, binary or call."""
    value: str | float = ""
    args: tuple[Node, ...] = ()

    @property
    def is_series(self) -> bool:
        return self.kind == "id" or any(arg.is_series for arg in self.args)

    def ids(self) -> set[str]:
        own = {str(self.value)} if self.kind == "id" else set()
        return own.union(*(arg.ids() for arg in self.args))


def _tokens(expression: str) -> list[str]:
    tokens, at = [], 0
    text = expression.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise UnsupportedError(f"cannot read {expression!r} at character {at + 1}: {text[at : at + 10]!r}")
        tokens.append(match.group(match.lastgroup or "op"))
        at = match.end()
    return tokens


class _Parser:
    # Precedence, lowest first: OR, AND, comparison, + -, * /, ^, unary -.
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise UnsupportedError(
                f"cannot read {self.expression!r}: expected {expected or 'more'} after token {self.at}"
            )
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.logical_or()
        if self.peek() is not None:
            raise UnsupportedError(f"cannot read {self.expression!r}: unexpected {self.peek()!r}")
        return node

    def _binary(self, operators: set[str], operand: Callable[[], Node]) -> Node:
        node = operand()
        while (token := self.peek()) is not None and token in operators:
            self.take()
            node = Node("binary", {"&&": "AND", "||": "OR"}.get(token, token), (node, operand()))
        return node

    def logical_or(self) -> Node:
        return self._binary({"OR", "||"}, self.logical_and)

    def logical_and(self) -> Node:
        return self._binary({"AND", "&&"}, self.comparison)

    def comparison(self) -> Node:
        return self._binary(set(_COMPARE), self.additive)

    def additive(self) -> Node:
        return self._binary({"+", "-"}, self.multiplicative)

    def multiplicative(self) -> Node:
        return self._binary({"*", "/"}, self.power)

    def power(self) -> Node:
        base = self.unary()
        if self.peek() == "^":
            self.take()
            return Node("binary", "^", (base, self.power()))
        return base

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return Node("unary", "-", (self.unary(),))
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.logical_or()
            self.take(")")
            return node
        if re.fullmatch(r"[\d.].*", token):
            return Node("number", float(token))
        if not re.fullmatch(r"[A-Za-z_]\w*", token):
            raise UnsupportedError(f"cannot read {self.expression!r}: unexpected {token!r}")
        if self.peek() != "(":
            if token in {"REPEAT", "LINEAR"}:
                return Node("id", token)  # FILL's fill modes, refused by _call
            if not token[0].islower():
                raise UnsupportedError(
                    f"{token} in {self.expression!r} is not a metric id (ids start with a lower-case letter)"
                )
            return Node("id", token)
        self.take("(")
        args: list[Node] = []
        while self.peek() != ")":
            if args:
                self.take(",")
            args.append(self.logical_or())
        self.take(")")
        return self._call(token, tuple(args))

    def _call(self, name: str, args: tuple[Node, ...]) -> Node:
        if name == "IF" and len(args) in (2, 3):
            return Node("call", name, args)
        if name == "FILL" and len(args) == 2:
            if args[1].kind == "id" and str(args[1].value).upper() in {"REPEAT", "LINEAR"}:
                raise UnsupportedError(
                    f"FILL(..., {args[1].value}) needs earlier periods; the local SageMaker fills only with a number "
                    "or another series"
                )
            return Node("call", name, args)
        if name in _ELEMENTWISE and len(args) == 1:
            return Node("call", name, args)
        raise UnsupportedError(
            f"{name}({len(args)} argument(s)) in {self.expression!r} is not supported by the local SageMaker (it "
            "evaluates arithmetic, comparisons, AND/OR, IF, FILL with a number or series, ABS, CEIL, FLOOR, LOG, LOG10)"
        )


def parse(expression: str) -> Node:
    """The expression's syntax tree; UnsupportedError when it cannot be read or uses an unsupported function."""
    return _Parser(expression).parse()


def _pair(left: Node, a: Point, right: Node, b: Point) -> tuple[float, float] | None:
    """Both operands, a missing value of a series counting as 0, or None when the period has no data point."""
    if a is None and b is None:
        return None
    if (a is None and not right.is_series) or (b is None and not left.is_series):
        return None  # a series without a point, against a scalar: no point in this period
    return (0.0 if a is None else a, 0.0 if b is None else b)


def _binary(node: Node, values: Mapping[str, Point]) -> Point:
    left, right = node.args
    pair = _pair(left, evaluate(left, values), right, evaluate(right, values))
    if pair is None:
        return None
    a, b = pair
    operator = str(node.value)
    if operator in _COMPARE:
        return float(_COMPARE[operator](a, b))
    if operator == "AND":
        return float(a != 0 and b != 0)
    if operator == "OR":
        return float(a != 0 or b != 0)
    if operator == "/":
        return None if b == 0 else a / b  # "the data point is dropped"
    if operator == "^":
        return float(a**b)
    return a + b if operator == "+" else a - b if operator == "-" else a * b


def _call(node: Node, values: Mapping[str, Point]) -> Point:
    name = str(node.value)
    if name == "IF":
        condition = evaluate(node.args[0], values)
        if condition is None:
            return None
        if condition != 0:
            chosen = evaluate(node.args[1], values)
            return 0.0 if chosen is None else chosen
        return evaluate(node.args[2], values) if len(node.args) == 3 else None
    if name == "FILL":
        value = evaluate(node.args[0], values)
        return evaluate(node.args[1], values) if value is None else value
    value = evaluate(node.args[0], values)
    return None if value is None else _ELEMENTWISE[name](value)


def evaluate(node: Node, values: Mapping[str, Point]) -> Point:
    """The expression's value in one period, given each id's value there (None: no data point)."""
    if node.kind == "number":
        return float(node.value)
    if node.kind == "id":
        if node.value not in values:
            raise UnsupportedError(f"the expression uses {node.value!r}, which no query of the alarm defines")
        return values[str(node.value)]
    if node.kind == "unary":
        value = evaluate(node.args[0], values)
        return None if value is None else -value
    if node.kind == "binary":
        return _binary(node, values)
    return _call(node, values)
