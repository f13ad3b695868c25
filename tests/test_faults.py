"""Faults, against a moto server on loopback.

- The AWS stand-in throttles or answers 5xx: retried a bounded number of times with backoff, then reported
  clearly; a transient fault is ridden out. Injected into the real client's send path (botocore's
  before-send event).
- A release command is killed part-way (SIGKILL: no handler, no cleanup): nothing half-written remains
  where it counts, and running the same command again completes.
- An artifact's bytes no longer match its sha256: attach refuses it (tests/test_release.py), and so does
  promote, before anything is copied.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.exceptions import ClientError

from tests.conftest import REPO_ROOT, CliRun, copy_project, create_artifact_buckets, tritonform_subprocess
from tests.test_release_live import make_live, publish_version
from tritonform.config import ProjectLayout, load_deployment
from tritonform.errors import EXIT_INVALID_INPUT, UserError
from tritonform.release import aws as aws_clients
from tritonform.release import publish as publishing
from tritonform.release.attach import attach
from tritonform.release.history import ReleaseChange, history_file, read_history
from tritonform.release.package import package
from tritonform.release.publish import publish
from tritonform.standin import MotoServer

pytestmark = pytest.mark.e2e

SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs: object) -> Iterator[bytes]:
        yield self.body


def failing_first(monkeypatch: pytest.MonkeyPatch, operation: str, failures: int) -> list[int]:
    calls: list[int] = []
    real_client = aws_clients.client

    def answer(request: AWSRequest, **_kwargs: object) -> AWSResponse | None:
        calls.append(1)
        if len(calls) <= failures:
            return AWSResponse(request.url, 503, {}, _Raw(SLOW_DOWN))
        return None

    def client(service: str, region: str) -> object:
        created = real_client(service, region)
        if service == "s3":
            created.meta.events.register(f"before-send.s3.{operation}", answer)
        return created

    monkeypatch.setattr(aws_clients, "client", client)
    return calls


def test_a_throttled_call_is_retried_then_reported(
    tmp_path: Path, dev_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    calls = failing_first(monkeypatch, "HeadObject", failures=10_000)

    with pytest.raises(UserError) as raised:
        publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)

    assert len(calls) == aws_clients.MAX_ATTEMPTS  # bounded: no endless retrying
    assert "look up s3://" in raised.value.render()
    assert "503" in raised.value.render() or "SlowDown" in raised.value.render()
    assert boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=dev_bucket).get("KeyCount") == 0


def test_a_transient_fault_is_ridden_out(tmp_path: Path, dev_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    calls = failing_first(monkeypatch, "HeadObject", failures=2)

    result = publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)

    assert result.uploaded and result.sha256 == manifest.sha256
    assert len(calls) >= 3


def test_a_throttled_upload_is_retried_then_reported(
    tmp_path: Path, dev_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3's managed upload wraps the last ClientError in S3UploadFailedError (a boto3, not a botocore,
    error): it is reported like every other AWS failure, not as a traceback."""
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    calls = failing_first(monkeypatch, "PutObject", failures=10_000)

    with pytest.raises(UserError) as raised:
        publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)

    assert len(calls) == aws_clients.MAX_ATTEMPTS
    rendered = raised.value.render()
    assert f"upload to s3://{dev_bucket}/text_embedder/{manifest.sha256}/model.tar.gz" in rendered
    assert "SlowDown" in rendered
    assert boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=dev_bucket).get("KeyCount") == 0


