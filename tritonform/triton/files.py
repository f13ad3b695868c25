"""Which files of a model repository can ship: the rules `repo validate` and `release package` share, so a
repository the validator accepts is one the packager can archive byte for byte.

Every name must unpack to the same file on any system SageMaker or a developer unpacks it on, and nothing
may reach outside the repository or be something a tar archive cannot hold as a plain file.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tritonform.errors import Problem

# Never shipped: caches and editor or VCS metadata (and every other dot file).
SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".DS_Store"})


def skipped(entry: Path) -> bool:
    """Left out of the archive (and of these checks): caches, dot files, compiled Python."""
    return entry.name in SKIPPED_NAMES or entry.name.startswith(".") or entry.suffix == ".pyc"


def unsafe_name(name: str) -> str | None:
    """Why a name cannot go into the archive, or None.

    Names come from listing a directory, so they are never "." or ".." and hold no "/"; a backslash is
    a separator where the archive may be unpacked on Windows, and "..\\" in a name climbs out there.
    """
    if "\\" in name:
        return "contains a backslash (a path separator on Windows)"
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in name):
        return "contains a control character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def shippable_entries(repository: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """(archive name, path) of every directory and file that ships, sorted, and the problems with the rest:
    names that do not unpack the same everywhere, links leaving the repository, devices, sockets, pipes."""
    root = repository.resolve()
    stack = [root]
    found: list[tuple[str, Path]] = []
    problems: list[Problem] = []
    while stack:
        directory = stack.pop()
        for entry in sorted(directory.iterdir()):
            if skipped(entry):
                continue
            unsafe = unsafe_name(entry.name)
            if unsafe:
                problems.append(Problem(entry, None, f"file name {entry.name!r} {unsafe}: rename it"))
                continue
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                target = entry.resolve()
                if not target.is_relative_to(root):
                    problems.append(Problem(entry, None, f"symbolic link to {target}, outside the repository"))
                    continue
                if not target.exists():
                    problems.append(Problem(entry, None, f"symbolic link to {target}, which does not exist"))
                    continue
                mode = target.stat().st_mode
            if stat.S_ISDIR(mode):
                found.append((entry.relative_to(root).as_posix(), entry))
                if not entry.is_symlink():
                    stack.append(entry)
            elif stat.S_ISREG(mode):
                found.append((entry.relative_to(root).as_posix(), entry))
            else:
                problems.append(Problem(entry, None, "not a regular file or directory (device, socket or pipe)"))
    return sorted(found), problems
