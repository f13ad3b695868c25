"""AWS clients for the release commands: bounded retries with backoff, short timeouts, clear errors.

The endpoint comes from the standard AWS configuration (AWS_ENDPOINT_URL points every client at a local
stand-in such as a moto server); nothing here names a host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tritonform.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")
MAX_ATTEMPTS = 5  # the first try and four retries, with exponential backoff and jitter (botocore "standard")
RETRIES = Config(retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"}, connect_timeout=10, read_timeout=120)


def client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, config=RETRIES)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def call(action: str, operation: Callable[[], T]) -> T:
    """Run one AWS call; turn what the service says into a UserError that names the action."""
    try:
        return operation()
    except ClientError as err:
        message = err.response.get("Error", {}).get("Message", str(err))
        raise UserError.single(f"{action}: {error_code(err)}: {message}", field=None) from None
    except (BotoCoreError, Boto3Error) as err:  # Boto3Error: e.g. S3UploadFailedError, a managed upload's failure
        raise UserError.single(f"{action}: {err} (after retries)") from None
