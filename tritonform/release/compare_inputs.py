"""What `release compare` compares and sends: the baseline (a repository, or a release's version whose bytes
this checkout reproduces), the default model, the settings, and the requests (smoke requests, a file of
them, or captured traffic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tritonform.config import ProjectLayout
from tritonform.config.compare import CompareSettings
from tritonform.config.loader import load_environment
from tritonform.config.pinned import pinned_repository
from tritonform.config.release import ReleaseConfig
from tritonform.documents import parse_model
from tritonform.errors import UserError
from tritonform.rehearsal.load import requests_from_file, smoke_requests
from tritonform.release.compare import Request
from tritonform.triton.contract_extract import only_entry_model
from tritonform.triton.validate import validate_repository


@dataclass(frozen=True)
class Baseline:
    directory: Path
    said: str
    release: ReleaseConfig | None = None


def _releases(layout: ProjectLayout, env: str | None) -> list[tuple[str, ReleaseConfig]]:
    names = [env] if env else layout.environment_names()
    found = []
    for name in names:
        path = layout.release_file(name)
        if path.is_file():
            found.append((name, parse_model(ReleaseConfig, path)))
    return found


@contextmanager
def baseline_directory(layout: ProjectLayout, spec: str, env: str | None) -> Iterator[Baseline]:
    """A repository directory as given, or the repository state of the release (of `env`, or of any
    environment) whose version id or sha256 is `spec`, reproduced from this checkout as `check` does it."""
    given = Path(spec)
    if given.is_dir():
        yield Baseline(given, f"the repository {spec}")
        return
    for name, release in _releases(layout, env):
        if not (release.version_id == spec[:12] and release.artifact.sha256.startswith(spec)):
            continue
        with pinned_repository(layout.root, layout.model_repository, release) as (pinned, directory):
            if directory is None:
                raise UserError.single(
                    f"--baseline {spec}: {name}'s version {release.version_id} is not reproduced by this checkout "
                    f"({pinned.summary}); give the repository it was packaged from",
                    field="--baseline",
                )
            yield Baseline(directory, f"{name}'s version {release.version_id} ({pinned.validated_as})", release)
            return
    raise UserError.single(
        f"--baseline {spec!r} is neither a directory nor the version id of a release" + (f" of {env}" if env else ""),
        field="--baseline",
    )


def settings_for(layout: ProjectLayout, env: str | None) -> CompareSettings:
    """The environment's `release_compare` settings, or the documented defaults without --env."""
    return load_environment(layout, env).release_compare if env else CompareSettings()


def default_model_for(given: str | None, baseline: Baseline, candidate: Path) -> str:
    if given:
        return given
    if baseline.release is not None:
        return baseline.release.model_name
    found = only_entry_model(validate_repository(candidate))
    if found is None:
        raise UserError.single(
            "the candidate has more than one model no ensemble runs: name the default one with --default-model",
            file=candidate,
        )
    return found


def file_or_smoke_requests(requests_file: Path | None, candidate: Path, default_model: str) -> list[Request]:
    """A smoke.yaml-format file of requests, or the candidate's default model's smoke requests."""
    loaded = requests_from_file(requests_file) if requests_file else smoke_requests(candidate, default_model)
    return [Request(request.name, request.body) for request in loaded]
