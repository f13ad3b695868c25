"""Least privilege, proven on the synthesized policies of every environment.

The test derives, from each environment's configuration alone, the resources that environment owns (its
buckets, state object, endpoint names, execution role, key, image repository, subnets). Then it reads
every statement of the execution role and of the CI deploy role as synthesized and proves that each
(action, resource) pair names one of those resources, or is "*" for an action AWS gives no resource-level
permission (listed below, each with its reason). Conditions that narrow a grant are checked where they
carry the scoping. A doctored policy shows the checker catches a broader grant.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, copy_project, edit_yaml, stack_document
from tritonform.config import Deployment, ProjectLayout, load_deployments
from tritonform.config.names import access_stack_name, model_package_group, serving_stack_name
from tritonform.config.triton_images import parse_image_uri
from tritonform.synth import synthesize

pytestmark = pytest.mark.synth

# Actions IAM's service authorization reference lists without a resource type: "*" is the only resource.
NO_RESOURCE_LEVEL = {
    "ecr:GetAuthorizationToken": "the registry login token is per account",
    "cloudwatch:PutMetricData": "metrics have no ARN; narrowed by the cloudwatch:namespace condition",
    "ec2:DescribeDhcpOptions": "Describe calls take no resource",
    "ec2:DescribeNetworkInterfaces": "Describe calls take no resource",
    "ec2:DescribeSecurityGroups": "Describe calls take no resource",
    "ec2:DescribeSubnets": "Describe calls take no resource",
    "ec2:DescribeVpcs": "Describe calls take no resource",
    "application-autoscaling:DescribeScalableTargets": "Describe calls take no resource",
    "application-autoscaling:DescribeScalingActivities": "Describe calls take no resource",
    "application-autoscaling:DescribeScalingPolicies": "Describe calls take no resource",
    "kms:CreateKey": "a key has no ARN before it exists; narrowed by aws:RequestTag conditions",
    "kms:TagResource": "tags sent with CreateKey are authorised before the key exists (request-tag conditions)",
    "kms:ListAliases": "List calls take no resource",
}
IAM_POLICY_SIZE_LIMIT = 10_240  # characters, all inline policies of a role together, whitespace excluded


@dataclass(frozen=True)
class Grant:
    role: str
    sid: str
    action: str
    resource: str
    conditions: frozenset[tuple[str, str, str]]  # (test, variable, value)


def owned_resources(deployment: Deployment) -> set[str]:
    """Every resource ARN (or ARN pattern) the environment owns, from its configuration only."""
    env, release = deployment.environment, deployment.release
    account, region = env.account_id, env.region
    bucket, model = env.artifacts.bucket, release.model_name
    endpoint = env.endpoint.name
    group = model_package_group(model)
    state_key = f"{env.state.key_prefix}{env.name}.tfstate"
    image = parse_image_uri(release.triton_image.uri)
    assert image is not None
    ec2 = f"arn:aws:ec2:{region}:{account}"
    sagemaker = f"arn:aws:sagemaker:{region}:{account}"
    owned = {
        f"arn:aws:s3:::{bucket}",
        f"arn:aws:s3:::{bucket}/{model}/*",
        f"arn:aws:s3:::{env.state.bucket}",
        f"arn:aws:s3:::{env.state.bucket}/{state_key}",
        f"arn:aws:s3:::{env.state.bucket}/{state_key}.tflock",
        f"{sagemaker}:endpoint/{endpoint.lower()}",
        f"{sagemaker}:endpoint-config/{endpoint.lower()}-*",
        f"{sagemaker}:model/{endpoint.lower()}-*",
        f"{sagemaker}:model-package-group/{group.lower()}",
        f"{sagemaker}:model-package/{group.lower()}/*",
        f"arn:aws:iam::{account}:role/tritonform-{endpoint}-execution",
        f"arn:aws:iam::{account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        f"arn:aws:cloudwatch:{region}:{account}:alarm:{endpoint}-*",
        f"arn:aws:cloudwatch:{region}:{account}:alarm:{endpoint}-rollback-*",
        f"arn:aws:cloudwatch:{region}:{account}:alarm:TargetTracking-endpoint/{endpoint}/variant/*",
        f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}",
        f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}:log-stream:*",
        f"arn:aws:application-autoscaling:{region}:{account}:scalable-target/*",
        f"arn:aws:kms:{region}:{account}:alias/tritonform-{env.name}",
        f"arn:aws:ecr:{image.region}:{image.account}:repository/sagemaker-tritonserver",
        "THIS-STACKS-KEY",
    }
    if env.data_capture:
        owned.add(f"arn:aws:s3:::{bucket}/{env.data_capture.prefix}*")
    if env.network.in_vpc:
        owned.add(f"{ec2}:network-interface/*")
        owned |= {f"{ec2}:subnet/{subnet}" for subnet in env.network.subnet_ids}
        owned |= {f"{ec2}:security-group/{group_id}" for group_id in env.network.security_group_ids}
    if env.encryption.kms_key_arn:
        owned.add(env.encryption.kms_key_arn)
    else:
        owned.add(f"arn:aws:kms:{region}:{account}:key/*")  # only with the environment's tag conditions
    return owned


def _resolve(value: str, bucket: str) -> str:
    """Replace the tokens of resources the same stack creates with what they stand for."""
    value = re.sub(r"\$\{aws_s3_bucket\.[\w-]+\.arn\}", f"arn:aws:s3:::{bucket}", value)
    return re.sub(r"\$\{aws_kms_key\.[\w-]+\.arn\}", "THIS-STACKS-KEY", value)


def grants(document: dict[str, Any], role: str, bucket: str) -> list[Grant]:
    (policy,) = [
        p for name, p in document["data"]["aws_iam_policy_document"].items() if name.startswith(f"{role}_permissions")
    ]
    found = []
    for statement in policy["statement"]:
        assert statement.get("effect", "Allow") == "Allow"
        assert not {"not_actions", "not_resources", "not_principals"} & set(statement), statement
        conditions = frozenset(
            (c["test"], c["variable"], value) for c in statement.get("condition", []) for value in c["values"]
        )
        for action in statement["actions"]:
            for resource in statement["resources"]:
                found.append(Grant(role, statement["sid"], action, _resolve(resource, bucket), conditions))
    return found


def broader_than_owned(grant: Grant, owned: set[str]) -> str | None:
    """Why a grant reaches beyond the environment's own resources, or None."""
    if "*" in grant.action:
        return f"{grant.sid}: wildcard action {grant.action}"
    if grant.resource == "*":
        return None if grant.action in NO_RESOURCE_LEVEL else f"{grant.sid}: {grant.action} on every resource"
    if grant.resource not in owned:
        return f"{grant.sid}: {grant.action} on {grant.resource}, which this environment does not own"
    return None


