"""Running an operation through its phases in a background thread, on a scaled clock, watching the alarms.

Rollback follows "Auto-Rollback Configuration and Monitoring" and "Blue/Green Deployments" (SageMaker
Developer Guide): when any alarm of AutoRollbackConfiguration is in ALARM during a baking period, all
traffic goes back to the old fleet. MaximumExecutionTimeoutInSeconds (BlueGreenUpdatePolicy,
RollingUpdatePolicy, SageMaker API Reference) bounds the whole update; running past it also rolls back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tritonform.localsagemaker import plan
from tritonform.localsagemaker.api import DeploymentConfig
from tritonform.localsagemaker.backing import Backing, ConfigSpec
from tritonform.localsagemaker.fleets import FleetStarter, FleetStartError, RunningFleet
from tritonform.localsagemaker.plan import Phase
from tritonform.localsagemaker.state import Endpoint, Fleet, Rollout, TimelineEvent

LOG = logging.getLogger("tritonform.localsagemaker")
# Choice (the docs do not say how often SageMaker reads the alarms): every 10 model seconds, and at least
# every 50 ms of real time so that a high time scale does not flood the moto server.
ALARM_POLL_MODEL_S = 10.0
MIN_POLL_REAL_S = 0.05
# Choice (the docs are silent on these durations): terminating a fleet takes 10 model seconds, deleting an
# endpoint 5, and a capacity change that starts no instance 1.
TERMINATE_S = 10.0
DELETE_S = 5.0
SETTLE_S = 1.0


@dataclass(frozen=True)
class Interrupt:
    kind: Literal["stopped", "alarm", "timeout", "failed"]
    reason: str = ""


class Clock:
    """Model time: one factor divides every wait, bake and timeout (at 60, a 600 s bake takes 10 s)."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        self.scale = scale
        self.started_epoch = time.time()
        self.started_monotonic = time.monotonic()

    def real(self, model_s: float) -> float:
        return model_s / self.scale

    def model_since(self, started_monotonic: float) -> float:
        return (time.monotonic() - started_monotonic) * self.scale

    def model_epoch(self) -> float:
        """Model time as a Unix time: it runs `scale` times faster than the wall clock from the start."""
        return self.started_epoch + self.model_since(self.started_monotonic)


