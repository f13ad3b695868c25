"""What is live: following a SageMaker endpoint update to its real outcome (`tritonform release watch`).

Terraform waits at most 60 minutes for an endpoint update and does not treat RollingBack as in progress:
after SageMaker rolled an update back, Terraform records the new configuration anyway (terraform-provider-aws
issue 48997). So the
truth is read from SageMaker: the update succeeded only when the endpoint is InService on the
configuration derived from the environment's release. InService on any other configuration means SageMaker
rolled back; that is a failure, and it is recorded in the environment's history.
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
    LiveConfiguration,
    ReleaseSnapshot,
    RollbackDetected,
    append_history,
    history_file,
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


def describe(sagemaker: Any, endpoint_name: str) -> EndpointState | None:
    try:
        answer = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as err:
        if aws.error_code(err) in {"ValidationException", "ResourceNotFound"}:
            return None
        raise
    return EndpointState(answer["EndpointStatus"], answer["EndpointConfigName"], answer.get("FailureReason"))


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
) -> WatchResult:
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
            return WatchResult("in-service", expected, state, f"version {release.version_id} is live")
        if state.status == "InService":
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