# --- a command killed part-way, then run again ---------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    """Every file under `root` with the sha256 of its bytes: what a command wrote, changed or left behind."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def started(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stopped(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def test_a_publish_killed_mid_upload_leaves_no_object_and_a_rerun_completes_cleanly(
    tmp_path: Path, dev_bucket: str
) -> None:
    """SIGKILL (no handler runs, so boto3 cannot abort anything) while the parts of a multipart upload are
    on their way. A multipart upload only becomes an object when it is completed, so nothing is at the
    content-addressed key; the unfinished upload stays behind (in AWS the bucket's lifecycle rule would
    abort it after 7 days). The rerun aborts that stale upload under its own key, leaves others alone,
    uploads the whole artifact and verifies it. Publish writes nothing locally."""
    project = copy_project(tmp_path / "project")
    weights = project / "model_repository" / "vector_normalizer" / "1" / "weights.bin"
    weights.write_bytes(os.urandom(150 << 20))  # incompressible: three 64 MiB parts, about a second on loopback
    manifest = package(project / "model_repository", tmp_path / "pkg", default_model="text_embedder")
    assert manifest.size_bytes > 2 * publishing.PART_BYTES
    key = f"text_embedder/{manifest.sha256}/model.tar.gz"
    s3 = boto3.client("s3", region_name="us-east-1")
    neighbour = s3.create_multipart_upload(Bucket=dev_bucket, Key=f"{key}.other")["UploadId"]  # same prefix
    before = tree(tmp_path)
    command = ["--root", str(project), "release", "publish", str(tmp_path / "pkg"), "--env", "dev", "--quiet"]

    process = started([sys.executable, "-m", "tritonform.cli", *command], cwd=project)
    try:
        deadline = time.monotonic() + 60
        abandoned: list[str] = []
        while not abandoned and process.poll() is None and time.monotonic() < deadline:
            uploads = s3.list_multipart_uploads(Bucket=dev_bucket, Prefix=key).get("Uploads", [])
            abandoned = [u["UploadId"] for u in uploads if u["Key"] == key]
            time.sleep(0.01)  # only ListMultipartUploads: moto's ListParts during the upload breaks it
        assert abandoned, f"no multipart upload seen before publish ended: {process.poll()}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL  # killed mid-upload, not finished first
    finally:
        stopped(process)

    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=dev_bucket, Key=key)
    assert missing.value.response["Error"]["Code"] == "404"
    assert s3.list_objects_v2(Bucket=dev_bucket).get("KeyCount") == 0
    left = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=dev_bucket).get("Uploads", [])}
    assert left == {abandoned[0], neighbour}  # nobody aborted it: SIGKILL runs no cleanup
    assert tree(tmp_path) == before  # no local file written or changed

    rerun = tritonform_subprocess(*command, cwd=project, timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    assert f"published: s3://{dev_bucket}/{key}" in rerun.stdout
    head = s3.head_object(Bucket=dev_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == manifest.size_bytes and head["Metadata"]["sha256"] == manifest.sha256
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket=dev_bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    assert digest.hexdigest() == manifest.sha256
    remaining = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=dev_bucket).get("Uploads", [])}
    assert remaining == {neighbour}  # the stale upload under its key was aborted; another key's was not
    assert tree(tmp_path) == before


