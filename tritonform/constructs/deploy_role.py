"""The IAM role CI deploys one environment with: Terraform's state, this environment's resources, nothing else.

Every statement names the resources of one environment. Where an API supports no resource-level
permission (the Describe/List calls below, kms:CreateKey) the statement says so in its sid and, where IAM
allows, narrows it with a condition instead.
"""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field

from tritonform.constructs._aws import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from tritonform.constructs._iam import role_with_policy
from tritonform.constructs._props import RoleProps

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"

# What Terraform's AWS provider reads and writes on the artifact bucket (its own resources' calls).
BUCKET_ACTIONS = [
    "s3:CreateBucket",
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:PutBucketLogging",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
]
# Publishing, verifying and promoting model versions under the model's prefix.
ARTIFACT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:GetObject",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersion",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
SAGEMAKER_ACTIONS = [
    "sagemaker:AddTags",
    "sagemaker:CreateEndpoint",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateModel",
    "sagemaker:DeleteEndpoint",
    "sagemaker:DeleteEndpointConfig",
    "sagemaker:DeleteModel",
    "sagemaker:DeleteTags",
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel",
    "sagemaker:ListTags",
    "sagemaker:UpdateEndpoint",
]
MODEL_REGISTRY_ACTIONS = [
    "sagemaker:CreateModelPackage",
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
    "sagemaker:UpdateModelPackage",
]
EXECUTION_ROLE_ACTIONS = [
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
]
ALARM_ACTIONS = [
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
]
SCALING_ACTIONS = [
    "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:ListTagsForResource",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:RegisterScalableTarget",
    "application-autoscaling:TagResource",
    "application-autoscaling:UntagResource",
]
SCALING_DESCRIBE_ACTIONS = [
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingActivities",
    "application-autoscaling:DescribeScalingPolicies",
]
# Using the environment's key: the artifacts (publish, promote) and the grants SageMaker takes for volumes.
KEY_USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
# Managing the key the serving stack creates (never deleting it at once: ScheduleKeyDeletion waits 30 days).
KEY_ADMIN_ACTIONS = [
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]


class DeployRoleProps(RoleProps):
    environment_name: Annotated[str, Field(min_length=1)]
    """Resources the stack creates carry Environment=<this> (provider default tags): KMS conditions use it."""

    oidc_provider_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$")]
    github_subject: Annotated[str, Field(pattern=r"^repo:[^:*]+/[^:*]+:environment:[^:*]+$")]
    """The one OIDC subject that may assume the role: repo:<owner>/<name>:environment:<environment>."""

    state_bucket: Annotated[str, Field(min_length=3, max_length=63)]
    state_key: Annotated[str, Field(min_length=1)]
    """Terraform state object of the serving stack; its lock file is <state_key>.tflock."""

    artifact_bucket: Annotated[str, Field(min_length=3, max_length=63)]
    model_name: Annotated[str, Field(min_length=1)]
    """Object access is limited to <artifact_bucket>/<model_name>/*."""

    model_package_group: Annotated[str, Field(min_length=1, max_length=63)]
    """The model registry group release publish registers versions in."""

    endpoint_name: Annotated[str, Field(min_length=1, max_length=37)]
    """SageMaker names are <endpoint> (endpoint), <endpoint>-<version>-<digest> (model, configuration)."""

    execution_role_name: Annotated[str, Field(min_length=1, max_length=64)]
    """The only role this role may manage and pass (to SageMaker only)."""

    key_alias: Annotated[str, Field(pattern=r"^alias/[a-zA-Z0-9/_-]{1,250}$")]
    existing_kms_key_arn: str | None = None
    """The environment's own key, if it brings one: then only that key is used and none is created.
    Default None: the serving stack creates the key, so key rights are bound to its tags."""

    autoscaling: bool = True
    """The serving stack declares autoscaling. Default true."""


