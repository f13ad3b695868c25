"""A deployment as a list of phases: what runs, what share of traffic the new fleet takes, for how long.

The phases follow the SageMaker Developer Guide, "Deployment guardrails": blue/green updates provision the
whole new (green) fleet next to the old (blue) one, then shift traffic ("Blue/green canary traffic
shifting": the canary, a baking period, the rest, a baking period; "Use linear traffic shifting": equal
steps, each followed by a baking period; "Use all at once traffic shifting": one shift, then a baking
period), keep the old fleet for TerminationWaitInSeconds, and terminate it. "Rolling deployments" replace
the fleet in batches: provision a batch, turn traffic on it, bake, terminate as many old instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from tritonform.localsagemaker.api import CapacitySize, DeploymentConfig

# ProductionVariantStatus.Status, SageMaker API Reference.
VariantStatus = Literal["Creating", "Updating", "Deleting", "ActivatingTraffic", "Baking"]


@dataclass(frozen=True)
class Phase:
    action: str
    variant_status: VariantStatus
    seconds: float
    """Model seconds the phase lasts (divided by the time scale when it runs)."""
    new_share: float
    """Fraction of the endpoint's traffic the new fleet takes during the phase."""
    new_instances: dict[str, int] = field(default_factory=dict)
    old_instances: dict[str, int] = field(default_factory=dict)
    watched: bool = False
    """Whether the rollback alarms are watched during the phase."""
    provisions: bool = False
    """Whether the phase starts new instances (and so can fail when the version cannot start)."""


def _first(fleets: dict[str, int]) -> int:
    return max(next(iter(fleets.values()), 1), 1)


def traffic_shares(config: DeploymentConfig, fleets: dict[str, int]) -> list[float]:
    """The new fleet's share after each blue/green traffic shift.

    Choice (the docs are silent on several variants): every variant shifts by the same shares, computed
    from the first variant's instance count; the share of a step is its instances over the fleet.
    """
    assert config.blue_green_update_policy is not None
    routing = config.blue_green_update_policy.traffic_routing_configuration
    fleet = _first(fleets)
    if routing.type == "CANARY" and routing.canary_size is not None:
        return [routing.canary_size.instances_of(fleet) / fleet, 1.0]
    if routing.type == "LINEAR" and routing.linear_step_size is not None:
        step = max(routing.linear_step_size.instances_of(fleet), 1)
        return [min(fleet, moved) / fleet for moved in range(step, fleet + step, step)]
    return [1.0]


def blue_green(
    config: DeploymentConfig, new: dict[str, int], old: dict[str, int], provisioning_s: float
) -> list[Phase]:
    assert config.blue_green_update_policy is not None
    policy = config.blue_green_update_policy
    wait = policy.traffic_routing_configuration.wait_interval_in_seconds
    phases = [Phase("provision the new fleet", "Creating", provisioning_s, 0.0, dict(new), dict(old), provisions=True)]
    for share in traffic_shares(config, new):
        phases.append(Phase(f"{share:.0%} of traffic on the new fleet; baking", "Baking", wait, share, dict(new),
                            dict(old), watched=True))  # fmt: skip
    if policy.termination_wait_in_seconds:
        # Choice (the docs are silent): the old fleet still stands during TerminationWaitInSeconds, so the
        # alarms are still watched and a rollback is still possible.
        phases.append(Phase("termination wait: the old fleet stands by", "Baking", policy.termination_wait_in_seconds,
                            1.0, dict(new), dict(old), watched=True))  # fmt: skip
    phases.append(Phase("terminate the old fleet", "Deleting", 0.0, 1.0, dict(new), dict.fromkeys(old, 0)))
    return phases


def _batches(size: CapacitySize, fleets: dict[str, int]) -> dict[str, int]:
    return {variant: max(size.instances_of(fleet), 1) for variant, fleet in fleets.items()}


