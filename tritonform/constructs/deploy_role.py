"""The IAM role CI deploys one environment with: Terraform's state, this environment's resources, nothing else.

Every statement names the resources of one environment. Where an API supports no resource-level
permission (the Describe/List calls below, kms:CreateKey) the statement says so in its sid and, where IAM
allows, narrows it with a condition instead.

Long because the action lists are spelled out, each beside the reason it is granted: one place to review
everything CI may do.
"""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field

from tritonform.config.names import GITHUB_OIDC_HOST, alarm_name, arn
from tritonform.constructs._aws import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from tritonform.constructs._iam import PolicyRole
from tritonform.constructs._props import RoleProps

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
# What the caller registering a SageMaker variant with Application Auto Scaling needs on the endpoint ("Auto
# scaling prerequisites", SageMaker Developer Guide: DescribeEndpoint, DescribeEndpointConfig and
# UpdateEndpointWeightsAndCapacities), scoped here to this endpoint and its configurations.
SCALED_ENDPOINT_ACTIONS = [
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
]
# The CloudWatch alarms a target-tracking policy creates and deletes with it, named TargetTracking-<resource
# id>-AlarmHigh/AlarmLow-<id> (Application Auto Scaling User Guide, "Target tracking scaling policies"; the
# service-linked role's AWSApplicationAutoscalingSageMakerEndpointPolicy grants them as alarm:TargetTracking*).
TARGET_TRACKING_ALARM_ACTIONS = ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"]
AUTOSCALING_SERVICE_LINKED_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
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


