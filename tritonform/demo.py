"""The main job: a whole release of the example model against local stand-ins, end to end.

It works on a copy of the project in .tritonform/demo (your environment files are never touched) and a
moto server on loopback as AWS: validate the model repository (statically and in a real Triton server),
package it, create the artifact stores with Terraform, publish, attach to dev, deploy dev with Terraform,
watch the endpoint, promote dev to staging through the gates, and show what changed. What the stand-in
cannot do is named as it happens, never hidden.
"""

from __future__ import annotations

import concurrent.futures
import difflib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.errors import UserError
from tritonform.release.history import ReleaseChange, history_file, read_history
from tritonform.release.package import package
from tritonform.standin import aws_pointed_at, moto_server
from tritonform.synth import synthesize
from tritonform.triton.server import check_with_server
from tritonform.triton.validate import validate_repository

ENVIRONMENTS = ("dev", "staging")
# moto accepts only older SageMaker instance types; the demo's copy uses the nearest it knows.
STAND_IN_INSTANCE = {"dev": "ml.g4dn.xlarge", "staging": "ml.g4dn.2xlarge"}
COPIED = ("environments", "rollout_policies", "model_repository")


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


def _terraform(args: list[str], stack_dir: Path, root: Path, say: Callable[[str], None]) -> None:
    result = terraform.run_terraform([*args, "-input=false", "-no-color"], stack_dir, root, timeout_s=900)
    for line in result.stdout.splitlines():
        if any(word in line for word in ("Creation complete", "Apply complete", "Modifications complete", "Error")):
            say(f"    {line.strip()}")
    if result.returncode != 0:
        raise UserError.single(f"terraform {args[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def _bootstrap(stack_dir: Path, root: Path) -> list[str]:
    lines: list[str] = []
    _terraform(["init"], stack_dir, root, lines.append)
    _terraform(["apply", "-auto-approve", *_targets(stack_dir, "artifacts")], stack_dir, root, lines.append)
    return lines


def _synth(workspace: Path, env: str, stand_in: str) -> Path:
    (stack,) = synthesize(ProjectLayout(workspace), workspace / "cdktf.out", [env], "local", stand_in)
    return stack.directory


def _targets(stack_dir: Path, construct: str) -> list[str]:
    document = json.loads((stack_dir / "cdk.tf.json").read_text())
    targets = []
    for resource_type, resources in document.get("resource", {}).items():
        for name, body in resources.items():
            if body.get("//", {}).get("metadata", {}).get("path", "").split("/")[1:2] == [construct]:
                targets.append(f"-target={resource_type}.{name}")
    return targets


class _Demo:
    """The steps of the main job, sharing the workspace and the stand-in's address."""

    def __init__(self, root: Path, say: Callable[[str], None]) -> None:
        self.root, self.say, self.step = root, say, Steps(say)
        self.workspace = _workspace(root)
        self.layout = ProjectLayout(self.workspace)
        self.url = ""

    def prepare(self) -> None:
        from tritonform.stacks.serving import NOT_ON_STAND_IN  # noqa: PLC0415  (start-up: cdktf starts Node.js)

        self.say(f"tritonform demo: a release of the example model, on a copy of the project in {self.workspace}")
        for env, instance in STAND_IN_INSTANCE.items():
            path = self.layout.environment_file(env)
            data = yaml.safe_load(path.read_text())
            self.say(f"  stand-in: {env} runs on {instance} here instead of {data['endpoint']['instance_type']} "
                     "(moto knows only older GPU types)")  # fmt: skip
            data["endpoint"]["instance_type"] = instance
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        for problem, reason in NOT_ON_STAND_IN.items():
            self.say(f"  stand-in: not created: {problem}: {reason}")

    def validate(self, default_model: str) -> None:
        self.step("validate the model repository: static checks, then a real Triton server")
        report = validate_repository(self.workspace / "model_repository", default_model=default_model)
        if report.problems:
            raise UserError(report.problems)
        server = check_with_server(report)
        for line in server.lines():
            self.say(f"    {line}")
        if not server.ok:
            raise UserError.single("the repository did not load or answer in Triton", exit_code=1)

    def bootstrap(self) -> None:
        self.step("create the artifact stores of dev and staging (terraform apply -target, local state, in parallel)")
        stack_dirs = {env: _synth(self.workspace, env, self.url) for env in ENVIRONMENTS}
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(ENVIRONMENTS)) as pool:
            logs = list(pool.map(lambda env: _bootstrap(stack_dirs[env], self.root), ENVIRONMENTS))
        for env, lines in zip(ENVIRONMENTS, logs, strict=True):
            self.say(f"    {env}:")
            for line in lines:
                self.say(f"    {line}")

    def release_to_dev(self, default_model: str) -> str:
        from tritonform.release.attach import attach  # noqa: PLC0415  (start-up: boto3)
        from tritonform.release.live import watch  # noqa: PLC0415  (start-up: boto3)
        from tritonform.release.publish import publish  # noqa: PLC0415  (start-up: boto3)

        self.step("package it reproducibly")
        manifest = package(self.workspace / "model_repository", self.workspace / "package", default_model=default_model)
        self.say(f"    version {manifest.version_id}, sha256 {manifest.sha256}, {manifest.size_bytes} bytes")
        self.bootstrap()
        self.step("publish to dev's artifact bucket (content-addressed, verified)")
        dev = load_deployments(self.layout, ["dev"])[0].environment
        published = publish(self.workspace / "package", bucket=dev.artifacts.bucket, region=dev.region, quiet=True)
        self.say(f"    {published.s3_uri}")
        self.step("attach the version to dev (release file + history record)")
        attached = attach(self.layout, "dev", manifest.sha256, actor="tritonform-demo", reason="demo release")
        before = attached.previous.version_id if attached.previous else "none"
        self.say(f"    dev: {before} -> {attached.release.version_id}")
        self.step("deploy dev: synthesize and terraform apply against the stand-in")
        _terraform(["apply", "-auto-approve"], _synth(self.workspace, "dev", self.url), self.root, self.say)
        self.step("watch dev's endpoint reach InService on the new configuration")
        result = watch(self.layout, "dev", poll_s=1, timeout_s=60, progress=lambda line: self.say(f"  {line}"))
        self.say(f"    {result.outcome}: {result.detail}")
        if not result.ok:
            raise UserError.single("dev did not come up on the new version", exit_code=1)
        return manifest.version_id

    def promote(self) -> None:
        from tritonform.release.promote import promote  # noqa: PLC0415  (start-up: boto3)

        self.step("promote dev -> staging through the gates (soak shortened to 0 minutes for the demo)")
        gates, promoted = promote(self.layout, "dev", "staging", actor="tritonform-demo", soak_minutes=0)
        for gate in gates:
            self.say(f"    gate {gate.name:<8} {'pass' if gate.passed else 'FAIL'}: {gate.detail}")
        if promoted is None:
            raise UserError.single("the promotion gates did not pass", exit_code=1)

    def report(self, before: dict[str, str]) -> None:
        self.step("what changed")
        for env in ENVIRONMENTS:
            after = self.layout.release_file(env).read_text()
            diff = difflib.unified_diff(before[env].splitlines(), after.splitlines(), lineterm="", n=0)
            self.say(f"  environments/releases/{env}.yaml:")
            for line in diff:
                if not line.startswith(("---", "+++", "@@")):
                    self.say(f"    {line}")
            history = read_history(history_file(self.layout, env))
            last = history[-1]
            moved = f"{last.from_.version_id if last.from_ else 'none'} -> "
            moved += last.to.version_id if isinstance(last, ReleaseChange) else last.to.live_configuration
            self.say(f"  environments/history/{env}.jsonl: {len(history)} record(s), last: {last.action} by "
                     f"{last.actor}, {moved}")  # fmt: skip


def run_demo(root: Path, say: Callable[[str], None] = print) -> int:
    demo = _Demo(root, say)
    demo.prepare()
    before = {env: demo.layout.release_file(env).read_text() for env in ENVIRONMENTS}
    default_model = load_deployments(demo.layout, ["dev"])[0].release.model_name
    with moto_server() as aws, aws_pointed_at(aws):
        demo.url = aws.url
        say(f"  AWS stand-in: moto server on {aws.url} (pid {aws.pid})")
        demo.validate(default_model)
        version = demo.release_to_dev(default_model)
        demo.promote()
    say("  AWS stand-in stopped")
    demo.report(before)
    say(f"\ndone: version {version} runs in dev and is attached to staging (in {demo.workspace})")
    return 0
