"""The first deploy of a new environment: its serving stack with the artifact store alone.

A new environment has no release yet (`release attach` pins a version published to the environment's
artifact bucket), and the bucket is created by the serving stack, which needs the release. This stack breaks
the circle: the same stack name, state and provider as the serving stack, and the artifact store under the
same construct id, so its resources have the addresses the serving stack gives them. Applied first, it
creates the bucket (and its key); the full serving stack, synthesized once a release is attached, is then
applied to the same state and adds the rest without replacing the store.
"""

from __future__ import annotations

from typing import Annotated, Literal

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct
from pydantic import Field

from tritonform.config import EnvironmentConfig
from tritonform.config.names import serving_stack_name
from tritonform.constructs import ModelArtifactStore, configure_state_backend
from tritonform.constructs._props import Props
from tritonform.stacks.shared import artifact_store_props, environment_provider, state_backend_props
from tritonform.standin import STAND_IN_URL


class BootstrapStackProps(Props):
    environment: EnvironmentConfig
    state_backend: Literal["s3", "local"] = "s3"
    """As the serving stack's: the full stack later continues this state. Default s3."""

    stand_in_endpoint: Annotated[str, Field(pattern=rf"^{STAND_IN_URL}$")] | None = None
    """A local AWS stand-in on loopback (tests), as for the serving stack. Default None."""


class BootstrapStack(TerraformStack):
    def __init__(self, scope: Construct, props: BootstrapStackProps) -> None:
        env, stand_in = props.environment, props.stand_in_endpoint
        super().__init__(scope, serving_stack_name(env.name))
        configure_state_backend(self, state_backend_props(env, props.state_backend))
        environment_provider(self, env, stand_in=stand_in)  # the serving stack's provider block
        self.artifacts = ModelArtifactStore(
            self,
            "artifacts",  # the serving stack's construct id: the same resource addresses
            artifact_store_props(env, stand_in=stand_in),
        )
        TerraformOutput(
            self,
            "bootstrap",
            description="A bootstrap stack: the artifact store only. Attach a release, then apply the full stack",
            value=f"artifact bucket {env.artifacts.bucket}",
        )
