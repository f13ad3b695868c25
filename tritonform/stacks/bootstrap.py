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
from tritonform.config.names import key_alias, partition_of, serving_stack_name
from tritonform.constructs import ArtifactStoreProps, ModelArtifactStore, configure_state_backend
from tritonform.constructs._aws import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from tritonform.constructs._props import Props
from tritonform.stacks.serving import STAND_IN_SERVICES, default_tags, state_backend_props
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
        # the serving stack's provider block, argument for argument (tests/test_first_deploy.py compares them)
        AwsProvider(
            self,
            "aws",
            region=env.region,
            allowed_account_ids=None if stand_in else [env.account_id],
            access_key="testing" if stand_in else None,
            secret_key="testing" if stand_in else None,
            skip_credentials_validation=True if stand_in else None,
            skip_requesting_account_id=True if stand_in else None,
            skip_metadata_api_check="true" if stand_in else None,
            s3_use_path_style=True if stand_in else None,
            max_retries=1 if stand_in else None,
            endpoints=[AwsProviderEndpoints(**dict.fromkeys(STAND_IN_SERVICES, stand_in))] if stand_in else None,
            default_tags=[AwsProviderDefaultTags(tags=default_tags(env))],
        )
        self.artifacts = ModelArtifactStore(
            self,
            "artifacts",  # the serving stack's construct id: the same resource addresses
            ArtifactStoreProps(
                bucket_name=env.artifacts.bucket,
                account_id=env.account_id,
                partition=partition_of(env.region),
                key_alias=key_alias(env),
                existing_kms_key_arn=env.encryption.kms_key_arn,
                key_needed=env.encryption.uses_kms,
                objects_use_kms=env.encryption.artifacts,
                noncurrent_version_days=env.artifacts.noncurrent_version_days,
                access_log_bucket=env.artifacts.access_log_bucket,
                deny_plain_http=not stand_in,
            ),
        )
        TerraformOutput(
            self,
            "bootstrap",
            description="A bootstrap stack: the artifact store only. Attach a release, then apply the full stack",
            value=f"artifact bucket {env.artifacts.bucket}",
        )