class Runner:
    def __init__(self, backing: Backing, clock: Clock, lock: threading.RLock, provisioning_s: float,
                 forget: Callable[[Endpoint], None], *, starter: FleetStarter | None = None) -> None:  # fmt: skip
        self.backing = backing
        self.starter = starter
        self.clock = clock
        self.lock = lock
        self.provisioning_s = provisioning_s
        self.forget = forget

    def start(self, endpoint: Endpoint, work: Callable[[Endpoint], None]) -> None:
        endpoint.operation_started = time.monotonic()
        endpoint.timeline = []

        def guarded() -> None:
            try:
                work(endpoint)
            except Exception:  # a bug must not leave the endpoint in progress forever
                LOG.exception("operation on %s failed", endpoint.name)
                with self.lock:
                    endpoint.rollout = None
                    endpoint.status = "Failed"
                    endpoint.failure_reason = "internal error in the local SageMaker; see its log"

        threading.Thread(target=guarded, name=f"endpoint-{endpoint.name}", daemon=True).start()

    # --- bookkeeping ---------------------------------------------------------------------------------

    def _enter(self, endpoint: Endpoint, phase: Phase | None, status: str, action: str, share: float = 0.0) -> None:
        """Move to `phase` (None once the operation is over, with the new fleet's final `share`)."""
        with self.lock:
            endpoint.status = status
            endpoint.modified = time.time()
            if endpoint.rollout is not None:
                endpoint.rollout.phase = phase
            rollout = endpoint.rollout
            config = rollout.target.spec.name if rollout else endpoint.serving.spec.name if endpoint.serving else ""
            endpoint.timeline.append(TimelineEvent(
                self.clock.model_since(endpoint.operation_started), status, action, config,
                phase.new_share if phase else share, dict(phase.new_instances) if phase else {},
                dict(phase.old_instances) if phase else {},
            ))  # fmt: skip

    def _wait(self, endpoint: Endpoint, model_s: float, alarms: list[str], timeout_s: float | None) -> Interrupt | None:
        """Sleep `model_s` model seconds; return early when stopped, when an alarm is in ALARM (if `alarms`),
        or when the operation has run `timeout_s` model seconds."""
        deadline = time.monotonic() + self.clock.real(model_s)
        poll = max(MIN_POLL_REAL_S, self.clock.real(ALARM_POLL_MODEL_S))
        while True:
            if endpoint.stop.is_set():
                return Interrupt("stopped")
            if alarms:
                firing = self.backing.alarms_in_alarm(endpoint.region, alarms)
                if firing:
                    return Interrupt("alarm", f"the alarm(s) {', '.join(firing)} went into ALARM")
            if timeout_s is not None and self.clock.model_since(endpoint.operation_started) > timeout_s:
                return Interrupt("timeout", f"the update ran past MaximumExecutionTimeoutInSeconds ({timeout_s:.0f} s)")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            endpoint.stop.wait(min(left, poll))

    def _start_fleet(self, region: str, spec: ConfigSpec) -> tuple[RunningFleet | None, str | None]:
        """The version's fleet, or why it cannot start. Without real fleets (no --run-models) a fleet
        starts when its model data is in S3."""
        if self.starter is None:
            missing = self.backing.missing_model_data(region, spec)
            # Choice (the wording is not documented): the reason names the model data that is missing.
            return None, f"Failed to download model data from {missing}: no such object." if missing else None
        try:
            return self.starter.start(region, spec), None
        except FleetStartError as err:
            return None, str(err)

    # --- CreateEndpoint ------------------------------------------------------------------------------

    def create(self, endpoint: Endpoint) -> None:
        """CreateEndpoint, SageMaker API Reference: Creating, then InService, or Failed with FailureReason."""
        rollout = endpoint.rollout
        assert rollout is not None
        counts = rollout.target.counts
        phase = Phase("start the fleet", "Creating", self.provisioning_s, 1.0, dict(counts), {}, provisions=True)
        self._enter(endpoint, phase, "Creating", phase.action)
        if self._wait(endpoint, phase.seconds, [], None) is not None:
            return
        fleet, missing = self._start_fleet(endpoint.region, rollout.target.spec)
        with self.lock:
            if missing is None:
                endpoint.serving = rollout.target
                endpoint.live_fleet = fleet
                endpoint.rollout = None
        if missing is None:
            self._enter(endpoint, None, "InService", f"in service on {rollout.target.spec.name}", share=1.0)
            return
        # CreateEndpoint: Failed, with FailureReason; the endpoint keeps naming the configuration it was created with.
        with self.lock:
            endpoint.rollout = None
            endpoint.failure_reason = missing
        self._enter(endpoint, None, "Failed", endpoint.failure_reason)

    # --- UpdateEndpoint ------------------------------------------------------------------------------

    def update(self, endpoint: Endpoint) -> None:
        """UpdateEndpoint, SageMaker API Reference: Updating through the deployment's phases, then InService
        on the new configuration; on an alarm, a timeout or a fleet that cannot start, back to the old one."""
        rollout, serving = endpoint.rollout, endpoint.serving
        assert rollout is not None and rollout.config is not None and serving is not None
        config = rollout.config
        phases = plan.deployment(config, rollout.target.counts, serving.counts, self.provisioning_s)
        for phase in phases:
            self._enter(endpoint, phase, "Updating", phase.action)
            alarms = config.alarm_names if phase.watched else []
            interrupt = self._wait(endpoint, phase.seconds, alarms, config.timeout_s)
            if interrupt is not None and interrupt.kind == "stopped":
                return
            if interrupt is None and phase.provisions and rollout.fleet is None:
                fleet, missing = self._start_fleet(endpoint.region, rollout.target.spec)
                with self.lock:
                    rollout.fleet = fleet
                if missing is not None:
                    interrupt = Interrupt("failed", f"the new fleet could not start: {missing}")
            if interrupt is not None:
                self._roll_back(endpoint, phase, interrupt.reason)
                return
        with self.lock:
            endpoint.serving = rollout.target
            endpoint.rollout = None
            endpoint.failure_reason = None
            old_fleet, endpoint.live_fleet = endpoint.live_fleet, rollout.fleet
        self._enter(endpoint, None, "InService", f"in service on {rollout.target.spec.name}", share=1.0)
        # The old fleet was terminated in the plan's last phase (TERMINATE_S); stopping its local Triton server
        # (seconds of real time) comes after, so that it does not stretch the update's model time.
        if old_fleet is not None:
            old_fleet.close()

    def _roll_back(self, endpoint: Endpoint, at: Phase, reason: str) -> None:
        rollout, serving = endpoint.rollout, endpoint.serving
        assert rollout is not None and rollout.config is not None and serving is not None
        took_traffic = at.new_share > 0 or any(at.old_instances.get(v, 0) < n for v, n in serving.counts.items())
        if took_traffic:
            # Choice: while traffic returns to the old fleet the endpoint shows RollingBack (DescribeEndpoint
            # lists it as the status of an endpoint "in the process of rolling back to its previous
            # configuration"; terraform-provider-aws PR #49020 reports SageMaker in it during an update's rollback).
            for phase in plan.rollback(rollout.config, at, serving.counts, self.provisioning_s, TERMINATE_S):
                self._enter(endpoint, phase, "RollingBack", phase.action)
                if self._wait(endpoint, phase.seconds, [], None) is not None:
                    return
        with self.lock:
            endpoint.rollout = None
            # DescribeEndpoint.FailureReason: the endpoint is InService on the old configuration but the update
            # failed. Choice (the wording is not documented): it says that the update was rolled back and why.
            endpoint.failure_reason = f"Update to {rollout.target.spec.name} was rolled back: {reason}."
        self._enter(endpoint, None, "InService", f"rolled back to {serving.spec.name}: {reason}")
        # The new fleet was terminated in the rollback's phases; its local Triton server stops after, as above.
        if rollout.fleet is not None:
            rollout.fleet.close()

    # --- UpdateEndpointWeightsAndCapacities, DeleteEndpoint -------------------------------------------

    def change_capacity(self, endpoint: Endpoint) -> None:
        """UpdateEndpointWeightsAndCapacities, SageMaker API Reference: Updating, then InService with the
        new weights and instance counts. Starting instances takes the provisioning time."""
        rollout, serving = endpoint.rollout, endpoint.serving
        assert rollout is not None and serving is not None
        grows = any(count > serving.counts[v] for v, count in rollout.target.counts.items())
        self._enter(endpoint, None, "Updating", "change weights and capacities")
        if self._wait(endpoint, self.provisioning_s if grows else SETTLE_S, [], None) is not None:
            return
        with self.lock:
            endpoint.serving = Fleet(serving.spec, dict(rollout.target.counts), dict(rollout.target.weights))
            endpoint.rollout = None
        self._enter(endpoint, None, "InService", "weights and capacities changed")

    def delete(self, endpoint: Endpoint) -> None:
        """DeleteEndpoint: Deleting, then gone (DescribeEndpoint answers "Could not find endpoint")."""
        self._enter(endpoint, None, "Deleting", "delete the endpoint")
        self._wait(endpoint, DELETE_S, [], None)
        with self.lock:
            self.forget(endpoint)
            fleet, endpoint.live_fleet = endpoint.live_fleet, None
        if fleet is not None:
            fleet.close()


def new_rollout(target: Fleet, config: DeploymentConfig | None) -> Rollout:
    return Rollout(target=target, config=config, started=time.time())
