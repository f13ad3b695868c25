"""The plan review of one environment as data: what changes, what a reviewer must look at, and the verdict
that follows from it. Built by assess.py, formatted by render.py (markdown for the pull request, plain text
for a terminal); nothing here knows either format."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Literal

from tritonform.config.hardening import ControlOff
from tritonform.review.values import AttributeChange

__all__ = ["AttributeChange"]  # part of the review's data, defined beside the plan values it is read from


class BaseNotGiven(Enum):
    """No base checkout was given (`--base`): the version before the change is unknown, not absent."""

    BASE_NOT_GIVEN = "base not given"


BASE_NOT_GIVEN = BaseNotGiven.BASE_NOT_GIVEN


class Verdict(StrEnum):
    NO_CHANGE = "no change"
    SAFE = "safe"
    NEEDS_ATTENTION = "needs attention"


@dataclass(frozen=True)
class VersionChange:
    """The model version the environment runs after the change, and the one it ran before."""

    model_name: str
    version_id: str
    status: Literal["new environment", "changed", "unchanged", "base not given"]
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
class ContractReview:
    """The inference contract of the version before and after (tritonform contract diff), where known."""

    status: Literal["unchanged", "compatible", "breaking", "not known"]
    summary: str
    """One line: the digests and the verdict, or why the change is not known."""
    changes: tuple[str, ...] = ()
    """Each change in words (`breaking: text_embedder: output EMBEDDING removed (...)`)."""


@dataclass(frozen=True)
class Removal:
    """A resource the plan replaces or destroys; `why` is set where it costs the endpoint (downtime) or
    takes a protection with it."""

    action: Literal["replace", "delete"]
    address: str
    why: str | None = None


@dataclass(frozen=True)
class Retirement:
    """A model or configuration the plan destroys that is neither what the endpoint runs (before or after)
    nor the stack's declared fallback: an older release retired once a newer one was verified live."""

    address: str
    kind: Literal["model", "configuration"]
    name: str
    version_id: str | None
    """The release it belonged to (its tritonform:version-id tag); None where it has none."""


@dataclass(frozen=True)
class RolloutSummary:
    policy_name: str
    kind: str
    total_s: int
    alarm_count: int
    timeline: tuple[str, ...]


@dataclass(frozen=True)
class AlarmChange:
    """A rollback alarm the plan creates, deletes, updates or replaces (old -> new unless created or
    deleted)."""

    action: str
    name: str
    attributes: tuple[AttributeChange, ...] = ()


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
    attributes: tuple[AttributeChange, ...] = ()


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
    attributes: tuple[AttributeChange, ...] = ()
    """old -> new for an update or replacement."""


@dataclass(frozen=True)
class Weakening:
    """A change that leaves a protection weaker than it was (or that cannot be judged before apply)."""

    address: str
    protection: str
    """What the attribute guards, in words (protections.Protection.guards)."""
    attribute: AttributeChange
    why: str
    certain: bool = True
    """False: the change cannot be judged before apply (a value known only then, or one that changes what
    the protection means); a reviewer must look."""


@dataclass(frozen=True)
class EnvironmentReview:
    """Everything the review says about one environment; `concerns` decide the verdict."""

    environment: str
    tier: str
    version: VersionChange
    changes: tuple[PlannedChange, ...] = ()
    concerns: tuple[str, ...] = ()
    removals: tuple[Removal, ...] = ()
    retirements: tuple[Retirement, ...] = ()
    weakenings: tuple[Weakening, ...] = ()
    rollout: RolloutSummary | None = None
    alarm_changes: tuple[AlarmChange, ...] = ()
    unwatched_alarms: tuple[UnwatchedAlarms, ...] = ()
    instance_changes: tuple[InstanceChange, ...] = ()
    update_capacity: UpdateCapacity | None = None
    resource_groups: tuple[ResourceGroup, ...] = ()
    hardening_off: tuple[ControlOff, ...] = ()
    findings: tuple[Finding, ...] = ()
    contract: ContractReview | None = None

    @property
    def verdict(self) -> Verdict:
        if not self.changes:
            return Verdict.NO_CHANGE
        return Verdict.NEEDS_ATTENTION if self.concerns else Verdict.SAFE

    @property
    def retired_versions(self) -> list[str]:
        """The releases whose model or configuration the plan retires (their names where untagged)."""
        return list(dict.fromkeys(r.version_id or r.name for r in self.retirements))

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is what it is."""
        if self.verdict is Verdict.NO_CHANGE:
            return ["the plan changes nothing"]
        if self.concerns:
            return list(self.concerns)
        retired = self.retired_versions
        if retired:
            return [f"{'new version' if self.version.status == 'changed' else 'changes'} through the rollout policy; "
                    f"retires version {', '.join(retired)} (neither what the endpoint runs nor the declared "
                    "fallback), nothing else destroyed; no checked protection weakened"]  # fmt: skip
        if self.version.status == "changed":
            return ["new version through the rollout policy, nothing destroyed; no checked protection weakened"]
        actions = {change.action for change in self.changes}
        if "replace" in actions:
            return ["new endpoint configuration through the rollout policy, nothing destroyed; "
                    "no checked protection weakened"]  # fmt: skip
        if actions == {"update"}:
            return ["in-place changes only; no checked protection weakened"]
        return ["additions and in-place changes only; no checked protection weakened"]
