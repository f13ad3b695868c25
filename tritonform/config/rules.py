"""What each tier demands of how a version reaches traffic: every rule in one place, with its reason.

Problems stop the environment from loading; warnings are printed and let it load. The rule that a bake
must outlast the alarms' detection time lives in `rollout.plan_rollout` (it needs the timeline) and is
strict for prod only, for the reason given here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tritonform.config.environment import HARDENING_CONTROLS, EnvironmentConfig, HardeningControl
from tritonform.config.rollout import AllAtOncePolicy, RolloutPlan
from tritonform.documents import FieldError


@dataclass(frozen=True)
class Rule:
    name: str
    tiers: frozenset[str]
    severity: str  # "problem" or "warning"
    why: str
    broken: Callable[[EnvironmentConfig, RolloutPlan], FieldError | None]


def _without_alarms(message: str) -> Callable[[EnvironmentConfig, RolloutPlan], FieldError | None]:
    return lambda env, _: None if env.rollback_alarms.count else FieldError("rollback_alarms", message)


RULES: list[Rule] = [
    Rule(
        "prod-has-rollback-alarms",
        frozenset({"prod"}),
        "problem",
        "without an alarm SageMaker cannot roll a bad version back by itself: the bake is only a delay",
        _without_alarms("prod needs at least one rollback alarm"),
    ),
    Rule(
        "prod-rolls-out-gradually",
        frozenset({"prod"}),
        "problem",
        "all-at-once sends every request to the new version before any alarm has seen it; canary, linear and "
        "rolling policies limit how much traffic a bad version reaches",
        lambda _, plan: (
            FieldError(
                "rollout_policy",
                f"prod needs a canary, linear or rolling policy, not {plan.policy_name!r} (all-at-once)",
            )
            if isinstance(plan.policy, AllAtOncePolicy)
            else None
        ),
    ),
    Rule(
        "alarms-everywhere",
        frozenset({"dev", "staging"}),
        "warning",
        "a rollout without alarms is never rolled back automatically; dev and staging rehearse prod's rollout",
        _without_alarms("no rollback alarms: SageMaker will not roll back a bad version"),
    ),
    Rule(
        "rollback-in-time",
        frozenset({"dev", "staging", "prod"}),
        "warning (problem in prod)",
        "a bake shorter than the time an alarm needs to reach ALARM lets the traffic shift move on before a bad "
        "version can be caught",
        lambda _env, _plan: None,  # decided in rollout.plan_rollout, which knows the timeline
    ),
    Rule(
        "within-terraforms-wait",
        frozenset({"dev", "staging", "prod"}),
        "problem",
        "the Terraform AWS provider waits at most 60 minutes for an endpoint update and then fails the apply while "
        "SageMaker carries on; a worst-case timeline over 3000 s (600 s kept for launching instances and pulling "
        "the image) would report a failure for an update that may still complete",
        lambda _env, _plan: None,  # decided in rollout.plan_rollout, which knows the timeline
    ),
]


def _unexcepted(control: HardeningControl) -> Callable[[EnvironmentConfig, RolloutPlan], FieldError | None]:
    def broken(env: EnvironmentConfig, _plan: RolloutPlan) -> FieldError | None:
        if not control.is_off(env) or env.security_exception(control.name):
            return None
        return FieldError(
            control.field,
            f"prod must keep {control.name} on; turning it off needs a security_exceptions entry "
            f"(control: {control.name}, reason, approved_by, ticket)",
        )

    return broken


# Prod keeps every hardening control on unless an exception in the environment file records who turned one
# off and why; dev and staging may experiment (their choices still show in every check and plan review).
RULES += [
    Rule(f"prod-keeps-{control.name}", frozenset({"prod"}), "problem", control.why, _unexcepted(control))
    for control in HARDENING_CONTROLS
]


def apply_rules(env: EnvironmentConfig, plan: RolloutPlan) -> tuple[list[FieldError], list[FieldError]]:
    problems, warnings = list(plan.problems), list(plan.warnings)
    for rule in RULES:
        if env.tier not in rule.tiers:
            continue
        broken = rule.broken(env, plan)
        if broken is not None:
            (problems if rule.severity == "problem" else warnings).append(broken)
    return problems, warnings
