"""`tritonform release publish`: the packaged bytes to the environment's artifact bucket, content-addressed.

The key is <model>/<sha256>/model.tar.gz. S3 checks every part with SHA-256 as it arrives; afterwards the
object's size, recorded digest and S3 checksum are compared with the local file. An object that is already
there with the same digest is left alone; one with different bytes is never overwritten. An interrupted
upload leaves no object and no unfinished multipart upload behind.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tritonform.config.names import model_package_group
from tritonform.config.release import artifact_key
from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.contracts import put_contract
from tritonform.release.package import ARTIFACT, MANIFEST, Manifest

PART_BYTES = 64 << 20
TRANSFER = TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=4)


@dataclass(frozen=True)
class Published:
    s3_uri: str
    sha256: str
    size_bytes: int
    uploaded: bool
    model_package_arn: str | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def whole_object_checksum(sha256: str) -> str:
    """The ChecksumSHA256 S3 reports for an object uploaded in one part: its digest, base64."""
    return base64.b64encode(bytes.fromhex(sha256)).decode()


def expected_s3_checksum(path: Path, size: int) -> str:
    """The ChecksumSHA256 S3 reports: the digest itself, or for multipart uploads the digest of the parts'
    digests followed by -<parts>."""
    if size < PART_BYTES:
        return whole_object_checksum(file_sha256(path))
    parts = []
    with path.open("rb") as source:
        while chunk := source.read(PART_BYTES):
            parts.append(hashlib.sha256(chunk).digest())
    return f"{base64.b64encode(hashlib.sha256(b''.join(parts)).digest()).decode()}-{len(parts)}"


class _Progress:
    """A one-line progress bar on stderr (thread-safe: boto3 reports from its worker threads)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet = total, 0, quiet
        self.lock = threading.Lock()

    def __call__(self, amount: int) -> None:
        with self.lock:
            self.done += amount
            if self.quiet:
                return
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            sys.stderr.write(
                f"\r  uploading [{'#' * filled}{'.' * (width - filled)}] {self.done / (1 << 20):.1f}/"
                f"{self.total / (1 << 20):.1f} MiB"
            )
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def load_package(directory: Path) -> tuple[Manifest, Path]:
    """The manifest and artifact of a package directory, with the artifact's bytes checked against it."""
    manifest = Manifest.read(directory / MANIFEST)
    artifact = directory / ARTIFACT
    if not artifact.is_file():
        raise UserError.single("no model.tar.gz beside the manifest", file=artifact)
    if artifact.stat().st_size != manifest.size_bytes or file_sha256(artifact) != manifest.sha256:
        raise UserError.single(
            f"the bytes no longer match the manifest (sha256 {manifest.sha256[:12]}...): repackage", file=artifact
        )
    if manifest.default_model is None:
        raise UserError.single(
            "the package names no default model: package with --default-model", file=directory / MANIFEST
        )
    return manifest, artifact


