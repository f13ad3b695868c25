"""`tritonform check`, and the description of a deployment that `check` and `synth` print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_OK
from tritonform.config import Deployment, ProjectLayout, load_deployments
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.hardening import hardening_state

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_check(commands: Commands) -> None:
    check = commands.add_parser("check", help="load and check every environment and release (no synthesis)")
    check.add_argument("--env", action="append", dest="environments", metavar="ENV", help="only this environment")
    check.set_defaults(handler=check_environments)


def check_environments(root: Path, args: argparse.Namespace) -> int:
    deployments = load_deployments(ProjectLayout(root), args.environments)
    print_warnings(deployments, root)
    for deployment in deployments:
        print("\n".join(describe(deployment)))
    print(f"{len(deployments)} environment(s) valid")
    return EXIT_OK


def print_warnings(deployments: list[Deployment], root: Path) -> None:
    for deployment in deployments:
        for warning in deployment.warnings:
            print(f"warning: {warning.render(relative_to=root)}", file=sys.stderr)


def describe(deployment: Deployment) -> list[str]:
    env, release = deployment.environment, deployment.release
    instance = env.endpoint.instance
    scaling = (
        f"autoscaling {env.capacity.min_instances}-{env.capacity.max_instances}"
        if env.autoscaling
        else "fixed capacity"
    )
    return [
        f"{env.name} ({env.tier}): {env.account_id} {env.region}, endpoint {env.endpoint.name}",
        f"  serving   {env.capacity.initial_instances} x {env.endpoint.instance_type} "
        f"({instance.gpus} x {instance.gpu_model} {instance.gpu_memory_gib} GiB each), {scaling}",
        f"  model     {release.model_name} version {release.version_id} (sha256 {release.artifact.sha256[:16]}...)",
        f"  image     sagemaker-tritonserver {release.triton_image.version}",
        f"  attached  by {release.attached.by} at {release.attached.at.isoformat()} "
        f"from {release.attached.commit[:12] if release.attached.commit else 'no commit (outside a git checkout)'}",
        f"  runs      {deployment.repository.summary}",
        f"  rollout   {env.rollout_policy} ({deployment.rollout.policy.kind}), {env.rollback_alarms.count} rollback "
        f"alarm(s), up to {deployment.rollout.total_s // 60} min",
        *_describe_hardening(env),
    ]


def _describe_hardening(env: EnvironmentConfig) -> list[str]:
    turned_off = hardening_state(env)
    if not turned_off:
        return ["  security  every hardening control on (VPC, network isolation, KMS)"]
    return [
        f"  security  WITHOUT {off.name} ({off.field}); "
        + (f"exception {record}" if (record := off.exception_record()) else "no recorded exception")
        for off in turned_off
    ]
