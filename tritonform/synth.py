"""Synthesis: checked config in, one cdk.tf.json per environment out. No AWS calls, no clock.

Configuration is loaded and checked before cdktf (and its Node.js process) is even imported, so a bad
input fails in milliseconds with a clear message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tritonform._node import prepare_jsii_node
from tritonform.config import Deployment, ProjectLayout, load_deployments
from tritonform.config.names import FALLBACK_OUTPUT, access_stack_name, serving_stack_name
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError, report_user_error
from tritonform.release.fallback import fallback_release
from tritonform.standin import STAND_IN_URL

if TYPE_CHECKING:
    from cdktf import App

StateBackendKind = Literal["s3", "local"]


@dataclass(frozen=True)
class SynthesizedStack:
    deployment: Deployment
    stack_name: str
    directory: Path
    access_directory: Path | None = None
    """The environment's access stack (the CI deploy role), if it declares one."""

    @property
    def json_path(self) -> Path:
        return self.directory / "cdk.tf.json"

    def document(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.json_path.read_text(encoding="utf-8"))
        return loaded

    def fallback_configuration(self) -> str | None:
        """The configuration the stack keeps declared as the fallback (its output), or None."""
        output = self.document().get("output", {})
        assert isinstance(output, dict)
        value = output.get(FALLBACK_OUTPUT, {}).get("value")
        return value if isinstance(value, str) else None

    def resource_count(self) -> int:
        resources = self.document().get("resource", {})
        assert isinstance(resources, dict)
        return sum(len(instances) for instances in resources.values())


def fallbacks_for(layout: ProjectLayout, deployments: list[Deployment]) -> dict[str, ReleaseConfig | None]:
    """Each environment's fallback release, read from its history (a file: synthesis stays pure)."""
    return {d.environment.name: fallback_release(layout, d.environment.name, d.release) for d in deployments}


def _has_access_stack(deployment: Deployment, stand_in_endpoint: str | None) -> bool:
    """Environments that declare a CI role get its stack, except against a stand-in (nothing deploys it)."""
    return deployment.environment.ci is not None and stand_in_endpoint is None


def build_app(
    deployments: list[Deployment],
    outdir: Path | None,
    state_backend: StateBackendKind,
    stand_in_endpoint: str | None = None,
    *,
    sagemaker_endpoint: str | None = None,
    fallbacks: Mapping[str, ReleaseConfig | None] | None = None,
) -> App:
    """Create the cdktf App with one ServingStack per deployment (imports cdktf lazily); `fallbacks`: each
    environment's fallback release (fallbacks_for)."""
    prepare_jsii_node()  # before cdktf is imported: it chooses the Node.js that jsii starts
    from cdktf import App  # noqa: PLC0415  (keeps config errors fast: no Node.js start for them)

    # the stacks import cdktf too, so they wait for it in the same way
    from tritonform.stacks import AccessStack, AccessStackProps, ServingStack, ServingStackProps  # noqa: PLC0415

    app = App(outdir=str(outdir)) if outdir is not None else App()
    for deployment in deployments:
        ServingStack(
            app,
            ServingStackProps(
                environment=deployment.environment,
                release=deployment.release,
                deployment=deployment.deployment_config,
                fallback=(fallbacks or {}).get(deployment.environment.name),
                state_backend=state_backend,
                stand_in_endpoint=stand_in_endpoint,
                sagemaker_endpoint=sagemaker_endpoint,
            ),
        )
        if _has_access_stack(deployment, stand_in_endpoint):
            AccessStack(
                app,
                AccessStackProps(
                    environment=deployment.environment, release=deployment.release, state_backend=state_backend
                ),
            )
    return app


def synthesize(
    layout: ProjectLayout,
    outdir: Path,
    environments: list[str] | None = None,
    state_backend: StateBackendKind = "s3",
    stand_in_endpoint: str | None = None,
    *,
    sagemaker_endpoint: str | None = None,
) -> list[SynthesizedStack]:
    """`sagemaker_endpoint` (with a stand-in only) points the provider's SageMaker API at a local SageMaker
    (tritonform/localsagemaker) while every other service stays on the stand-in."""
    deployments = load_deployments(layout, environments)
    outdir.mkdir(parents=True, exist_ok=True)  # cdktf creates only the last level
    app = build_app(deployments, outdir, state_backend, stand_in_endpoint, sagemaker_endpoint=sagemaker_endpoint,
                    fallbacks=fallbacks_for(layout, deployments))  # fmt: skip
    app.synth()
    stacks = outdir / "stacks"
    return [
        SynthesizedStack(
            d,
            serving_stack_name(d.environment.name),
            stacks / serving_stack_name(d.environment.name),
            stacks / access_stack_name(d.environment.name) if _has_access_stack(d, stand_in_endpoint) else None,
        )
        for d in deployments
    ]


def cdktf_app_main() -> None:
    """Entry point for cdktf.json's "app": the cdktf CLI passes the output directory in CDKTF_OUTDIR."""
    names = [n for n in os.environ.get("TRITONFORM_ENVIRONMENTS", "").split(",") if n]
    backend = os.environ.get("TRITONFORM_STATE_BACKEND", "s3")
    if backend not in ("s3", "local"):
        raise SystemExit(f"TRITONFORM_STATE_BACKEND must be s3 or local, not {backend!r}")
    # the local stand-ins on loopback (tests, a rehearsal by hand): a moto server, and a local SageMaker
    stand_in, sagemaker = os.environ.get("TRITONFORM_STAND_IN") or None, os.environ.get("TRITONFORM_SAGEMAKER") or None
    for variable, url in (("TRITONFORM_STAND_IN", stand_in), ("TRITONFORM_SAGEMAKER", sagemaker)):
        if url is not None and not re.fullmatch(STAND_IN_URL, url):
            raise SystemExit(f"{variable} must be a loopback URL such as http://127.0.0.1:5000, not {url!r}")
    if sagemaker is not None and stand_in is None:
        raise SystemExit("TRITONFORM_SAGEMAKER needs TRITONFORM_STAND_IN: the other services stay on the stand-in")
    try:
        layout = ProjectLayout(Path.cwd())
        deployments = load_deployments(layout, names or None)
        fallbacks = fallbacks_for(layout, deployments)
    except UserError as err:
        raise SystemExit(report_user_error(err, Path.cwd())) from None
    app = build_app(deployments, None, "local" if backend == "local" else "s3", stand_in, sagemaker_endpoint=sagemaker,
                    fallbacks=fallbacks)  # fmt: skip
    app.synth()
