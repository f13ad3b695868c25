"""`tritonform release attach`: pin a published version to an environment, with an audit record.

The environment's release file is replaced atomically (written beside it, then renamed) and a record is
appended to environments/history/<env>.jsonl: time, actor, commit, from -> to, reason. One command at a
time may change an environment: a second one fails at once, naming the holder, and writes nothing.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tritonform.config import ProjectLayout
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.loader import load_environment
from tritonform.config.release import ArtifactSource, Attachment, ReleaseConfig, artifact_key, version_id_for
from tritonform.documents import describe, parse_model
from tritonform.errors import Problem, UserError
from tritonform.release import aws
from tritonform.release.contracts import (
    ContractCheck,
    check_contract_change,
    fetch_contract,
    recorded_contract_digest,
    release_contract,
)
from tritonform.release.git import source_commit
from tritonform.release.history import (
    ReleaseAction,
    ReleaseChange,
    ReleaseSnapshot,
    append_history,
    history_file,
    last_release,
    read_entries,
)
from tritonform.release.publish import verify_object
from tritonform.triton.contract import BreakingAcknowledged
from tritonform.triton.contract_diff import diff_contracts

_VERSION = re.compile(r"^[0-9a-f]{12}([0-9a-f]{52})?$")


@contextmanager
def environment_lock(layout: ProjectLayout, env: str) -> Iterator[None]:
    """Exclusive, non-blocking: a concurrent change to the same environment fails instead of interleaving."""
    path = layout.lock_file(env)  # refuses an unknown or malformed name before creating anything
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError.single(
                f"environment {env!r} is being changed by {holder}; nothing was written, try again when it is done"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it: readers see the old file or the new one, never a part.

    The caller holds the environment's lock, so another temporary file of `path` can only be one a killed
    run left behind (SIGKILL runs no cleanup); it is removed, or `git add environments/releases` would
    pick it up.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def current_release(layout: ProjectLayout, env: str) -> ReleaseConfig | None:
    path = layout.release_file(env)
    return parse_model(ReleaseConfig, path) if path.is_file() else None


def resolve_image(region: str, triton_version: str, instance_type: str) -> str:
    """The Triton image for the environment, as the sagemaker SDK resolves it."""
    from sagemaker.core import image_uris  # noqa: PLC0415  (about 2 s to import: only here)

    try:
        return str(
            image_uris.retrieve(
                framework="sagemaker-tritonserver", region=region, version=triton_version, instance_type=instance_type
            )
        )
    except ValueError as err:
        raise UserError.single(f"no SageMaker Triton image {triton_version} for {region}: {err}") from None


def find_published(s3: Any, bucket: str, model_name: str, version: str) -> tuple[str, int]:
    """(sha256, size) of the published object a version id or sha256 names."""
    prefix = f"{model_name}/{version}"
    listed = aws.call(
        f"look for {model_name} {version} in s3://{bucket}",
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []),
    )
    matches = [o for o in listed if o["Key"].endswith("/model.tar.gz") and o["Key"].count("/") == 2]
    if not matches:
        raise UserError.single(
            f"version {version} of {model_name} is not published in s3://{bucket}: run tritonform release publish"
        )
    if len(matches) > 1:
        raise UserError.single(f"version {version} is ambiguous in s3://{bucket}: give the full sha256")
    key = matches[0]["Key"]
    return key.split("/")[1], int(matches[0]["Size"])


def recorded_source(metadata: dict[str, str]) -> ArtifactSource | None:
    """Where the object was packaged from, as `release publish` recorded it from the manifest; None when the
    object records no commit (published before tritonform recorded it, or by other means), or records one
    that is not a commit id: nothing is made up."""
    commit = metadata.get("source-commit")
    modified = {"true": True, "false": False}.get(metadata.get("source-modified", ""))
    if commit is None or not re.fullmatch(r"[0-9a-f]{40}", commit):
        return None
    return ArtifactSource(commit=commit, modified=modified)


def render_release(release: ReleaseConfig, env_name: str) -> str:
    """The release file's text: the same layout whoever writes it, so a diff shows only what changed."""
    document = release.model_dump(mode="json")
    if document["artifact"]["source"] is None:  # absent, as in files written before it was recorded
        del document["artifact"]["source"]
    if document["artifact"]["contract_sha256"] is None:  # the same for the contract's digest
        del document["artifact"]["contract_sha256"]
    document["attached"]["at"] = release.attached.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "# yaml-language-server: $schema=../../schemas/release.schema.json\n"
        "# Written by `tritonform release` (attach, promote, rollback) through a pull request; do not edit.\n"
        f"# Every change is recorded in environments/history/{env_name}.jsonl.\n"
        + yaml.safe_dump(document, sort_keys=False, width=200)
    )


def record_unrecorded_release(path: Path, env_name: str, current: ReleaseConfig | None) -> None:
    """Append the record a run killed between renaming the release file and appending its record never wrote.

    Called with the environment's lock held. The release file's `attached` block says who attached it, when,
    from which commit and why, so the record is rebuilt from it (action "recorded-late"); a release file
    edited by hand is caught the same way. An environment without any history yet has nothing to compare
    with and is left alone.
    """
    recorded = last_release(read_entries(path))
    if current is None or recorded is None or recorded.describes(current):
        return
    attached = current.attached
    append_history(
        path,
        ReleaseChange(
            at=attached.at,
            action="recorded-late",
            environment=env_name,
            actor=attached.by,
            commit=attached.commit,
            reason=f"{attached.reason} (the release file changed without a history record: an interrupted "
            "attach or an edit by hand; recorded from its attached block)",
            from_=recorded,
            to=ReleaseSnapshot.of(current),
        ),
    )


