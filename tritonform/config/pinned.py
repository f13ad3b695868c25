"""Which state of the model repository an environment runs, and so what `check` and `synth` validate for it.

An environment runs the bytes its release pins (artifact.sha256), not whatever the working tree holds. The
working tree's model_repository/ is validated for an environment only when packaging it reproduces those
bytes (tritonform.release.reproduce): then it is what the environment runs. Otherwise a model change in
progress does not block that environment, and what it runs is said, with what was not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonform.config.release import ReleaseConfig
from tritonform.release.reproduce import reproduces


@dataclass(frozen=True)
class PinnedRepository:
    """The repository state an environment's release pins, as far as this checkout can tell."""

    working_tree: bool
    """Whether the working tree's model_repository/ packages to the release's bytes (and so is validated)."""

    summary: str
    """One line for `check` and `synth`: which state runs, and whether it was validated here."""


def pinned_repository(model_repository: Path, release: ReleaseConfig) -> PinnedRepository:
    version = release.version_id
    artifact = release.artifact
    if reproduces(model_repository, artifact.sha256, artifact.size_bytes):
        return PinnedRepository(True, f"the working tree's model_repository/ (packages to version {version} byte "
                                      "for byte): validated")  # fmt: skip
    source = artifact.source.describe() if artifact.source else "its source is not recorded in the release file"
    if model_repository.is_dir():
        here = "the working tree's model_repository/ packages to other bytes"
    else:
        here = "there is no model_repository/ in this checkout"
    return PinnedRepository(
        False,
        f"version {version}, {source}; {here}, so it is not revalidated here "
        "(`tritonform repo validate` checks the working tree)",
    )