DEPLOYMENTS = load_deployments(ProjectLayout(REPO_ROOT))


@pytest.fixture(scope="module", params=DEPLOYMENTS, ids=[d.environment.name for d in DEPLOYMENTS])
def environment_grants(request: pytest.FixtureRequest, synthesized_example: Path) -> tuple[Deployment, list[Grant]]:
    deployment: Deployment = request.param
    env = deployment.environment
    bucket = env.artifacts.bucket
    found = grants(stack_document(synthesized_example, serving_stack_name(env.name)), "execution-role", bucket)
    found += grants(stack_document(synthesized_example, access_stack_name(env.name)), "deploy-role", bucket)
    return deployment, found


def test_every_grant_names_a_resource_the_environment_owns(environment_grants: tuple[Deployment, list[Grant]]) -> None:
    deployment, found = environment_grants
    owned = owned_resources(deployment)

    assert {g.role for g in found} == {"execution-role", "deploy-role"}
    broader = [reason for g in found if (reason := broader_than_owned(g, owned))]
    assert broader == []


def test_unscoped_grants_are_narrowed_by_conditions_where_iam_allows(
    environment_grants: tuple[Deployment, list[Grant]],
) -> None:
    deployment, found = environment_grants
    env = deployment.environment
    by_action: dict[str, list[Grant]] = {}
    for grant in found:
        by_action.setdefault(grant.action, []).append(grant)

    assert all(("StringLike", "cloudwatch:namespace", "/aws/sagemaker/*") in g.conditions
               for g in by_action["cloudwatch:PutMetricData"])  # fmt: skip
    assert all({("StringEquals", "aws:RequestTag/Environment", env.name),
                ("StringEquals", "aws:RequestTag/ManagedBy", "tritonform")} <= g.conditions
               for g in by_action["kms:CreateKey"])  # fmt: skip
    key_pattern = f"arn:aws:kms:{env.region}:{env.account_id}:key/*"
    on_any_key = [g for g in found if g.resource == key_pattern]
    assert on_any_key
    assert all(("StringEquals", "aws:ResourceTag/Environment", env.name) in g.conditions for g in on_any_key)
    assert all(("StringEquals", "iam:PassedToService", "sagemaker.amazonaws.com") in g.conditions
               for g in by_action["iam:PassRole"])  # fmt: skip
    state_listing = [g for g in by_action["s3:ListBucket"] if g.resource == f"arn:aws:s3:::{env.state.bucket}"]
    assert state_listing
    assert all(any(c[1] == "s3:prefix" for c in g.conditions) for g in state_listing)
    artifact_listing = [
        g for g in by_action["s3:ListBucket"] if g.role == "execution-role"
    ]  # SageMaker lists only the model's prefix
    assert all(("StringLike", "s3:prefix", f"{deployment.release.model_name}/*") in g.conditions
               for g in artifact_listing)  # fmt: skip


