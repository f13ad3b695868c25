"""The inference contract in the release workflow: published beside the artifact, compared at attach and
promote, and a breaking change refused unless it is acknowledged with a reason.

`release publish` writes `<model>/<sha256>/contract.json` (the canonical JSON) beside model.tar.gz and puts
its digest into the object's metadata (`contract-sha256`), like where it was packaged from. `release attach`
reads both: the release file carries the digest, and the contract of the release it replaces (read the same
way from its own object) is compared with the new one (tritonform/triton/contract_diff.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tritonform.config.release import ReleaseConfig
from tritonform.errors import EXIT_INVALID_INPUT, UserError
from tritonform.release import aws
from tritonform.triton.contract import CONTRACT_FILE, Contract, parse_contract
from tritonform.triton.contract_diff import ContractDiff, diff_contracts

MAX_CONTRACT_BYTES = 8 << 20  # a contract lists tensors and steps: kilobytes, even for hundreds of models
EXIT_REFUSED = 1
MAX_REASON = 500


def contract_key(model_name: str, sha256: str) -> str:
    return f"{model_name}/{sha256}/{CONTRACT_FILE}"


def recorded_contract_digest(metadata: dict[str, str]) -> str | None:
    """The contract digest `release publish` put into the object's metadata; None when it records none."""
    digest = metadata.get("contract-sha256")
    return digest if digest is not None and re.fullmatch(r"[0-9a-f]{64}", digest) else None


def put_contract(s3: Any, bucket: str, model_name: str, sha256: str, contract: Contract) -> None:
    """Write contract.json beside the artifact unless it is there already (it is as content-addressed as the
    artifact: the same bytes packaged for the same image give the same contract)."""
    key = contract_key(model_name, sha256)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return
    except ClientError as err:
        if aws.error_code(err) not in {"404", "NoSuchKey", "NotFound"}:
            raise
    body = contract.canonical_json().encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256",
                  Metadata={"contract-sha256": contract.sha256})  # fmt: skip


def fetch_contract(s3: Any, bucket: str, model_name: str, sha256: str, digest: str) -> Contract:
    """The published contract of a version, proved to be the one its digest names."""
    key = contract_key(model_name, sha256)
    where = f"s3://{bucket}/{key}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_CONTRACT_BYTES + 1)
    except ClientError as err:
        if aws.error_code(err) in {"404", "NoSuchKey", "NotFound"}:
            raise UserError.single(f"{where} is missing, but the version records contract {digest[:12]}: publish "
                                   "its package again to restore it") from None  # fmt: skip
        raise
    if len(body) > MAX_CONTRACT_BYTES:
        raise UserError.single(f"{where} is larger than {MAX_CONTRACT_BYTES:,} bytes: not a contract tritonform wrote")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError.single(f"{where} is not JSON: {err}") from None
    contract = parse_contract(data, Path(where))
    if contract.sha256 != digest:
        raise UserError.single(f"{where} holds contract {contract.sha256[:12]}, but the version records {digest[:12]}")
    return contract


def release_contract(s3: Any, release: ReleaseConfig) -> Contract | None:
    """The contract a release records (None: it records none), read from its own bucket."""
    digest = release.artifact.contract_sha256
    if digest is None:
        return None
    return fetch_contract(s3, release.artifact.bucket, release.model_name, release.artifact.sha256, digest)


@dataclass(frozen=True)
class ContractCheck:
    """What attach found comparing the contracts; `diff` None when one side records none."""

    diff: ContractDiff | None
    note: str
    accepted_breaking: str | None = None


def check_contract_change(
    old: Contract | None, new: Contract | None, *, accept_breaking: str | None, environment: str
) -> ContractCheck:
    """Refuse a breaking change without an acknowledgement (exit 1); a reason given for a change that breaks
    nothing is refused too (exit 2), so the history never records an acknowledgement of nothing."""
    if accept_breaking is not None and not 1 <= len(accept_breaking.strip()) <= MAX_REASON:
        raise UserError.single(f"--accept-breaking needs a reason of 1-{MAX_REASON} characters")
    if old is None or new is None:
        side = "the current release" if old is None else "the new version"
        note = f"contract not compared: {side} records none (published before tritonform recorded contracts)"
        if accept_breaking is not None:
            raise UserError.single(f"--accept-breaking was given, but {note}", exit_code=EXIT_INVALID_INPUT)
        return ContractCheck(None, note)
    diff = diff_contracts(old, new)
    if not diff.breaking:
        if accept_breaking is not None:
            raise UserError.single(f"--accept-breaking was given, but the {diff.summary()}: nothing to acknowledge")
        return ContractCheck(diff, diff.summary())
    if accept_breaking is None:
        lines = "; ".join(change.line() for change in diff.breaking)
        raise UserError.single(
            f"{environment}: the new version breaks the inference contract clients rely on: {lines}. Nothing was "
            'written. If the clients are ready for it, acknowledge it: --accept-breaking "REASON" (recorded in '
            "the history)",
            exit_code=EXIT_REFUSED,
        )
    return ContractCheck(diff, diff.summary(), accept_breaking.strip())


def copy_contract(source_s3: Any, target_s3: Any, release: ReleaseConfig, target_bucket: str) -> None:
    """Promotion copies the version's contract with its bytes, proved to be the one the release records."""
    contract = aws.call("read the contract", lambda: release_contract(source_s3, release))
    if contract is not None:
        model, sha256 = release.model_name, release.artifact.sha256
        aws.call(f"copy the contract to s3://{target_bucket}",
                 lambda: put_contract(target_s3, target_bucket, model, sha256, contract))  # fmt: skip
