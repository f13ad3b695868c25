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
from tritonform.constructs._iam import PolicyRole
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


class ExecutionRole(PolicyRole):
    """Exposes `role_arn`. Every statement is scoped to a named resource unless AWS allows no scoping."""

    props: ExecutionRoleProps

    def __init__(self, scope: Construct, id_: str, props: ExecutionRoleProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.trust_policy = self._trust_policy()
        statements = [
            *self._artifact_statements(),
            *self._image_statements(),
            *self._monitoring_statements(),
            *(self._data_capture_statements() if props.data_capture_prefix is not None else []),
            *(self._vpc_statements() if props.subnet_ids else []),
        ]
        self._create_role(
            statements,
            policy_name="triton-serving",
            description=f"SageMaker execution role for the Triton endpoint {props.endpoint_name}",
        )

    def _trust_policy(self) -> DataAwsIamPolicyDocument:
        """SageMaker, acting for this account only."""
        return DataAwsIamPolicyDocument(
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
                            test="StringEquals", variable="aws:SourceAccount", values=[self.props.account_id]
                        )
                    ],
                )
            ],
        )

    def _artifact_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Reading every version of this model (and decrypting it), nothing else in the bucket."""
        props = self.props
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
        ]
        if props.artifacts_kms_key_arn is not None:
            statements.append(
                DataAwsIamPolicyDocumentStatement(
                    sid="DecryptArtifacts",
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=[props.artifacts_kms_key_arn],
                )
            )
        return statements

    def _image_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        return [
            DataAwsIamPolicyDocumentStatement(
                sid="PullTheTritonImage",
                actions=[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                resources=[self.props.image_repository_arn],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="EcrLoginHasNoResourceScope",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            ),
        ]

    def _monitoring_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """The endpoint's logs, SageMaker's metrics, and reading the endpoint's alarms."""
        log_group = self._here("logs", f"log-group:/aws/sagemaker/Endpoints/{self.props.endpoint_name}")
        return [
            DataAwsIamPolicyDocumentStatement(
                sid="WriteThisEndpointsLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[log_group, f"{log_group}:log-stream:*"],
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
                resources=[self._here("cloudwatch", f"alarm:{self.props.endpoint_name}-*")],
            ),
        ]

    def _data_capture_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Writing captured requests under the capture prefix, encrypted with its key when it has one."""
        props = self.props
        statements = [
            DataAwsIamPolicyDocumentStatement(
                sid="WriteDataCapture",
                actions=["s3:PutObject"],
                resources=[f"{props.artifact_bucket_arn}/{props.data_capture_prefix}*"],
            )
        ]
        if props.data_capture_kms_key_arn is not None:
            statements.append(
                DataAwsIamPolicyDocumentStatement(
                    sid="EncryptDataCapture",
                    actions=["kms:GenerateDataKey", "kms:Encrypt"],
                    resources=[props.data_capture_kms_key_arn],
                )
            )
        return statements

    def _vpc_statements(self) -> list[DataAwsIamPolicyDocumentStatement]:
        """Attaching the instances to the environment's subnets and security groups."""
        props = self.props
        return [
            DataAwsIamPolicyDocumentStatement(sid="DescribeTheVpc", actions=VPC_DESCRIBE_ACTIONS, resources=["*"]),
            DataAwsIamPolicyDocumentStatement(
                sid="CreateInterfacesInTheseSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    self._here("ec2", "network-interface/*"),
                    *(self._here("ec2", f"subnet/{subnet}") for subnet in props.subnet_ids),
                    *(self._here("ec2", f"security-group/{group}") for group in props.security_group_ids),
                ],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="ManageTheInterfaces",
                actions=VPC_INTERFACE_ACTIONS,
                resources=[self._here("ec2", "network-interface/*")],
            ),
        ]
