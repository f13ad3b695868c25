"""`tritonform release promote` and `tritonform release rollback`.

Promotion moves the very bytes that run in one environment to the next, and only through its gates:
  live      the source endpoint is InService on the configuration derived from its release;
  stable    no rollback was recorded for that version since it was attached;
  alarms    every rollback alarm of the source is OK and has been for the whole soak period;
  approval  for prod, the version's model package is Approved in the model registry.
A failed gate writes nothing and says which gate failed and why. Then the source's object is proved to
hold the release's bytes (sha256), that very object version is copied to the target's bucket under the same
content-addressed key (verified), and attached there.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from tritonform.config import ProjectLayout
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.loader import load_environment
from tritonform.config.names import model_package_group, rollback_alarm_names
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.attach import AttachResult, attach, attachment, current_release, environment_lock
from tritonform.release.contracts import check_contract_change, copy_contract, release_contract
from tritonform.release.fallback import last_verified_live
from tritonform.release.git import source_commit
from tritonform.release.history import (
    DeployRecorded,
    EmergencySwitch,
    Entry,
    LiveConfiguration,
    LiveRecord,
    ReleaseChange,
    ReleaseSnapshot,
    append_history,
    history_file,
    read_entries,
    read_history,
    restorable,
)
from tritonform.release.live import describe, expected_configuration, wait_for_configuration
from tritonform.release.publish import package_carries, verify_object, whole_object_checksum


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


@dataclass
class Clients:
    """The AWS APIs promotion reads; injectable so a faithful fake can stand in where moto cannot."""

    sagemaker: Any
    cloudwatch: Any


def check_gates(
    layout: ProjectLayout,
    source: str,
    target: str,
    *,
    soak_minutes: int,
    clients: Clients | None = None,
    now: datetime | None = None,
) -> tuple[ReleaseConfig, list[Gate]]:
    env = load_environment(layout, source)
    target_env = load_environment(layout, target)
    release = current_release(layout, source)
    if release is None:
        raise UserError.single(f"environment {source!r} has no release to promote", file=layout.release_file(source))
    clients = clients or Clients(aws.client("sagemaker", env.region), aws.client("cloudwatch", env.region))
    now = now or datetime.now(UTC)
    gates: list[Gate] = []

    expected = expected_configuration(env, release)
    state = aws.call(f"describe endpoint {env.endpoint.name}", lambda: describe(clients.sagemaker, env.endpoint.name))
    if state is None:
        gates.append(Gate("live", False, f"endpoint {env.endpoint.name} does not exist in {source}"))
    elif state.status != "InService" or state.configuration != expected:
        gates.append(Gate("live", False, f"{env.endpoint.name} is {state.status} on {state.configuration}; version "
                                         f"{release.version_id} runs on {expected}"))  # fmt: skip
    else:
        gates.append(Gate("live", True, f"{env.endpoint.name} is InService on {expected}"))

    history = read_history(history_file(layout, source))
    attached_at = max(
        (i for i, r in enumerate(history) if isinstance(r, ReleaseChange) and r.to.describes(release)), default=-1
    )
    rollbacks = [
        r.at
        for r in history[attached_at + 1 :]
        if r.action == "rollback-detected" or (isinstance(r, DeployRecorded) and r.outcome == "rolled-back")
    ]
    gates.append(
        Gate(
            "stable", False, f"SageMaker rolled version {release.version_id} back at {rollbacks[-1]:%Y-%m-%dT%H:%M:%SZ}"
        )
        if rollbacks
        else Gate("stable", True, "no rollback recorded since it was attached")
    )

    names = rollback_alarm_names(env)
    if not names:
        gates.append(Gate("alarms", False, f"{source} has no rollback alarms: nothing proves the version healthy"))
    else:
        alarms = aws.call(
            "describe the rollback alarms",
            lambda: clients.cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", []),
        )
        found = {alarm["AlarmName"]: alarm for alarm in alarms}
        soak_start = now - timedelta(minutes=soak_minutes)
        problems = []
        for name in names:
            alarm = found.get(name)
            if alarm is None:
                problems.append(f"{name} does not exist")
            elif alarm["StateValue"] != "OK":
                problems.append(f"{name} is {alarm['StateValue']}")
            elif alarm["StateUpdatedTimestamp"] > soak_start:
                since = alarm["StateUpdatedTimestamp"].astimezone(UTC).strftime("%H:%M:%S")
                problems.append(f"{name} is OK only since {since} UTC, less than the {soak_minutes}-minute soak")
        gates.append(
            Gate("alarms", False, "; ".join(problems))
            if problems
            else Gate("alarms", True, f"{len(names)} alarm(s) OK for at least {soak_minutes} minute(s)")
        )

    if target_env.tier == "prod":
        gates.append(_approval_gate(clients.sagemaker, release))
    return release, gates


def _approval_gate(sagemaker: Any, release: ReleaseConfig) -> Gate:
    group = model_package_group(release.model_name)
    try:
        summaries = sagemaker.list_model_packages(ModelPackageGroupName=group).get("ModelPackageSummaryList", [])
    except ClientError:
        summaries = []
    for summary in summaries:
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package_carries(described, release.artifact.sha256):
            status = described.get("ModelApprovalStatus")
            if status == "Approved":
                return Gate("approval", True, f"model package {summary['ModelPackageArn']} is Approved")
            return Gate("approval", False, f"model package {summary['ModelPackageArn']} is {status}, not Approved")
    return Gate("approval", False, f"version {release.version_id} is not registered in model package group {group} "
                                   "(publish with --register, then approve it)")  # fmt: skip


def verify_source(s3: Any, release: ReleaseConfig, source: str) -> dict[str, str]:
    """Prove that the source's object still holds the release's bytes before they go anywhere, and return
    the object version proved (the copy takes exactly that one). S3's SHA-256 checksum proves it when it is
    the whole object's digest; otherwise (a multipart upload's checksum is a digest of its parts' digests,
    or there is none) the bytes are streamed and hashed."""
    artifact = release.artifact
    bucket, key, sha256, size = artifact.bucket, artifact.key, artifact.sha256, artifact.size_bytes
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    pinned = {"VersionId": str(head["VersionId"])} if head.get("VersionId") else {}
    if head.get("ContentLength") != size:
        found = f"size is {head.get('ContentLength')} bytes, not {size}"
    elif head.get("ChecksumSHA256") == whole_object_checksum(sha256):
        return pinned
    else:
        digest = hashlib.sha256()
        for chunk in s3.get_object(Bucket=bucket, Key=key, **pinned)["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        if digest.hexdigest() == sha256:
            return pinned
        found = f"sha256 is {digest.hexdigest()}, not {sha256}"
    raise UserError.single(
        f"s3://{bucket}/{key} no longer holds the bytes environments/releases/{source}.yaml names: its {found}. "
        "Not promoted and nothing copied: make the object version with the release's bytes current again"
    )


def promote(
    layout: ProjectLayout,
    source: str,
    target: str,
    *,
    actor: str,
    soak_minutes: int = 30,
    clients: Clients | None = None,
    accept_breaking: str | None = None,
) -> tuple[list[Gate], AttachResult | None]:
    if source == target:
        raise UserError.single("--from and --to name the same environment")
    release, gates = check_gates(layout, source, target, soak_minutes=soak_minutes, clients=clients)
    if not all(gate.passed for gate in gates):
        return gates, None
    target_env = load_environment(layout, target)
    key = release.artifact.key
    source_s3 = aws.client("s3", load_environment(layout, source).region)
    proved = aws.call(f"verify s3://{release.artifact.bucket}/{key}", lambda: verify_source(source_s3, release, source))
    target_s3 = aws.client("s3", target_env.region)
    _refuse_breaking_contract(source_s3, target_s3, release, layout, target, accept_breaking=accept_breaking)
    if target_env.artifacts.bucket != release.artifact.bucket:
        try:
            verify_object(target_s3, target_env.artifacts.bucket, key, sha256=release.artifact.sha256,
                          size=release.artifact.size_bytes, artifact=None)  # fmt: skip
        except UserError:
            aws.call(
                f"copy the artifact to s3://{target_env.artifacts.bucket}/{key}",
                lambda: target_s3.copy_object(
                    Bucket=target_env.artifacts.bucket, Key=key, ChecksumAlgorithm="SHA256",
                    CopySource={"Bucket": release.artifact.bucket, "Key": key, **proved}, MetadataDirective="COPY",
                ),
            )  # fmt: skip
        copy_contract(source_s3, target_s3, release, target_env.artifacts.bucket)
    result = attach(
        layout,
        target,
        release.artifact.sha256,
        actor=actor,
        reason=f"promoted from {source} after its gates passed",
        model_name=release.model_name,
        triton_version=release.triton_image.version,
        action="promote",
        accept_breaking=accept_breaking,
    )
    return gates, result


def _refuse_breaking_contract(
    source_s3: Any, target_s3: Any, release: ReleaseConfig, layout: ProjectLayout, target: str, *,
    accept_breaking: str | None,
) -> None:  # fmt: skip
    """attach refuses a breaking contract change too, but only after the artifact was copied to the target's
    bucket: checked here first, a refused promotion leaves nothing behind."""
    current = current_release(layout, target)
    if current is None:
        return
    new = aws.call("read the promoted version's contract", lambda: release_contract(source_s3, release))
    old = aws.call(f"read {target}'s current contract", lambda: release_contract(target_s3, current))
    check_contract_change(old, new, accept_breaking=accept_breaking, environment=target)


@dataclass(frozen=True)
class Switched:
    """An emergency switch as it happened: the configuration before and after, the instance count kept, and
    how long SageMaker took from UpdateEndpoint to InService."""

    before: str
    configuration: str
    instances: int | None
    duration_s: float


def emergency_deployment_config() -> dict[str, Any]:
    """All traffic at once, no bake, and no AutoRollbackConfiguration: the alarms are likely firing because of
    the bad release, and must not roll the switch back (DeploymentConfig, BlueGreenUpdatePolicy,
    TrafficRoutingConfig: SageMaker API Reference)."""
    return {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}}
    }


def rollback(
    layout: ProjectLayout,
    env_name: str,
    *,
    actor: str,
    to_version: str | None = None,
    emergency: bool = False,
    reason: str = "rollback",
    sagemaker: Any = None,
    timeout_s: float = 3600,
    poll_s: float = 5,
) -> tuple[AttachResult, Switched | None]:
    """Re-attach the previous release (or `to_version`); with `emergency`, first switch the live endpoint to
    that release's configuration at once and wait until it serves there. An emergency rollback goes back to the
    fallback, the last release verified live, whose configuration the serving stack keeps declared."""
    current = current_release(layout, env_name)
    if current is None:
        raise UserError.single(f"environment {env_name!r} has no release", file=layout.release_file(env_name))
    entries = read_entries(history_file(layout, env_name))
    found = _rollback_target(entries, current, to_version, emergency=emergency)
    if found is None:
        raise UserError.single(
            f"no earlier release of {env_name!r} in environments/history/{env_name}.jsonl to go back to"
            + (f" matching {to_version}" if to_version else "")
        )
    # the release as it is about to be attached again: the record must hold all of it, or this says what it lacks
    target = restorable(*found, attachment(actor, reason, source_commit(layout.root)))
    switched = None
    if emergency:
        env = load_environment(layout, env_name)
        client = sagemaker or aws.client("sagemaker", env.region)
        switched = _switch(client, env, expected_configuration(env, target), timeout_s=timeout_s, poll_s=poll_s)
        with environment_lock(layout, env_name):
            append_history(history_file(layout, env_name), EmergencySwitch(
                at=datetime.now(UTC).replace(microsecond=0), action="emergency-switch", environment=env_name,
                actor=actor, commit=source_commit(layout.root), reason=reason,
                from_=LiveConfiguration(live_configuration=switched.before), to=ReleaseSnapshot.of(target),
                configuration=switched.configuration, instances=switched.instances,
                duration_s=round(switched.duration_s, 3),
            ))  # fmt: skip
    result = attach(
        layout, env_name, target.artifact.sha256, actor=actor, reason=reason, model_name=target.model_name,
        triton_version=target.triton_image.version, action="emergency-rollback" if emergency else "rollback",
    )  # fmt: skip
    return result, switched


def _switch(client: Any, env: EnvironmentConfig, configuration: str, *, timeout_s: float, poll_s: float) -> Switched:
    """UpdateEndpoint to `configuration` all at once, keeping the variant's instance count
    (RetainAllVariantProperties: "enables or disables the retention of variant properties, such as the instance
    count or the variant weight", UpdateEndpoint, SageMaker API Reference), then wait for InService there."""
    name = env.endpoint.name
    aws.call(f"find endpoint configuration {configuration}",
             lambda: client.describe_endpoint_config(EndpointConfigName=configuration))  # fmt: skip
    before = aws.call(f"describe endpoint {name}", lambda: describe(client, name))
    if before is None:
        raise UserError.single(f"endpoint {name} does not exist: nothing to switch")
    started = time.monotonic()
    aws.call(
        f"switch {name} to {configuration}",
        lambda: client.update_endpoint(
            EndpointName=name, EndpointConfigName=configuration, RetainAllVariantProperties=True,
            DeploymentConfig=emergency_deployment_config(),
        ),
    )  # fmt: skip
    after = wait_for_configuration(client, name, configuration, timeout_s=timeout_s, poll_s=poll_s)
    return Switched(before.configuration, configuration, after.instance_count(env.endpoint.variant_name),
                    time.monotonic() - started)  # fmt: skip


def _rollback_target(
    entries: list[Entry], current: ReleaseConfig, to_version: str | None, *, emergency: bool = False
) -> tuple[Entry, Literal["from", "to", "release"]] | None:
    """Where the history names the release to go back to: the latest mention of `to_version`; for an
    emergency, the fallback (the last release verified live, whose configuration the stack keeps); else the
    release the latest change to the current one replaced. A record found here that lacks what a rollback
    needs is an error, never skipped for an older one: that would go back to some other release than the one
    asked."""
    if to_version is None and emergency and (live := last_verified_live(entries, other_than=current)):
        record = live[0].record
        return live[0], record.SNAPSHOT_FIELD if isinstance(record, LiveRecord) else "to"
    if to_version is not None:
        for entry in reversed(entries):
            for side in ("to", "release", "from"):
                snapshot = getattr(entry.record, "from_" if side == "from" else side, None)
                if isinstance(snapshot, ReleaseSnapshot) and snapshot.matches(to_version):
                    return entry, side
        return None
    for entry in reversed(entries):
        record = entry.record
        if isinstance(record, ReleaseChange) and record.to.describes(current) and record.from_ is not None:
            return entry, "from"
    return None
