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
    IamRole,
    IamRolePolicy,
)
from tritonform.constructs._props import AwsPartition, Props

# Network interfaces in the customer's VPC: SageMaker documents these for VPC-attached models; the
# ec2:Describe* and CreateNetworkInterface calls do not support resource-level scoping.
_VPC_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]


class ExecutionRoleProps(Props):
    role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")]
    """IAM role name."""

    account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(min_length=1)]
    partition: AwsPartition = "aws"
    """AWS partition. Default aws."""

    endpoint_name: Annotated[str, Field(min_length=1)]
    """Scopes logs and alarms to this endpoint's names."""

    artifact_bucket_arn: str
    """The artifact bucket (a token is fine)."""

    model_name: Annotated[str, Field(min_length=1)]
    """Reads are limited to <bucket>/<model_name>/*: every version of this model, nothing else."""

    kms_key_arn: str
    """The key the artifacts (and data capture) are encrypted with."""

    image_repository_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/.+$")]
    """The ECR repository of the pinned Triton image."""

    data_capture_prefix: str | None = None
    """Where data capture writes in the artifact bucket. Default: no capture, no write access."""

    in_vpc: bool = False
    """Grant the network-interface actions SageMaker needs to attach to the VPC. Default false."""


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
            DataAwsIamPolicyDocumentStatement(
                sid="DecryptArtifacts",
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=[props.kms_key_arn],
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
            statements += [
                DataAwsIamPolicyDocumentStatement(
                    sid="WriteDataCapture",
                    actions=["s3:PutObject"],
                    resources=[f"{props.artifact_bucket_arn}/{props.data_capture_prefix}*"],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="EncryptDataCapture",
                    actions=["kms:GenerateDataKey", "kms:Encrypt"],
                    resources=[props.kms_key_arn],
                ),
            ]
        if props.in_vpc:
            statements.append(
                DataAwsIamPolicyDocumentStatement(sid="AttachToTheVpc", actions=_VPC_ACTIONS, resources=["*"])
            )
        self.permissions = DataAwsIamPolicyDocument(self, "permissions", statement=statements)
        self.role = IamRole(
            self,
            "role",
            name=props.role_name,
            assume_role_policy=self.trust_policy.json,
            description=f"SageMaker execution role for the Triton endpoint {props.endpoint_name}",
            max_session_duration=3600,
        )
        self.policy = IamRolePolicy(
            self, "policy", name="triton-serving", role=self.role.id, policy=self.permissions.json
        )
        self.role_arn: str = self.role.arn