KILL_AT = """
import os, pathlib, signal, sys

point, real_open, real_replace = os.environ["KILL_AT"], pathlib.Path.open, pathlib.Path.replace

def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)

class HalfWriter:
    def __init__(self, handle):
        self.handle = handle
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.handle.close()
    def write(self, text):
        self.handle.write(text[: len(text) // 2])
        self.handle.flush()
        die()

def open_(self, mode="r", *args, **kwargs):
    handle = real_open(self, mode, *args, **kwargs)
    writing_release = self.name.startswith(".dev.yaml.") and self.name.endswith(".tmp") and "w" in mode
    return HalfWriter(handle) if point == "writing" and writing_release else handle

def replace(self, target):
    if point == "renaming" and pathlib.Path(target).name == "dev.yaml":
        die()
    replaced = real_replace(self, target)
    if point == "recording" and pathlib.Path(target).name == "dev.yaml":
        die()  # the new release is in place; its history record is not written yet
    return replaced

pathlib.Path.open, pathlib.Path.replace = open_, replace
from tritonform.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("point", ["writing", "renaming"])
def test_an_attach_killed_while_writing_the_release_leaves_the_old_one_and_a_rerun_completes(
    tmp_path: Path, dev_bucket: str, point: str
) -> None:
    """The real CLI in a child process that SIGKILLs itself half-way through writing the new release to its
    temporary file, or with the temporary file complete but not yet renamed over the release: the release
    file is the old one, byte for byte, and the history has no record. A rerun takes the lock the dead
    process held, writes the new release and one record, and removes the dead process's temporary file."""
    project = copy_project(tmp_path / "project")
    config = project / "model_repository" / "vector_normalizer" / "config.pbtxt"
    config.write_text(
        config.read_text().replace("max_queue_delay_microseconds: 2000", "max_queue_delay_microseconds: 1500")
    )
    manifest = package(project / "model_repository", tmp_path / "pkg", default_model="text_embedder")
    publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)
    layout = ProjectLayout(project)
    release_file, history = layout.release_file("dev"), history_file(layout, "dev")
    old = release_file.read_bytes()
    command = ["--root", str(project), "release", "attach", manifest.sha256, "--env", "dev", "--actor", "ci"]

    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT, *command],
        cwd=project,
        env={**os.environ, "KILL_AT": point},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert release_file.read_bytes() == old
    assert not history.exists()
    leftovers = list(release_file.parent.glob(".dev.yaml.*.tmp"))
    assert len(leftovers) == 1  # the kill happened where it was meant to, with the new text (partly) written
    assert leftovers[0].read_bytes() != old

    rerun = tritonform_subprocess(*command, cwd=project, timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    assert load_deployment(layout, "dev").release.artifact.sha256 == manifest.sha256
    (record,) = read_history(history)
    assert isinstance(record, ReleaseChange) and record.from_ is not None
    assert record.from_.version_id == yaml.safe_load(old)["version_id"]
    assert record.to.sha256 == manifest.sha256
    assert list(release_file.parent.glob(".*.tmp")) == []


def test_an_attach_killed_before_its_history_record_is_recorded_late_by_the_next_one(
    tmp_path: Path, dev_bucket: str
) -> None:
    """Killed after the rename and before the record (the window is one fsync): the next command that takes
    the environment's lock finds a release the history does not end with and records it from the release
    file's own attached block, so the history still tells every change."""
    project = copy_project(tmp_path / "project")
    first, second = publish_version(project, tmp_path, 1500), publish_version(project, tmp_path, 1200)
    layout = ProjectLayout(project)
    history = history_file(layout, "dev")
    attach(layout, "dev", first, actor="ci", reason="first")
    command = ["--root", str(project), "release", "attach", second, "--env", "dev", "--actor", "alice",
               "--reason", "second"]  # fmt: skip

    killed = subprocess.run([sys.executable, "-c", KILL_AT, *command], cwd=project,
                            env={**os.environ, "KILL_AT": "recording"}, capture_output=True, text=True,
                            timeout=120, check=False, stdin=subprocess.DEVNULL)  # fmt: skip

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert load_deployment(layout, "dev").release.artifact.sha256 == second
    assert [r.to.sha256 for r in read_history(history) if isinstance(r, ReleaseChange)] == [first]  # the kill's gap

    rerun = tritonform_subprocess(*command, cwd=project, timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    records = [r for r in read_history(history) if isinstance(r, ReleaseChange)]
    assert [(r.action, r.from_ and r.from_.sha256, r.to.sha256) for r in records] == [
        ("attach", records[0].from_ and records[0].from_.sha256, first),
        ("recorded-late", first, second),
        ("attach", second, second),
    ]
    assert records[1].actor == "alice"
    assert records[1].reason.startswith("second (the release file changed without a history record")


# --- bytes that no longer match their sha256 --------------------------------------------------------------


@pytest.fixture
def live_in_dev(tmp_path: Path, aws: MotoServer) -> tuple[Path, str]:
    """A project copy whose dev runs a newly attached version (endpoint InService, alarms OK), with a
    versioned dev bucket and an empty staging bucket."""
    create_artifact_buckets(aws, "dev", "staging", versioned=("dev",))
    project = copy_project(tmp_path / "project")
    sha256 = publish_version(project, tmp_path, 1500)
    attach(ProjectLayout(project), "dev", sha256, actor="ci", reason="new version")
    make_live(project, "dev")
    return project, sha256


DEV_BUCKET, STAGING_BUCKET = "acme-tritonform-dev-artifacts", "acme-tritonform-staging-artifacts"


@pytest.mark.parametrize("s3_checksum", [True, False], ids=["with-s3-checksum", "without-s3-checksum"])
def test_promote_refuses_a_source_artifact_whose_bytes_no_longer_match_and_copies_nothing(
    live_in_dev: tuple[Path, str], run_cli: Callable[..., CliRun], s3_checksum: bool
) -> None:
    """Dev's object is replaced (a new version under the same key) by bytes of the same size that still
    claim the release's sha256 in their metadata; with or without S3's SHA-256 checksum of the new bytes,
    promote refuses before copying anything. With the good version current again, it promotes."""
    project, sha256 = live_in_dev
    layout = ProjectLayout(project)
    key = f"text_embedder/{sha256}/model.tar.gz"
    s3 = boto3.client("s3", region_name="us-east-1")
    good = s3.get_object(Bucket=DEV_BUCKET, Key=key)
    body = bytearray(good["Body"].read())
    body[len(body) // 2] ^= 0xFF  # one bit pattern flipped: same size, other bytes
    checksum: dict[str, str] = {"ChecksumAlgorithm": "SHA256"} if s3_checksum else {}
    bad = s3.put_object(Bucket=DEV_BUCKET, Key=key, Body=bytes(body), Metadata=good["Metadata"], **checksum)
    staging_before = layout.release_file("staging").read_bytes()
    promote = ("--root", str(project), "release", "promote", "--from", "dev", "--to", "staging", "--soak-minutes",
               "0", "--actor", "release-bot")  # fmt: skip

    refused = run_cli(*promote)

    assert refused.code == EXIT_INVALID_INPUT
    assert f"s3://{DEV_BUCKET}/{key}" in refused.err
    assert f"sha256 is {hashlib.sha256(body).hexdigest()}, not {sha256}" in refused.err
    assert layout.release_file("staging").read_bytes() == staging_before
    assert not history_file(layout, "staging").exists()
    assert "Versions" not in s3.list_object_versions(Bucket=STAGING_BUCKET)  # nothing copied, not even once

    s3.delete_object(Bucket=DEV_BUCKET, Key=key, VersionId=bad["VersionId"])  # the good version is current again
    promoted = run_cli(*promote)

    assert promoted.code == 0, promoted.err
    copied = s3.get_object(Bucket=STAGING_BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(copied).hexdigest() == sha256
    last = read_history(history_file(layout, "staging"))[-1]
    assert isinstance(last, ReleaseChange) and last.to.sha256 == sha256
