"""Which commit a release comes from, and whether the packaged files are that commit's (for the audit trail).

Outside a git checkout nothing is known, and nothing is claimed: the commit is None.
"""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path


def _git(args: list[str], cwd: Path, *, strip: bool = True) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() if strip else result.stdout


def source_commit(path: Path) -> str | None:
    commit = _git(["rev-parse", "HEAD"], path)
    return commit if commit and len(commit) == 40 else None


@dataclass(frozen=True)
class TreeState:
    """A directory of a git checkout against the commit checked out: what `release package` records."""

    commit: str | None
    """HEAD (40 hex digits); None outside a git checkout, where nothing below is known either."""

    changes: tuple[str, ...] = ()
    """Paths (relative to the directory) whose packaged bytes are not HEAD's: modified, added, deleted or
    renamed files, and untracked or ignored files that packaging would include."""

    @property
    def modified(self) -> bool | None:
        return None if self.commit is None else bool(self.changes)

    def describe(self) -> str:
        if self.commit is None:
            return "unknown (not a git checkout)"
        if self.changes:
            return f"a modified working tree of {self.commit} ({len(self.changes)} path(s) differ from it)"
        return self.commit


def tree_state(directory: Path, packaged: Collection[str]) -> TreeState:
    """`directory` against HEAD. `packaged` lists the files and directories (relative, '/'-separated) that
    packaging includes: an untracked or ignored file counts only when it would be packaged, since packaging
    skips some names (dot files, __pycache__) and includes ignored files (git status --ignored shows them).
    A tracked file changed, staged, deleted or renamed always counts. Porcelain paths are relative to the
    top of the checkout (git-status(1), "Porcelain Format Version 1")."""
    commit = source_commit(directory)
    top = _git(["rev-parse", "--show-toplevel"], directory)
    if commit is None or top is None:
        return TreeState(None)
    status = _git(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching", "--", "."],
        directory,
        strip=False,
    )
    if status is None:
        return TreeState(None)
    prefix = directory.resolve().relative_to(Path(top).resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    changes: set[str] = set()
    fields = iter(status.split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        paths = [path, next(fields, "")] if "R" in code or "C" in code else [path]  # -z: "XY new\0old\0"
        for changed in paths:
            if not changed.startswith(prefix):
                continue
            relative = changed[len(prefix) :]
            if code in {"??", "!!"} and not _packaged(relative, packaged):
                continue
            changes.add(relative.rstrip("/"))
    return TreeState(commit, tuple(sorted(changes)))


def _packaged(relative: str, packaged: Collection[str]) -> bool:
    """Whether an untracked or ignored path is packaged; a directory (shown with a trailing /) when anything
    in it is."""
    if not relative.endswith("/"):
        return relative in packaged
    return any(name.startswith(relative) for name in packaged)


def export_tree(checkout: Path, commit: str, directory: Path, destination: Path) -> bool:
    """Write `directory` as `commit` holds it into `destination` (git archive of the tree `commit:<path>`);
    False when `checkout` is not a git checkout, `directory` is outside it, or the commit or the directory is
    not in it. The archive is unpacked with tarfile's "data" filter, which refuses absolute paths and links
    that leave `destination` (https://docs.python.org/3/library/tarfile.html#tarfile-extraction-filter)."""
    top = _git(["rev-parse", "--show-toplevel"], checkout)
    if top is None or not directory.resolve().is_relative_to(Path(top).resolve()):
        return False
    relative = directory.resolve().relative_to(Path(top).resolve()).as_posix()
    archive = destination.with_name(destination.name + ".tar")
    try:
        with archive.open("wb") as out:
            result = subprocess.run(
                ["git", "archive", "--format=tar", f"{commit}:{'' if relative == '.' else relative}"],
                cwd=top, stdout=out, stderr=subprocess.DEVNULL, timeout=600, check=False, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        if result.returncode != 0:
            return False
        with tarfile.open(archive) as unpacked:
            unpacked.extractall(destination, filter="data")
    except (OSError, subprocess.TimeoutExpired, tarfile.TarError):
        return False
    finally:
        archive.unlink(missing_ok=True)
    return True
