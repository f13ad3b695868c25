"""The release file: which exact bytes an environment runs, in which image, and how they got there.

environments/releases/<env>.yaml is written only by `tritonform release attach` (through a pull request)
and read by synthesis. Everything in it is content-addressed: the version id is derived from the
artifact's sha256, and the artifact's S3 key contains the sha256.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from tritonform import version_ids
from tritonform.config.triton_images import parse_image_uri
from tritonform.documents import FieldError, FrozenModel

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
ModelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")]
CommitId = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
VERSION_ID_LENGTH = version_ids.VERSION_ID_LENGTH
version_id_for = version_ids.version_id_for
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S+)$")


def artifact_key(model_name: str, sha256: str) -> str:
    """The content-addressed S3 key every published version lives at."""
    return f"{model_name}/{sha256}/model.tar.gz"


class ArtifactSource(FrozenModel):
    """The state of the project the artifact was packaged from, as `release package` recorded it."""

    commit: CommitId | None
    """The git commit (40 hex digits) checked out when it was packaged; null outside a git checkout."""

    modified: bool | None
    """true: packaged with --allow-modified from a working tree whose model repository differed from that
    commit (the bytes are in no commit); false: the repository was exactly the commit's; null: not known."""

    def describe(self) -> str:
        """One phrase for the review and `check`: never more than the record says."""
        if self.commit is None:
            return "packaged outside a git checkout"
        if self.modified is None:
            return f"packaged from commit {self.commit[:12]} (whether its working tree was modified: not recorded)"
        if self.modified:
            return f"packaged from a modified working tree of commit {self.commit[:12]}"
        return f"packaged from commit {self.commit[:12]}"


class Artifact(FrozenModel):
    """The packaged model repository (model.tar.gz)."""

    s3_uri: Annotated[str, Field(max_length=1024)]
    """s3://<bucket>/<model>/<sha256>/model.tar.gz: content-addressed, never overwritten."""

    sha256: Sha256
    """sha256 of model.tar.gz, lower-case hex."""

    size_bytes: Annotated[int, Field(ge=1)]
    """Size of model.tar.gz in bytes."""

    source: ArtifactSource | None = None
    """Where the artifact was packaged from (its manifest, carried by the S3 object's metadata); absent when
    the published object does not say (published before tritonform recorded it)."""

    contract_sha256: Sha256 | None = None
    """sha256 of the version's inference contract (its inputs, outputs, batching and ensemble wiring; the
    canonical JSON `release package` records in manifest.json and `release publish` puts beside the object);
    absent when the published object records none (published before tritonform recorded it)."""

    @field_validator("s3_uri")
    @classmethod
    def _is_s3_uri(cls, value: str) -> str:
        if not _S3_URI.match(value):
            raise ValueError("must look like s3://<bucket>/<model>/<sha256>/model.tar.gz")
        return value

    @property
    def bucket(self) -> str:
        match = _S3_URI.match(self.s3_uri)
        assert match is not None  # checked by the validator
        return match["bucket"]

    @property
    def key(self) -> str:
        match = _S3_URI.match(self.s3_uri)
        assert match is not None
        return match["key"]


class TritonImageRef(FrozenModel):
    """The SageMaker Triton container image, pinned by version and registry."""

    version: Annotated[str, Field(pattern=r"^[0-9]{2}\.[0-9]{2}$")]
    """Triton release of the image, e.g. 24.09 (the NGC YY.MM numbering)."""

    uri: str
    """Full ECR image URI as resolved by the sagemaker SDK for the environment's region."""

    @model_validator(mode="after")
    def _uri_matches_version(self) -> Self:
        parsed = parse_image_uri(self.uri)
        if parsed is None:
            raise FieldError(
                "uri",
                f"{self.uri!r} is not a SageMaker Triton image URI "
                "(<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-tritonserver:<YY.MM>-py3)",
            )
        if parsed.version != self.version:
            raise FieldError("uri", f"the URI's tag is {parsed.version}-py3 but version says {self.version}")
        return self


class Attachment(FrozenModel):
    """Who attached this version to the environment, when, from which commit, and why."""

    by: Annotated[str, Field(min_length=1, max_length=200)]
    """The actor: a person's or CI's identity."""

    at: Annotated[datetime, Field(strict=False)]
    """When, as an ISO 8601 UTC timestamp."""

    commit: CommitId | None
    """The project's git commit (40 hex digits) the attach ran from; null when it ran outside a git checkout."""

    reason: Annotated[str, Field(min_length=1, max_length=500)] = "release"
    """Why: a release, a promotion from another environment, a rollback."""

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None or value.utcoffset().total_seconds() != 0:  # type: ignore[union-attr]
            raise ValueError("must be a UTC timestamp, e.g. 2026-01-31T12:00:00Z")
        return value


class ReleaseConfig(FrozenModel):
    """environments/releases/<env>.yaml."""

    schema_version: Literal[1] = 1
    """Format version of this file. Always 1."""

    model_name: ModelName
    """The Triton model SageMaker serves by default (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME)."""

    version_id: Annotated[str, Field(pattern=rf"^[0-9a-f]{{{VERSION_ID_LENGTH}}}$")]
    """The first 12 hex digits of the artifact's sha256; names the endpoint configuration."""

    artifact: Artifact
    triton_image: TritonImageRef
    attached: Attachment

    @model_validator(mode="after")
    def _content_addressed(self) -> Self:
        if self.version_id != version_id_for(self.artifact.sha256):
            raise FieldError(
                "version_id",
                f"must be the first {VERSION_ID_LENGTH} hex digits of artifact.sha256 "
                f"({version_id_for(self.artifact.sha256)}), not {self.version_id}",
            )
        expected_key = artifact_key(self.model_name, self.artifact.sha256)
        if self.artifact.key != expected_key:
            raise FieldError(
                "artifact.s3_uri",
                f"the key must be the content-addressed {expected_key}, not {self.artifact.key}",
            )
        return self
