"""`tritonform policy explain`: a rollout as a timeline a reviewer can check against the alarms, and what
those alarms can detect at the environment's expected traffic (computed from the compiled alarms the stack
declares, tritonform/config/alarms.py)."""

from __future__ import annotations

from tritonform.config.alarms import CompiledAlarm, Detection, compile_alarms, detect, first_share
from tritonform.config.loader import Deployment
from tritonform.config.names import configuration_name
from tritonform.config.rollout import RolloutPlan

FLEETS_NOTE = (
    "  which fleet: SageMaker publishes the endpoint's metrics with an EndpointConfigName dimension for the fleet "
    "that served them, so the built-in alarms watch the new version's fleet only (the old fleet's errors and "
    "healthy traffic change nothing); extra alarms watch what their dimensions name"
)


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


def detection_shares(deployment: Deployment) -> list[tuple[str, float]]:
    """The traffic shares of the new fleet worth judging the alarms at: its first step, and all traffic."""
    first = first_share(deployment.rollout)
    shares = [(f"first step ({first:.0%} of traffic)", first)] if first < 1 else []
    return [*shares, ("all traffic", 1.0)]


def _catches(detection: Detection) -> str:
    alarm, requests = detection.alarm, int(detection.requests_per_period + 1e-9)
    timing = f"ALARM {clock(detection.earliest_s)}-{clock(detection.latest_s)} after it starts"
    if not detection.sees_traffic:
        return (
            f"catches nothing: {requests} requests a period on the new fleet, fewer than min_invocations "
            f"({alarm.min_invocations}), so every period counts as healthy"
        )
    if detection.smallest_error_rate is not None:
        failing = round(detection.smallest_error_rate * requests)
        return (
            f"catches a new version failing {detection.smallest_error_rate:.1%} of requests or more with 5XX "
            f"({failing} of {requests} a period); {timing}"
        )
    if detection.slow_requests_needed is not None:
        return (
            f"catches a p99 above {alarm.threshold:g} ms: {detection.slow_requests_needed} of {requests} requests a "
            f"period slower than that is enough; {timing}"
        )
    return f"{requests} requests a period; {timing}"


def _cannot(alarm: CompiledAlarm, rps: float) -> str:
    if alarm.kind == "server-error-rate":
        return (
            f"a 5XX share under {alarm.threshold:g}%; 4XX answers (malformed client requests) by design; any "
            f"period with fewer than {alarm.min_invocations} requests on the new fleet"
        )
    if alarm.kind == "latency-p99":
        return (
            f"a slowdown that keeps the p99 at or under {alarm.threshold:g} ms (the smallest regression caught is "
            f"{alarm.threshold:g} ms minus today's p99, which tritonform does not know); any period with fewer than "
            f"{alarm.min_invocations} requests; with fewer than 100 requests a period the p99 is the slowest request, "
            "so one slow request can breach"
        )
    return "what its metric does not show; it sees both fleets, so the old fleet's trouble can abort a good update"


def detection_lines(deployment: Deployment) -> list[str]:
    """What each rollback alarm catches at the environment's expected traffic, and how soon."""
    env = deployment.environment
    alarms = compile_alarms(env, configuration_name(env, deployment.release))
    if not alarms:
        return []
    rps = env.expected_rps
    lines = [f"what the rollback alarms can detect at the expected {rps:g} requests/s (expected_rps):"]
    for alarm in alarms:
        lines.append(f"  {alarm.name}: {alarm.description.removeprefix('tritonform rollback alarm: ')}")
        for label, share in detection_shares(deployment):
            detection = detect(alarm, rps, share, env.rollback_alarms.metric_delay_s)
            lines.append(f"    {label}: {_catches(detection)}")
        lines.append(f"    cannot catch: {_cannot(alarm, rps)}")
    return [*lines, FLEETS_NOTE]


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
    lines += detection_lines(deployment)
    lines += ["timeline (worst case: every instance takes its full download and start-up time):", *timeline(plan)]
    extra = plan.peak_extra_instances
    lines.append(
        f"total: up to {clock(plan.total_s)} (max_execution_timeout {plan.max_execution_timeout_s} s); peak "
        f"{plan.fleet + extra} instances = {(plan.fleet + extra) * instance.gpus} GPUs, "
        f"{extra * instance.gpus} more than steady state during the update"
    )
    lines += [f"warning: {w.field}: {w.message}" for w in deployment.warnings]
    return "\n".join(lines)
