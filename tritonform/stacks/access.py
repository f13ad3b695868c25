"""The access stack of one environment: the role CI deploys the serving stack with.

Kept out of the serving stack on purpose: a role that deploys a stack must not be managed by that stack,
or a pull request could widen its own permissions. An administrator applies this stack once per account.
"""

from __future__ import annotations

from typing import Literal

from cdktf import TerraformOutput, TerraformStack
from constructs import Construct

from tritonform.config import EnvironmentConfig, ReleaseConfig
from tritonform.config.names import (
    access_stack_name,
    deploy_role_name,
    execution_role_name,
    github_oidc_provider_arn,
    github_subject,
    key_alias,
    model_package_group,
    partition_of,
    state_key,
)
from tritonform.constructs import configure_state_backend
from tritonform.constructs._aws import AwsProvider, AwsProviderDefaultTags
from tritonform.constructs._props import Props
from tritonform.constructs.deploy_role import DeployRole, DeployRoleProps
from tritonform.stacks.shared import default_tags, state_backend_props


class AccessStackProps(Props):
    environment: EnvironmentConfig
    """An environment with a `ci` section."""

    release: ReleaseConfig
    """Names the model whose artifact prefix and registry group the role may write."""

    state_backend: Literal["s3", "local"] = "s3"
    """Where this stack's own state lives. Default s3 (key <prefix><env>-access.tfstate)."""


class AccessStack(TerraformStack):
    def __init__(self, scope: Construct, props: AccessStackProps) -> None:
        env = props.environment
        oidc_provider_arn, subject = github_oidc_provider_arn(env), github_subject(env)
        assert oidc_provider_arn and subject  # only environments with a ci section get an access stack
        super().__init__(scope, access_stack_name(env.name))
        configure_state_backend(self, state_backend_props(env, props.state_backend, stack="access"))
        AwsProvider(
            self,
            "aws",
            region=env.region,
            allowed_account_ids=[env.account_id],
            default_tags=[AwsProviderDefaultTags(tags=default_tags(env))],
        )
        self.deploy_role = DeployRole(
            self,
            "deploy-role",
            DeployRoleProps(
                role_name=deploy_role_name(env),
                account_id=env.account_id,
                region=env.region,
                partition=partition_of(env.region),
                environment_name=env.name,
                oidc_provider_arn=oidc_provider_arn,
                github_subject=subject,
                state_bucket=env.state.bucket,
                state_key=state_key(env),
                artifact_bucket=env.artifacts.bucket,
                model_name=props.release.model_name,
                model_package_group=model_package_group(props.release.model_name),
                endpoint_name=env.endpoint.name,
                execution_role_name=execution_role_name(env),
                key_alias=key_alias(env),
                existing_kms_key_arn=env.encryption.kms_key_arn,
                autoscaling=env.autoscaling is not None,
            ),
        )
        TerraformOutput(self, "deploy_role_arn", value=self.deploy_role.role_arn)
