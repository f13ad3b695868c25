"""Which commit a release comes from (for the audit trail); None outside a git checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def source_commit(path: Path) -> str | None:
    commit = _git(["rev-parse", "HEAD"], path)
    return commit if commit and len(commit) == 40 else None


def has_uncommitted_changes(path: Path) -> bool:
    status = _git(["status", "--porcelain", "--", "."], path)
    return bool(status)