class DeployRole(PolicyRole):
    """Exposes `role_arn`; `permissions` and `trust_policy` are the policy documents (tests read them)."""

    props: DeployRoleProps

    def __init__(self, scope: Construct, id_: str, props: DeployRoleProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.trust_policy = self._trust_policy()
        statements = [
            *self._state_statements(),
            *self._artifact_statements(),
            *self._sagemaker_statements(),
            *self._execution_role_statements(),
            self._alarm_statement(),
            *(self._scaling_statements() if props.autoscaling else []),
            *self._key_statements(),
        ]
        self._create_role(
            statements,
            policy_name="tritonform-deploy",
            description=f"CI deploys the Triton endpoint {props.endpoint_name} ({props.environment_name}) with this",
        )

    def _iam(self, resource: str) -> str:
        return arn(self.props.partition, "iam", resource, account=self.props.account_id)

    def _s3(self, resource: str) -> str:
        return arn(self.props.partition, "s3", resource)

    def _tagged_for_this_environment(self) -> list[DataAwsIamPolicyDocumentStatementCondition]:
        """Binds key rights to the serving stack's key, which has no ARN yet: provider default tags mark it."""
        return [
            _equals("aws:ResourceTag/Environment", self.props.environment_name),
            _equals("aws:ResourceTag/ManagedBy", "tritonform"),
        ]

    def _trust_policy(self) -> DataAwsIamPolicyDocument:
        """Only GitHub's OIDC tokens for the one subject, and only for STS."""
        return DataAwsIamPolicyDocument(
            self,
            "trust",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    effect="Allow",
                    actions=["sts:AssumeRoleWithWebIdentity"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Federated", identifiers=[self.props.oidc_provider_arn]
                        )
                    ],
                    condition=[
                        _equals(f"{GITHUB_OIDC_HOST}:aud", "sts.amazonaws.com"),
                        _equals(f"{GITHUB_OIDC_HOST}:sub", self.props.github_subject),
                    ],
                )
            ],
        )

    def _state_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """The serving stack's state object and its lock file; listing only that key."""
        state_bucket, key = self._s3(self.props.state_bucket), self.props.state_key
        return [
            _allow("ReadAndWriteThisStacksState", ["s3:GetObject", "s3:PutObject"], [f"{state_bucket}/{key}"]),
            _allow(
                "LockThisStacksState",
                ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                [f"{state_bucket}/{key}.tflock"],
            ),
            _allow("ListOnlyThisStacksState", ["s3:ListBucket"], [state_bucket], [_equals("s3:prefix", key)]),
        ]

    def _artifact_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        artifacts = self._s3(self.props.artifact_bucket)
        return [
            _allow("ManageTheArtifactBucket", BUCKET_ACTIONS, [artifacts]),
            _allow("PublishThisModelsVersions", ARTIFACT_ACTIONS, [f"{artifacts}/{self.props.model_name}/*"]),
        ]

    def _sagemaker_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """The endpoint, its configurations and models (<endpoint>-*), and the model's registry group."""
        endpoint = self.props.endpoint_name.lower()  # SageMaker ARNs carry names in lower case
        group = self.props.model_package_group.lower()
        return [
            _allow(
                "ManageThisEndpoint",
                SAGEMAKER_ACTIONS,
                [
                    self._here("sagemaker", f"endpoint/{endpoint}"),
                    self._here("sagemaker", f"endpoint-config/{endpoint}-*"),
                    self._here("sagemaker", f"model/{endpoint}-*"),
                ],
            ),
            _allow(
                "RegisterThisModelsVersions",
                MODEL_REGISTRY_ACTIONS,
                [
                    self._here("sagemaker", f"model-package-group/{group}"),
                    self._here("sagemaker", f"model-package/{group}/*"),
                ],
            ),
        ]

    def _execution_role_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Managing the one execution role, and passing it to SageMaker only."""
        execution_role = self._iam(f"role/{self.props.execution_role_name}")
        return [
            _allow("ManageTheExecutionRole", EXECUTION_ROLE_ACTIONS, [execution_role]),
            _allow(
                "PassTheExecutionRoleToSageMakerOnly",
                ["iam:PassRole"],
                [execution_role],
                [_equals("iam:PassedToService", "sagemaker.amazonaws.com")],
            ),
        ]

    def _alarm_statement(self) -> DataAwsIamPolicyDocumentStatement:
        alarms = self._here("cloudwatch", f"alarm:{alarm_name(self.props.endpoint_name, '*')}")
        return _allow("ManageThisEndpointsRollbackAlarms", ALARM_ACTIONS, [alarms])

    def _scaling_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Scalable targets (no name to scope by), what registering this endpoint's variant needs on it, the
        target-tracking alarms of its policies, and the service-linked role Application Auto Scaling uses."""
        endpoint = self.props.endpoint_name
        # Alarm names keep the case of the resource id (endpoint/<name>/variant/<variant>); SageMaker ARNs don't.
        tracking_alarms = self._here("cloudwatch", f"alarm:TargetTracking-endpoint/{endpoint}/variant/*")
        return [
            _allow(
                "ScaleThisAccountsTargets",
                SCALING_ACTIONS,
                [self._here("application-autoscaling", "scalable-target/*")],
            ),
            _allow("DescribeScalingHasNoResourceScope", SCALING_DESCRIBE_ACTIONS, ["*"]),
            _allow(
                "LetAutoscalingResizeThisEndpoint",
                SCALED_ENDPOINT_ACTIONS,
                [
                    self._here("sagemaker", f"endpoint/{endpoint.lower()}"),
                    self._here("sagemaker", f"endpoint-config/{endpoint.lower()}-*"),
                ],
            ),
            _allow("ThisEndpointsTargetTrackingAlarms", TARGET_TRACKING_ALARM_ACTIONS, [tracking_alarms]),
            _allow(
                "CreateTheAutoscalingServiceRole",
                ["iam:CreateServiceLinkedRole"],
                [self._iam(f"role/aws-service-role/{AUTOSCALING_SERVICE}/{AUTOSCALING_SERVICE_LINKED_ROLE}")],
                [_equals("iam:AWSServiceName", AUTOSCALING_SERVICE)],
            ),
        ]

    def _key_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Using the environment's own key; or creating, using and administering the one the serving stack
        creates, bound to its tags. Either way SageMaker may take grants on it for its own resources."""
        given_key = self.props.existing_kms_key_arn
        keys = self._here("kms", "key/*")  # the serving stack's key has no ARN yet: its tags bind these rights
        statements = (
            [_allow("UseTheEnvironmentsKey", KEY_USE_ACTIONS, [given_key])]
            if given_key is not None
            else self._created_key_statements(keys)
        )
        statements.append(
            _allow(
                "LetSageMakerTakeGrantsOnTheKey",
                ["kms:CreateGrant"],
                [given_key or keys],
                [
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="Bool", variable="kms:GrantIsForAWSResource", values=["true"]
                    ),
                    *([] if given_key else self._tagged_for_this_environment()),
                ],
            )
        )
        return statements

    def _created_key_statements(self, keys: str) -> list[DataAwsIamPolicyDocumentStatement]:
        return [
            _allow(
                "CreateKeysTaggedForThisEnvironment",
                ["kms:CreateKey", "kms:TagResource"],
                ["*"],
                [
                    _equals("aws:RequestTag/Environment", self.props.environment_name),
                    _equals("aws:RequestTag/ManagedBy", "tritonform"),
                ],
            ),
            _allow(
                "UseAndAdministerThisEnvironmentsKey",
                sorted({*KEY_USE_ACTIONS, *KEY_ADMIN_ACTIONS}),
                [keys],
                self._tagged_for_this_environment(),
            ),
            _allow(
                "ThisEnvironmentsKeyAlias",
                ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                [self._here("kms", self.props.key_alias)],
            ),
            _allow("ListAliasesHasNoResourceScope", ["kms:ListAliases"], ["*"]),
        ]


def _allow(
    sid: str,
    actions: list[str],
    resources: list[str],
    condition: list[DataAwsIamPolicyDocumentStatementCondition] | None = None,
) -> DataAwsIamPolicyDocumentStatement:
    return DataAwsIamPolicyDocumentStatement(
        sid=sid, effect="Allow", actions=actions, resources=resources, condition=condition
    )


def _equals(variable: str, value: str) -> DataAwsIamPolicyDocumentStatementCondition:
    return DataAwsIamPolicyDocumentStatementCondition(test="StringEquals", variable=variable, values=[value])
