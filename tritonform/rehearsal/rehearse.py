"""`tritonform rehearse`: an environment's own rollout of a candidate version, run against the local stand-ins.

A moto server and the local SageMaker (tritonform/localsagemaker, with real Triton fleets) are started on
loopback; the environment's bucket, rollback alarms and two versions are created there; the old version is
put in service, load is sent, and UpdateEndpoint runs with the environment's compiled deployment. What
happened (the stand-in's timeline, the alarms' state changes, DescribeEndpoint) is compared with what the
environment's configuration promises (verdict.py). Every AWS client points at the stand-ins: a rehearsal
never touches AWS.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3

from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.alarms import compile_alarms
from tritonform.config.loader import Deployment
from tritonform.config.pinned import pinned_repository
from tritonform.errors import UserError
from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.rehearsal import stage
from tritonform.rehearsal.faults import Fault, build_candidate
from tritonform.rehearsal.load import (
    LoadGenerator,
    LoadReport,
    LoadRequest,
    requests_from_file,
    smoke_requests,
    with_bad_requests,
)
from tritonform.rehearsal.verdict import Observed, Rehearsal, judge
from tritonform.standin import moto_server
from tritonform.triton import install

MAX_SENT_PER_SECOND = 400.0
"""The most requests per real second the generator sends (rate x time scale): more would measure this
machine, not the rollout."""
# Choice (the docs give no typical figure; explain's plan assumes the worst case): the stand-in starts a
# fleet in 60 model seconds, plus the real time its Triton server takes to load the models.
PROVISIONING_S = 60.0
POLL_S = 0.05
SLACK_REAL_S = 90.0


@dataclass(frozen=True)
class RehearsalRequest:
    environment: str
    version: str | None
    fault: Fault | None
    rate: float | None
    """Requests per second in model time; None: the environment's expected_rps."""
    time_scale: float
    requests_file: Path | None = None
    bad_requests: float = 0.0
    """Share of the requests sent malformed (a client's bug, refused with 4XX by any version)."""


@dataclass(frozen=True)
class Sources:
    old_archive: bytes
    old_said: str
    candidate: Path
    candidate_said: str


def _version_directory(root: Path, version: str, scratch: Path) -> tuple[Path, str] | None:
    """A model repository holding `version`'s bytes: a directory given as is, or a release's version id."""
    given = Path(version)
    if not given.is_absolute():
        given = root / version if (root / version).exists() else Path.cwd() / version
    if given.is_dir():
        return given, f"the model repository {version}"
    layout = ProjectLayout(root)
    for deployment in load_deployments(layout):
        release = deployment.release
        if release.version_id != version:
            continue
        with pinned_repository(root, layout.model_repository, release) as (pinned, directory):
            if directory is None:
                continue
            copy = scratch / f"version-{version}"
            build_candidate(directory, copy, default_model=release.model_name, fault=None, nonce=version)
            return copy, f"version {version} ({pinned.validated_as})"
    return None


def _sources(root: Path, deployment: Deployment, request: RehearsalRequest, scratch: Path) -> Sources:
    layout = ProjectLayout(root)
    release = deployment.release
    with pinned_repository(root, layout.model_repository, release) as (pinned, directory):
        if directory is not None:
            old_archive = stage.package_to_bytes(directory)
            old_said = f"the live version {release.version_id} ({pinned.validated_as}, its own bytes)"
        else:
            old_archive = stage.package_to_bytes(layout.model_repository)
            old_said = (
                f"the working tree's model_repository/ standing in for the live version "
                f"{release.version_id}, whose bytes are not available locally"
            )
    base, base_said = layout.model_repository, "the working tree's model_repository/"
    if request.version is not None:
        found = _version_directory(root, request.version, scratch)
        if found is None:
            raise UserError.single(
                f"--version {request.version!r} is neither a model repository directory nor a version id whose "
                "bytes this checkout holds (a release of some environment that the working tree or git reproduces)",
                field="--version",
            )
        base, base_said = found
    candidate = build_candidate(
        base, scratch / "candidate", default_model=release.model_name, fault=request.fault, nonce=secrets.token_hex(8)
    )
    fault_said = f" with the fault {request.fault.describe()} built in" if request.fault else ""
    return Sources(old_archive, old_said, candidate, f"{base_said}{fault_said}, as a new version")


def _clients(server: LocalSageMakerServer, region: str) -> dict[str, Any]:
    settings = {
        "region_name": region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_session_token": "testing",
        "endpoint_url": server.url,
    }
    return {name: boto3.client(name, **settings) for name in ("sagemaker", "s3", "cloudwatch")}


