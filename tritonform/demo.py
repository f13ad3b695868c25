"""The main job: rollouts that really run, against local stand-ins, end to end.

It works on a copy of the project in .tritonform/demo (your environment files are never touched), a moto
server on loopback as AWS and the local SageMaker in front of it (tritonform/localsagemaker: endpoints that
deploy, shift traffic, evaluate their rollback alarms from real invocations and roll back, each version
served by a real Triton server). Three versions, three different sha256s:
  A  the example model repository as it is: deployed to dev;
  B  a copy with a fault built into its Python model (every request fails): released to dev, caught in its
     canary by the 5XX-rate alarm and rolled back by SageMaker; `release watch` reports and records it;
  A  attached again (`release rollback`) and deployed;
  C  a healthy copy (another nonce): completes its canary on dev, is promoted to staging through the gates
     and deployed there too.
Every deploy is `terraform apply` with the real AWS provider and the live instance count. What differs from
AWS is said as it happens. Long because the main job is one story told step by step, each step saying what it
shows and what differs from AWS.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tritonform import terraform
from tritonform._node import prepare_jsii_node
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.names import LIVE_INSTANCES_VARIABLE
from tritonform.demo_traffic import RATE_PER_S, describe_outcomes, invoke, runtime_client, smoke_bodies, steady_traffic
from tritonform.demo_views import report_changes, state_configuration, timeline_steps
from tritonform.errors import UserError
from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.rehearsal.faults import Fault, build_candidate
from tritonform.release.package import Manifest, package
from tritonform.standin import aws_pointed_at, moto_server
from tritonform.synth import synthesize
from tritonform.triton.server import check_with_server
from tritonform.triton.validate import validate_repository

ENVIRONMENTS = ("dev", "staging")
# moto accepts only older SageMaker instance types; the demo's copy uses the nearest it knows.
STAND_IN_INSTANCE = {"dev": "ml.g4dn.xlarge", "staging": "ml.g4dn.2xlarge"}
COPIED = ("environments", "rollout_policies", "model_repository")
# Model seconds per real second: a 600 s bake takes 5 s, an alarm period of 60 s 0.5 s. Not higher: a local
# Triton server starts in several real seconds, which the scale turns into model time that counts against
# the update's MaximumExecutionTimeoutInSeconds.
TIME_SCALE = 120.0
DEV_POLICY, DEV_INSTANCES = "canary-1-instance", 2
# The canary's one instance of two takes half of 10 requests per model minute: 5 a minute, 2 of them 5XX at 40%.
DEMO_ERROR_PERCENT, DEMO_MIN_INVOCATIONS = 40, 4
FAULT = Fault("error-rate", 1.0)
WATCH_TIMEOUT_S = 120
BUCKET_RESOURCES = ("aws_s3_bucket", "aws_s3_bucket_versioning", "aws_s3_bucket_public_access_block",
                    "aws_s3_bucket_ownership_controls")  # fmt: skip
SAGEMAKER_ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_SAGEMAKER"


@dataclass(frozen=True)
class Version:
    label: str
    what: str
    manifest: Manifest
    directory: Path


class Steps:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say, self.number, self.started = say, 0, time.monotonic()

    def __call__(self, title: str) -> None:
        self.number += 1
        self.say(f"\n[{self.number}] {title}  (+{time.monotonic() - self.started:.0f} s)")


def _workspace(root: Path) -> Path:
    workspace = root / ".tritonform" / "demo"
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    for name in COPIED:
        shutil.copytree(root / name, workspace / name, ignore=shutil.ignore_patterns("__pycache__", "history"))
    return workspace


def _terraform(args: list[str], stack_dir: Path, root: Path) -> tuple[bool, list[str], str]:
    """Run terraform; (succeeded, the lines worth showing, the whole output)."""
    result = terraform.run_terraform([*args, "-input=false", "-no-color"], stack_dir, root, timeout_s=900)
    words = ("Creation complete", "Apply complete", "Modifications complete", "Destruction complete", "Error:")
    lines = (result.stdout + result.stderr).splitlines()
    shown = [line.strip() for line in lines if any(line.strip().startswith(word) or f": {word}" in line
                                                   for word in words)]  # fmt: skip
    return result.returncode == 0, shown, result.stdout[-3000:] + result.stderr[-3000:]


def _resources(stack_dir: Path, construct: str) -> list[tuple[str, str]]:
    """(type, name) of every resource of one construct of a synthesized stack."""
    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    return [
        (resource_type, name)
        for resource_type, resources in document.get("resource", {}).items()
        for name, body in resources.items()
        if body.get("//", {}).get("metadata", {}).get("path", "").split("/")[1:2] == [construct]
    ]


def _edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


class _Demo:
    """The steps of the main job, sharing the workspace and the stand-ins' addresses."""

    def __init__(self, root: Path, say: Callable[[str], None]) -> None:
        self.root, self.say, self.step = root, say, Steps(say)
        self.workspace = _workspace(root)
        self.layout = ProjectLayout(self.workspace)
        self.moto_url = ""
        self.sagemaker: LocalSageMakerServer | None = None
        self.timelines: dict[str, list[str]] = {}

    # --- set-up ----------------------------------------------------------------------------------------

    def prepare(self) -> None:
        prepare_jsii_node()  # before the stacks import cdktf: the Node.js jsii starts, and the lean provider
        from tritonform.stacks.serving import NOT_ON_STAND_IN  # noqa: PLC0415  (start-up: cdktf starts Node.js)

        self.say(f"tritonform demo: rollouts that really run, on a copy of the project in {self.workspace}")
        for env, instance in STAND_IN_INSTANCE.items():
            path = self.layout.environment_file(env)
            data = yaml.safe_load(path.read_text())
            self.say(f"  stand-in: {env} runs on {instance} here instead of {data['endpoint']['instance_type']} "
                     "(moto knows only older GPU types)")  # fmt: skip
            data["endpoint"]["instance_type"] = instance
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        dev = yaml.safe_load(self.layout.environment_file("dev").read_text())
        self.say(f"  demo: dev rolls out with {DEV_POLICY} (staging's policy) on {DEV_INSTANCES} instances instead of "
                 f"{dev['rollout_policy']} on {dev['capacity']['initial_instances']}, so that a new version meets "
                 "a canary")  # fmt: skip
        self.say(f"  demo: time runs {TIME_SCALE:.0f}x faster on the local SageMaker, so the demo's {RATE_PER_S:.0f} "
                 f"requests per second are {RATE_PER_S * 60 / TIME_SCALE:.0f} per model minute; dev's 5XX-rate alarm "
                 f"judges minutes with at least {DEMO_MIN_INVOCATIONS} requests on the new fleet (instead of 40) and "
                 f"fires at {DEMO_ERROR_PERCENT}% (2 of 3 minutes)")  # fmt: skip

        def for_the_demo(data: dict[str, Any]) -> None:
            data["rollout_policy"] = DEV_POLICY
            data["capacity"].update(initial_instances=DEV_INSTANCES, min_instances=DEV_INSTANCES,
                                    max_instances=max(DEV_INSTANCES, data["capacity"]["max_instances"]))  # fmt: skip
            data["expected_rps"] = RATE_PER_S / TIME_SCALE
            data["rollback_alarms"] = {"server_error_rate": {"threshold_percent": DEMO_ERROR_PERCENT,
                                                             "min_invocations": DEMO_MIN_INVOCATIONS}}  # fmt: skip

        _edit_yaml(self.layout.environment_file("dev"), for_the_demo)
        for problem, reason in NOT_ON_STAND_IN.items():
            self.say(f"  stand-in: not created: {problem}: {reason}")

    def validate(self, default_model: str) -> None:
        self.step("validate the model repository (version A): static checks, then a real Triton server")
        report = validate_repository(self.workspace / "model_repository", default_model=default_model)
        if report.problems:
            raise UserError(report.problems)
        server = check_with_server(report)
        for line in server.lines():
            self.say(f"    {line}")
        if not server.ok:
            raise UserError.single("the repository did not load or answer in Triton", exit_code=1)

    def build_versions(self, default_model: str) -> dict[str, Version]:
        self.step("package three versions reproducibly: A as it is, B with a fault built in, C healthy")
        repository = self.workspace / "model_repository"
        sources = {
            "A": (repository, "the example model repository as it is"),
            "B": (build_candidate(repository, self.workspace / "candidates" / "B", default_model=default_model,
                                  fault=FAULT, nonce="tritonform demo version B"),
                  f"a copy whose Python model fails requests ({FAULT.describe()}: every request)"),
            "C": (build_candidate(repository, self.workspace / "candidates" / "C", default_model=default_model,
                                  fault=None, nonce="tritonform demo version C"),
                  "a healthy copy (another nonce, so other bytes)"),
        }  # fmt: skip
        versions = {}
        for label, (source, what) in sources.items():
            out = self.workspace / "packages" / label
            manifest = package(source, out, default_model=default_model)
            versions[label] = Version(label, what, manifest, out)
            self.say(f"    {label}: sha256 {manifest.sha256} ({manifest.size_bytes} bytes): {what}")
        if len({version.manifest.sha256 for version in versions.values()}) != len(versions):
            raise UserError.single("the three versions did not package to three different sha256s", exit_code=1)
        return versions

    def bootstrap(self, pool: concurrent.futures.Executor) -> dict[str, concurrent.futures.Future[int]]:
        """Start creating the artifact stores in the background while the versions are validated and packaged:
        dev's bucket (publishing needs it) and staging's whole store (promotion needs it). The provider waits
        about a minute for lifecycle rules to settle, so dev's come with its first full apply, where they
        settle while the endpoint starts."""
        self.step("create the artifact buckets in the background (terraform init, apply -target; local state)")
        stacks = {stack.deployment.environment.name: stack.directory for stack in self._synth(*ENVIRONMENTS)}
        targets = {
            "dev": [f"-target={kind}.{name}" for kind, name in _resources(stacks["dev"], "artifacts")
                    if kind in BUCKET_RESOURCES],
            "staging": [f"-target={kind}.{name}" for kind, name in _resources(stacks["staging"], "artifacts")],
        }  # fmt: skip
        staging = len(targets["staging"])
        self.say(f"    dev: {', '.join(BUCKET_RESOURCES)} (its KMS key, encryption and lifecycle rules come "
                 f"with its first full apply); staging: its whole artifact store ({staging} resources)")  # fmt: skip

        def create(env: str) -> int:
            created = 0
            for args in (["init"], ["apply", "-auto-approve", *targets[env]]):
                ok, shown, output = _terraform(args, stacks[env], self.root)
                if not ok:
                    raise UserError.single(f"terraform {args[0]} of {env} failed:\n{output}")
                created += len([line for line in shown if "Creation complete" in line])
            return created

        return {env: pool.submit(create, env) for env in ENVIRONMENTS}

    def _synth(self, *environments: str) -> list[Any]:
        assert self.sagemaker is not None
        return synthesize(self.layout, self.workspace / "cdktf.out", list(environments), "local", self.moto_url,
                          sagemaker_endpoint=self.sagemaker.url)  # fmt: skip

    # --- releases ---------------------------------------------------------------------------------------

    def publish(self, versions: dict[str, Version], dev_store: concurrent.futures.Future[int]) -> None:
        from tritonform.release.publish import publish  # noqa: PLC0415  (start-up: boto3)

        self.step("publish A, B and C to dev's artifact bucket (content-addressed, verified)")
        self.say(f"    dev's bucket: {dev_store.result()} resource(s) created in the background")
        dev = load_deployments(self.layout, ["dev"])[0].environment
        for version in versions.values():
            published = publish(version.directory, bucket=dev.artifacts.bucket, region=dev.region, quiet=True)
            self.say(f"    {version.label}: {published.s3_uri}")

    def attach(self, env: str, version: Version, reason: str) -> None:
        from tritonform.release.attach import attach  # noqa: PLC0415  (start-up: boto3)

        attached = attach(self.layout, env, version.manifest.sha256, actor="tritonform-demo", reason=reason)
        before = attached.previous.version_id if attached.previous else "none"
        self.say(f"    {env}: {before} -> {attached.release.version_id} (version {version.label}), recorded in "
                 f"environments/history/{env}.jsonl")  # fmt: skip
        if attached.previous and attached.previous.artifact.sha256 == attached.release.artifact.sha256:
            self.say(f"    ({env}'s shipped release file pins these same bytes; this attach records them again)")

    def deploy(self, env: str) -> tuple[bool, str, Path]:
        """Synthesize and `terraform apply` with the live instance count, as `tritonform deploy` (which plans
        first: one more Terraform run, ~10 s of CPU each); (whether it succeeded, its output, the stack)."""
        from tritonform.release import aws  # noqa: PLC0415  (start-up: boto3)
        from tritonform.release.deploy import live_instances  # noqa: PLC0415  (start-up: boto3)

        (stack,) = self._synth(env)
        environment = stack.deployment.environment
        count, why = live_instances(environment, aws.client("sagemaker", environment.region))
        self.say(f"    {LIVE_INSTANCES_VARIABLE}={count} ({why}); fallback kept declared: "
                 f"{stack.fallback_configuration() or 'none, no other release verified live'}")  # fmt: skip
        started = time.monotonic()
        variable = f"-var={LIVE_INSTANCES_VARIABLE}={count}"
        ok, shown, output = _terraform(["apply", "-auto-approve", variable], stack.directory, self.root)
        for line in shown:
            self.say(f"    {line}")
        self.say(f"    (terraform apply of {env}: {time.monotonic() - started:.0f} s)")
        return ok, output, stack.directory

    def deploy_and_watch(self, env: str, expect: str) -> None:
        from tritonform.release.live import watch  # noqa: PLC0415  (start-up: boto3)

        ok, output, stack_dir = self.deploy(env)
        stopped_waiting = not ok and "waiting for SageMaker AI Endpoint" in output
        if not ok and not stopped_waiting:
            raise UserError.single(f"terraform apply of {env} failed:\n{output}")
        if stopped_waiting and "RollingBack" not in output:
            self.say("    terraform apply stopped waiting for the endpoint (its error above); the outcome is read "
                     "from SageMaker:")  # fmt: skip
        if expect == "rolled-back":
            recorded = state_configuration(stack_dir, env)
            if stopped_waiting and "RollingBack" in output:
                self.say("    terraform apply failed at RollingBack: the provider waits through Creating and Updating "
                         "only (terraform-provider-aws issue 48997)")  # fmt: skip
            elif ok:
                self.say("    terraform apply reported success: the provider saw InService and did not ask on which "
                         "configuration")  # fmt: skip
            self.say(f"    Terraform's state records the endpoint on {recorded}; the outcome is read from SageMaker:")
        self.say(f"    $ tritonform release watch --env {env}")
        result = watch(self.layout, env, poll_s=0.5, timeout_s=WATCH_TIMEOUT_S,
                       progress=lambda line: self.say(f"      {line}"))  # fmt: skip
        self.say(f"    {result.outcome}: {result.detail}")
        self.show_timeline(env)
        if result.outcome != expect:
            raise UserError.single(f"{env}: expected {expect}, the endpoint ended {result.outcome}", exit_code=1)

    def show_timeline(self, env: str) -> None:
        """The local SageMaker's record of the endpoint's last operation (not an AWS API): its steps and the
        share of traffic on the new fleet, in model seconds; said once per operation."""
        assert self.sagemaker is not None
        name = load_deployments(self.layout, [env])[0].environment.endpoint.name
        steps = timeline_steps(self.sagemaker.url, name)
        if self.timelines.get(name) == steps:
            self.say("    no endpoint operation: Terraform's refresh read the endpoint on this configuration already")
            return
        self.timelines[name] = steps
        self.say("    local SageMaker, in model time:")
        for line in steps:
            self.say(f"      {line}")


