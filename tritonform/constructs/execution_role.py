"""The IAM role SageMaker assumes to run the Triton container: only what serving one model needs."""

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

# What SageMaker does with the role to attach a VPC-configured model's instances to the customer's subnets.
# The Describe calls support no resource-level scoping (IAM's service authorization reference); the others
# are scoped to the environment's subnets, security groups and the account's network interfaces.
VPC_DESCRIBE_ACTIONS = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]
VPC_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
]


class ExecutionRoleProps(RoleProps):
    endpoint_name: Annotated[str, Field(min_length=1)]
    """Scopes logs and alarms to this endpoint's names."""

    artifact_bucket_arn: str
    """The artifact bucket (a token is fine)."""

    model_name: Annotated[str, Field(min_length=1)]
    """Reads are limited to <bucket>/<model_name>/*: every version of this model, nothing else."""

    artifacts_kms_key_arn: str | None = None
    """The key the artifacts are encrypted with. Default None: S3-managed keys, nothing to decrypt."""

    data_capture_kms_key_arn: str | None = None
    """The key captured data is encrypted with. Default None: S3-managed keys."""

    image_repository_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$")]
    """The ECR repository of the pinned Triton image."""

    data_capture_prefix: str | None = None
    """Where data capture writes in the artifact bucket. Default: no capture, no write access."""

    subnet_ids: list[str] = []
    """The VPC subnets the instances attach to; network-interface actions are granted only for these.
    Default none (no VPC, no EC2 actions)."""

    security_group_ids: list[str] = []
    """The security groups the instances' interfaces get. Default none."""


class ExecutionRole(Construct):
    """Exposes `role_arn`. Every statement is scoped to a named resource unless AWS allows no scoping."""

    def __init__(self, scope: Construct, id_: str, props: ExecutionRoleProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        arn = f"arn:{props.partition}"
        self.trust_policy = DataAwsIamPolicyDocument(
            self,
            "trust",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    effect="Allow",
                    actions=["sts:AssumeRole"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Service", identifiers=["sagemaker.amazonaws.com"]
                        )
                    ],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable="aws:SourceAccount", values=[props.account_id]
                        )
                    ],
                )
            ],
        )
        statements = [
            DataAwsIamPolicyDocumentStatement(
                sid="ReadThisModelsArtifacts",
                actions=["s3:GetObject"],
                resources=[f"{props.artifact_bucket_arn}/{props.model_name}/*"],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="ListThisModelsPrefix",
                actions=["s3:ListBucket"],
                resources=[props.artifact_bucket_arn],
                condition=[
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="StringLike", variable="s3:prefix", values=[f"{props.model_name}/*"]
                    )
                ],
            ),
            *(
                [
                    DataAwsIamPolicyDocumentStatement(
                        sid="DecryptArtifacts",
                        actions=["kms:Decrypt", "kms:DescribeKey"],
                        resources=[props.artifacts_kms_key_arn],
                    )
                ]
                if props.artifacts_kms_key_arn is not None
                else []
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="PullTheTritonImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[props.image_repository_arn],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="EcrLoginHasNoResourceScope",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="WriteThisEndpointsLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[
                    f"{arn}:logs:{props.region}:{props.account_id}:log-group:/aws/sagemaker/Endpoints/"
                    f"{props.endpoint_name}",
                    f"{arn}:logs:{props.region}:{props.account_id}:log-group:/aws/sagemaker/Endpoints/"
                    f"{props.endpoint_name}:log-stream:*",
                ],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="PublishSageMakerMetricsOnly",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                condition=[
                    DataAwsIamPolicyDocumentStatementCondition(
                        test="StringLike", variable="cloudwatch:namespace", values=["/aws/sagemaker/*"]
                    )
                ],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="ReadThisEndpointsRollbackAlarms",
                actions=["cloudwatch:DescribeAlarms"],
                resources=[f"{arn}:cloudwatch:{props.region}:{props.account_id}:alarm:{props.endpoint_name}-*"],
            ),
        ]
        if props.data_capture_prefix is not None:
            statements.append(
                DataAwsIamPolicyDocumentStatement(
                    sid="WriteDataCapture",
                    actions=["s3:PutObject"],
                    resources=[f"{props.artifact_bucket_arn}/{props.data_capture_prefix}*"],
                )
            )
            if props.data_capture_kms_key_arn is not None:
                statements.append(
                    DataAwsIamPolicyDocumentStatement(
                        sid="EncryptDataCapture",
                        actions=["kms:GenerateDataKey", "kms:Encrypt"],
                        resources=[props.data_capture_kms_key_arn],
                    )
                )
        if props.subnet_ids:
            ec2 = f"{arn}:ec2:{props.region}:{props.account_id}"
            statements += [
                DataAwsIamPolicyDocumentStatement(sid="DescribeTheVpc", actions=VPC_DESCRIBE_ACTIONS, resources=["*"]),
                DataAwsIamPolicyDocumentStatement(
                    sid="CreateInterfacesInTheseSubnets",
                    actions=["ec2:CreateNetworkInterface"],
                    resources=[
                        f"{ec2}:network-interface/*",
                        *(f"{ec2}:subnet/{subnet}" for subnet in props.subnet_ids),
                        *(f"{ec2}:security-group/{group}" for group in props.security_group_ids),
                    ],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="ManageTheInterfaces",
                    actions=VPC_INTERFACE_ACTIONS,
                    resources=[f"{ec2}:network-interface/*"],
                ),
            ]
        self.permissions = DataAwsIamPolicyDocument(self, "permissions", statement=statements)
        self.role, self.policy = role_with_policy(
            self,
            props,
            trust=self.trust_policy,
            permissions=self.permissions,
            policy_name="triton-serving",
            description=f"SageMaker execution role for the Triton endpoint {props.endpoint_name}",
        )
        self.role_arn: str = self.role.arn
