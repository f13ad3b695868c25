"""Tier 2: construct properties, checked with cdktf's Testing matchers (every one asserted) and by reading
the synthesized JSON where a matcher cannot express the property (absence, scoping, name derivation)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import cdktf
import pytest
from cdktf import App, TerraformStack

import tritonform.constructs  # noqa: F401  (selects the bundled Node.js before cdktf loads)
from tritonform.constructs import (
    ArtifactStoreProps,
    DataCaptureProps,
    EndpointAutoscaling,
    EndpointAutoscalingProps,
    ExecutionRole,
    ExecutionRoleProps,
    ModelArtifactStore,
    StateBackendProps,
    TritonEndpoint,
    TritonEndpointProps,
    configure_state_backend,
)
from tritonform.constructs._aws import (
    AppautoscalingPolicy,
    AppautoscalingTarget,
    DataAwsIamPolicyDocument,
    KmsKey,
    S3Bucket,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketVersioningA,
    SagemakerEndpoint,
    SagemakerEndpointConfiguration,
    SagemakerModel,
)

pytestmark = pytest.mark.constructs

SHA = "ab" * 32


def synth(build: Callable[[TerraformStack], object]) -> str:
    app: App = cdktf.Testing.app()
    stack = TerraformStack(app, "test")
    build(stack)
    return str(cdktf.Testing.synth(stack))


def resources(synthesized: str, resource_type: str) -> list[dict[str, Any]]:
    found = json.loads(synthesized).get("resource", {}).get(resource_type, {})
    return list(found.values())


def data_sources(synthesized: str, data_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = json.loads(synthesized).get("data", {}).get(data_type, {})
    return found


def endpoint_props(**overrides: Any) -> TritonEndpointProps:
    values: dict[str, Any] = {
        "endpoint_name": "embedder-prod",
        "model_name": "vector_normalizer",
        "version_id": SHA[:12],
        "artifact_sha256": SHA,
        "artifact_s3_uri": f"s3://bucket/vector_normalizer/{SHA}/model.tar.gz",
        "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3",
        "execution_role_arn": "arn:aws:iam::123456789012:role/x",
        "instance_type": "ml.g5.2xlarge",
        "initial_instance_count": 2,
    }
    values.update(overrides)
    return TritonEndpointProps(**values)


# --- ModelArtifactStore ------------------------------------------------------------------------------

STORE = ArtifactStoreProps(bucket_name="acme-artifacts", account_id="123456789012", key_alias="alias/tritonform-x")


@pytest.fixture(scope="module")
def store_json() -> str:
    return synth(lambda stack: ModelArtifactStore(stack, "store", STORE))


def test_store_bucket_is_versioned_kms_encrypted_and_private(store_json: str) -> None:
    assert cdktf.Testing.to_have_resource_with_properties(
        store_json, S3Bucket.TF_RESOURCE_TYPE, {"bucket": "acme-artifacts"}
    )
    assert cdktf.Testing.to_have_resource_with_properties(
        store_json, S3BucketVersioningA.TF_RESOURCE_TYPE, {"versioning_configuration": {"status": "Enabled"}}
    )
    assert cdktf.Testing.to_have_resource_with_properties(
        store_json,
        S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE,
        {
            "rule": [
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"},
                    "bucket_key_enabled": True,
                }
            ]
        },
    )
    assert cdktf.Testing.to_have_resource_with_properties(
        store_json,
        S3BucketPublicAccessBlock.TF_RESOURCE_TYPE,
        {"block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
         "restrict_public_buckets": True},
    )  # fmt: skip


def test_store_key_rotates_and_has_an_explicit_policy(store_json: str) -> None:
    assert cdktf.Testing.to_have_resource_with_properties(
        store_json, KmsKey.TF_RESOURCE_TYPE, {"enable_key_rotation": True, "deletion_window_in_days": 30}
    )
    (key,) = resources(store_json, KmsKey.TF_RESOURCE_TYPE)
    assert key["policy"].startswith("${data.aws_iam_policy_document.")


def test_store_bucket_policy_denies_plain_http(store_json: str) -> None:
    assert cdktf.Testing.to_have_data_source_with_properties(
        store_json,
        DataAwsIamPolicyDocument.TF_RESOURCE_TYPE,
        {"statement": [{"effect": "Deny", "actions": ["s3:*"],
                        "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]}]},
    )  # fmt: skip


def test_store_lifecycle_expires_old_versions_and_abandoned_uploads(store_json: str) -> None:
    (lifecycle,) = resources(store_json, "aws_s3_bucket_lifecycle_configuration")
    rule = lifecycle["rule"][0]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
    assert rule["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 7}]


def test_store_with_existing_key_creates_none_and_encrypts_with_it() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    synthesized = synth(
        lambda stack: ModelArtifactStore(stack, "store", STORE.model_copy(update={"existing_kms_key_arn": arn}))
    )

    assert not cdktf.Testing.to_have_resource(synthesized, KmsKey.TF_RESOURCE_TYPE)
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        S3BucketServerSideEncryptionConfigurationA.TF_RESOURCE_TYPE,
        {"rule": [{"apply_server_side_encryption_by_default": {"kms_master_key_id": arn}}]},
    )


# --- ExecutionRole -------------------------------------------------------------------------------------

ROLE = ExecutionRoleProps(
    role_name="tritonform-embedder-execution",
    account_id="123456789012",
    region="us-east-1",
    endpoint_name="embedder-prod",
    artifact_bucket_arn="arn:aws:s3:::acme-artifacts",
    model_name="vector_normalizer",
    artifacts_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    image_repository_arn="arn:aws:ecr:us-east-1:763104351884:repository/sagemaker-tritonserver",
)


IN_VPC = {"subnet_ids": ["subnet-0a1b2c3d4e5f60718"], "security_group_ids": ["sg-0c1d2e3f4a5b60718"]}


def role_statements(props: ExecutionRoleProps) -> dict[str, dict[str, Any]]:
    synthesized = synth(lambda stack: ExecutionRole(stack, "role", props))
    documents = data_sources(synthesized, DataAwsIamPolicyDocument.TF_RESOURCE_TYPE)
    (permissions,) = [d for name, d in documents.items() if "permissions" in name]
    return {s["sid"]: s for s in permissions["statement"]}


def test_role_is_assumable_only_by_sagemaker_from_this_account() -> None:
    synthesized = synth(lambda stack: ExecutionRole(stack, "role", ROLE))

    assert cdktf.Testing.to_have_data_source_with_properties(
        synthesized,
        DataAwsIamPolicyDocument.TF_RESOURCE_TYPE,
        {"statement": [{"actions": ["sts:AssumeRole"],
                        "principals": [{"type": "Service", "identifiers": ["sagemaker.amazonaws.com"]}],
                        "condition": [{"variable": "aws:SourceAccount", "values": ["123456789012"]}]}]},
    )  # fmt: skip
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized, "aws_iam_role", {"name": "tritonform-embedder-execution"}
    )


def test_role_reads_only_its_models_prefix_and_decrypts_only_its_key() -> None:
    statements = role_statements(ROLE)

    assert statements["ReadThisModelsArtifacts"]["resources"] == ["arn:aws:s3:::acme-artifacts/vector_normalizer/*"]
    assert statements["ListThisModelsPrefix"]["condition"][0]["values"] == ["vector_normalizer/*"]
    assert statements["DecryptArtifacts"]["resources"] == [ROLE.artifacts_kms_key_arn]
    assert statements["PullTheTritonImage"]["resources"] == [ROLE.image_repository_arn]
    assert statements["ReadThisEndpointsRollbackAlarms"]["actions"] == ["cloudwatch:DescribeAlarms"]


def test_role_grants_a_wildcard_resource_only_where_aws_allows_no_scoping() -> None:
    statements = role_statements(ROLE.model_copy(update=IN_VPC | {"data_capture_prefix": "capture/"}))

    wildcard = {sid for sid, s in statements.items() if "*" in s["resources"]}
    assert wildcard == {"EcrLoginHasNoResourceScope", "PublishSageMakerMetricsOnly", "DescribeTheVpc"}
    assert all(action.startswith("ec2:Describe") for action in statements["DescribeTheVpc"]["actions"])
    assert statements["PublishSageMakerMetricsOnly"]["condition"][0]["variable"] == "cloudwatch:namespace"
    assert all("*" not in action for s in statements.values() for action in s["actions"])


def test_role_can_write_data_capture_only_when_capture_is_on() -> None:
    without = role_statements(ROLE)
    with_capture = role_statements(ROLE.model_copy(update={"data_capture_prefix": "capture/"}))

    assert "WriteDataCapture" not in without
    assert not {"DescribeTheVpc", "CreateInterfacesInTheseSubnets"} & set(without)
    assert with_capture["WriteDataCapture"]["resources"] == ["arn:aws:s3:::acme-artifacts/capture/*"]
    assert "EncryptDataCapture" not in with_capture  # no capture key given: S3-managed encryption


def test_role_creates_network_interfaces_only_in_its_own_subnets_and_security_groups() -> None:
    statements = role_statements(ROLE.model_copy(update=IN_VPC))

    ec2 = "arn:aws:ec2:us-east-1:123456789012"
    assert sorted(statements["CreateInterfacesInTheseSubnets"]["resources"]) == sorted(
        [
            f"{ec2}:network-interface/*",
            f"{ec2}:subnet/subnet-0a1b2c3d4e5f60718",
            f"{ec2}:security-group/sg-0c1d2e3f4a5b60718",
        ]
    )
    assert statements["ManageTheInterfaces"]["resources"] == [f"{ec2}:network-interface/*"]


def test_role_without_artifact_key_has_no_kms_statement() -> None:
    statements = role_statements(ROLE.model_copy(update={"artifacts_kms_key_arn": None}))

    assert not [sid for sid, s in statements.items() if any(a.startswith("kms:") for a in s["actions"])]


# --- TritonEndpoint ------------------------------------------------------------------------------------


def test_endpoint_model_runs_the_pinned_image_and_artifact_in_isolation() -> None:
    props = endpoint_props()
    synthesized = synth(lambda stack: TritonEndpoint(stack, "triton", props))

    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        SagemakerModel.TF_RESOURCE_TYPE,
        {
            "enable_network_isolation": True,
            "primary_container": {
                "image": props.image_uri,
                "model_data_url": props.artifact_s3_uri,
                "environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "vector_normalizer",
                                "SAGEMAKER_TRITON_PING_MODE": "ready"},
            },
            "tags": {"tritonform:artifact-sha256": SHA},
        },
    )  # fmt: skip


def test_endpoint_configuration_is_named_from_the_release_and_replaced_safely() -> None:
    props = endpoint_props()
    synthesized = synth(lambda stack: TritonEndpoint(stack, "triton", props))

    name = props.configuration_name()
    assert name.startswith(f"embedder-prod-{SHA[:12]}-")
    assert len(name) <= 63
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        SagemakerEndpointConfiguration.TF_RESOURCE_TYPE,
        {"name": name, "lifecycle": {"create_before_destroy": True},
         "production_variants": [{"instance_type": "ml.g5.2xlarge", "initial_instance_count": 2,
                                  "variant_name": "AllTraffic"}]},
    )  # fmt: skip
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized, SagemakerModel.TF_RESOURCE_TYPE, {"lifecycle": {"create_before_destroy": True}}
    )
    (endpoint,) = resources(synthesized, SagemakerEndpoint.TF_RESOURCE_TYPE)
    assert endpoint["endpoint_config_name"].startswith("${aws_sagemaker_endpoint_configuration.")


def test_configuration_name_changes_with_what_runs_and_only_then() -> None:
    base = endpoint_props()
    other_sha = "cd" * 32

    assert endpoint_props().configuration_name() == base.configuration_name()
    assert endpoint_props(execution_role_arn="${token}").configuration_name() == base.configuration_name()
    changed = {
        endpoint_props(version_id=other_sha[:12], artifact_sha256=other_sha,
                       artifact_s3_uri=f"s3://bucket/vector_normalizer/{other_sha}/model.tar.gz").configuration_name(),
        endpoint_props(instance_type="ml.g6.2xlarge").configuration_name(),
        endpoint_props(initial_instance_count=3).configuration_name(),
        endpoint_props(image_uri=base.image_uri.replace("24.09", "24.05")).configuration_name(),
        endpoint_props(network_isolation=False).configuration_name(),
    }  # fmt: skip
    assert base.configuration_name() not in changed
    assert len(changed) == 5


def test_volume_key_only_where_given() -> None:
    nvme = synth(lambda stack: TritonEndpoint(stack, "triton", endpoint_props()))
    ebs = synth(
        lambda stack: TritonEndpoint(
            stack,
            "triton",
            endpoint_props(instance_type="ml.p3.2xlarge", volume_kms_key_arn="arn:k", volume_size_gb=100),
        )
    )

    (config,) = resources(nvme, SagemakerEndpointConfiguration.TF_RESOURCE_TYPE)
    assert "kms_key_arn" not in config
    assert cdktf.Testing.to_have_resource_with_properties(
        ebs,
        SagemakerEndpointConfiguration.TF_RESOURCE_TYPE,
        {"kms_key_arn": "arn:k", "production_variants": [{"volume_size_in_gb": 100}]},
    )


def test_vpc_and_data_capture_are_wired_when_configured() -> None:
    props = endpoint_props(
        subnet_ids=["subnet-0123456789abcdef0"],
        security_group_ids=["sg-0123456789abcdef0"],
        data_capture=DataCaptureProps(destination_s3_uri="s3://bucket/capture/x", sampling_percent=7, kms_key_arn="k"),
    )
    synthesized = synth(lambda stack: TritonEndpoint(stack, "triton", props))

    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        SagemakerModel.TF_RESOURCE_TYPE,
        {
            "vpc_config": {
                "subnets": ["subnet-0123456789abcdef0"],
                "security_group_ids": ["sg-0123456789abcdef0"],
            }
        },
    )
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        SagemakerEndpointConfiguration.TF_RESOURCE_TYPE,
        {"data_capture_config": {"enable_capture": True, "initial_sampling_percentage": 7, "kms_key_id": "k",
                                 "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}]}},
    )  # fmt: skip


def test_endpoint_props_refuse_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="initial_instance_count"):
        endpoint_props(initial_instance_count=0)
    with pytest.raises(ValueError, match="extra"):
        endpoint_props(replicas=2)
    with pytest.raises(ValueError, match="frozen"):
        endpoint_props().initial_instance_count = 5  # type: ignore[misc]


# --- EndpointAutoscaling -----------------------------------------------------------------------------


def test_autoscaling_tracks_invocations_and_per_gpu_utilisation() -> None:
    props = EndpointAutoscalingProps(
        endpoint_name="embedder-prod", min_instances=2, max_instances=8, invocations_per_instance=150,
        gpu_utilization_percent=60, gpus_per_instance=4, scale_in_cooldown_s=900, scale_out_cooldown_s=60,
    )  # fmt: skip
    synthesized = synth(lambda stack: EndpointAutoscaling(stack, "scaling", props))

    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        AppautoscalingTarget.TF_RESOURCE_TYPE,
        {"min_capacity": 2, "max_capacity": 8, "resource_id": "endpoint/embedder-prod/variant/AllTraffic",
         "scalable_dimension": "sagemaker:variant:DesiredInstanceCount", "service_namespace": "sagemaker"},
    )  # fmt: skip
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        AppautoscalingPolicy.TF_RESOURCE_TYPE,
        {"target_tracking_scaling_policy_configuration": {
            "target_value": 150, "scale_in_cooldown": 900, "scale_out_cooldown": 60,
            "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"}}},
    )  # fmt: skip
    # SageMaker sums GPUUtilization over the instance's GPUs: 60% on each of 4 GPUs reads as 240.
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        AppautoscalingPolicy.TF_RESOURCE_TYPE,
        {"target_tracking_scaling_policy_configuration": {
            "target_value": 240,
            "customized_metric_specification": {"metric_name": "GPUUtilization",
                                                "namespace": "/aws/sagemaker/Endpoints", "statistic": "Average"}}},
    )  # fmt: skip


def test_autoscaling_without_gpu_target_has_one_policy() -> None:
    props = EndpointAutoscalingProps(endpoint_name="e", min_instances=1, max_instances=2, gpu_utilization_percent=None)
    synthesized = synth(lambda stack: EndpointAutoscaling(stack, "scaling", props))

    assert len(resources(synthesized, AppautoscalingPolicy.TF_RESOURCE_TYPE)) == 1


def test_autoscaling_props_refuse_min_above_max() -> None:
    with pytest.raises(ValueError, match="min_instances must not exceed max_instances"):
        EndpointAutoscalingProps(endpoint_name="e", min_instances=3, max_instances=2)


# --- State backend -----------------------------------------------------------------------------------


def test_s3_state_backend_encrypts_and_locks_with_a_lock_file() -> None:
    synthesized = synth(
        lambda stack: configure_state_backend(
            stack, StateBackendProps(bucket="state", key="tritonform/prod.tfstate", region="us-west-2")
        )
    )

    backend = json.loads(synthesized)["terraform"]["backend"]
    assert backend == {
        "s3": {"bucket": "state", "key": "tritonform/prod.tfstate", "region": "us-west-2", "encrypt": True,
               "use_lockfile": True}
    }  # fmt: skip


def test_local_state_backend_for_tests_and_demos() -> None:
    synthesized = synth(
        lambda stack: configure_state_backend(stack, StateBackendProps(kind="local", key="terraform.dev.tfstate"))
    )

    assert json.loads(synthesized)["terraform"]["backend"] == {"local": {"path": "terraform.dev.tfstate"}}


def test_the_matchers_themselves_can_fail(store_json: str) -> None:
    """Guards every assertion above: a wrong expected value must make a matcher return False."""
    assert not cdktf.Testing.to_have_resource_with_properties(
        store_json, S3Bucket.TF_RESOURCE_TYPE, {"bucket": "other"}
    )
    assert not cdktf.Testing.to_have_resource(store_json, SagemakerEndpoint.TF_RESOURCE_TYPE)


def test_deployment_policy_is_on_the_endpoint_and_does_not_rename_the_configuration() -> None:
    from tritonform.config.rollout import BlueGreenSettings, CompiledDeployment, SizeSetting  # noqa: PLC0415

    deployment = CompiledDeployment(
        blue_green=BlueGreenSettings(
            traffic_type="CANARY",
            wait_interval_s=600,
            canary_size=SizeSetting(type="INSTANCE_COUNT", value=1),
            max_execution_timeout_s=3600,
        ),
        alarm_names=["embedder-prod-rollback-5xx-errors"],
    )
    props = endpoint_props(deployment=deployment)
    synthesized = synth(lambda stack: TritonEndpoint(stack, "triton", props))

    assert props.configuration_name() == endpoint_props().configuration_name()
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        SagemakerEndpoint.TF_RESOURCE_TYPE,
        {"deployment_config": {
            "blue_green_update_policy": {"traffic_routing_configuration": {
                "type": "CANARY", "wait_interval_in_seconds": 600, "canary_size": {"type": "INSTANCE_COUNT", "value": 1}},
                "maximum_execution_timeout_in_seconds": 3600},
            "auto_rollback_configuration": {"alarms": [{"alarm_name": "embedder-prod-rollback-5xx-errors"}]}}},
    )  # fmt: skip


def test_compiled_deployment_holds_exactly_one_update_policy() -> None:
    from tritonform.config.rollout import CompiledDeployment  # noqa: PLC0415

    with pytest.raises(ValueError, match="exactly one of blue_green or rolling"):
        CompiledDeployment()
