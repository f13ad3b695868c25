"""What the stacks of one environment share: their tags, where they keep their state, the AWS provider of the
serving stack and the bootstrap stack (one block, so the bootstrap's state is the serving stack's), and the
artifact store both of those declare under the same construct id."""

from __future__ import annotations

from typing import Literal

from constructs import Construct

from tritonform.config import EnvironmentConfig
from tritonform.config.names import key_alias, partition_of, state_key
from tritonform.constructs import ArtifactStoreProps, StateBackendProps
from tritonform.constructs._aws import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints

STAND_IN_SERVICES = ("s3", "sagemaker", "iam", "kms", "cloudwatch", "applicationautoscaling", "sts", "ecr", "logs")


def default_tags(env: EnvironmentConfig) -> dict[str, str]:
    """Tags on every resource; Environment and ManagedBy also bound the deploy role's KMS rights."""
    return {
        **env.tags.extra,
        "Owner": env.tags.owner,
        "CostCenter": env.tags.cost_center,
        "Environment": env.name,
        "ManagedBy": "tritonform",
    }


def state_backend_props(
    env: EnvironmentConfig, kind: Literal["s3", "local"], stack: Literal["serving", "access"] = "serving"
) -> StateBackendProps:
    """Where a stack of `env` keeps its state: in the state bucket, or in a local file."""
    return StateBackendProps(
        kind=kind, bucket=env.state.bucket, key=state_key(env, stack, kind), region=env.state_region
    )


def stand_in_endpoints(stand_in: str, sagemaker_endpoint: str | None) -> dict[str, str]:
    """Every service at the stand-in; SageMaker and Application Auto Scaling (whose tag operations it answers)
    at the local SageMaker when one is given."""
    local = sagemaker_endpoint or stand_in
    return {**dict.fromkeys(STAND_IN_SERVICES, stand_in), "sagemaker": local, "applicationautoscaling": local}


def environment_provider(
    scope: Construct, env: EnvironmentConfig, *, stand_in: str | None, sagemaker_endpoint: str | None = None
) -> AwsProvider:
    """The AWS provider of an environment's serving (and bootstrap) stack: its account only, or a local
    stand-in on loopback."""
    return AwsProvider(
        scope,
        "aws",
        region=env.region,
        allowed_account_ids=None if stand_in else [env.account_id],
        # against a local stand-in only: test credentials, no account lookup, fail fast on what it lacks
        access_key="testing" if stand_in else None,
        secret_key="testing" if stand_in else None,
        skip_credentials_validation=True if stand_in else None,
        skip_requesting_account_id=True if stand_in else None,
        skip_metadata_api_check="true" if stand_in else None,
        s3_use_path_style=True if stand_in else None,
        # the stand-in answers what it lacks with HTTP 500: fail fast. With a local SageMaker, whose
        # connections a client has seen reset ("use of closed network connection", which the AWS SDK for Go
        # v2 retries), three attempts.
        max_retries=(3 if sagemaker_endpoint else 1) if stand_in else None,
        endpoints=[AwsProviderEndpoints(**stand_in_endpoints(stand_in, sagemaker_endpoint))] if stand_in else None,
        default_tags=[AwsProviderDefaultTags(tags=default_tags(env))],
    )


def artifact_store_props(env: EnvironmentConfig, *, stand_in: str | None) -> ArtifactStoreProps:
    """The environment's artifact store (construct id "artifacts" in both stacks that declare it)."""
    return ArtifactStoreProps(
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
    )
