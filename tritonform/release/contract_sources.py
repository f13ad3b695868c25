"""Where `tritonform contract diff` reads a contract: a model repository, a package directory (its
manifest.json), or `env:NAME`, the contract of the version an environment's release pins.

For an environment the repository state the release pins is reproduced as `check` does it
(tritonform/config/pinned.py: the working tree or the release's clean source commit, when it packages to
the release's bytes) and its contract read from it; the digest the release file records must match. When
this checkout cannot reproduce it, the contract published beside the artifact is read from the
environment's bucket (AWS credentials needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment
from tritonform.config.release import ReleaseConfig
from tritonform.documents import parse_model
from tritonform.errors import UserError
from tritonform.release import aws
from tritonform.release.contracts import release_contract
from tritonform.release.package import MANIFEST, Manifest
from tritonform.release.pinned_contract import pinned_contract
from tritonform.triton.contract import Contract
from tritonform.triton.contract_extract import repository_contract

ENV_PREFIX = "env:"


@dataclass(frozen=True)
class ContractSource:
    contract: Contract
    described: str
    """Where it was read, in words: `the package in dist/ (version 969c14487609)`."""


def environment_contract(layout: ProjectLayout, env: str) -> ContractSource:
    path = layout.release_file(env)
    if not path.is_file():
        raise UserError.single(f"{ENV_PREFIX}{env}: the environment has no release file", file=path)
    release = parse_model(ReleaseConfig, path)
    what = f"{env}'s release (version {release.version_id})"
    contract = pinned_contract(layout.root, release)
    if not isinstance(contract, str):
        return ContractSource(contract, f"{what}, reproduced from this checkout")
    if release.artifact.contract_sha256 is None:
        raise UserError.single(
            f"{ENV_PREFIX}{env}: {contract}, and its release records no contract (published before tritonform "
            "recorded contracts): compare the repository it was packaged from instead",
            file=path,
        )
    environment = load_environment(layout, env)
    s3 = aws.client("s3", environment.region)
    published = release_contract(s3, release)
    assert published is not None  # the release records a digest
    return ContractSource(published, f"{what}, read from {release.artifact.bucket}")


def contract_source(layout: ProjectLayout, spec: str, default_model: str | None) -> ContractSource:
    """A contract from `env:NAME`, a package directory or a repository directory."""
    if spec.startswith(ENV_PREFIX):
        env = spec.removeprefix(ENV_PREFIX)
        if env not in layout.environment_names():
            known = ", ".join(layout.environment_names())
            raise UserError.single(f"{spec}: no environment {env!r}; environments: {known}")
        return environment_contract(layout, env)
    path = Path(spec)
    if not path.is_dir():
        raise UserError.single(f"{spec}: not a directory, a package directory or env:NAME", file=path)
    if (path / MANIFEST).is_file():
        manifest = Manifest.read(path / MANIFEST)
        contract = manifest.read_contract(path / MANIFEST)
        if contract is None:
            raise UserError.single(
                "records no contract (packaged before tritonform recorded contracts): compare its repository, or "
                "package it again",
                file=path / MANIFEST,
            )
        return ContractSource(contract, f"the package in {spec} (version {manifest.version_id})")
    contract = repository_contract(path, default_model=default_model)
    return ContractSource(contract, f"the repository {spec}")
