"""What is live: following a SageMaker endpoint update to its real outcome (`tritonform release watch`).

Terraform waits at most 60 minutes for an endpoint update and does not treat RollingBack as in progress:
after SageMaker rolled an update back, Terraform records the new configuration anyway (terraform-provider-aws
issue 48997). So the
truth is read from SageMaker: the update succeeded only when the endpoint is InService on the
configuration derived from the environment's release. InService on any other configuration means SageMaker
rolled back; that is a failure, and it is recorded in the environment's history. InService on the release's
configuration is recorded too: the release then counts as verified live (the fallback of later releases).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from tritonform.config import ProjectLayout
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.loader import load_environment
from tritonform.config.names import configuration_name
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.attach import current_release, environment_lock
from tritonform.release.history import (
    InServiceSeen,
    LiveConfiguration,
    LiveRecord,
    ReleaseSnapshot,
    RollbackDetected,
    append_history,
    history_file,
    read_entries,
)

Outcome = Literal["in-service", "rolled-back", "failed", "timed-out", "missing"]
# DescribeEndpoint's EndpointStatus values (SageMaker API Reference) that no wait ends: Failed (only
# DeleteEndpoint is possible) and UpdateRollbackFailed (both the update and its rollback failed; the endpoint
# serves a mix of the old and the new configuration).
FAILED = ("Failed", "UpdateRollbackFailed")


@dataclass(frozen=True)
class EndpointState:
    status: str
    configuration: str
    failure_reason: str | None = None
    instances: tuple[tuple[str, int], ...] = ()
    """(variant, instance count) of the configuration in service: DesiredInstanceCount where SageMaker
    gives it (what autoscaling asked for), else CurrentInstanceCount (ProductionVariantSummary)."""

    def instance_count(self, variant: str) -> int | None:
        return dict(self.instances).get(variant)


def describe(sagemaker: Any, endpoint_name: str) -> EndpointState | None:
    try:
        answer = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as err:
        if aws.error_code(err) in {"ValidationException", "ResourceNotFound"}:
            return None
        raise
    counts = tuple(
        (str(v["VariantName"]), int(v.get("DesiredInstanceCount", v.get("CurrentInstanceCount", 0))))
        for v in answer.get("ProductionVariants") or []
    )
    return EndpointState(answer["EndpointStatus"], answer["EndpointConfigName"], answer.get("FailureReason"), counts)


@dataclass(frozen=True)
class WatchResult:
    outcome: Outcome
    expected_configuration: str
    last: EndpointState | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == "in-service"


def expected_configuration(env: EnvironmentConfig, release: ReleaseConfig) -> str:
    return configuration_name(env, release)


def watch(
    layout: ProjectLayout,
    env_name: str,
    *,
    sagemaker: Any = None,
    timeout_s: float = 3600,
    poll_s: float = 15,
    progress: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    record: bool = True,
) -> WatchResult:
    """Follow the endpoint to InService on the release's configuration, a rollback, a failure or the timeout.
    `record`: append what was seen to the history (in service: the release counts as verified live, the
    fallback of later releases; rolled back: a rollback-detected record); `tritonform deploy` records its own."""
    env = load_environment(layout, env_name)
    release = current_release(layout, env_name)
    if release is None:
        raise UserError.single(f"environment {env_name!r} has no release to watch", file=layout.release_file(env_name))
    expected = expected_configuration(env, release)
    client = sagemaker or aws.client("sagemaker", env.region)
    deadline = clock() + timeout_s
    last: EndpointState | None = None
    progress(f"watching {env.endpoint.name}: expecting {expected} (version {release.version_id})")
    while True:
        state = aws.call(f"describe endpoint {env.endpoint.name}", lambda: describe(client, env.endpoint.name))
        if state != last:
            shown = f"{state.status} on {state.configuration}" if state else "not found"
            progress(f"  {datetime.now(UTC):%H:%M:%S} {shown}")
            if state and state.status == "RollingBack":
                progress("  SageMaker is rolling the update back (an alarm fired or the new fleet failed)")
        last = state
        if state is None:
            return WatchResult("missing", expected, None, f"endpoint {env.endpoint.name} does not exist")
        if state.status == "InService" and state.configuration == expected:
            if record:
                _record_in_service(layout, env_name, release, expected)
            return WatchResult("in-service", expected, state, f"version {release.version_id} is live")
        if state.status == "InService":
            if record:
                _record_rollback(layout, env_name, release, state)
            return WatchResult(
                "rolled-back",
                expected,
                state,
                f"SageMaker rolled back: the endpoint serves {state.configuration}, not {expected}; recorded in "
                f"environments/history/{env_name}.jsonl. Terraform does not notice this: attach the previous "
                f"release (tritonform release rollback --env {env_name}) before the next deploy",
            )
        if state.status in FAILED:
            reason = state.failure_reason or "no reason"
            return WatchResult("failed", expected, state, f"the endpoint is {state.status}: {reason}")
        if clock() >= deadline:
            return WatchResult("timed-out", expected, state, f"still {state.status} after {timeout_s:.0f} s")
        sleep(poll_s)


def wait_for_configuration(
    sagemaker: Any,
    endpoint: str,
    configuration: str,
    *,
    timeout_s: float,
    poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EndpointState:
    """Wait until `endpoint` is InService on `configuration`; an error when it ends anywhere else."""
    deadline = clock() + timeout_s
    while True:
        state = aws.call(f"describe endpoint {endpoint}", lambda: describe(sagemaker, endpoint))
        if state is None:
            raise UserError.single(f"endpoint {endpoint} does not exist", exit_code=1)
        if state.status == "InService" and state.configuration == configuration:
            return state
        if state.status in (*FAILED, "InService"):
            why = f": {state.failure_reason}" if state.failure_reason else ""
            raise UserError.single(f"{endpoint} is {state.status} on {state.configuration}, not on {configuration}"
                                   f"{why}", exit_code=1)  # fmt: skip
        if clock() >= deadline:
            raise UserError.single(f"{endpoint} is still {state.status} after {timeout_s:.0f} s", exit_code=1)
        sleep(poll_s)


def _record_in_service(layout: ProjectLayout, env_name: str, release: ReleaseConfig, configuration: str) -> None:
    """A record that the release was seen live, unless the history's last record says so already."""
    path = history_file(layout, env_name)
    with environment_lock(layout, env_name):
        entries = read_entries(path)
        last = entries[-1].record if entries else None
        live = last.verified_live() if isinstance(last, LiveRecord) else None
        if live is not None and live[0].describes(release) and live[1] == configuration:
            return
        append_history(
            path,
            InServiceSeen(
                at=datetime.now(UTC).replace(microsecond=0),
                action="in-service",
                environment=env_name,
                actor="tritonform release watch",
                commit=None,
                reason=f"the endpoint is InService on {configuration}",
                release=ReleaseSnapshot.of(release),
                configuration=configuration,
            ),
        )


def _record_rollback(layout: ProjectLayout, env_name: str, release: ReleaseConfig, state: EndpointState) -> None:
    with environment_lock(layout, env_name):
        append_history(
            history_file(layout, env_name),
            RollbackDetected(
                at=datetime.now(UTC).replace(microsecond=0),
                action="rollback-detected",
                environment=env_name,
                actor="tritonform release watch",
                commit=None,
                reason=f"SageMaker rolled back to {state.configuration}",
                from_=ReleaseSnapshot.of(release),
                to=LiveConfiguration(live_configuration=state.configuration),
            ),
        )