def attachment(actor: str, reason: str, commit: str | None) -> Attachment:
    """Who attaches a version now, from which commit and why; checked before anything is looked up or written."""
    try:
        return Attachment(by=actor, at=datetime.now(UTC).replace(microsecond=0), commit=commit, reason=reason)
    except ValidationError as err:
        options = {"by": "--actor", "reason": "--reason"}
        raise UserError([
            Problem(file=None, field=options.get(str(error["loc"][0]), str(error["loc"][0])),
                    message=f"{error['msg']}, got {describe(error['input'])}")
            for error in err.errors(include_url=False)
        ]) from None  # fmt: skip


@dataclass(frozen=True)
class AttachResult:
    environment: str
    previous: ReleaseConfig | None
    release: ReleaseConfig
    contract: ContractCheck | None = None
    """The inference contract compared with the previous release's; None for a first release."""


def attach(
    layout: ProjectLayout,
    env_name: str,
    version: str,
    *,
    actor: str,
    reason: str,
    model_name: str | None = None,
    triton_version: str | None = None,
    action: ReleaseAction = "attach",
    accept_breaking: str | None = None,
) -> AttachResult:
    """A breaking change of the inference contract is refused unless `accept_breaking` gives the reason it is
    let through (recorded in the history); a rollback goes back to a version that served and is not refused."""
    if not _VERSION.match(version):
        raise UserError.single(f"{version!r} is not a version: 12 hex digits (version id) or a full sha256")
    with environment_lock(layout, env_name):  # held from reading the current release to writing the new one
        return _attach_locked(layout, env_name, version, actor=actor, reason=reason, model_name=model_name,
                              triton_version=triton_version, action=action,
                              accept_breaking=accept_breaking)  # fmt: skip


def _attach_locked(
    layout: ProjectLayout,
    env_name: str,
    version: str,
    *,
    actor: str,
    reason: str,
    model_name: str | None,
    triton_version: str | None,
    action: ReleaseAction,
    accept_breaking: str | None = None,
) -> AttachResult:
    environment: EnvironmentConfig = load_environment(layout, env_name)
    previous = current_release(layout, env_name)
    record_unrecorded_release(history_file(layout, env_name), env_name, previous)
    model = model_name or (previous.model_name if previous else None)
    image_version = triton_version or (previous.triton_image.version if previous else None)
    if model is None or image_version is None:
        raise UserError.single(f"environment {env_name!r} has no release yet: give --model and --triton-version")
    bucket = environment.artifacts.bucket
    s3 = aws.client("s3", environment.region)
    sha256, size = find_published(s3, bucket, model, version)
    key = artifact_key(model, sha256)
    head = aws.call(
        f"verify s3://{bucket}/{key}", lambda: verify_object(s3, bucket, key, sha256=sha256, size=size, artifact=None)
    )
    contract = _compare_contracts(s3, previous, metadata=head.get("Metadata", {}), bucket=bucket, model=model,
                                  sha256=sha256, env_name=env_name, action=action,
                                  accept_breaking=accept_breaking)  # fmt: skip
    image = resolve_image(environment.region, image_version, environment.endpoint.instance_type)
    attached = attachment(actor, reason, source_commit(layout.root))
    release = ReleaseConfig.model_validate(
        {
            "model_name": model,
            "version_id": version_id_for(sha256),
            "artifact": {
                "s3_uri": f"s3://{bucket}/{key}",
                "sha256": sha256,
                "size_bytes": size,
                "source": recorded_source(head.get("Metadata", {})),
                "contract_sha256": recorded_contract_digest(head.get("Metadata", {})),
            },
            "triton_image": {"version": image_version, "uri": image},
            "attached": attached,
        }
    )
    text = render_release(release, env_name)
    record = ReleaseChange(
        at=release.attached.at,
        action=action,
        environment=env_name,
        actor=actor,
        commit=attached.commit,
        reason=reason,
        from_=ReleaseSnapshot.of(previous) if previous else None,
        to=ReleaseSnapshot.of(release),
        breaking_accepted=_acknowledged(contract),
    )
    write_atomically(layout.release_file(env_name), text)
    append_history(history_file(layout, env_name), record)
    return AttachResult(env_name, previous, release, contract)


def _compare_contracts(
    s3: Any, previous: ReleaseConfig | None, *, metadata: dict[str, str], bucket: str, model: str, sha256: str,
    env_name: str, action: ReleaseAction, accept_breaking: str | None,
) -> ContractCheck | None:  # fmt: skip
    """The new version's contract (from its object) against the current release's (from its own object)."""
    digest = recorded_contract_digest(metadata)
    new = aws.call("read the contract", lambda: fetch_contract(s3, bucket, model, sha256, digest)) if digest else None
    if previous is None:
        if accept_breaking is not None:
            raise UserError.single(f"--accept-breaking was given, but {env_name!r} has no release to compare with")
        return None
    old = aws.call("read the current release's contract", lambda: release_contract(s3, previous))
    if action in {"rollback", "emergency-rollback"}:  # back to what served before: reported, never refused
        diff = diff_contracts(old, new) if old is not None and new is not None else None
        return ContractCheck(diff, diff.summary() if diff else "contract not compared: a side records none")
    return check_contract_change(old, new, accept_breaking=accept_breaking, environment=env_name)


def _acknowledged(check: ContractCheck | None) -> BreakingAcknowledged | None:
    if check is None or check.accepted_breaking is None or check.diff is None:
        return None
    return BreakingAcknowledged(
        reason=check.accepted_breaking, from_contract=check.diff.old_sha256, to_contract=check.diff.new_sha256,
        changes=[change.line() for change in check.diff.breaking],
    )  # fmt: skip
