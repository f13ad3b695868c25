"""Whether a directory is the model repository a release pins: packaging it reproduces the release's bytes.

Packaging is deterministic (tritonform.release.package), so a directory packages to a release's sha256
exactly when it holds the files that release was packaged from. The archive is hashed, never written. A
release does not record which compression it was packaged with, so each level is tried until one matches.

The digests are kept per directory state (every entry's path, size, mtime, inode and mode: what git's index
compares for the same purpose, see gitformat-index(5)), so `check` and `synth` hash a repository once however
many environments they compare with it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO, cast

from tritonform.errors import UserError
from tritonform.release.package import LEVELS, Compression, write_archive

_DIGESTS: dict[tuple[object, ...], tuple[str, int]] = {}
_MAX_KEPT = 32


class _DigestSink:
    """A write-only file that keeps only the sha256 and size of what is written to it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _state(directory: Path) -> tuple[object, ...]:
    entries: list[tuple[str, int, int, int, int]] = []
    for parent, directories, files in os.walk(directory):
        directories.sort()
        for name in sorted([*directories, *files]):
            path = Path(parent) / name
            info = path.lstat()
            entries.append((path.relative_to(directory).as_posix(), info.st_size, info.st_mtime_ns, info.st_ino,
                            info.st_mode))  # fmt: skip
    return (str(directory.resolve()), tuple(entries))


def archive_digest(directory: Path, compression: Compression) -> tuple[str, int] | None:
    """(sha256, size) of the model.tar.gz packaging `directory` would write; None when it cannot be packaged
    (a file name, link or file type packaging refuses, or a file that cannot be read)."""
    try:
        key = (*_state(directory), compression)
        if key not in _DIGESTS:
            sink = _DigestSink()
            write_archive(directory, cast(BinaryIO, sink), compression)
            if len(_DIGESTS) >= _MAX_KEPT:
                _DIGESTS.pop(next(iter(_DIGESTS)))
            _DIGESTS[key] = (sink.digest.hexdigest(), sink.size)
    except (UserError, OSError):
        return None
    return _DIGESTS[key]


def reproduces(directory: Path, sha256: str, size_bytes: int) -> bool:
    """Whether packaging `directory` gives exactly the artifact with this sha256 and size."""
    if not directory.is_dir():
        return False
    for compression in LEVELS:
        if archive_digest(directory, cast(Compression, compression)) == (sha256, size_bytes):
            return True
    return False