def _say_traffic(say: Callable[[str], None], before: Counter[str], after: Counter[str], endpoint: str) -> None:
    say(f"    traffic to {endpoint} meanwhile: {describe_outcomes(after - before)}")


def _mission(
    demo: _Demo, versions: dict[str, Version], default_model: str, staging_store: concurrent.futures.Future[int]
) -> None:
    from tritonform.release.promote import promote, rollback  # noqa: PLC0415  (start-up: boto3)

    assert demo.sagemaker is not None
    say, step = demo.say, demo.step
    dev_env = load_deployments(demo.layout, ["dev"])[0].environment
    step("attach A to dev and deploy it (terraform apply: CreateEndpoint on the local SageMaker)")
    demo.attach("dev", versions["A"], "demo: version A")
    demo.deploy_and_watch("dev", "in-service")

    bodies = smoke_bodies(demo.workspace / "model_repository" / default_model)
    client = runtime_client(demo.sagemaker.url, dev_env.region)
    with steady_traffic(client, dev_env.endpoint.name, bodies) as traffic:
        say(f"    steady traffic: {RATE_PER_S:.0f} InvokeEndpoint requests per second to {dev_env.endpoint.name} "
            f"from now on (the {default_model} smoke requests)")  # fmt: skip
        step("release B to dev: attach, terraform apply (UpdateEndpoint with a canary and the rollback alarms)")
        mark = traffic.snapshot()
        demo.attach("dev", versions["B"], "demo: version B (faulty)")
        demo.deploy_and_watch("dev", "rolled-back")
        _say_traffic(say, mark, traffic.snapshot(), dev_env.endpoint.name)

        step("attach A again (tritonform release rollback) and deploy it")
        result, _ = rollback(demo.layout, "dev", actor="tritonform-demo", reason="demo: B was rolled back by SageMaker")
        say(f"    dev: {result.previous.version_id if result.previous else 'none'} -> {result.release.version_id} "
            "(version A), recorded as a rollback")  # fmt: skip
        mark = traffic.snapshot()
        demo.deploy_and_watch("dev", "in-service")
        _say_traffic(say, mark, traffic.snapshot(), dev_env.endpoint.name)

        step("release C to dev: attach, terraform apply, the canary and the full shift")
        mark = traffic.snapshot()
        demo.attach("dev", versions["C"], "demo: version C")
        demo.deploy_and_watch("dev", "in-service")
        _say_traffic(say, mark, traffic.snapshot(), dev_env.endpoint.name)

    step("promote dev -> staging through the gates (soak shortened to 0 minutes for the demo)")
    say(f"    staging's artifact store: {staging_store.result()} resource(s) created in the background")
    gates, promoted = promote(demo.layout, "dev", "staging", actor="tritonform-demo", soak_minutes=0)
    for gate in gates:
        say(f"    gate {gate.name:<8} {'pass' if gate.passed else 'FAIL'}: {gate.detail}")
    if promoted is None:
        raise UserError.single("the promotion gates did not pass", exit_code=1)
    say(f"    staging: -> {promoted.release.version_id} (version C), copied to {promoted.release.artifact.s3_uri}")

    step("deploy staging (terraform apply: CreateEndpoint) and ask it the smoke requests")
    demo.deploy_and_watch("staging", "in-service")
    staging_env = load_deployments(demo.layout, ["staging"])[0].environment
    staging_client = runtime_client(demo.sagemaker.url, staging_env.region)
    answers = Counter(invoke(staging_client, staging_env.endpoint.name, body) for body in bodies)
    say(f"    {staging_env.endpoint.name}: {describe_outcomes(answers)}")
    if answers["ok"] != len(bodies):
        raise UserError.single("staging did not answer its smoke requests", exit_code=1)


