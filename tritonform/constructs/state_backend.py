"""Where Terraform keeps a stack's state: S3 (encrypted, S3-native lock file) or, for tests and the
local demo, a file next to the stack."""

from __future__ import annotations

from typing import Annotated, Literal

from cdktf import LocalBackend, S3Backend, TerraformStack
from pydantic import Field

from tritonform.constructs._props import Props


class StateBackendProps(Props):
    kind: Literal["s3", "local"] = "s3"
    """s3 for real environments; local for tests and the stand-in demo. Default s3."""

    bucket: str | None = None
    """State bucket (required for s3)."""

    key: Annotated[str, Field(min_length=1, max_length=1024)]
    """State object key (s3) or file name (local); one per environment."""

    region: str | None = None
    """Region of the state bucket (required for s3)."""


def configure_state_backend(stack: TerraformStack, props: StateBackendProps) -> None:
    """Attach the backend to the stack (cdktf allows one per stack, owned by the stack itself)."""
    if props.kind == "local":
        LocalBackend(stack, path=props.key)
        return
    if props.bucket is None or props.region is None:
        raise ValueError("an s3 state backend needs bucket and region")
    S3Backend(stack, bucket=props.bucket, key=props.key, region=props.region, encrypt=True)
    # cdktf 0.21's S3Backend predates `use_lockfile` (Terraform 1.10+, S3-native locking; DynamoDB locking
    # is deprecated), so it is set as an override on the generated backend block.
    stack.add_override("terraform.backend.s3.use_lockfile", True)
