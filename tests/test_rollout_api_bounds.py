"""UpdateEndpoint's bounds on a step apply to the instances a size stands for, whichever way it is written:
a linear step 10-50% and a rolling batch 5-50% of the instance count, a canary at most 50% (SageMaker API
Reference: TrafficRoutingConfig, RollingUpdatePolicy). A rolling update has no termination wait."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tritonform.config.rollout import (
    LINEAR_STEP_MIN_PERCENT,
    ROLLING_BATCH_MIN_PERCENT,
    CanaryPolicy,
    LinearPolicy,
    RollingPolicy,
    RolloutPolicy,
    plan_rollout,
)

pytestmark = pytest.mark.config


def _problems(policy: RolloutPolicy, fleet: int) -> list[str]:
    plan = plan_rollout("p", policy, fleet=fleet, gpus_per_instance=1, provisioning_s=600, alarms=[], strict=False)
    # many small batches also make the timeline longer than Terraform waits: another rule, tested in test_rollout
    return [problem.message for problem in plan.problems if "more than the 3000 s allowed" not in problem.message]


def _linear(instances: int) -> LinearPolicy:
    return LinearPolicy.model_validate({"kind": "linear", "step": {"instances": instances}, "step_wait_s": 60})


def _rolling(instances: int) -> RollingPolicy:
    return RollingPolicy.model_validate({"kind": "rolling", "batch": {"instances": instances}, "batch_wait_s": 60})


@pytest.mark.parametrize(("make", "low"), [(_linear, LINEAR_STEP_MIN_PERCENT), (_rolling, ROLLING_BATCH_MIN_PERCENT)])
@pytest.mark.parametrize("fleet", [2, 7, 10, 19, 20, 21, 40, 100])
@pytest.mark.parametrize("instances", [1, 2, 3, 5, 10])
def test_a_step_given_in_instances_must_be_within_the_percent_bounds(
    make: object, low: int, fleet: int, instances: int
) -> None:
    policy = make(instances)  # type: ignore[operator]
    problems = _problems(policy, fleet)
    share = 100 * min(instances, fleet) / fleet
    if instances * 100 < low * fleet:
        assert any(f"SageMaker allows {low}-50%" in p and "of the fleet" in p for p in problems), problems
    elif share > 50:
        assert any("more than half the fleet" in p for p in problems), problems
    else:
        assert problems == []


def test_the_refusal_says_how_many_instances_would_do() -> None:
    (message,) = _problems(_linear(1), 20)
    assert "1 of 20 instance(s) is 5% of the fleet" in message and "use at least 2 instance(s)" in message


def test_a_canary_of_one_instance_in_a_large_fleet_is_allowed() -> None:
    canary = CanaryPolicy.model_validate({"kind": "canary", "canary": {"instances": 1}, "bake_s": 600})
    assert _problems(canary, 100) == []


def test_a_rolling_policy_refuses_a_termination_wait() -> None:
    with pytest.raises(ValidationError) as caught:
        RollingPolicy.model_validate(
            {"kind": "rolling", "batch": {"percent": 25}, "batch_wait_s": 60, "termination_wait_s": 300}
        )
    assert "no termination wait" in str(caught.value)


def test_a_blue_green_policy_keeps_its_termination_wait() -> None:
    linear = LinearPolicy.model_validate(
        {"kind": "linear", "step": {"percent": 20}, "step_wait_s": 60, "termination_wait_s": 300}
    )
    assert linear.termination_wait_s == 300
