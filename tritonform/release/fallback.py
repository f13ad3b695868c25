"""The fallback release: the release an environment's serving stack keeps declared next to the current one.

After SageMaker rolls an update back, the endpoint runs the configuration before, but Terraform has recorded
the new one as applied (terraform-provider-aws issue 48997) and would destroy the one that runs. So the stack
declares the model and configuration of the latest release seen live as well, until a newer release has
been verified live. Which release that is comes from the environment's history alone: synthesis stays pure.
"""

from __future__ import annotations

from typing import Literal

from tritonform.config import ProjectLayout
from tritonform.config.release import Attachment, ReleaseConfig
from tritonform.release.history import (
    EmergencySwitch,
    Entry,
    LiveRecord,
    ReleaseSnapshot,
    history_file,
    read_entries,
    restorable,
)


def last_verified_live(entries: list[Entry], *, other_than: ReleaseConfig) -> tuple[Entry, ReleaseSnapshot] | None:
    """The latest release the history shows verified live (a deploy that verified it, `release watch` seeing
    it in service, an emergency switch to it) other than `other_than`, skipping a configuration an emergency
    switch later left: the release the serving stack keeps declared as the fallback."""
    left: set[str] = set()
    for entry in reversed(entries):
        record = entry.record
        if isinstance(record, EmergencySwitch):
            left.add(record.from_.live_configuration)
        live = record.verified_live() if isinstance(record, LiveRecord) else None
        if live is not None and live[1] not in left and live[0].version_id != other_than.version_id:
            return entry, live[0]
    return None


def fallback_release(layout: ProjectLayout, env: str, current: ReleaseConfig) -> ReleaseConfig | None:
    """The fallback release of `env` (last_verified_live), read from its history alone; None without one."""
    found = last_verified_live(read_entries(history_file(layout, env)), other_than=current)
    if found is None:
        return None
    entry, _ = found
    record = entry.record
    side: Literal["release", "to"] = record.SNAPSHOT_FIELD if isinstance(record, LiveRecord) else "to"
    seen = Attachment(by=record.actor, at=record.at, commit=record.commit, reason="verified live: the fallback")
    return restorable(entry, side, seen)
