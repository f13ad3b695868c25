"""The environment's model artifact bucket and the KMS key that encrypts it."""

from __future__ import annotations

from typing import Annotated

from constructs import Construct
from pydantic import Field

from tritonform.config.names import arn
from tritonform.constructs._aws import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
    KmsAlias,
    KmsKey,
    S3Bucket,
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLoggingA,
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
    S3BucketPolicy,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from tritonform.constructs._props import AwsPartition, Props


class ArtifactStoreProps(Props):
    bucket_name: Annotated[str, Field(min_length=3, max_length=63)]
    """The bucket to create; model versions live at <model>/<sha256>/model.tar.gz in it."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """Account that owns the key: its IAM policies, not the key policy, decide who may use it."""

    partition: AwsPartition = "aws"
    """AWS partition of the account. Default aws."""

    key_alias: Annotated[str, Field(pattern=r"^alias/[a-zA-Z0-9/_-]{1,250}$")]
    """Alias for the created key, e.g. alias/tritonform-prod."""

    existing_kms_key_arn: str | None = None
    """Use this key instead of creating one. Default: create a key with yearly rotation."""

    key_needed: bool = True
    """Something (objects, volumes, data capture) is encrypted with the key. False: no key is created.
    Default true."""

    objects_use_kms: bool = True
    """Encrypt objects with the key (SSE-KMS); false uses S3-managed keys (SSE-S3). Default true."""

    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days replaced object versions are kept (1-3650). Default 90."""

    key_deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30
    """Waiting period before a deleted key is gone (7-30). Default 30: the longest, as keys guard data."""

    access_log_bucket: Annotated[str, Field(min_length=3, max_length=63)] | None = None
    """Bucket that receives server access logs under <bucket_name>/. Default None: no access logs."""

    deny_plain_http: bool = True
    """Attach the bucket policy that refuses requests without TLS. Default true; off only for a local
    stand-in that ignores policy conditions (moto would refuse every request)."""


class ModelArtifactStore(Construct):
    """Versioned, KMS-encrypted, private bucket that refuses plain HTTP; exposes bucket and key ARNs."""

    def __init__(self, scope: Construct, id_: str, props: ArtifactStoreProps) -> None:
        super().__init__(scope, id_)
        self.props = props
        self.key: KmsKey | None = None
        if props.existing_kms_key_arn is None and props.key_needed:
            self.key = self._key()
        self.key_arn: str | None = props.existing_kms_key_arn or (self.key.arn if self.key else None)

        self.bucket = S3Bucket(self, "bucket", bucket=props.bucket_name, force_destroy=False)
        self.bucket_arn: str = self.bucket.arn
        self.bucket_name: str = self.bucket.bucket
        self._private_and_versioned()
        self._encryption()
        self._lifecycle()
        if props.access_log_bucket is not None:
            S3BucketLoggingA(
                self,
                "access-logs",
                bucket=self.bucket.id,
                target_bucket=props.access_log_bucket,
                target_prefix=f"{props.bucket_name}/",
            )
        if props.deny_plain_http:
            self._deny_plain_http()

    def _key(self) -> KmsKey:
        """A key with yearly rotation whose policy leaves every decision to the account's IAM policies."""
        props = self.props
        self.key_policy = DataAwsIamPolicyDocument(
            self,
            "key-policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="AccountAdministersAndDelegatesThroughIam",
                    effect="Allow",
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="AWS",
                            identifiers=[arn(props.partition, "iam", "root", account=props.account_id)],
                        )
                    ],
                    actions=["kms:*"],
                    resources=["*"],
                )
            ],
        )
        key = KmsKey(
            self,
            "key",
            description=f"tritonform model artifacts in {props.bucket_name}",
            enable_key_rotation=True,
            deletion_window_in_days=props.key_deletion_window_days,
            policy=self.key_policy.json,
        )
        KmsAlias(self, "alias", name=props.key_alias, target_key_id=key.key_id)
        return key

    def _private_and_versioned(self) -> None:
        """The bucket owner owns every object, nothing is ever public, and replaced objects are kept."""
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=self.bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        self.public_access_block = S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        self.versioning = S3BucketVersioningA(
            self,
            "versioning",
            bucket=self.bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )

    def _encryption(self) -> None:
        """SSE-KMS with the key (and an S3 bucket key to save KMS calls), or S3-managed keys."""
        by_default = (
            S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=self.key_arn
            )
            if self.props.objects_use_kms
            else S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="AES256"
            )
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=self.bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=by_default,
                    bucket_key_enabled=True if self.props.objects_use_kms else None,
                )
            ],
        )

    def _lifecycle(self) -> None:
        """Replaced versions expire after the configured days; abandoned multipart uploads after a week."""
        S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=self.bucket.id,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="expire-replaced-versions-and-abandoned-uploads",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=self.props.noncurrent_version_days
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)
                    ],
                )
            ],
            depends_on=[self.versioning],
        )

    def _deny_plain_http(self) -> None:
        self.bucket_policy_document = DataAwsIamPolicyDocument(
            self,
            "bucket-policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="DenyPlainHttp",
                    effect="Deny",
                    principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="*", identifiers=["*"])],
                    actions=["s3:*"],
                    resources=[self.bucket.arn, f"{self.bucket.arn}/*"],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="Bool", variable="aws:SecureTransport", values=["false"]
                        )
                    ],
                )
            ],
        )
        S3BucketPolicy(
            self,
            "policy",
            bucket=self.bucket.id,
            policy=self.bucket_policy_document.json,
            depends_on=[self.public_access_block],
        )
