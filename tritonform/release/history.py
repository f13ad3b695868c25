"""The audit history: environments/history/<env>.jsonl, one JSON record a line, only ever appended to.

Every release command that changes an environment appends a record here; watch appends one when SageMaker
rolled an update back; promote reads it for its `stable` gate and rollback to find what to go back to.
This module is the one reader and writer of those files: every line is validated on the way in and out, so
a damaged or hand-edited line is an error that names its file and line, and nothing stands in for a value a
record does not have.

Records written by earlier versions of tritonform still load: their snapshots may lack fields (the first
ones kept only version_id and sha256) and their size_bytes was a string of digits.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from tritonform.config import ProjectLayout
from tritonform.config.release import (
    VERSION_ID_LENGTH,
    Attachment,
    CommitId,
    ModelName,
    ReleaseConfig,
    Sha256,
    version_id_for,
)
from tritonform.documents import FieldError, FrozenModel, parse_json, validate_data
from tritonform.errors import Problem, UserError
from tritonform.triton.contract import BreakingAcknowledged

ReleaseAction = Literal["attach", "promote", "rollback", "emergency-rollback"]
"""What a release command did when it wrote a new release file."""

ChangeAction = Literal[ReleaseAction, "recorded-late"]
"""A change of the release file; recorded-late: one a killed run or an edit by hand left without a record."""

Action = Literal[ChangeAction, "rollback-detected", "deploy", "in-service", "emergency-switch"]
ACTIONS: tuple[str, ...] = get_args(Action)
DeployOutcome = Literal["deployed", "rolled-back", "failed", "verify-failed"]
"""deployed: in service on the release's configuration and its smoke requests answered as declared;
rolled-back: SageMaker went back to the configuration before; failed: the apply or the update failed, or
the watch gave up; verify-failed: in service, but the smoke requests were not answered as declared."""
ConfigurationName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")]
Seconds = Annotated[float, Field(ge=0, le=10**7)]
InstanceCount = Annotated[int, Field(ge=0, le=1000)]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_HISTORY_BYTES = 64 << 20  # some 90,000 records: far more than a lifetime of releases


def history_file(layout: ProjectLayout, env: str) -> Path:
    return layout.environments_dir / "history" / f"{env}.jsonl"


def _digits_as_int(value: object) -> object:
    """Records written before this module kept size_bytes as a string of digits."""
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value) else value


def _iso_time(value: object) -> object:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z") from None
    return value


class ReleaseSnapshot(FrozenModel):
    """What a record keeps of a release: what a rollback needs to attach it again, and to name its endpoint
    configuration. Only version_id is in every record ever written; the rest is absent, never made up, in
    records from before it was kept."""

    version_id: Annotated[str, Field(pattern=rf"^[0-9a-f]{{{VERSION_ID_LENGTH}}}$")]
    sha256: Sha256 | None = None
    model_name: ModelName | None = None
    s3_uri: Annotated[str, Field(pattern=r"^s3://\S+$", max_length=1024)] | None = None
    size_bytes: Annotated[int, BeforeValidator(_digits_as_int), Field(ge=1)] | None = None
    triton_version: Annotated[str, Field(pattern=r"^[0-9]{2}\.[0-9]{2}$")] | None = None
    image: Annotated[str, Field(min_length=1)] | None = None
    source_commit: CommitId | None = None
    """The commit the artifact was packaged from (the release file's artifact.source), where it says."""
    source_modified: bool | None = None
    """Whether it was packaged from a modified working tree of that commit, where the release file says."""

    @model_validator(mode="after")
    def _content_addressed(self) -> Self:
        if self.sha256 is not None and self.version_id != version_id_for(self.sha256):
            raise FieldError("version_id", f"must be the first {VERSION_ID_LENGTH} hex digits of sha256")
        return self

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An absent field stays absent when the record is written again: no null claims a value existed."""
        return {key: value for key, value in handler(self).items() if value is not None}

    @classmethod
    def of(cls, release: ReleaseConfig) -> ReleaseSnapshot:
        return cls(
            version_id=release.version_id,
            sha256=release.artifact.sha256,
            model_name=release.model_name,
            s3_uri=release.artifact.s3_uri,
            size_bytes=release.artifact.size_bytes,
            triton_version=release.triton_image.version,
            image=release.triton_image.uri,
            source_commit=source.commit if (source := release.artifact.source) else None,
            source_modified=source.modified if source else None,
        )

    def describes(self, release: ReleaseConfig) -> bool:
        if self.sha256 is None:  # an old record: its version id is all it has to compare
            return self.version_id == release.version_id
        return self.sha256 == release.artifact.sha256

    def matches(self, version: str) -> bool:
        """Whether `version` (a version id or a longer prefix of the sha256) names this release."""
        if self.version_id != version[:VERSION_ID_LENGTH]:
            return False
        return self.sha256.startswith(version) if self.sha256 else len(version) == VERSION_ID_LENGTH

    def missing(self) -> list[str]:
        """What a rollback needs to attach this release again but the record lacks (where it was packaged
        from is not needed: attach reads it from the published object)."""
        optional = {"source_commit", "source_modified"}
        return [name for name in type(self).model_fields if name not in optional and getattr(self, name) is None]


class LiveConfiguration(FrozenModel):
    """What an endpoint serves after SageMaker rolled an update back: a configuration, not a release."""

    live_configuration: Annotated[str, Field(min_length=1)]


class _Record(FrozenModel):
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    at: Annotated[datetime, BeforeValidator(_iso_time)]
    """When, UTC, to the second."""

    environment: Annotated[str, Field(min_length=1)]
    actor: Annotated[str, Field(min_length=1, max_length=200)]

    commit: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")] | None
    """The project's git commit when the change was made; null where none was known (outside a git checkout)
    or none applies (watch records what SageMaker did)."""

    reason: Annotated[str, Field(min_length=1)]

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        offset = value.utcoffset()
        if offset is None or offset.total_seconds() != 0:
            raise ValueError("must be a UTC time, e.g. 2026-01-31T12:00:00Z")
        return value

    @field_serializer("at")
    def _time(self, value: datetime) -> str:
        return value.strftime(TIME_FORMAT) if not value.microsecond else value.isoformat().replace("+00:00", "Z")


class ReleaseChange(_Record):
    """The release file changed from one release to another."""

    action: ChangeAction
    from_: Annotated[ReleaseSnapshot | None, Field(alias="from")]
    """The release before; null when the environment had none."""

    to: ReleaseSnapshot

    breaking_accepted: Annotated[BreakingAcknowledged | None, Field(exclude_if=lambda value: value is None)] = None
    """A breaking change of the inference contract let through with --accept-breaking; absent otherwise."""


class RollbackDetected(_Record):
    """`tritonform release watch` saw SageMaker roll an update of the release back."""

    action: Literal["rollback-detected"]
    from_: Annotated[ReleaseSnapshot, Field(alias="from")]
    """The release whose update SageMaker rolled back."""

    to: LiveConfiguration


class LiveRecord(_Record):
    """A record of what ran live. Its release snapshot must hold everything a stack needs to declare the
    release again (as the fallback) and a rollback needs to attach it again."""

    SNAPSHOT_FIELD: ClassVar[Literal["release", "to"]] = "release"

    @model_validator(mode="after")
    def _complete(self) -> Self:
        snapshot: ReleaseSnapshot = getattr(self, self.SNAPSHOT_FIELD)
        if missing := snapshot.missing():
            raise FieldError(self.SNAPSHOT_FIELD, f"the snapshot lacks {', '.join(missing)}")
        return self

    def verified_live(self) -> tuple[ReleaseSnapshot, str] | None:
        """The release this record shows verified live and its configuration, or None."""
        raise NotImplementedError


class DeployDurations(FrozenModel):
    """Seconds each step of `tritonform deploy` took (null: the step did not run)."""

    init_s: Seconds | None = None
    plan_s: Seconds | None = None
    apply_s: Seconds | None = None
    watch_s: Seconds | None = None
    verify_s: Seconds | None = None
    total_s: Seconds


class DeployRecorded(LiveRecord):
    """`tritonform deploy` applied the stack, watched the update to its end and checked the live endpoint."""

    action: Literal["deploy"]
    outcome: DeployOutcome
    release: ReleaseSnapshot
    """The release deployed (the release file when the deploy ran)."""

    expected_configuration: ConfigurationName
    live_configuration: ConfigurationName | None
    """What the endpoint served at the end; null when there was no endpoint."""

    requested_instances: Annotated[int, Field(ge=1, le=1000)]
    """The live_instances the stack was applied with: the new configuration's instance count."""

    instances: InstanceCount | None
    """The variant's instance count at the end; null when there was no endpoint."""

    durations: DeployDurations

    def verified_live(self) -> tuple[ReleaseSnapshot, str] | None:
        return (self.release, self.expected_configuration) if self.outcome == "deployed" else None


class InServiceSeen(LiveRecord):
    """`tritonform release watch` saw the endpoint InService on the configuration of the release."""

    action: Literal["in-service"]
    release: ReleaseSnapshot
    configuration: ConfigurationName

    def verified_live(self) -> tuple[ReleaseSnapshot, str] | None:
        return self.release, self.configuration


class EmergencySwitch(LiveRecord):
    """`release rollback --emergency` switched the endpoint to an earlier release's configuration; it serves."""

    action: Literal["emergency-switch"]
    from_: Annotated[LiveConfiguration, Field(alias="from")]
    """What the endpoint served before the switch."""

    to: ReleaseSnapshot
    configuration: ConfigurationName
    instances: InstanceCount | None
    """The variant's instance count after the switch (kept from before it); null where SageMaker gave none."""
    duration_s: Seconds
    """From UpdateEndpoint to InService on the configuration."""
    SNAPSHOT_FIELD: ClassVar[Literal["release", "to"]] = "to"

    def verified_live(self) -> tuple[ReleaseSnapshot, str] | None:
        return self.to, self.configuration


HistoryRecord = ReleaseChange | RollbackDetected | DeployRecorded | InServiceSeen | EmergencySwitch
_RECORD_TYPES: dict[str, type[HistoryRecord]] = {
    "rollback-detected": RollbackDetected, "deploy": DeployRecorded, "in-service": InServiceSeen,
    "emergency-switch": EmergencySwitch,
}  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """A record and where it was read: what an error about it names."""

    path: Path
    line: int
    record: HistoryRecord


def read_entries(path: Path) -> list[Entry]:
    """Every record of a history file, each line validated; a missing file is an empty history."""
    if not path.exists():
        return []
    if not path.is_file():  # a directory, or a pipe that would block the read forever
        raise UserError.single("is not a regular file, but a history (JSON Lines) is expected here", file=path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_HISTORY_BYTES + 1)
    except OSError as err:
        raise UserError.single(f"cannot be read: {err.strerror}", file=path) from None
    if len(raw) > MAX_HISTORY_BYTES:
        raise UserError.single(f"larger than {MAX_HISTORY_BYTES:,} bytes: not a history tritonform wrote", file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise _problem(path, line, f"not UTF-8 text (byte {err.start}): the history is damaged") from None
    # JSON Lines are separated by \n alone (str.splitlines would also split at U+2028 inside a string)
    lines = enumerate(text.split("\n"), 1)
    return [Entry(path, number, _parse(path, number, line)) for number, line in lines if line.strip()]


def _problem(path: Path, line: int, message: str, field: str | None = None) -> UserError:
    return UserError([Problem(file=path, field=field, line=line, message=message)])


def read_history(path: Path) -> list[HistoryRecord]:
    return [entry.record for entry in read_entries(path)]


def _parse(path: Path, number: int, line: str) -> HistoryRecord:
    data = parse_json(line, path, line=number)
    if not isinstance(data, dict):
        raise _problem(path, number, f"a history record is a JSON object, not {_JSON_KINDS[type(data)]}")
    action = data.get("action")
    if action not in ACTIONS:
        found = "required, but missing" if "action" not in data else f"{action!r} is not an action tritonform records"
        raise _problem(path, number, f"{found}; allowed: {', '.join(ACTIONS)}", field="action")
    return validate_data(_RECORD_TYPES.get(action, ReleaseChange), data, path, {(): number})


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}  # fmt: skip


def append_history(path: Path, record: HistoryRecord) -> None:
    """One JSON line, written with a single O_APPEND write and fsynced: records are never interleaved.

    The record is validated again from its own JSON first, so a line this writes is one read_history reads.
    """
    text = json.dumps(record.model_dump(mode="json"), sort_keys=True)
    try:
        type(record).model_validate_json(text)
    except ValidationError as err:  # a bug in the caller, not the user's input
        raise AssertionError(f"a history record that would not read back: {err}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (text + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def last_release(entries: list[Entry]) -> ReleaseSnapshot | None:
    """The release the history says the environment has now: the last change's `to`."""
    changes = [entry.record.to for entry in entries if isinstance(entry.record, ReleaseChange)]
    return changes[-1] if changes else None


def restorable(entry: Entry, side: Literal["from", "to", "release"], attached: Attachment) -> ReleaseConfig:
    """The release one side of a record names, to attach again: an error naming the record when the record
    lacks what that needs (records from before snapshots kept it all), never a stand-in value."""
    record = entry.record
    snapshot = getattr(record, "from_" if side == "from" else side, None)
    if not isinstance(snapshot, ReleaseSnapshot):
        raise _problem(entry.path, entry.line, "names no release to go back to", field=side)
    missing = snapshot.missing()
    if missing:
        raise _problem(entry.path, entry.line, field=side, message=(
            f"version {snapshot.version_id} lacks {', '.join(missing)}, which a rollback needs to attach it again "
            "(the record predates snapshots that keep them); attach it by hand: tritonform release attach "
            f"--env {record.environment} <sha256> --model <name> --triton-version <YY.MM>"))  # fmt: skip
    try:
        return ReleaseConfig.model_validate({
            "model_name": snapshot.model_name, "version_id": snapshot.version_id,
            "artifact": {"s3_uri": snapshot.s3_uri, "sha256": snapshot.sha256, "size_bytes": snapshot.size_bytes,
                         "source": {"commit": snapshot.source_commit, "modified": snapshot.source_modified}
                         if snapshot.source_commit else None},
            "triton_image": {"version": snapshot.triton_version, "uri": snapshot.image},
            "attached": attached,
        })  # fmt: skip
    except ValidationError as err:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors(include_url=False))
        message = f"does not describe a release that can be attached: {wrong}"
        raise _problem(entry.path, entry.line, message, field=side) from None
