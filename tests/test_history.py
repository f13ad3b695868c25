"""The audit history (environments/history/<env>.jsonl): typed records, read and written by one module.

Each line is validated as it is read, and a damaged one is an error naming its file and line; records in
the format earlier versions wrote still load; a rollback to a record that lacks what re-attaching needs is
refused with what is missing, never filled in with a stand-in value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, copy_project
from tritonform.config import ProjectLayout
from tritonform.errors import EXIT_INVALID_INPUT, UserError
from tritonform.release.attach import current_release
from tritonform.release.history import (
    LiveConfiguration,
    ReleaseChange,
    ReleaseSnapshot,
    RollbackDetected,
    append_history,
    history_file,
    read_entries,
    read_history,
)
from tritonform.release.promote import rollback

pytestmark = pytest.mark.config  # no server: rollback is refused before any AWS call, the CLI runs in-process

OLD_SHA = "1a2b" * 16
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"


def full_snapshot(sha256: str, model: str = "text_embedder") -> dict[str, Any]:
    """A snapshot as attach writes it (size_bytes a string of digits, as tritonform wrote it before)."""
    return {
        "version_id": sha256[:12],
        "sha256": sha256,
        "model_name": model,
        "s3_uri": f"s3://acme-tritonform-dev-artifacts/{model}/{sha256}/model.tar.gz",
        "size_bytes": "2327",
        "triton_version": "24.09",
        "image": IMAGE,
    }


def change(source: dict[str, Any] | None, target: dict[str, Any], action: str = "attach") -> dict[str, Any]:
    return {"at": "2026-11-21T12:00:00Z", "action": action, "environment": "dev", "actor": "ci", "commit": None,
            "reason": "release", "from": source, "to": target}  # fmt: skip


def write_lines(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record, sort_keys=True) + "\n" for record in records), encoding="utf-8")


@pytest.fixture
def layout(tmp_path: Path) -> ProjectLayout:
    return ProjectLayout(copy_project(tmp_path / "project"))


def current_sha(layout: ProjectLayout) -> str:
    release = current_release(layout, "dev")
    assert release is not None
    return release.artifact.sha256


# --- round trip ---------------------------------------------------------------------------------------------


def test_records_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history" / "dev.jsonl"
    attached = ReleaseChange(
        at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC), action="attach", environment="dev", actor="alice",
        commit="a" * 40, reason="new batching", from_=None,
        to=ReleaseSnapshot.model_validate(full_snapshot(OLD_SHA)),
    )  # fmt: skip
    detected = RollbackDetected(
        at=datetime(2026, 11, 21, 12, 30, tzinfo=UTC), action="rollback-detected", environment="dev",
        actor="tritonform release watch", commit=None, reason="SageMaker rolled back to c1", from_=attached.to,
        to=LiveConfiguration(live_configuration="c1"),
    )  # fmt: skip

    append_history(path, attached)
    append_history(path, detected)

    assert read_history(path) == [attached, detected]
    assert [entry.line for entry in read_entries(path)] == [1, 2]
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first == {"at": "2026-11-21T12:00:00Z", "action": "attach", "environment": "dev", "actor": "alice",
                     "commit": "a" * 40, "reason": "new batching", "from": None,
                     "to": {**full_snapshot(OLD_SHA), "size_bytes": 2327}}  # fmt: skip


def test_a_missing_history_is_an_empty_one(tmp_path: Path) -> None:
    assert read_history(tmp_path / "nothing.jsonl") == []


def test_records_in_the_formats_earlier_versions_wrote_still_load(tmp_path: Path) -> None:
    """The first release commands kept only version_id and sha256 (and the image of `to`); later ones kept
    everything, with size_bytes as a string. Rewritten, an absent field stays absent: no null claims it."""
    path = tmp_path / "dev.jsonl"
    first = {"version_id": OLD_SHA[:12], "sha256": OLD_SHA}
    write_lines(path, [change(first, {**first, "image": IMAGE}), change(first, full_snapshot(OLD_SHA))])

    old, newer = read_history(path)

    assert isinstance(old, ReleaseChange) and old.from_ is not None
    assert old.from_.missing() == ["model_name", "s3_uri", "size_bytes", "triton_version", "image"]
    assert isinstance(newer, ReleaseChange) and newer.to.size_bytes == 2327 and newer.to.missing() == []
    assert old.model_dump(mode="json")["from"] == first


# --- damaged lines: file and line named, exit 2 -----------------------------------------------------------


GOOD = change(None, full_snapshot(OLD_SHA))


DAMAGED = {
    "not-json": ('{"at": "2026-11-21T12:00:00Z", "action": ', "not valid JSON"),
    "nested-past-the-parser": ("[" * 100_000 + "]" * 100_000, "nested thousands of levels deep"),
    "not-an-object": ("[1, 2]", "a history record is a JSON object, not an array"),
    "not-a-record": ('{"time": "yesterday"}', "action: required, but missing; allowed: attach, promote"),
    "unknown-action": (
        json.dumps({**GOOD, "action": "deployed"}),
        "action: 'deployed' is not an action tritonform records",
    ),
    "missing-field": (json.dumps({k: v for k, v in GOOD.items() if k != "actor"}), "actor: required, but missing"),
    "bad-sha256": (
        json.dumps({**GOOD, "to": {**GOOD["to"], "sha256": "nope"}}),
        "to.sha256: 'nope' (str) is not allowed",
    ),
    "version-id-not-of-sha256": (
        json.dumps({**GOOD, "to": {**GOOD["to"], "version_id": "0" * 12}}),
        "to.version_id: must be the first 12",
    ),
    "naive-time": (json.dumps({**GOOD, "at": "2026-11-21T12:00:00"}), "at: must be a UTC time"),
    "unknown-snapshot-key": (
        json.dumps({**GOOD, "from": {"version_id": OLD_SHA[:12], "size": 1}}),
        "from.size: unknown key; allowed",
    ),
    "to-of-the-wrong-kind": (
        json.dumps({**GOOD, "action": "rollback-detected"}),
        "to.live_configuration: required, but missing",
    ),
}


@pytest.mark.parametrize(("line", "expected"), DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_line_is_an_error_naming_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n", encoding="utf-8")

    with pytest.raises(UserError) as raised:
        read_history(path)

    assert raised.value.exit_code == EXIT_INVALID_INPUT
    assert raised.value.render().startswith(f"{path}:3: ")  # the blank line 2 is counted, and skipped
    assert expected in raised.value.render()


def test_a_history_that_is_not_utf8_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "dev.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b'\n{"reason": "caf\xe9"}\n')

    with pytest.raises(UserError, match=r"dev\.jsonl:2: not UTF-8 text"):
        read_history(path)


def test_a_directory_where_the_history_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dev.jsonl").mkdir()

    with pytest.raises(UserError, match=r"dev\.jsonl: is not a regular file"):
        read_history(tmp_path / "dev.jsonl")


def test_the_cli_reports_a_damaged_history_without_a_traceback(
    layout: ProjectLayout, run_cli: Callable[..., CliRun]
) -> None:
    write_lines(history_file(layout, "dev"), [GOOD])
    with history_file(layout, "dev").open("a", encoding="utf-8") as handle:
        handle.write('{"action": "attach", "to": 7}\n')

    result = run_cli("--root", str(layout.root), "release", "rollback", "--env", "dev", "--actor", "oncall")

    assert result.code == EXIT_INVALID_INPUT
    assert "environments/history/dev.jsonl:2: to: " in result.err
    assert "Traceback" not in result.err


# --- rollback needs a whole snapshot ------------------------------------------------------------------------


def test_rollback_refuses_a_record_that_lacks_what_it_needs(layout: ProjectLayout) -> None:
    """The previous release is named by a record from before snapshots kept everything: the rollback says
    what is missing and where, and writes nothing; it does not make up a size or a commit."""
    path = history_file(layout, "dev")
    write_lines(path, [change({"version_id": OLD_SHA[:12], "sha256": OLD_SHA}, full_snapshot(current_sha(layout)))])
    release_before, history_before = layout.release_file("dev").read_bytes(), path.read_bytes()

    with pytest.raises(UserError) as raised:
        rollback(layout, "dev", actor="oncall", emergency=True)

    message = raised.value.render()
    lacks = "lacks model_name, s3_uri, size_bytes, triton_version, image, which a rollback needs"
    assert f"{path}:1: from: version {OLD_SHA[:12]} {lacks}" in message
    assert "tritonform release attach --env dev" in message
    assert layout.release_file("dev").read_bytes() == release_before and path.read_bytes() == history_before


def test_rollback_to_a_version_whose_record_has_no_sha256_says_so(layout: ProjectLayout) -> None:
    write_lines(history_file(layout, "dev"), [change({"version_id": OLD_SHA[:12]}, full_snapshot(current_sha(layout)))])

    with pytest.raises(UserError, match=rf"dev\.jsonl:1: from: version {OLD_SHA[:12]} lacks sha256, model_name"):
        rollback(layout, "dev", actor="oncall", to_version=OLD_SHA[:12])


def test_rollback_does_not_skip_an_incomplete_previous_release_for_an_older_one(layout: ProjectLayout) -> None:
    """The release before the current one is named only by an old record; an older, complete record of a
    different release must not be taken instead: that is not the rollback that was asked for."""
    current = full_snapshot(current_sha(layout))
    other = "9f8e" * 16
    write_lines(history_file(layout, "dev"), [
        change(full_snapshot(other), current),
        change(current, {"version_id": OLD_SHA[:12], "sha256": OLD_SHA}),
        change({"version_id": OLD_SHA[:12], "sha256": OLD_SHA}, current),
    ])  # fmt: skip

    with pytest.raises(UserError, match=rf"dev\.jsonl:3: from: version {OLD_SHA[:12]} lacks model_name"):
        rollback(layout, "dev", actor="oncall")