def rolling(config: DeploymentConfig, new: dict[str, int], old: dict[str, int], provisioning_s: float) -> list[Phase]:
    assert config.rolling_update_policy is not None
    policy = config.rolling_update_policy
    batch = _batches(policy.maximum_batch_size, new)
    rounds = max(math.ceil(new[v] / batch[v]) for v in new)
    first = next(iter(new))
    phases: list[Phase] = []
    running_old = dict(old)
    for index in range(1, rounds + 1):
        replaced = {v: min(new[v], index * batch[v]) for v in new}
        share_before = min(new[first], (index - 1) * batch[first]) / max(new[first], 1)
        previous = {v: min(new[v], (index - 1) * batch[v]) for v in new}
        # Choice (the docs are silent): once traffic is mixed (from the second batch on), the alarms are
        # watched while later batches start as well.
        phases.append(Phase(f"batch {index}/{rounds}: start {replaced[first] - previous[first]} new instance(s)",
                            "Creating", provisioning_s, share_before, replaced, dict(running_old), watched=index > 1,
                            provisions=True))  # fmt: skip
        phases.append(Phase(f"batch {index}/{rounds}: {replaced[first]} of {new[first]} new instance(s) take "
                            "traffic; baking", "Baking", policy.wait_interval_in_seconds,
                            replaced[first] / max(new[first], 1), replaced, dict(running_old),
                            watched=True))  # fmt: skip
        running_old = {v: max(0, count - (replaced[v] - previous.get(v, 0))) for v, count in running_old.items()}
    phases.append(Phase("the last old instances are terminated", "Deleting", 0.0, 1.0, dict(new),
                        dict.fromkeys(old, 0)))  # fmt: skip
    return phases


def deployment(
    config: DeploymentConfig, new: dict[str, int], old: dict[str, int], provisioning_s: float
) -> list[Phase]:
    if config.rolling_update_policy is not None:
        return rolling(config, new, old, provisioning_s)
    return blue_green(config, new, old, provisioning_s)


def rollback(config: DeploymentConfig, at: Phase, old: dict[str, int], provisioning_s: float,
             terminate_s: float) -> list[Phase]:  # fmt: skip
    """How the endpoint returns to the old fleet from phase `at`.

    Blue/green ("Blue/Green Deployments", SageMaker Developer Guide): "all endpoint traffic rolls back to the
    blue fleet", which is still running; then the green fleet is terminated. Rolling (RollingUpdatePolicy,
    SageMaker API Reference): RollbackMaximumBatchSize old instances come back per step, "If this field is
    absent, the default value will be set to 100% of total capacity".
    """
    if config.rolling_update_policy is None:
        return [Phase("all traffic back on the old fleet; terminate the new fleet", "Deleting", terminate_s, 0.0,
                      dict.fromkeys(at.new_instances, 0), dict(old))]  # fmt: skip
    size = config.rolling_update_policy.rollback_maximum_batch_size
    step = _batches(size, old) if size is not None else dict(old)
    phases: list[Phase] = []
    restored = dict(at.old_instances)
    remaining_new = dict(at.new_instances)
    first = next(iter(old))
    while any(restored.get(v, 0) < old[v] for v in old):
        restored = {v: min(old[v], restored.get(v, 0) + step[v]) for v in old}
        remaining_new = {v: max(0, count - step.get(v, count)) for v, count in remaining_new.items()}
        if all(restored[v] >= old[v] for v in old):
            remaining_new = dict.fromkeys(remaining_new, 0)
        share = 1.0 - restored[first] / max(old[first], 1)
        phases.append(Phase(f"restore old instances: {restored[first]} of {old[first]}", "Creating", provisioning_s,
                            share, dict(remaining_new), dict(restored)))  # fmt: skip
    phases.append(Phase("all traffic back on the old fleet", "Deleting", 0.0, 0.0, dict.fromkeys(at.new_instances, 0),
                        dict(old)))  # fmt: skip
    return phases
