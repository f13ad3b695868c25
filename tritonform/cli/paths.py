"""The path arguments of every command, checked when the command line is parsed, in one place.

Each kind of path is an argparse `type=`: a wrong shape (a file where a directory is expected or the
reverse, a pipe, a path through a file such as `a_file/sub`, a location that cannot be written) is one
message naming the argument and exit 2 (argparse reports an ArgumentTypeError as a usage error, which
common.Parser exits 2 for), before the command reads or writes anything. A missing input is refused; a
missing output directory (and the missing directories above an output) is created when the command writes
there, as synth does, by `prepare_output_directory` and `write_output_file`.
"""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "input_directory",
    "input_file",
    "output_directory",
    "output_file",
    "prepare_output_directory",
    "write_output_file",
]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or other special file"


def _status(path: Path) -> os.stat_result | None:
    """The path's status (following links), or None when nothing is there; a path through a file or a
    dangling link reads as missing, and `_blocking_ancestor` then says why."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{path}: cannot be examined: {err.strerror}") from None


def _blocking_ancestor(path: Path) -> tuple[Path, os.stat_result | None]:
    """The nearest existing directory above a missing `path`, or the first existing non-directory on the way
    (the `a_file` of `a_file/sub`), with its status."""
    for ancestor in path.absolute().parents:
        status = _status(ancestor)
        if status is not None:
            return ancestor, status
    return Path(path.absolute().anchor), None


def _check_creatable(path: Path) -> None:
    """A missing output: every existing directory above it must be a directory this user can write in."""
    ancestor, status = _blocking_ancestor(path)
    if status is not None and not stat.S_ISDIR(status.st_mode):
        raise argparse.ArgumentTypeError(
            f"{path}: cannot be created: {ancestor} is {_kind(status.st_mode)}, not a directory"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{path}: cannot be created: {ancestor} is not writable")


def _refuse_trailing_slash(text: str, path: Path) -> None:
    """`file/` names a directory to the system (pathlib drops the slash, so say it here)."""
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{path}/: names a directory, but a file is expected")


def input_directory(text: str) -> Path:
    """A directory that must exist (a project root, a package, a repository, plans to read)."""
    return _existing(Path(text), "directory", stat.S_ISDIR, os.R_OK | os.X_OK)


def input_file(text: str) -> Path:
    """A regular file that must exist: a pipe or a device would block or never end, a directory is a slip."""
    path = Path(text)
    _refuse_trailing_slash(text, path)
    return _existing(path, "file", stat.S_ISREG, os.R_OK)


def _existing(path: Path, kind: str, is_kind: Callable[[int], bool], access: int) -> Path:
    """`path` if it exists, is a `kind` (by its mode) and grants `access`; else the error saying which."""
    status = _status(path)
    if status is None:
        _, blocker = _blocking_ancestor(path)
        why = "" if blocker is None or stat.S_ISDIR(blocker.st_mode) else " (a path through a file)"
        raise argparse.ArgumentTypeError(f"{path}: no such {kind}{why}")
    if not is_kind(status.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: is {_kind(status.st_mode)}, but a {kind} is expected")
    if not os.access(path, access):
        raise argparse.ArgumentTypeError(f"{path}: {kind} not readable")
    return path


def output_directory(text: str) -> Path:
    """A directory to write into: an existing one, or one that can be created (it is, on writing)."""
    path = Path(text)
    status = _status(path)
    if status is None:
        _check_creatable(path)
    elif not stat.S_ISDIR(status.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: is {_kind(status.st_mode)}, but a directory is expected")
    elif not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{path}: directory not writable")
    return path


def output_file(text: str) -> Path:
    """A file to write (replaced whole if it exists): never a directory, and never a pipe or a device,
    whose reader would get whatever a failed run left."""
    path = Path(text)
    _refuse_trailing_slash(text, path)
    status = _status(path)
    if status is None:
        _check_creatable(path)
    elif not stat.S_ISREG(status.st_mode):
        raise argparse.ArgumentTypeError(f"{path}: is {_kind(status.st_mode)}, but a file is expected")
    elif not os.access(path.absolute().parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{path}: cannot be replaced: {path.absolute().parent} is not writable")
    return path


def prepare_output_directory(path: Path) -> Path:
    """Create a checked output directory and the missing ones above it (as `mkdir -p` does)."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_output_file(path: Path, text: str) -> None:
    """Write the whole text or nothing: a temporary file beside `path`, renamed over it once complete."""
    prepare_output_directory(path.absolute().parent)
    handle, temporary = tempfile.mkstemp(dir=path.absolute().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes it private; give it the mode open() would
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current
