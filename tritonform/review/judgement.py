"""A protection's verdict on one attribute's change old -> new, and what a judge is given to reach it
(protections.py holds the table of judges; alarm_queries.py the judges of metric math alarms)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from tritonform.review.values import JsonValue, Sides


class Severity(StrEnum):
    WEAKENS = "weakens"
    UNCHECKED = "cannot be checked"


@dataclass(frozen=True)
class Judgement:
    severity: Severity
    why: str


@dataclass(frozen=True)
class PlanContext:
    """What the rest of the plan says that a judge needs."""

    release_configuration: str | None = None
    """The endpoint configuration the plan's endpoint runs after apply (its endpoint_config_name); None
    where the plan has no endpoint, or the name is known only after apply."""


@dataclass(frozen=True)
class Observed:
    """One protected attribute before and after, with both whole resources for context; `keys` are the
    block ids and map keys the path was matched by (BY_ID, EACH_KEY), in order."""

    old: JsonValue
    new: JsonValue
    sides: Sides
    keys: tuple[str, ...] = ()
    context: PlanContext = field(default_factory=PlanContext)


Judge = Callable[[Observed], Judgement | None]


def weakens(why: str) -> Judgement:
    return Judgement(Severity.WEAKENS, why)


def unchecked(why: str) -> Judgement:
    return Judgement(Severity.UNCHECKED, why)