def _timeline(server: LocalSageMakerServer, endpoint: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{server.url}/_localsagemaker/timeline/{endpoint}", timeout=10) as answer:
        return list(json.load(answer)["Timeline"])


def _wait_in_service(sagemaker: Any, endpoint: str, deadline: float) -> dict[str, Any]:
    while True:
        described = dict(sagemaker.describe_endpoint(EndpointName=endpoint))
        if described["EndpointStatus"] in {"InService", "Failed"}:
            return described
        if time.monotonic() > deadline:
            raise UserError.single(
                f"the endpoint was still {described['EndpointStatus']} at the rehearsal's time limit", exit_code=1
            )
        time.sleep(POLL_S)


def _alarm_changes(cloudwatch: Any, names: list[str], seen: dict[str, float], started: float, scale: float) -> None:
    """Record when (model seconds after UpdateEndpoint) each alarm was first seen in ALARM. Polled, because
    moto stamps StateUpdatedTimestamp to the second, which at a time scale of 60 is a model minute."""
    if not names:
        return
    now = time.monotonic()
    for alarm in cloudwatch.describe_alarms(AlarmNames=names).get("MetricAlarms", []):
        if alarm["StateValue"] == "ALARM" and alarm["AlarmName"] not in seen:
            seen[alarm["AlarmName"]] = round(max(now - started, 0.0) * scale, 1)


def _traffic(repository: Path, default_model: str, requests_file: Path | None) -> list[LoadRequest]:
    return requests_from_file(requests_file) if requests_file else smoke_requests(repository, default_model)


def rehearse(root: Path, request: RehearsalRequest, *, log_path: Path | None = None) -> Rehearsal:
    """Run the rehearsal; raise UserError for input the rehearsal cannot use."""
    (deployment,) = load_deployments(ProjectLayout(root), [request.environment])
    rate = request.rate if request.rate is not None else deployment.environment.expected_rps
    request = replace(request, rate=rate)
    sent_per_second = rate * request.time_scale
    if sent_per_second > MAX_SENT_PER_SECOND:
        said = f"--rate {rate:g}" if rate != deployment.environment.expected_rps else f"expected_rps {rate:g}"
        raise UserError.single(
            f"{said} at --time-scale {request.time_scale:g} means {sent_per_second:g} requests per "
            f"real second; at most {MAX_SENT_PER_SECOND:g}: lower --rate or --time-scale",
            field="--rate",
        )
    if not install.installed():
        raise UserError.single(
            "the local Triton server is not installed (scripts/bootstrap installs it): a rehearsal runs every "
            "version in a real local Triton"
        )
    env, plan, release = deployment.environment, deployment.rollout, deployment.release
    with tempfile.TemporaryDirectory(prefix="tritonform-rehearse-") as scratch_name:
        scratch = Path(scratch_name)
        sources = _sources(root, deployment, request, scratch)
        traffic = with_bad_requests(
            _traffic(sources.candidate, release.model_name, request.requests_file), request.bad_requests
        )
        archives = {"old": sources.old_archive, "new": stage.package_to_bytes(sources.candidate)}
        real_limit_s = (plan.total_s + PROVISIONING_S * 2 + 600) / request.time_scale + SLACK_REAL_S
        with (
            moto_server() as moto,
            local_sagemaker(
                moto,
                time_scale=request.time_scale,
                provisioning_s=PROVISIONING_S,
                lifetime_s=real_limit_s + 60,
                run_models=True,
                log_path=log_path,
            ) as server,
        ):
            clients = _clients(server, env.region)
            observed = _run(
                server,
                clients,
                deployment,
                archives=archives,
                traffic=traffic,
                request=request,
                real_limit_s=real_limit_s,
            )
    return judge(
        deployment,
        request.fault,
        rate,
        request.time_scale,
        observed,
        bad_requests=request.bad_requests,
        old=sources.old_said,
        candidate=sources.candidate_said,
        instance_type=stage.INSTANCE_TYPE,
    )


def _run(
    server: LocalSageMakerServer,
    clients: dict[str, Any],
    deployment: Deployment,
    *,
    archives: dict[str, bytes],
    traffic: list[LoadRequest],
    request: RehearsalRequest,
    real_limit_s: float,
) -> Observed:
    env, plan, release = deployment.environment, deployment.rollout, deployment.release
    sagemaker, s3, cloudwatch = clients["sagemaker"], clients["s3"], clients["cloudwatch"]
    bucket, endpoint = env.artifacts.bucket, env.endpoint.name
    stage.create_bucket(s3, bucket, env.region)
    names = {which: f"{endpoint}-rehearsal-{which}" for which in archives}
    # The alarms watch the candidate's fleet, as the stack's watch the release's configuration.
    alarms = stage.alarm_definitions(compile_alarms(env, names["new"]))
    for alarm in alarms:
        cloudwatch.put_metric_alarm(**alarm)
    for which, archive in archives.items():
        names[which] = stage.create_version(
            sagemaker,
            s3,
            bucket=bucket,
            name=names[which],
            archive=archive,
            image=release.triton_image.uri,
            default_model=release.model_name,
            instances=plan.fleet,
            variant=env.endpoint.variant_name,
        )
    deadline = time.monotonic() + real_limit_s
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=names["old"])
    live = _wait_in_service(sagemaker, endpoint, deadline)
    if live["EndpointStatus"] != "InService":
        raise UserError.single(
            f"the live version did not start in the stand-in: {live.get('FailureReason')}", exit_code=1
        )
    generator = LoadGenerator(
        server.url,
        endpoint,
        traffic,
        rate=(request.rate or env.expected_rps) * request.time_scale,
        max_requests=10_000_000,
        max_seconds=real_limit_s,
    )
    generator.start()
    fired: dict[str, float] = {}
    alarm_names = [alarm["AlarmName"] for alarm in alarms]
    report = LoadReport()
    try:
        time.sleep(min(2.0, 60.0 / request.time_scale))  # a minute of traffic on the old version first
        started = time.monotonic()
        sagemaker.update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=names["new"],
            DeploymentConfig=stage.deployment_config(deployment.deployment_config),
        )
        while True:
            described = dict(sagemaker.describe_endpoint(EndpointName=endpoint))
            _alarm_changes(cloudwatch, alarm_names, fired, started, request.time_scale)
            if described["EndpointStatus"] in {"InService", "Failed"}:
                break
            if time.monotonic() > deadline:
                raise UserError.single("the update had not ended at the rehearsal's time limit", exit_code=1)
            time.sleep(POLL_S)
        _alarm_changes(cloudwatch, alarm_names, fired, started, request.time_scale)
    finally:
        report = generator.stop()
    return Observed(
        final=described,
        timeline=_timeline(server, endpoint),
        alarms_fired=fired,
        load=report,
        new_config=names["new"],
        old_config=names["old"],
    )
