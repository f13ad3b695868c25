"""The plan review of one environment as data: what changes, what a reviewer must look at, and the verdict
that follows from it. Built by assess.py, formatted by render.py (markdown for the pull request, plain text
for a terminal); nothing here knows either format."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from tritonform.config.hardening import ControlOff


class Verdict(StrEnum):
    NO_CHANGE = "no change"
    SAFE = "safe"
    NEEDS_ATTENTION = "needs attention"


@dataclass(frozen=True)
class VersionChange:
    """The model version the environment runs after the change, and the one it ran before."""

    model_name: str
    version_id: str
    status: Literal["new environment", "changed", "unchanged"]
    base_version_id: str | None = None
    sha256: str = ""
    attached_by: str = ""
    commit: str | None = None
    """The git commit the version was attached from; None when attached outside a checkout."""
    reason: str = ""
    packaged_from: str | None = None
    """Where the release file says the artifact was packaged from ("packaged from a modified working tree
    of commit ..."); None when it does not say."""


@dataclass(frozen=True)
class Removal:
    """A resource the plan replaces or destroys; `why` is set where it costs the endpoint (downtime)."""

    action: Literal["replace", "delete"]
    address: str
    why: str | None = None


@dataclass(frozen=True)
class RolloutSummary:
    policy_name: str
    kind: str
    total_s: int
    alarm_count: int
    timeline: tuple[str, ...]


@dataclass(frozen=True)
class AlarmChange:
    """A rollback alarm the plan creates, deletes, updates or replaces (`changed_keys` unless created or
    deleted)."""

    action: str
    name: str
    changed_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnwatchedAlarms:
    """Alarms an endpoint that stays stops watching during rollouts (its rollback configuration changes)."""

    endpoint: str
    alarm_names: tuple[str, ...]


@dataclass(frozen=True)
class InstanceChange:
    """The endpoint configuration's instances before and after, with the steady-state cost difference."""

    old_count: int | None
    old_type: str
    new_count: int | None
    new_type: str
    monthly_delta: float | None
    currency: str


@dataclass(frozen=True)
class UpdateCapacity:
    """What a rollout needs on top of the running fleet, for how long and at what cost."""

    extra_instances: int
    instance_type: str
    gpus: int
    total_s: int
    cost: float | None
    currency: str


@dataclass(frozen=True)
class ChangedResource:
    action: str
    address: str
    changed_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceGroup:
    """Changes to one kind of supporting resource (autoscaling, IAM, KMS, S3)."""

    name: str
    changes: tuple[ChangedResource, ...]


@dataclass(frozen=True)
class Finding:
    """A failed security check (checkov) on one of the environment's resources."""

    check_id: str
    check_name: str
    resource: str


@dataclass(frozen=True)
class PlannedChange:
    action: str
    address: str


@dataclass(frozen=True)
class EnvironmentReview:
    """Everything the review says about one environment; `concerns` decide the verdict."""

    environment: str
    tier: str
    version: VersionChange
    changes: tuple[PlannedChange, ...] = ()
    concerns: tuple[str, ...] = ()
    removals: tuple[Removal, ...] = ()
    rollout: RolloutSummary | None = None
    alarm_changes: tuple[AlarmChange, ...] = ()
    unwatched_alarms: tuple[UnwatchedAlarms, ...] = ()
    instance_changes: tuple[InstanceChange, ...] = ()
    update_capacity: UpdateCapacity | None = None
    resource_groups: tuple[ResourceGroup, ...] = ()
    hardening_off: tuple[ControlOff, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def verdict(self) -> Verdict:
        if not self.changes:
            return Verdict.NO_CHANGE
        return Verdict.NEEDS_ATTENTION if self.concerns else Verdict.SAFE

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is what it is."""
        if self.verdict is Verdict.NO_CHANGE:
            return ["the plan changes nothing"]
        if self.concerns:
            return list(self.concerns)
        if self.version.status == "changed":
            return ["new version through the rollout policy, nothing destroyed"]
        return ["in-place changes only"]