@contextmanager
def _sagemaker_at(url: str) -> Iterator[None]:
    """SageMaker clients of this process (watch, promote) at the local SageMaker, every other service where
    AWS_ENDPOINT_URL points (boto3's service-specific AWS_ENDPOINT_URL_<SERVICE> variable)."""
    saved = os.environ.get(SAGEMAKER_ENDPOINT_VARIABLE)
    os.environ[SAGEMAKER_ENDPOINT_VARIABLE] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(SAGEMAKER_ENDPOINT_VARIABLE, None)
        else:
            os.environ[SAGEMAKER_ENDPOINT_VARIABLE] = saved


def run_demo(root: Path, say: Callable[[str], None] = print) -> int:
    demo = _Demo(root, say)
    demo.prepare()
    before = {env: demo.layout.release_file(env).read_text() for env in ENVIRONMENTS}
    default_model = load_deployments(demo.layout, ["dev"])[0].release.model_name
    with moto_server() as aws, aws_pointed_at(aws), local_sagemaker(
        aws, time_scale=TIME_SCALE, lifetime_s=900, run_models=True, log_path=demo.workspace / "localsagemaker.log"
    ) as sagemaker, _sagemaker_at(sagemaker.url), concurrent.futures.ThreadPoolExecutor(2) as background:  # fmt: skip
        demo.moto_url, demo.sagemaker = aws.url, sagemaker
        say(f"  AWS stand-in: moto server on {aws.url} (pid {aws.pid}); local SageMaker on {sagemaker.url} "
            f"(pid {sagemaker.pid}, time x{TIME_SCALE:.0f}, each version in a real Triton server)")  # fmt: skip
        stores = demo.bootstrap(background)
        demo.validate(default_model)
        versions = demo.build_versions(default_model)
        demo.publish(versions, stores["dev"])
        _mission(demo, versions, default_model, stores["staging"])
    say("  stand-ins stopped")
    demo.step("what changed")
    report_changes(demo.layout, ENVIRONMENTS, before, say)
    a, b, c = (versions[label].manifest.version_id for label in "ABC")
    say(f"\ndone in {time.monotonic() - demo.step.started:.0f} s: B ({b}) was caught in its canary and rolled back; "
        f"A ({a}) was attached again; C ({c}) runs in dev and staging (in {demo.workspace})")  # fmt: skip
    return 0
