"""`tritonform deploy --env ENV`: apply an environment's serving stack and find out what really happened.

Terraform reports success when SageMaker rolled the update back, or fails at RollingBack, and records the new
configuration either way (terraform-provider-aws issue 48997). So a deploy here is: synthesize the stack;
`terraform init` and `plan` with the live instance count (UpdateEndpoint replaces the variant's instance
count with the new configuration's, so a release at peak load would otherwise shrink the fleet); apply that
plan; watch the endpoint to its real outcome (release/live.py); send the default model's smoke requests
through InvokeEndpoint and check the answers; and record the outcome in the environment's history. Only a
deploy verified this way is `deployed`, and only such a release becomes the fallback of later ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.names import FALLBACK_OUTPUT, LIVE_INSTANCES_VARIABLE
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.attach import environment_lock
from tritonform.release.git import source_commit
from tritonform.release.history import (
    DeployDurations,
    DeployOutcome,
    DeployRecorded,
    ReleaseSnapshot,
    append_history,
    history_file,
)
from tritonform.release.live import FAILED, describe, watch
from tritonform.release.scaling import instance_type_change
from tritonform.synth import synthesize
from tritonform.triton.smoke import SmokeFile, SmokeRequest, compare, smoke_path

PLAN_FILE = "tritonform-deploy.plan"
PLAN_TIMEOUT_S = 1800
# The provider waits at most 60 minutes for an endpoint update; creating the other resources comes on top.
APPLY_TIMEOUT_S = 3 * 3600
# What the provider's endpoint waiter says when it stops waiting (at RollingBack, or after its 60 minutes).
PROVIDER_STOPPED_WAITING = "waiting for SageMaker AI Endpoint"
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class StandIns:
    """Local stand-ins to deploy to instead of AWS: a moto server, and a local SageMaker in front of it."""

    aws_url: str
    sagemaker_url: str | None = None

    def client(self, service: str, region: str) -> Any:
        # the local SageMaker answers SageMaker, its runtime and Application Auto Scaling (whose tag operations
        # moto lacks, and whose DeregisterScalableTarget it makes delete the policies as AWS does)
        local = service.startswith("sagemaker") or service == "application-autoscaling"
        url = self.sagemaker_url if local and self.sagemaker_url else self.aws_url
        return boto3.client(service, region_name=region, endpoint_url=url, config=aws.RETRIES, **TEST_CREDENTIALS)


@dataclass(frozen=True)
class SmokeAnswer:
    request: str
    ok: bool
    detail: str


@dataclass
class DeployReport:
    environment: str
    version_id: str
    outcome: DeployOutcome
    detail: str
    expected_configuration: str
    requested_instances: int
    live_configuration: str | None = None
    instances: int | None = None
    fallback_configuration: str | None = None
    smoke: list[SmokeAnswer] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "deployed"

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=1, sort_keys=True)


def live_instances(env: EnvironmentConfig, sagemaker: Any) -> tuple[int, str]:
    """The instance count the new configuration starts with: the variant's live count (what autoscaling
    asked for), within capacity.min_instances and max_instances; capacity.initial_instances without an
    endpoint. Also says where the number comes from."""
    capacity = env.capacity
    state = aws.call(f"describe endpoint {env.endpoint.name}", lambda: describe(sagemaker, env.endpoint.name))
    count = state.instance_count(env.endpoint.variant_name) if state else None
    if count is None:
        why = "no endpoint yet" if state is None else f"no variant {env.endpoint.variant_name} in service"
        return capacity.initial_instances, f"{why}: capacity.initial_instances"
    kept = min(max(count, capacity.min_instances), capacity.max_instances)
    clamped = f", kept within capacity {capacity.min_instances}-{capacity.max_instances}" if kept != count else ""
    return kept, f"{env.endpoint.name} runs {count} instance(s){clamped}"


def smoke_requests(layout: ProjectLayout, model_name: str) -> tuple[Path, list[SmokeRequest]]:
    """The default model's smoke requests (model_repository/<model>/smoke.yaml); a deploy without them
    could not verify anything, so it is refused before anything changes."""
    path = smoke_path(layout.root / "model_repository" / model_name)
    if not path.is_file():
        raise UserError.single(f"a deploy verifies the endpoint with the default model's smoke requests; "
                               f"{model_name} declares none", file=path)  # fmt: skip
    return path, list(SmokeFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).requests)


def verify(runtime: Any, endpoint: str, requests: list[SmokeRequest]) -> list[SmokeAnswer]:
    """Each smoke request as KServe v2 JSON through InvokeEndpoint (the body SageMaker's Triton container
    passes to the default model), each answer compared with what the request declares."""
    answers = []
    for request in requests:
        body = {"inputs": [{"name": name, "shape": t.shape, "datatype": t.datatype, "data": t.data}
                           for name, t in request.inputs.items()]}  # fmt: skip
        try:
            raw = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                          Body=json.dumps(body).encode())["Body"].read()  # fmt: skip
            outputs = {o["name"]: o for o in json.loads(raw)["outputs"]}
        except ClientError as err:
            answers.append(SmokeAnswer(request.name, False, f"{aws.error_code(err)}: {err}"))
            continue
        except (BotoCoreError, ValueError, KeyError, TypeError) as err:
            answers.append(SmokeAnswer(request.name, False, f"no answer that reads as KServe v2 JSON: {err}"))
            continue
        wrong = _mismatches(request, outputs)
        answers.append(SmokeAnswer(request.name, not wrong, "; ".join(wrong) or "answered as declared"))
    return answers


def _mismatches(request: SmokeRequest, outputs: dict[str, Any]) -> list[str]:
    wrong = []
    for name, expected in request.expect.items():
        got = outputs.get(name)
        problem = "missing" if got is None else compare(
            expected, got.get("datatype", ""), got.get("shape", []), got.get("data", [])
        )  # fmt: skip
        if problem:
            wrong.append(f"{name}: {problem}")
    return wrong


def deploy(
    layout: ProjectLayout,
    env_name: str,
    *,
    actor: str,
    stand_ins: StandIns | None = None,
    outdir: Path | None = None,
    timeout_s: float = 3600,
    poll_s: float = 15,
    progress: Callable[[str], None] = print,
) -> DeployReport:
    started = time.monotonic()
    (deployment,) = load_deployments(layout, [env_name])
    env, release = deployment.environment, deployment.release
    smoke_file, requests = smoke_requests(layout, release.model_name)
    region = env.region
    sagemaker = stand_ins.client("sagemaker", region) if stand_ins else aws.client("sagemaker", region)
    runtime = stand_ins.client("sagemaker-runtime", region) if stand_ins else aws.client("sagemaker-runtime", region)
    count, why = live_instances(env, sagemaker)
    progress(f"deploy {env_name}: version {release.version_id}, {LIVE_INSTANCES_VARIABLE}={count} ({why})")
    (stack,) = synthesize(
        layout, outdir or layout.root / "cdktf.out", [env_name], "local" if stand_ins else "s3",
        stand_ins.aws_url if stand_ins else None, sagemaker_endpoint=stand_ins.sagemaker_url if stand_ins else None,
    )  # fmt: skip
    outputs = stack.document().get("output", {})
    assert isinstance(outputs, dict)
    report = DeployReport(
        env_name, release.version_id, "failed", "", outputs["endpoint_configuration_name"]["value"], count,
        fallback_configuration=outputs[FALLBACK_OUTPUT]["value"],
    )  # fmt: skip
    progress(
        f"  fallback  {report.fallback_configuration or 'none: no other release of this environment verified live'}"
    )

    def step(name: str, args: list[str], timeout: int) -> tuple[bool, str]:
        begun = time.monotonic()
        command = [args[0], "-input=false", "-no-color", *args[1:]]  # options before a plan file
        done = terraform.run_terraform(command, stack.directory, layout.root, timeout)
        report.durations[f"{name}_s"] = round(time.monotonic() - begun, 3)
        output = done.stdout + done.stderr
        for line in output.splitlines():
            if line.startswith(("Plan:", "No changes.", "Apply complete", "Error:")) or "Destruction complete" in line:
                progress(f"  {name:<9} {line.strip()}")
        return done.returncode == 0, output

    autoscaling = (stand_ins.client("application-autoscaling", region) if stand_ins
                   else aws.client("application-autoscaling", region))  # fmt: skip
    # An instance-type change of an autoscaled variant: deregistered around the plan and the apply (a plan made
    # before would not register it again), registered again if the apply fails (release/scaling.py).
    with instance_type_change(env, sagemaker=sagemaker, autoscaling=autoscaling,
                              say=lambda line: progress(f"  {line}")) as pause:  # fmt: skip
        ok, output = step("init", ["init", "-backend=true"], PLAN_TIMEOUT_S)
        if ok:
            ok, output = step("plan", ["plan", f"-out={PLAN_FILE}", f"-var={LIVE_INSTANCES_VARIABLE}={count}"],
                              PLAN_TIMEOUT_S)  # fmt: skip
            if ok:
                ok, output = step("apply", ["apply", PLAN_FILE], APPLY_TIMEOUT_S)
                stopped_waiting = not ok and PROVIDER_STOPPED_WAITING in output
                if stopped_waiting:
                    progress("  terraform stopped waiting for the endpoint (terraform-provider-aws issue 48997); "
                             "the outcome is read from SageMaker")  # fmt: skip
                ok = ok or stopped_waiting
        if not ok:
            pause.apply_failed()
    if not ok:
        report.detail = f"terraform failed: {output.strip()[-3000:]}"
        return _finish(layout, report, release=release, sagemaker=sagemaker, env=env, actor=actor, started=started)
    begun = time.monotonic()
    watched = watch(layout, env_name, sagemaker=sagemaker, timeout_s=timeout_s, poll_s=poll_s,
                    progress=lambda line: progress(f"  {line}"), record=False)  # fmt: skip
    report.durations["watch_s"] = round(time.monotonic() - begun, 3)
    report.detail = watched.detail
    if watched.outcome == "rolled-back":
        report.outcome = "rolled-back"
    elif watched.ok:
        begun = time.monotonic()
        report.smoke = verify(runtime, env.endpoint.name, requests)
        report.durations["verify_s"] = round(time.monotonic() - begun, 3)
        passed = sum(answer.ok for answer in report.smoke)
        report.outcome = "deployed" if passed == len(report.smoke) else "verify-failed"
        report.detail = (f"version {release.version_id} is live; {passed} of {len(report.smoke)} smoke request(s) "
                         f"from {smoke_file.relative_to(layout.root)} answered as declared")  # fmt: skip
    return _finish(layout, report, release=release, sagemaker=sagemaker, env=env, actor=actor, started=started)


def _finish(
    layout: ProjectLayout, report: DeployReport, *, release: ReleaseConfig, sagemaker: Any, env: EnvironmentConfig,
    actor: str, started: float,
) -> DeployReport:  # fmt: skip
    """Read what the endpoint serves now and record the outcome in the history."""
    state = aws.call(f"describe endpoint {env.endpoint.name}", lambda: describe(sagemaker, env.endpoint.name))
    if state is not None and state.status not in FAILED:
        report.live_configuration = state.configuration
        report.instances = state.instance_count(env.endpoint.variant_name)
    report.durations["total_s"] = round(time.monotonic() - started, 3)
    with environment_lock(layout, report.environment):
        append_history(history_file(layout, report.environment), DeployRecorded(
            at=datetime.now(UTC).replace(microsecond=0), action="deploy", environment=report.environment,
            actor=actor, commit=source_commit(layout.root), reason=_first_line(report.detail),
            outcome=report.outcome, release=ReleaseSnapshot.of(release),
            expected_configuration=report.expected_configuration, live_configuration=report.live_configuration,
            requested_instances=report.requested_instances, instances=report.instances,
            durations=DeployDurations(**report.durations),
        ))  # fmt: skip
    return report


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no detail"
    return line[:500]
