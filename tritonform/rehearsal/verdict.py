"""What a rehearsal observed, what the environment's configuration promised, and why they differ.

The promise: a healthy candidate completes with no rollback; a faulty one is rolled back before it takes
all traffic (for a policy whose first step already moves all traffic, such as all-at-once, before the bake
ends); a candidate whose models cannot load never takes traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tritonform.config.alarms import Detection, compile_alarms, detect, first_share
from tritonform.config.loader import Deployment
from tritonform.config.names import configuration_name
from tritonform.rehearsal.faults import Fault
from tritonform.rehearsal.load import LoadReport

Outcome = Literal["completed", "rolled-back", "failed"]


@dataclass(frozen=True)
class Observed:
    final: dict[str, Any]
    """The last DescribeEndpoint."""
    timeline: list[dict[str, Any]]
    """The stand-in's steps of the update, in model seconds."""
    alarms_fired: dict[str, float]
    """Alarm name -> model seconds after the update began when it went to ALARM."""
    load: LoadReport
    new_config: str
    old_config: str


@dataclass(frozen=True)
class Rehearsal:
    environment: str
    outcome: Outcome
    as_promised: bool
    promise: str
    why: list[str]
    """When not as promised: what the configuration would need to keep its promise."""
    predicted: list[dict[str, Any]]
    observed: list[dict[str, Any]]
    alarms_fired: dict[str, float]
    back_on_old_at_s: float | None
    took_all_traffic: bool
    failure_reason: str | None
    old: str
    candidate: str
    fault: str | None
    rate: float
    time_scale: float
    instance_type: str
    load: dict[str, object]
    bad_requests: float = 0.0
    detection: tuple[Detection, ...] = ()
    """What each alarm catches at this rate on the first step, as `policy explain` computes it."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "outcome": self.outcome,
            "as_promised": self.as_promised,
            "promise": self.promise,
            "why": self.why,
            "fault": self.fault,
            "rate": self.rate,
            "time_scale": self.time_scale,
            "old": self.old,
            "candidate": self.candidate,
            "instance_type": self.instance_type,
            "failure_reason": self.failure_reason,
            "timeline": {
                "predicted": self.predicted,
                "observed": self.observed,
                "alarms_fired": [{"alarm": name, "at_s": at} for name, at in self.alarms_fired.items()],
                "back_on_old_at_s": self.back_on_old_at_s,
            },
            "took_all_traffic": self.took_all_traffic,
            "bad_requests": self.bad_requests,
            "detection": [_detection_dict(detection) for detection in self.detection],
            "load": self.load,
        }


def _detection_dict(detection: Detection) -> dict[str, Any]:
    return {
        "alarm": detection.alarm.name,
        "kind": detection.alarm.kind,
        "rps": detection.rps,
        "share": detection.share,
        "requests_per_period": detection.requests_per_period,
        "sees_traffic": detection.sees_traffic,
        "smallest_error_rate": detection.smallest_error_rate,
        "slow_requests_needed": detection.slow_requests_needed,
        "earliest_s": detection.earliest_s,
        "latest_s": detection.latest_s,
    }


def _outcome(observed: Observed) -> Outcome:
    final = observed.final
    if final["EndpointConfigName"] == observed.new_config and not final.get("FailureReason"):
        return "completed"
    shifted = any(event["new_share"] > 0 for event in observed.timeline if event["status"] == "Updating")
    return "rolled-back" if shifted else "failed"


def _back_on_old(observed: Observed) -> float | None:
    rolling_back = False
    for event in observed.timeline:
        rolling_back = rolling_back or event["status"] == "RollingBack"
        if rolling_back and event["new_share"] == 0.0:
            return float(event["at_s"])
    if observed.final["EndpointConfigName"] == observed.old_config and observed.timeline:
        return float(observed.timeline[-1]["at_s"])
    return None


def _predicted(deployment: Deployment) -> list[dict[str, Any]]:
    plan = deployment.rollout
    rows: list[dict[str, Any]] = [{"at_s": 0, "action": "provision new instances (worst case)", "traffic_percent": 0}]
    rows += [
        {"at_s": step.at_s, "action": step.action, "traffic_percent": step.new_traffic_percent, "bake_s": step.bake_s}
        for step in plan.steps
    ]
    rows.append({"at_s": plan.total_s, "action": "update complete; old fleet terminated", "traffic_percent": 100})
    return rows


def _promise(deployment: Deployment, fault: Fault | None, bad_requests: float) -> str:
    if fault is None:
        clients = f", with {bad_requests:.0%} malformed client requests in the traffic" if bad_requests else ""
        return f"a healthy candidate completes with no rollback{clients}"
    if fault.kind == "load-failure":
        return "a candidate whose models cannot load never takes traffic"
    steps = deployment.rollout.steps
    if steps and steps[0].new_traffic_percent >= 100:
        return "a faulty candidate is rolled back before the bake ends (the first step already moves all traffic)"
    return "a faulty candidate is rolled back before it takes all traffic"


def _kept(deployment: Deployment, fault: Fault | None, outcome: Outcome, took_all: bool, observed: Observed) -> bool:
    if fault is None:
        return outcome == "completed" and not observed.alarms_fired
    if fault.kind == "load-failure":
        return outcome != "completed" and not any(e["new_share"] > 0 for e in observed.timeline)
    steps = deployment.rollout.steps
    if steps and steps[0].new_traffic_percent >= 100:
        return outcome == "rolled-back"
    return outcome == "rolled-back" and not took_all


def detections(deployment: Deployment, rate: float) -> list[Detection]:
    """What each rollback alarm catches at `rate` on the rollout's first step: the numbers `policy explain`
    prints, from the same compiled alarms."""
    env = deployment.environment
    alarms = compile_alarms(env, configuration_name(env, deployment.release))
    share = first_share(deployment.rollout)
    return [detect(alarm, rate, share, env.rollback_alarms.metric_delay_s) for alarm in alarms]


def _quiet(detection: Detection, rate: float) -> str:
    alarm = detection.alarm
    return (
        f"the {alarm.kind} alarm ({alarm.name}) sees {detection.requests_per_period:g} requests a period on the "
        f"first step's {detection.share:.0%} of {rate:g} requests/s, fewer than its min_invocations "
        f"({alarm.min_invocations}): lower min_invocations, lengthen period_s, or move more traffic in the first step"
    )


def _error_rate_needs(deployment: Deployment, fault: Fault, rate: float) -> list[str]:
    """What the 5XX-rate alarms would need to catch this error rate on the first step. A Python model's
    TritonError reaches the caller as HTTP 500 from Triton, which SageMaker counts in Invocation5XXErrors
    ("SageMaker endpoint invocation metrics", SageMaker Developer Guide)."""
    found = [d for d in detections(deployment, rate) if d.alarm.kind == "server-error-rate"]
    seen = f"error-rate {fault.value:g} at {rate:g} requests/s"
    if not found:
        return [f"no alarm watches the 5XX share: add rollback_alarms.server_error_rate with threshold_percent <= "
                f"{fault.value * 100:g} to catch {seen}"]  # fmt: skip
    lines: list[str] = []
    for detection in found:
        if not detection.sees_traffic:
            lines.append(_quiet(detection, rate))
        elif detection.smallest_error_rate is None or detection.smallest_error_rate > fault.value + 1e-9:
            smallest = "nothing" if detection.smallest_error_rate is None else f"{detection.smallest_error_rate:.1%}"
            lines.append(
                f"the {detection.alarm.kind} alarm ({detection.alarm.name}) catches a 5XX share of {smallest} or more "
                f"at {rate:g} requests/s; to catch {seen} it needs threshold_percent <= {fault.value * 100:g} "
                f"(it has {detection.alarm.threshold:g})"
            )
    return lines if len(lines) == len(found) else _bake_needs(deployment)


def _latency_needs(deployment: Deployment, fault: Fault, rate: float) -> list[str]:
    found = [d for d in detections(deployment, rate) if d.alarm.kind == "latency-p99"]
    added = int(fault.value)
    if not found:
        return [
            f"no alarm watches ModelLatency: add rollback_alarms.model_latency_p99 with threshold_ms below "
            f"{added} (the fault adds {added} ms to every request of the candidate)"
        ]
    lines = []
    for detection in found:
        if not detection.sees_traffic:
            lines.append(_quiet(detection, rate))
        elif detection.alarm.threshold >= added:
            lines.append(
                f"the latency-p99 alarm ({detection.alarm.name}) needs threshold_ms < {added} to catch "
                f"latency-ms={added}; it has {detection.alarm.threshold:g}"
            )
    return lines if len(lines) == len(found) else _bake_needs(deployment)


def _bake_needs(deployment: Deployment) -> list[str]:
    plan = deployment.rollout
    slowest = plan.slowest_alarm
    if slowest is None or not plan.steps or slowest.latest_s <= plan.steps[0].bake_s:
        return []
    return [
        f"the first step bakes {plan.steps[0].bake_s} s but {slowest.name} may need {slowest.latest_s} s to "
        f"reach ALARM: bake_s >= {slowest.latest_s}"
    ]


def _why(deployment: Deployment, fault: Fault | None, rate: float, time_scale: float, observed: Observed) -> list[str]:
    if fault is None:
        fired = ", ".join(f"{name} at +{at:.0f} s" for name, at in observed.alarms_fired.items())
        reason = observed.final.get("FailureReason") or "no alarm"
        if not fired and "MaximumExecutionTimeoutInSeconds" in reason:
            return [
                f"the update ran past MaximumExecutionTimeoutInSeconds ({reason}): the local Triton server's "
                f"real start-up time counts {time_scale:g} times at --time-scale {time_scale:g}; rehearse at "
                "a lower time scale"
            ]
        return [
            f"a healthy candidate was not let through ({fired or reason}): an alarm's threshold is tighter "
            f"than this model's normal behaviour at {rate:g} requests/s"
        ]
    if fault.kind == "error-rate":
        found = _error_rate_needs(deployment, fault, rate)
    elif fault.kind == "latency-ms":
        found = _latency_needs(deployment, fault, rate)
    else:
        found = []
    return found or [f"the rollback alarms did not stop {fault.describe()} at {rate:g} requests/s in time"]


def _fired(observed: Observed) -> dict[str, float]:
    """When each alarm went to ALARM, as polled; an alarm the rollback names was in ALARM no later than the
    stand-in started rolling back (polling through moto under load can lag by a real second)."""
    reason = observed.final.get("FailureReason") or ""
    rolled_back_at = next((float(e["at_s"]) for e in observed.timeline if e["status"] == "RollingBack"), None)
    fired = dict(observed.alarms_fired)
    for name, at in fired.items():
        if rolled_back_at is not None and name in reason:
            fired[name] = min(at, rolled_back_at)
    return fired


def judge(
    deployment: Deployment,
    fault: Fault | None,
    rate: float,
    time_scale: float,
    observed: Observed,
    *,
    old: str,
    candidate: str,
    instance_type: str,
    bad_requests: float = 0.0,
) -> Rehearsal:
    outcome = _outcome(observed)
    took_all = any(e["new_share"] >= 1.0 for e in observed.timeline if e["status"] in {"Updating", "InService"})
    kept = _kept(deployment, fault, outcome, took_all, observed)
    return Rehearsal(
        environment=deployment.environment.name,
        outcome=outcome,
        as_promised=kept,
        promise=_promise(deployment, fault, bad_requests),
        why=[] if kept else _why(deployment, fault, rate, time_scale, observed),
        predicted=_predicted(deployment),
        observed=observed.timeline,
        alarms_fired=_fired(observed),
        back_on_old_at_s=_back_on_old(observed) if outcome != "completed" else None,
        took_all_traffic=took_all,
        failure_reason=observed.final.get("FailureReason"),
        old=old,
        candidate=candidate,
        fault=fault.describe() if fault else None,
        rate=rate,
        time_scale=time_scale,
        instance_type=instance_type,
        load=observed.load.as_dict(),
        bad_requests=bad_requests,
        detection=tuple(detections(deployment, rate)),
    )
