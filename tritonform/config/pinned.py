"""Which state of the model repository an environment runs, and so what `check` and `synth` validate for it.

An environment runs the bytes its release pins (artifact.sha256), not whatever the working tree holds.
Packaging is deterministic (tritonform.release.reproduce), so a directory is what a release runs exactly
when packaging it reproduces those bytes. The working tree's model_repository/ is validated for an
environment when it reproduces them; otherwise, when the release records a clean source commit, that
commit's model_repository/ is taken from git and validated when it reproduces them. Neither: the
environment is not blocked by a change in progress, and what it runs is said, with what was not checked.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tritonform.config.release import ReleaseConfig
from tritonform.release.git import export_tree
from tritonform.release.reproduce import reproduces

NOT_REVALIDATED = "so it is not revalidated here (`tritonform repo validate` checks the working tree)"


@dataclass(frozen=True)
class PinnedRepository:
    """The repository state an environment's release pins, as far as this checkout can tell."""

    validated_as: str | None
    """How the directory validated for the release is named in problems ("model_repository/", or
    "<commit>:model_repository/" for a commit's tree taken from git); None when none reproduces it."""

    summary: str
    """One line for `check` and `synth`: which state runs, and whether it was validated here."""


@contextmanager
def pinned_repository(
    root: Path, model_repository: Path, release: ReleaseConfig
) -> Iterator[tuple[PinnedRepository, Path | None]]:
    """The release's state and the directory holding it to validate (None: none here), for the with block."""
    version, artifact = release.version_id, release.artifact
    if reproduces(model_repository, artifact.sha256, artifact.size_bytes):
        summary = f"the working tree's model_repository/ (packages to version {version} byte for byte): validated"
        yield PinnedRepository("model_repository/", summary), model_repository
        return
    here = (
        "the working tree's model_repository/ packages to other bytes"
        if model_repository.is_dir()
        else "there is no model_repository/ in this checkout"
    )
    source = artifact.source
    if source is None:
        missing = "its source is not recorded in the release file"
    elif source.commit is None or source.modified is not False:
        missing = source.describe()  # bytes git cannot give back, or not known to be a commit's
    else:
        with tempfile.TemporaryDirectory(prefix="tritonform-pinned-") as scratch:
            tree = Path(scratch) / "model_repository"
            exported = export_tree(root, source.commit, model_repository, tree)
            if exported and reproduces(tree, artifact.sha256, artifact.size_bytes):
                name = f"{source.commit[:12]}:model_repository/"
                summary = (
                    f"{name} from git, {source.describe()} (packages to version {version} byte for byte; "
                    f"{here}): validated"
                )
                yield PinnedRepository(name, summary), tree
                return
        missing = (
            f"{source.describe()}, but that commit's model_repository/ is not in this checkout or packages to "
            "other bytes"
        )
    yield PinnedRepository(None, f"version {version}, {missing}; {here}, {NOT_REVALIDATED}"), None