class DeployRole(Construct):
    """Exposes `role_arn`; `permissions` and `trust_policy` are the policy documents (tests read them)."""

    def __init__(self, scope: Construct, id_: str, props: DeployRoleProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        arn = f"arn:{props.partition}"
        here = f"{props.region}:{props.account_id}"
        sagemaker = f"{arn}:sagemaker:{here}"
        endpoint = props.endpoint_name.lower()  # SageMaker ARNs carry names in lower case
        execution_role_arn = f"{arn}:iam::{props.account_id}:role/{props.execution_role_name}"
        keys = f"{arn}:kms:{here}:key/*"  # the serving stack's key has no ARN yet: its tags bind these rights
        tagged_for_this_environment = [
            DataAwsIamPolicyDocumentStatementCondition(
                test="StringEquals", variable="aws:ResourceTag/Environment", values=[props.environment_name]
            ),
            DataAwsIamPolicyDocumentStatementCondition(
                test="StringEquals", variable="aws:ResourceTag/ManagedBy", values=["tritonform"]
            ),
        ]

        self.trust_policy = DataAwsIamPolicyDocument(
            self,
            "trust",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    effect="Allow",
                    actions=["sts:AssumeRoleWithWebIdentity"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Federated", identifiers=[props.oidc_provider_arn]
                        )
                    ],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable=f"{GITHUB_OIDC_HOST}:aud", values=["sts.amazonaws.com"]
                        ),
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable=f"{GITHUB_OIDC_HOST}:sub", values=[props.github_subject]
                        ),
                    ],
                )
            ],
        )

        def allow(
            sid: str,
            actions: list[str],
            resources: list[str],
            condition: list[DataAwsIamPolicyDocumentStatementCondition] | None = None,
        ) -> DataAwsIamPolicyDocumentStatement:
            return DataAwsIamPolicyDocumentStatement(
                sid=sid, effect="Allow", actions=actions, resources=resources, condition=condition
            )

        state = f"{arn}:s3:::{props.state_bucket}"
        artifacts = f"{arn}:s3:::{props.artifact_bucket}"
        statements = [
            allow("ReadAndWriteThisStacksState", ["s3:GetObject", "s3:PutObject"], [f"{state}/{props.state_key}"]),
            allow(
                "LockThisStacksState",
                ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                [f"{state}/{props.state_key}.tflock"],
            ),
            allow(
                "ListOnlyThisStacksState",
                ["s3:ListBucket"],
                [state],
                [
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="StringEquals", variable="s3:prefix", values=[props.state_key]
                    )
                ],
            ),
            allow("ManageTheArtifactBucket", BUCKET_ACTIONS, [artifacts]),
            allow("PublishThisModelsVersions", ARTIFACT_ACTIONS, [f"{artifacts}/{props.model_name}/*"]),
            allow(
                "ManageThisEndpoint",
                SAGEMAKER_ACTIONS,
                [
                    f"{sagemaker}:endpoint/{endpoint}",
                    f"{sagemaker}:endpoint-config/{endpoint}-*",
                    f"{sagemaker}:model/{endpoint}-*",
                ],
            ),
            allow(
                "RegisterThisModelsVersions",
                MODEL_REGISTRY_ACTIONS,
                [
                    f"{sagemaker}:model-package-group/{props.model_package_group.lower()}",
                    f"{sagemaker}:model-package/{props.model_package_group.lower()}/*",
                ],
            ),
            allow("ManageTheExecutionRole", EXECUTION_ROLE_ACTIONS, [execution_role_arn]),
            allow(
                "PassTheExecutionRoleToSageMakerOnly",
                ["iam:PassRole"],
                [execution_role_arn],
                [
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="StringEquals", variable="iam:PassedToService", values=["sagemaker.amazonaws.com"]
                    )
                ],
            ),
            allow(
                "ManageThisEndpointsRollbackAlarms",
                ALARM_ACTIONS,
                [f"{arn}:cloudwatch:{here}:alarm:{props.endpoint_name}-rollback-*"],
            ),
        ]
        if props.autoscaling:
            statements += [
                allow(
                    "ScaleThisAccountsTargets",
                    SCALING_ACTIONS,
                    [f"{arn}:application-autoscaling:{here}:scalable-target/*"],
                ),
                allow("DescribeScalingHasNoResourceScope", SCALING_DESCRIBE_ACTIONS, ["*"]),
                allow(
                    "CreateTheAutoscalingServiceRole",
                    ["iam:CreateServiceLinkedRole"],
                    [
                        f"{arn}:iam::{props.account_id}:role/aws-service-role/{AUTOSCALING_SERVICE}/"
                        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                    ],
                    [
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable="iam:AWSServiceName", values=[AUTOSCALING_SERVICE]
                        )
                    ],
                ),
            ]
        if props.existing_kms_key_arn is not None:
            statements.append(allow("UseTheEnvironmentsKey", KEY_USE_ACTIONS, [props.existing_kms_key_arn]))
        else:
            statements += [
                allow(
                    "CreateKeysTaggedForThisEnvironment",
                    ["kms:CreateKey", "kms:TagResource"],
                    ["*"],
                    [
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable="aws:RequestTag/Environment", values=[props.environment_name]
                        ),
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable="aws:RequestTag/ManagedBy", values=["tritonform"]
                        ),
                    ],
                ),
                allow(
                    "UseAndAdministerThisEnvironmentsKey",
                    sorted({*KEY_USE_ACTIONS, *KEY_ADMIN_ACTIONS}),
                    [keys],
                    tagged_for_this_environment,
                ),
                allow(
                    "ThisEnvironmentsKeyAlias",
                    ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                    [f"{arn}:kms:{here}:{props.key_alias}"],
                ),
                allow("ListAliasesHasNoResourceScope", ["kms:ListAliases"], ["*"]),
            ]
        statements.append(
            allow(
                "LetSageMakerTakeGrantsOnTheKey",
                ["kms:CreateGrant"],
                [props.existing_kms_key_arn or keys],
                [
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="Bool", variable="kms:GrantIsForAWSResource", values=["true"]
                    ),
                    *([] if props.existing_kms_key_arn else tagged_for_this_environment),
                ],
            )
        )
        self.permissions = DataAwsIamPolicyDocument(self, "permissions", statement=statements)
        self.role, self.policy = role_with_policy(
            self,
            props,
            trust=self.trust_policy,
            permissions=self.permissions,
            policy_name="tritonform-deploy",
            description=f"CI deploys the Triton endpoint {props.endpoint_name} ({props.environment_name}) with this",
        )
        self.role_arn: str = self.role.arn