def test_deploy_role_cannot_change_itself_or_any_role_but_the_execution_role(
    environment_grants: tuple[Deployment, list[Grant]],
) -> None:
    deployment, found = environment_grants
    env = deployment.environment
    iam = {g.resource for g in found if g.role == "deploy-role" and g.action.startswith("iam:")}

    assert iam == {
        f"arn:aws:iam::{env.account_id}:role/tritonform-{env.endpoint.name}-execution",
        f"arn:aws:iam::{env.account_id}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    }
    destructive = {g.action for g in found if g.action in {"s3:DeleteObject", "s3:DeleteBucket", "kms:DisableKey"}}
    assert destructive <= {"s3:DeleteObject"}
    assert all(g.resource.endswith(".tflock") for g in found if g.action == "s3:DeleteObject")


# "Auto scaling prerequisites" (SageMaker Developer Guide): what the principal that registers a variant as a
# scalable target needs besides Application Auto Scaling itself, and the alarms target tracking creates.
AUTOSCALING_NEEDS = {
    "sagemaker:DescribeEndpoint": "endpoint",
    "sagemaker:DescribeEndpointConfig": "endpoint-config",
    "sagemaker:UpdateEndpointWeightsAndCapacities": "endpoint",
    "cloudwatch:PutMetricAlarm": "TargetTracking",
    "cloudwatch:DeleteAlarms": "TargetTracking",
    "cloudwatch:DescribeAlarms": "TargetTracking",
    "iam:CreateServiceLinkedRole": "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    "application-autoscaling:RegisterScalableTarget": "scalable-target",
    "application-autoscaling:PutScalingPolicy": "scalable-target",
    "application-autoscaling:DeregisterScalableTarget": "scalable-target",
}
# "CreateModel API: Execution Role Permissions" (SageMaker Developer Guide, "How to use SageMaker AI execution
# roles"): what SageMaker does with the execution role to host a model; the VPC actions when it runs in a VPC.
CREATE_MODEL_NEEDS = {
    "cloudwatch:PutMetricData", "logs:CreateLogStream", "logs:PutLogEvents", "logs:CreateLogGroup",
    "logs:DescribeLogStreams", "s3:GetObject", "s3:ListBucket", "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage",
}  # fmt: skip
CREATE_MODEL_VPC_NEEDS = {
    "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
}  # fmt: skip


def test_the_deploy_role_has_what_autoscaling_a_variant_needs_on_this_endpoint_only(
    environment_grants: tuple[Deployment, list[Grant]],
) -> None:
    deployment, found = environment_grants
    env = deployment.environment
    assert env.autoscaling is not None  # every shipped environment scales
    deploy = [g for g in found if g.role == "deploy-role"]
    for action, resource_part in AUTOSCALING_NEEDS.items():
        granted = [g for g in deploy if g.action == action and resource_part in g.resource]
        assert granted, f"{action} on a {resource_part} resource"
    endpoint = env.endpoint.name
    scaling_calls = {g.resource for g in deploy if g.action == "sagemaker:UpdateEndpointWeightsAndCapacities"}
    assert scaling_calls == {f"arn:aws:sagemaker:{env.region}:{env.account_id}:endpoint/{endpoint.lower()}",
                             f"arn:aws:sagemaker:{env.region}:{env.account_id}:endpoint-config/{endpoint.lower()}-*"}  # fmt: skip
    tracking = {g.resource for g in deploy if "TargetTracking" in g.resource}
    assert tracking == {
        f"arn:aws:cloudwatch:{env.region}:{env.account_id}:alarm:TargetTracking-endpoint/{endpoint}/variant/*"
    }
    (linked,) = [g for g in deploy if g.action == "iam:CreateServiceLinkedRole"]
    assert (
        "StringEquals",
        "iam:AWSServiceName",
        "sagemaker.application-autoscaling.amazonaws.com",
    ) in linked.conditions


def test_the_execution_role_has_what_the_developer_guide_lists_for_create_model(
    environment_grants: tuple[Deployment, list[Grant]],
) -> None:
    deployment, found = environment_grants
    granted = {g.action for g in found if g.role == "execution-role"}
    needed = CREATE_MODEL_NEEDS | (CREATE_MODEL_VPC_NEEDS if deployment.environment.network.in_vpc else set())
    assert needed <= granted, sorted(needed - granted)
    # beyond the page: decrypting the artifacts' key, writing data capture, reading the rollback alarms
    extra = granted - CREATE_MODEL_NEEDS - CREATE_MODEL_VPC_NEEDS
    assert extra <= {"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Encrypt", "s3:PutObject",
                     "cloudwatch:DescribeAlarms"}, sorted(extra)  # fmt: skip


def test_without_autoscaling_the_deploy_role_grants_none_of_it(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    fixed = {"initial_instances": 1, "min_instances": 1, "max_instances": 1}
    edit_yaml(project / "environments" / "dev.yaml", lambda d: d.update(autoscaling=None, capacity=fixed))
    layout = ProjectLayout(project)
    synthesize(layout, tmp_path / "out", ["dev"], "local")
    found = grants(stack_document(tmp_path / "out", "tritonform-dev-access"), "deploy-role", "b")

    assert not [g for g in found if g.action.startswith("application-autoscaling:")]
    assert not [g for g in found if "TargetTracking" in g.resource or g.action == "iam:CreateServiceLinkedRole"]
    assert not [g for g in found if g.action == "sagemaker:UpdateEndpointWeightsAndCapacities"]


def test_roles_are_assumable_only_by_their_one_principal(synthesized_example: Path) -> None:
    for deployment in DEPLOYMENTS:
        env = deployment.environment
        assert env.ci is not None
        serving = stack_document(synthesized_example, serving_stack_name(env.name))["data"]["aws_iam_policy_document"]
        access = stack_document(synthesized_example, access_stack_name(env.name))["data"]["aws_iam_policy_document"]
        (execution_trust,) = [p for n, p in serving.items() if n.startswith("execution-role_trust")]
        (deploy_trust,) = [p for n, p in access.items() if n.startswith("deploy-role_trust")]

        (statement,) = execution_trust["statement"]
        assert statement["principals"] == [{"type": "Service", "identifiers": ["sagemaker.amazonaws.com"]}]
        assert {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [env.account_id]} in statement[
            "condition"
        ]
        (statement,) = deploy_trust["statement"]
        assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
        subject = f"repo:{env.ci.github_repository}:environment:{env.name}"
        assert {
            "test": "StringEquals",
            "variable": "token.actions.githubusercontent.com:sub",
            "values": [subject],
        } in statement["condition"]
        assert {
            "test": "StringEquals",
            "variable": "token.actions.githubusercontent.com:aud",
            "values": ["sts.amazonaws.com"],
        } in statement["condition"]


def test_policies_fit_iams_size_limit(synthesized_example: Path) -> None:
    for deployment in DEPLOYMENTS:
        name = deployment.environment.name
        for stack, role in ((serving_stack_name(name), "execution-role"), (access_stack_name(name), "deploy-role")):
            documents = stack_document(synthesized_example, stack)["data"]["aws_iam_policy_document"]
            (policy,) = [p for n, p in documents.items() if n.startswith(f"{role}_permissions")]
            rendered = {"Version": "2012-10-17", "Statement": [
                {"Sid": s["sid"], "Effect": "Allow", "Action": s["actions"], "Resource": s["resources"],
                 **({"Condition": {c["test"]: {c["variable"]: c["values"]} for c in s["condition"]}}
                    if s.get("condition") else {})}
                for s in policy["statement"]]}  # fmt: skip
            size = len(re.sub(r"\s", "", json.dumps(rendered)))
            assert size < IAM_POLICY_SIZE_LIMIT, (stack, size)


@pytest.mark.parametrize(
    ("doctored", "words"),
    [
        ({"actions": ["s3:*"], "resources": ["arn:aws:s3:::acme-tritonform-dev-artifacts"]}, "wildcard action"),
        ({"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::acme-tritonform-dev-artifacts/*"]}, "not own"),
        ({"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::acme-tritonform-prod-artifacts/text_embedder/*"]},
         "not own"),
        ({"actions": ["sagemaker:DeleteEndpoint"], "resources": ["*"]}, "on every resource"),
        ({"actions": ["iam:PassRole"], "resources": ["arn:aws:iam::111111111111:role/admin"]}, "not own"),
    ],
    ids=["wildcard action", "whole bucket", "another environment", "star resource", "another role"],
)  # fmt: skip
def test_the_checker_catches_a_broader_grant(doctored: dict[str, list[str]], words: str) -> None:
    (dev,) = [d for d in DEPLOYMENTS if d.environment.name == "dev"]
    document = {"data": {"aws_iam_policy_document": {"deploy-role_permissions_X": {
        "statement": [{"sid": "Doctored", **doctored}]}}}}  # fmt: skip

    found = grants(document, "deploy-role", dev.environment.artifacts.bucket)
    reasons = [reason for g in found if (reason := broader_than_owned(g, owned_resources(dev)))]

    assert reasons
    assert words in reasons[0]


def test_with_its_own_key_an_environment_grants_that_key_only(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    key = "arn:aws:kms:us-west-2:333333333333:key/0b7f3c1e-5d2a-4e8b-9f61-2c4d8a7e9b10"
    edit_yaml(project / "environments" / "prod.yaml", lambda d: d.update(encryption={"kms_key_arn": key}))
    layout = ProjectLayout(project)
    (prod,) = load_deployments(layout, ["prod"])
    synthesize(layout, tmp_path / "out", ["prod"], "local")
    bucket = prod.environment.artifacts.bucket
    found = grants(stack_document(tmp_path / "out", "tritonform-prod"), "execution-role", bucket)
    found += grants(stack_document(tmp_path / "out", "tritonform-prod-access"), "deploy-role", bucket)

    assert [reason for g in found if (reason := broader_than_owned(g, owned_resources(prod)))] == []
    kms = {g.resource for g in found if g.action.startswith("kms:")}
    assert kms == {key}  # no key is created, so no rights on keys by tag and none to create one
    assert "aws_kms_key" not in stack_document(tmp_path / "out", "tritonform-prod")["resource"]
