"""`tritonform policy explain`: a rollout as a timeline a reviewer can check against the alarms."""

from __future__ import annotations

from tritonform.config.loader import Deployment
from tritonform.config.rollout import RolloutPlan


def clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timeline(plan: RolloutPlan) -> list[str]:
    """The steps of `plan`, with the window in which a failure at each step is detected."""
    gpus = plan.gpus_per_instance
    slowest = plan.slowest_alarm
    launching = plan.steps[0].new_instances if plan.steps else 0
    rows = [
        f"  {'at':>9}  {'step':<52} {'traffic':>7} {'new':>4} {'old':>4} {'GPUs':>5}",
        f"  {'+0:00':>9}  {'provision new instances (up to ' + clock(plan.provisioning_s) + ')':<52} "
        f"{'0%':>7} {launching:>4} {plan.fleet:>4} {(launching + plan.fleet) * gpus:>5}",
    ]
    for step in plan.steps:
        total_gpus = (step.new_instances + step.old_instances) * gpus
        rows.append(
            f"  {'+' + clock(step.at_s):>9}  {step.action:<52} {str(step.new_traffic_percent) + '%':>7} "
            f"{step.new_instances:>4} {step.old_instances:>4} {total_gpus:>5}"
        )
        if slowest is None:
            rows.append(f"  {'':>9}    bake {clock(step.bake_s)}; no rollback alarm: a failure is never rolled back")
            continue
        earliest = step.at_s + min(a.earliest_s for a in plan.alarms)
        latest = step.at_s + slowest.latest_s
        verdict = (
            "rollback starts then"
            if slowest.latest_s <= step.bake_s
            else f"NOT CAUGHT in time: the bake ends at +{clock(step.at_s + step.bake_s)}"
        )
        rows.append(
            f"  {'':>9}    bake {clock(step.bake_s)}; a failure here is detected between "
            f"+{clock(earliest)} and +{clock(latest)}; {verdict}"
        )
    end = plan.steps[-1].at_s + plan.steps[-1].bake_s if plan.steps else plan.provisioning_s
    if plan.policy.termination_wait_s:
        rows.append(f"  {'+' + clock(end):>9}  old fleet kept standing by for {clock(plan.policy.termination_wait_s)}")
    rows.append(f"  {'+' + clock(plan.total_s):>9}  update complete; old fleet terminated")
    return rows


def explain(deployment: Deployment) -> str:
    env, plan = deployment.environment, deployment.rollout
    policy = plan.policy
    instance = env.endpoint.instance
    lines = [
        f"{env.name} ({env.tier}): rollout policy {plan.policy_name} ({policy.kind}) for "
        f"{plan.fleet} x {env.endpoint.instance_type} ({instance.gpus} x {instance.gpu_model} each)",
    ]
    if plan.alarms:
        lines.append(f"rollback alarms ({len(plan.alarms)}), time from a failure to ALARM:")
        lines += [
            f"  {a.name}: {clock(a.earliest_s)}-{clock(a.latest_s)} "
            f"({a.datapoints} x {a.period_s} s, +{a.metric_delay_s} s metric delay)"
            for a in plan.alarms
        ]
    else:
        lines.append("rollback alarms: none (SageMaker cannot roll back automatically)")
    lines += ["timeline (worst case: every instance takes its full download and start-up time):", *timeline(plan)]
    extra = plan.peak_extra_instances
    lines.append(
        f"total: up to {clock(plan.total_s)} (max_execution_timeout {plan.max_execution_timeout_s} s); peak "
        f"{plan.fleet + extra} instances = {(plan.fleet + extra) * instance.gpus} GPUs, "
        f"{extra * instance.gpus} more than steady state during the update"
    )
    lines += [f"warning: {w.field}: {w.message}" for w in deployment.warnings]
    return "\n".join(lines)
