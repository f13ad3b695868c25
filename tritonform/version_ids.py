"""A version's short name, shared by the package writer and the release file.

It lives below both so that the configuration loader can reproduce a package (tritonform.release.package)
without an import cycle through tritonform.config.
"""

from __future__ import annotations

VERSION_ID_LENGTH = 12


def version_id_for(sha256: str) -> str:
    """The short, human-sized name of a version: the first 12 hex digits of its sha256."""
    return sha256[:VERSION_ID_LENGTH]