def _existing(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as err:
        if aws.error_code(err) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return head


def verify_object(s3: Any, bucket: str, key: str, *, sha256: str, size: int, artifact: Path | None) -> dict[str, Any]:
    """Refuse an object whose size, recorded digest or S3 checksum is not what it must be; return its head
    (its metadata says where it was packaged from)."""
    head = _existing(s3, bucket, key)
    where = f"s3://{bucket}/{key}"
    if head is None:
        raise UserError.single(f"{where} is not published")
    recorded = head.get("Metadata", {}).get("sha256")
    if head.get("ContentLength") != size or recorded != sha256:
        raise UserError.single(
            f"{where} holds other bytes (size {head.get('ContentLength')}, sha256 {recorded}); expected {size} "
            f"bytes with sha256 {sha256}"
        )
    checksum = head.get("ChecksumSHA256")
    if checksum is None:
        raise UserError.single(f"{where} has no SHA-256 checksum: publish it with tritonform release publish")
    if artifact is not None:
        wanted = expected_s3_checksum(artifact, size)
    elif "-" not in checksum:
        wanted = whole_object_checksum(sha256)
    else:
        return head  # a multipart checksum can only be recomputed from the bytes; the recorded digest matched
    # S3 reports a multipart (composite) checksum as "<digest of part digests>-<parts>"; moto leaves the
    # "-<parts>" suffix off (a stand-in gap), so the digest part is what is compared.
    if checksum.split("-")[0] != wanted.split("-")[0]:
        raise UserError.single(f"{where}: S3 checksum {checksum} does not match the bytes (expected {wanted})")
    return head


def _abort_unfinished(s3: Any, bucket: str, key: str) -> None:
    try:
        uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
        for upload in uploads:
            if upload["Key"] == key:
                s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
    except ClientError:
        pass  # best effort: the bucket's lifecycle rule aborts abandoned uploads after 7 days as well


def publish(
    package_dir: Path, *, bucket: str, region: str, register: bool = False, image_uri: str | None = None,
    quiet: bool = False,
) -> Published:  # fmt: skip
    manifest, artifact = load_package(package_dir)
    assert manifest.default_model is not None
    contract = manifest.read_contract(package_dir / MANIFEST)
    key = artifact_key(manifest.default_model, manifest.sha256)
    s3 = aws.client("s3", region)
    existing = aws.call(f"look up s3://{bucket}/{key}", lambda: _existing(s3, bucket, key))
    uploaded = False
    if existing is None:
        metadata = {"sha256": manifest.sha256, "version-id": manifest.version_id}
        if manifest.source_commit:
            metadata["source-commit"] = manifest.source_commit
        if manifest.source_modified is not None:  # what `release attach` records as artifact.source
            metadata["source-modified"] = "true" if manifest.source_modified else "false"
        if contract is not None:  # what `release attach` records as artifact.contract_sha256
            metadata["contract-sha256"] = contract.sha256
        _abort_unfinished(s3, bucket, key)  # parts left by a killed earlier run
        try:
            aws.call(
                f"upload to s3://{bucket}/{key}",
                lambda: s3.upload_file(
                    str(artifact), bucket, key,
                    ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": metadata},
                    Config=TRANSFER, Callback=_Progress(manifest.size_bytes, quiet),
                ),
            )  # fmt: skip
        except BaseException:
            _abort_unfinished(s3, bucket, key)  # boto3 aborts on errors; this covers interrupts too
            raise
        uploaded = True
    aws.call(
        "verify the upload",
        lambda: verify_object(s3, bucket, key, sha256=manifest.sha256, size=manifest.size_bytes, artifact=artifact),
    )
    if contract is not None:
        aws.call("publish the contract", lambda: put_contract(s3, bucket, manifest.default_model or "", manifest.sha256,
                                                              contract))  # fmt: skip
    package_arn = None
    if register:
        if image_uri is None:
            raise UserError.single("registering a model package needs the Triton image URI")
        package_arn = register_model_package(manifest, f"s3://{bucket}/{key}", image_uri, region)
    return Published(f"s3://{bucket}/{key}", manifest.sha256, manifest.size_bytes, uploaded, package_arn)


def package_carries(package: dict[str, Any], sha256: str) -> bool:
    """A model package is the version when its metadata or its content-addressed artifact says so (moto
    drops CustomerMetadataProperties on UpdateModelPackage; the artifact URL survives)."""
    if package.get("CustomerMetadataProperties", {}).get("sha256") == sha256:
        return True
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    return any(f"/{sha256}/" in container.get("ModelDataUrl", "") for container in containers)


def register_model_package(manifest: Manifest, s3_uri: str, image_uri: str, region: str) -> str:
    """One model package group per model; each version a package pending manual approval."""
    assert manifest.default_model is not None
    sagemaker = aws.client("sagemaker", region)
    group = model_package_group(manifest.default_model)
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError:
        aws.call(
            f"create model package group {group}",
            lambda: sagemaker.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription=f"tritonform: {manifest.default_model}"
            ),
        )
    existing = aws.call(
        "list model packages",
        lambda: sagemaker.list_model_packages(ModelPackageGroupName=group).get("ModelPackageSummaryList", []),
    )
    for summary in existing:
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package_carries(described, manifest.sha256):
            return str(summary["ModelPackageArn"])
    created = aws.call(
        f"register version {manifest.version_id} in {group}",
        lambda: sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"version {manifest.version_id}",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": image_uri, "ModelDataUrl": s3_uri}],
                "SupportedContentTypes": ["application/json", "application/octet-stream"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={
                "sha256": manifest.sha256,
                "version_id": manifest.version_id,
                "source_commit": manifest.source_commit or "unknown",
            },
        ),
    )
    return str(created["ModelPackageArn"])
