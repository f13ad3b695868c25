"""Every derived name, pinned: the exact names of each shipped environment, and what may change them.

The golden names below are literal on purpose. A name that changes renames a live resource: a new endpoint
configuration name is a blue/green update of that endpoint on its next deploy, a new state key loses the
state. So a change to any of them must be a decision made here, never a side effect of a new field.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import cdktf
import pytest
from cdktf import TerraformStack

import tritonform.constructs  # noqa: F401  (selects the bundled Node.js before cdktf loads)
from tests.conftest import REPO_ROOT, stack_document
from tritonform.config import Deployment, EnvironmentConfig, ProjectLayout, load_deployments, names
from tritonform.config.names import ConfigurationInputs, DataCaptureInputs
from tritonform.constructs import DataCaptureProps, TritonEndpoint, TritonEndpointProps
from tritonform.constructs.endpoint_props import IN_SETTINGS_DIGEST, NOT_IN_SETTINGS_DIGEST, endpoint_props_for

pytestmark = pytest.mark.synth

DEPLOYMENTS = {d.environment.name: d for d in load_deployments(ProjectLayout(REPO_ROOT), None)}
TOKEN = "${TfToken[TOKEN.7]}"  # what a cdktf token looks like in Python
OTHER_TOKEN = "${TfToken[TOKEN.8]}"
KEY = "arn:aws:kms:us-west-2:333333333333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = "arn:aws:kms:us-west-2:333333333333:key/0987dcba-09fe-87dc-65ba-ab0987654321"

# The configuration names changed on purpose: SAGEMAKER_TRITON_LOG_VERBOSE joined every container environment
# (endpoint.triton_log_verbose), and prod's download and start-up timeouts were lowered so that its rollout fits
# Terraform's 60-minute endpoint wait.
GOLDEN: dict[str, dict[str, Any]] = {
    "dev": {
        "configuration": "text-embedder-dev-969c14487609-a69bb398",
        "serving_stack": "tritonform-dev",
        "access_stack": "tritonform-dev-access",
        "state_keys": ("tritonform/dev.tfstate", "tritonform/dev-access.tfstate"),
        "local_state_files": ("terraform.dev.tfstate", "terraform.dev-access.tfstate"),
        "execution_role": "tritonform-text-embedder-dev-execution",
        "deploy_role": "tritonform-dev-deploy",
        "key_alias": "alias/tritonform-dev",
        "alarms": ["text-embedder-dev-rollback-5xx-rate"],
        "model_package_group": "tritonform-text-embedder",
        "oidc_provider": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com",
        "github_subject": "repo:acme/ml-serving:environment:dev",
    },
    "staging": {
        "configuration": "text-embedder-staging-969c14487609-96cd02b6",
        "serving_stack": "tritonform-staging",
        "access_stack": "tritonform-staging-access",
        "state_keys": ("tritonform/staging.tfstate", "tritonform/staging-access.tfstate"),
        "local_state_files": ("terraform.staging.tfstate", "terraform.staging-access.tfstate"),
        "execution_role": "tritonform-text-embedder-staging-execution",
        "deploy_role": "tritonform-staging-deploy",
        "key_alias": "alias/tritonform-staging",
        "alarms": [
            "text-embedder-staging-rollback-5xx-rate",
            "text-embedder-staging-rollback-latency-p99",
        ],
        "model_package_group": "tritonform-text-embedder",
        "oidc_provider": "arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com",
        "github_subject": "repo:acme/ml-serving:environment:staging",
    },
    "prod": {
        "configuration": "text-embedder-prod-969c14487609-aa85cebc",
        "serving_stack": "tritonform-prod",
        "access_stack": "tritonform-prod-access",
        "state_keys": ("serving/tritonform/prod.tfstate", "serving/tritonform/prod-access.tfstate"),
        "local_state_files": ("terraform.prod.tfstate", "terraform.prod-access.tfstate"),
        "execution_role": "tritonform-text-embedder-prod-execution",
        "deploy_role": "tritonform-prod-deploy",
        "key_alias": "alias/tritonform-prod",
        "alarms": [
            "text-embedder-prod-rollback-5xx-rate",
            "text-embedder-prod-rollback-latency-p99",
        ],
        "model_package_group": "tritonform-text-embedder",
        "oidc_provider": "arn:aws:iam::333333333333:oidc-provider/token.actions.githubusercontent.com",
        "github_subject": "repo:acme/ml-serving:environment:prod",
    },
}


def derived(deployment: Deployment) -> dict[str, Any]:
    env, release = deployment.environment, deployment.release
    return {
        "configuration": names.configuration_name(env, release),
        "serving_stack": names.serving_stack_name(env.name),
        "access_stack": names.access_stack_name(env.name),
        "state_keys": (names.state_key(env), names.state_key(env, "access")),
        "local_state_files": (names.state_key(env, backend="local"), names.state_key(env, "access", "local")),
        "execution_role": names.execution_role_name(env),
        "deploy_role": names.deploy_role_name(env),
        "key_alias": names.key_alias(env),
        "alarms": names.rollback_alarm_names(env),
        "model_package_group": names.model_package_group(release.model_name),
        "oidc_provider": names.github_oidc_provider_arn(env),
        "github_subject": names.github_subject(env),
    }


def with_encryption(env: EnvironmentConfig, **changes: Any) -> EnvironmentConfig:
    return env.model_copy(update={"encryption": env.encryption.model_copy(update=changes)})


def synthesized_props(deployment: Deployment, key: str | None = TOKEN) -> TritonEndpointProps:
    """The props the serving stack builds, with tokens where synthesis has them."""
    return endpoint_props_for(
        deployment.environment,
        deployment.release,
        execution_role_arn=TOKEN,
        kms_key_arn=key,
        deployment=deployment.deployment_config,
    )


# --- golden names ------------------------------------------------------------------------------------------


def test_every_shipped_environment_is_pinned() -> None:
    assert set(DEPLOYMENTS) == set(GOLDEN)


@pytest.mark.parametrize("environment", sorted(GOLDEN))
def test_derived_names_are_the_golden_ones(environment: str) -> None:
    assert derived(DEPLOYMENTS[environment]) == GOLDEN[environment]


@pytest.mark.parametrize("environment", sorted(GOLDEN))
def test_synthesis_uses_the_golden_names(environment: str, synthesized_example: Path) -> None:
    golden = GOLDEN[environment]
    serving = stack_document(synthesized_example, golden["serving_stack"])
    access = stack_document(synthesized_example, golden["access_stack"])
    resources, access_resources = serving["resource"], access["resource"]

    (configuration,) = resources["aws_sagemaker_endpoint_configuration"].values()
    (model,) = resources["aws_sagemaker_model"].values()
    assert configuration["name"] == model["name"] == golden["configuration"]
    assert serving["terraform"]["backend"]["s3"]["key"] == golden["state_keys"][0]
    assert access["terraform"]["backend"]["s3"]["key"] == golden["state_keys"][1]
    assert [r["name"] for r in resources["aws_iam_role"].values()] == [golden["execution_role"]]
    assert [r["name"] for r in access_resources["aws_iam_role"].values()] == [golden["deploy_role"]]
    assert [r["name"] for r in resources["aws_kms_alias"].values()] == [golden["key_alias"]]
    alarms = [r["alarm_name"] for r in resources["aws_cloudwatch_metric_alarm"].values()]
    assert sorted(alarms) == sorted(golden["alarms"])
    (endpoint,) = resources["aws_sagemaker_endpoint"].values()
    rollback = endpoint["deployment_config"]["auto_rollback_configuration"]["alarms"]
    assert [a["alarm_name"] for a in rollback] == golden["alarms"]


@pytest.mark.parametrize("environment", sorted(GOLDEN))
def test_the_props_name_the_configuration_as_the_config_layer_does(environment: str) -> None:
    deployment = DEPLOYMENTS[environment]
    env = deployment.environment
    assert synthesized_props(deployment).configuration_name() == GOLDEN[environment]["configuration"]
    with_key = dataclasses.replace(deployment, environment=with_encryption(env, kms_key_arn=KEY))
    assert synthesized_props(with_key, key=KEY).configuration_name() == names.configuration_name(
        with_key.environment, with_key.release
    )


# --- what the settings digest holds ------------------------------------------------------------------------


def test_every_field_of_the_endpoint_props_is_classified() -> None:
    """A new field must be put in the digest (ConfigurationInputs) or named with a reason it needs none."""
    fields = set(TritonEndpointProps.model_fields)
    unclassified = fields - IN_SETTINGS_DIGEST - set(NOT_IN_SETTINGS_DIGEST)
    assert not unclassified, f"classify {sorted(unclassified)} in tritonform/constructs/endpoint_props.py"
    assert not IN_SETTINGS_DIGEST & set(NOT_IN_SETTINGS_DIGEST)
    assert IN_SETTINGS_DIGEST | set(NOT_IN_SETTINGS_DIGEST) == fields
    assert all(reason.strip() for reason in NOT_IN_SETTINGS_DIGEST.values())


BASE_INPUTS = ConfigurationInputs(
    variant_name="AllTraffic",
    model_name="m",
    artifact_sha256="ab" * 32,
    artifact_s3_uri=f"s3://b/m/{'ab' * 32}/model.tar.gz",
    image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3",
    instance_type="ml.p3.2xlarge",
    initial_instance_count=1,
    volume_size_gb=100,
    volume_kms_key_arn=KEY,
    model_data_download_timeout_s=1200,
    container_startup_health_check_timeout_s=600,
    network_isolation=True,
    subnet_ids=("subnet-0123456789abcdef0",),
    security_group_ids=("sg-0123456789abcdef0",),
    data_capture=DataCaptureInputs("s3://b/capture/e", 10, ("Input", "Output"), KEY),
    triton_log_verbose=0,
)
# For every input, another value: each must give another digest.
OTHER_VALUES: dict[str, Any] = {
    "variant_name": "Blue",
    "model_name": "n",
    "artifact_sha256": "cd" * 32,
    "artifact_s3_uri": f"s3://b/m/{'cd' * 32}/model.tar.gz",
    "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.05-py3",
    "instance_type": "ml.p3.8xlarge",
    "initial_instance_count": 2,
    "volume_size_gb": 200,
    "volume_kms_key_arn": OTHER_KEY,
    "model_data_download_timeout_s": 1800,
    "container_startup_health_check_timeout_s": 900,
    "network_isolation": False,
    "subnet_ids": ("subnet-0fedcba9876543210",),
    "security_group_ids": ("sg-0fedcba9876543210",),
    "data_capture": DataCaptureInputs("s3://b/capture/e", 20, ("Input", "Output"), KEY),
    "triton_log_verbose": 1,
}


def test_each_input_changes_the_digest() -> None:
    assert set(OTHER_VALUES) == {field.name for field in dataclasses.fields(ConfigurationInputs)}
    base = names.settings_digest(BASE_INPUTS)
    for field, value in OTHER_VALUES.items():
        changed = names.settings_digest(dataclasses.replace(BASE_INPUTS, **{field: value}))
        assert changed != base, f"{field} is left out of the settings digest"


def test_each_capture_setting_changes_the_digest() -> None:
    base = names.settings_digest(BASE_INPUTS)
    capture = BASE_INPUTS.data_capture
    assert capture is not None
    other_values: dict[str, Any] = {
        "destination_s3_uri": "s3://b/capture/f",
        "sampling_percent": 20,
        "modes": ("Input",),
        "kms_key_arn": OTHER_KEY,
    }
    assert set(other_values) == {field.name for field in dataclasses.fields(DataCaptureInputs)}
    for field, value in other_values.items():
        inputs = dataclasses.replace(BASE_INPUTS, data_capture=dataclasses.replace(capture, **{field: value}))
        assert names.settings_digest(inputs) != base, f"data_capture.{field} is left out of the settings digest"


def test_a_token_for_a_key_is_left_out_but_whether_a_key_is_used_is_not() -> None:
    capture = BASE_INPUTS.data_capture
    assert capture is not None

    def keyed(key: str | None) -> str:
        inputs = dataclasses.replace(
            BASE_INPUTS, volume_kms_key_arn=key, data_capture=dataclasses.replace(capture, kms_key_arn=key)
        )
        return names.settings_digest(inputs)

    assert keyed(TOKEN) == keyed(OTHER_TOKEN) == keyed(names.KEY_THE_STACK_CREATES)
    assert len({keyed(TOKEN), keyed(None), keyed(KEY), keyed(OTHER_KEY)}) == 4


def test_changing_only_the_environments_own_key_renames_the_configuration() -> None:
    """SageMaker refuses a replacement under an existing name ("Cannot create already existing endpoint
    configuration"), so a new key must give a new name."""
    prod = DEPLOYMENTS["prod"]
    assert prod.environment.data_capture is not None  # the key reaches the configuration through data capture
    first = names.configuration_name(with_encryption(prod.environment, kms_key_arn=KEY), prod.release)
    second = names.configuration_name(with_encryption(prod.environment, kms_key_arn=OTHER_KEY), prod.release)
    assert len({first, second, GOLDEN["prod"]["configuration"]}) == 3


def test_what_does_not_replace_the_configuration_does_not_rename_it() -> None:
    deployment = DEPLOYMENTS["prod"]
    base = synthesized_props(deployment)
    same = [
        base.model_copy(update={"execution_role_arn": OTHER_TOKEN}),
        base.model_copy(update={"tags": {"Team": "other"}}),
        base.model_copy(update={"deployment": None}),
        synthesized_props(deployment, key=OTHER_TOKEN),
    ]
    assert {props.configuration_name() for props in same} == {base.configuration_name()}


# --- what the construct passes to the model and the configuration --------------------------------------------

# Arguments with a value fixed in the construct. Changing one replaces the model or the configuration under
# the same name, which SageMaker refuses: such a change must also rename them (through the settings digest).
FIXED_ARGUMENTS = {
    "aws_sagemaker_model": {"primary_container.mode": "SingleModel", "lifecycle.create_before_destroy": True},
    "aws_sagemaker_endpoint_configuration": {
        "production_variants.0.initial_variant_weight": 1,
        "data_capture_config.enable_capture": True,
        "data_capture_config.capture_content_type_header.json_content_types.0": "application/json",
        "lifecycle.create_before_destroy": True,
        # the count a configuration starts with never replaces it (the live count is given when it is created)
        "lifecycle.ignore_changes.0": "production_variants[0].initial_instance_count",
    },
}
# Every other argument, with the props field it comes from.
ARGUMENTS_FROM_PROPS = {
    "aws_sagemaker_model": {
        "name": "endpoint_name",
        "execution_role_arn": "execution_role_arn",
        "enable_network_isolation": "network_isolation",
        "primary_container.image": "image_uri",
        "primary_container.model_data_url": "artifact_s3_uri",
        "primary_container.environment.SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "model_name",
        "primary_container.environment.SAGEMAKER_TRITON_PING_MODE": "model_name",
        "primary_container.environment.SAGEMAKER_TRITON_LOG_VERBOSE": "triton_log_verbose",
        "vpc_config.subnets.0": "subnet_ids",
        "vpc_config.security_group_ids.0": "security_group_ids",
        "tags.Team": "tags",
        "tags.tritonform:version-id": "version_id",
        "tags.tritonform:artifact-sha256": "artifact_sha256",
    },
    "aws_sagemaker_endpoint_configuration": {
        "name": "endpoint_name",
        "kms_key_arn": "volume_kms_key_arn",
        "production_variants.0.variant_name": "variant_name",
        "production_variants.0.model_name": "endpoint_name",
        "production_variants.0.instance_type": "instance_type",
        "production_variants.0.initial_instance_count": "initial_instance_count",
        "production_variants.0.volume_size_in_gb": "volume_size_gb",
        "production_variants.0.model_data_download_timeout_in_seconds": "model_data_download_timeout_s",
        "production_variants.0.container_startup_health_check_timeout_in_seconds": (
            "container_startup_health_check_timeout_s"
        ),
        "data_capture_config.initial_sampling_percentage": "data_capture",
        "data_capture_config.destination_s3_uri": "data_capture",
        "data_capture_config.kms_key_id": "data_capture",
        "data_capture_config.capture_options.0.capture_mode": "data_capture",
        "data_capture_config.capture_options.1.capture_mode": "data_capture",
        "tags.Team": "tags",
        "tags.tritonform:version-id": "version_id",
        "tags.tritonform:artifact-sha256": "artifact_sha256",
    },
}
# The props fields outside the digest that may reach the model or the configuration, and why that is safe.
SAFE_OUTSIDE_THE_DIGEST = {"endpoint_name", "version_id", "execution_role_arn", "tags"}


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, child in value.items() for k, v in leaves(child, f"{path}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, child in enumerate(value) for k, v in leaves(child, f"{path}{i}.").items()}
    return {path.rstrip("."): value}


def test_every_argument_of_the_model_and_configuration_is_fixed_or_renames_them() -> None:
    props = TritonEndpointProps(
        **{
            **BASE_INPUTS.__dict__,
            "subnet_ids": list(BASE_INPUTS.subnet_ids),
            "security_group_ids": list(BASE_INPUTS.security_group_ids),
            "data_capture": DataCaptureProps(destination_s3_uri="s3://b/capture/e", kms_key_arn=KEY),
        },
        endpoint_name="e",
        version_id="ab" * 6,
        execution_role_arn="arn:aws:iam::123456789012:role/r",
        tags={"Team": "t"},
    )
    stack = TerraformStack(cdktf.Testing.app(), "test")
    TritonEndpoint(stack, "triton", props)
    synthesized = json.loads(cdktf.Testing.synth(stack))["resource"]

    for resource_type, fixed in FIXED_ARGUMENTS.items():
        (resource,) = synthesized[resource_type].values()
        arguments = leaves(resource)
        from_props = ARGUMENTS_FROM_PROPS[resource_type]
        assert set(arguments) == set(fixed) | set(from_props), f"classify every argument of {resource_type}"
        assert {path: arguments[path] for path in fixed} == fixed, f"a fixed argument of {resource_type} changed"
        for path, field in from_props.items():
            assert field in IN_SETTINGS_DIGEST or field in SAFE_OUTSIDE_THE_DIGEST, f"{resource_type} {path}"


# --- partition and ARNs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_partition_of_a_region(region: str, partition: str) -> None:
    assert names.partition_of(region) == partition


def test_arns_leave_out_what_a_service_has_no_field_for() -> None:
    assert names.arn("aws", "s3", "bucket/key") == "arn:aws:s3:::bucket/key"
    assert names.arn("aws-cn", "iam", "role/r", account="123456789012") == "arn:aws-cn:iam::123456789012:role/r"
    assert (
        names.arn("aws", "sagemaker", "endpoint/e", region="us-east-1", account="123456789012")
        == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"
    )


# --- one place -----------------------------------------------------------------------------------------------


def test_release_and_review_take_names_from_the_config_layer() -> None:
    """They import no construct or stack module: the names they look resources up by come from config."""
    for package in ("release", "review"):
        for path in sorted((REPO_ROOT / "tritonform" / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
            wrong = {m for m in imported if m.startswith(("tritonform.constructs", "tritonform.stacks"))}
            assert not wrong, f"{path.relative_to(REPO_ROOT)} imports {sorted(wrong)}"
