"""The contract of the version a release pins, read from the repository state that packages to its bytes
(tritonform/config/pinned.py: the checkout's model_repository/ or the release's clean source commit), without
AWS; checked against the digest the release file records."""

from __future__ import annotations

from pathlib import Path

from tritonform.config.pinned import pinned_repository
from tritonform.config.release import ReleaseConfig
from tritonform.errors import UserError
from tritonform.triton.contract import Contract
from tritonform.triton.contract_extract import repository_contract


def pinned_contract(root: Path, release: ReleaseConfig) -> Contract | str:
    """The contract of the version `release` pins, read in the checkout at `root`; or why it cannot be.

    A release does not record the image version its contract was packaged for (`release package
    --triton-version`), so with a recorded digest both readings are tried against it."""
    with pinned_repository(root, root / "model_repository", release) as (_state, directory):
        if directory is None:
            return f"version {release.version_id} is not reproduced by its checkout"
        try:
            candidates = [
                repository_contract(directory, default_model=release.model_name, triton_version=version)
                for version in (release.triton_image.version, None)
            ]
        except UserError:
            return f"version {release.version_id}'s repository does not validate"
    recorded = release.artifact.contract_sha256
    if recorded is None:
        return candidates[0]
    found = next((contract for contract in candidates if contract.sha256 == recorded), None)
    return found or f"version {release.version_id}'s repository does not give the contract its release records"
