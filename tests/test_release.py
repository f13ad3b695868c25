"""The release workflow against a moto server on loopback: package, publish, attach, with the audit trail."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import threading
from pathlib import Path

import boto3
import pytest
import yaml

from tests.conftest import REPO_ROOT, copy_model_repository, copy_project
from tritonform.config import ProjectLayout, load_deployment
from tritonform.errors import UserError
from tritonform.release import attach as attaching
from tritonform.release.attach import attach, environment_lock
from tritonform.release.history import ReleaseChange, history_file, read_history
from tritonform.release.package import ARTIFACT, MANIFEST, package
from tritonform.release.publish import publish

pytestmark = pytest.mark.e2e

# --- package -------------------------------------------------------------------------------------------


def test_package_is_reproducible_across_mtimes_umask_and_location(tmp_path: Path) -> None:
    first = package(REPO_ROOT / "model_repository", tmp_path / "a", default_model="text_embedder")
    copy = tmp_path / "copy"
    copy_model_repository(copy)
    for path in copy.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
        path.chmod(0o700 if path.is_dir() else 0o600)  # what a strict umask does; the owner's exec bit is kept
    old_umask = os.umask(0o077)
    try:
        second = package(copy, tmp_path / "b", default_model="text_embedder")
    finally:
        os.umask(old_umask)

    assert first.sha256 == second.sha256
    assert (tmp_path / "a" / ARTIFACT).read_bytes() == (tmp_path / "b" / ARTIFACT).read_bytes()


def test_package_layout_and_manifest(tmp_path: Path) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder", source_commit="a" * 40)

    artifact = tmp_path / ARTIFACT
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == manifest.sha256
    assert manifest.version_id == manifest.sha256[:12]
    with tarfile.open(artifact) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert "config.pbtxt" not in members  # model directories at the root, no top-level config
    assert {"text_embedder/config.pbtxt", "text_embedder/1", "vector_normalizer/1/model.py"} <= set(members)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
    assert not any(".gitkeep" in name or "__pycache__" in name for name in members)
    recorded = json.loads((tmp_path / MANIFEST).read_text())
    files = {f["path"]: f["sha256"] for f in recorded["files"]}
    source = REPO_ROOT / "model_repository" / "vector_normalizer" / "config.pbtxt"
    assert files["vector_normalizer/config.pbtxt"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert recorded["source_commit"] == "a" * 40
    assert set(recorded["config_digests"]) == {"text_embedder", "text_preprocessor", "vector_normalizer"}
    assert artifact.read_bytes()[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no time


def test_a_large_file_round_trips_through_the_parallel_compressor(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    copy_model_repository(repository)
    weights = repository / "vector_normalizer" / "1" / "weights.bin"
    payload = os.urandom(9 << 20) + b"\0" * (5 << 20)  # incompressible, then compressible: both paths
    weights.write_bytes(payload)

    package(repository, tmp_path / "out", default_model="text_embedder")

    with tarfile.open(tmp_path / "out" / ARTIFACT) as archive:
        extracted = archive.extractfile("vector_normalizer/1/weights.bin")
        assert extracted is not None and extracted.read() == payload
    assert gzip.decompress((tmp_path / "out" / ARTIFACT).read_bytes())  # one valid gzip member


def test_package_refuses_an_invalid_repository_and_writes_nothing(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    copy_model_repository(repository)
    (repository / "text_preprocessor" / "1" / "model.py").unlink()

    with pytest.raises(UserError, match=r"the python backend loads model\.py") as raised:
        package(repository, tmp_path / "out", default_model="text_embedder")

    assert raised.value.exit_code == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_package_refuses_links_out_of_the_repository(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    copy_model_repository(repository)
    (tmp_path / "secret").write_text("key")
    (repository / "vector_normalizer" / "1" / "leak").symlink_to(tmp_path / "secret")

    with pytest.raises(UserError, match="outside the repository"):
        package(repository, tmp_path / "out", default_model="text_embedder")
    assert not (tmp_path / "out" / ARTIFACT).exists()


@pytest.mark.parametrize("name", ["weights\\..\\..\\evil", "line\nbreak", "bell\x07", "bad-\udcff-utf8"])
def test_package_refuses_names_that_do_not_unpack_the_same_everywhere(tmp_path: Path, name: str) -> None:
    repository = tmp_path / "repo"
    copy_model_repository(repository)
    (repository / "vector_normalizer" / "1" / name).write_bytes(b"x")

    with pytest.raises(UserError, match="rename it") as raised:
        package(repository, tmp_path / "out", default_model="text_embedder")
    assert raised.value.exit_code == 2
    assert not (tmp_path / "out" / ARTIFACT).exists()


def test_package_refuses_device_files_pipes_and_sockets(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    copy_model_repository(repository)
    os.mkfifo(repository / "vector_normalizer" / "1" / "pipe")

    with pytest.raises(UserError, match=r"not a regular file or directory \(device, socket or pipe\)"):
        package(repository, tmp_path / "out", default_model="text_embedder")
    assert not (tmp_path / "out" / ARTIFACT).exists()


# --- publish -------------------------------------------------------------------------------------------


def test_publish_uploads_content_addressed_verified_and_idempotent(tmp_path: Path, dev_bucket: str) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")

    first = publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)
    second = publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)

    assert first.uploaded and not second.uploaded
    key = f"text_embedder/{manifest.sha256}/model.tar.gz"
    assert first.s3_uri == f"s3://{dev_bucket}/{key}"
    s3 = boto3.client("s3", region_name="us-east-1")
    head = s3.head_object(Bucket=dev_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == manifest.sha256
    assert "ChecksumSHA256" in head
    body = s3.get_object(Bucket=dev_bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == manifest.sha256


def test_publish_never_overwrites_different_bytes(tmp_path: Path, dev_bucket: str) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    key = f"text_embedder/{manifest.sha256}/model.tar.gz"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=dev_bucket, Key=key, Body=b"other bytes", Metadata={"sha256": "0" * 64})

    with pytest.raises(UserError, match="holds other bytes"):
        publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)
    assert s3.get_object(Bucket=dev_bucket, Key=key)["Body"].read() == b"other bytes"


def test_publish_refuses_a_package_whose_bytes_changed(tmp_path: Path, dev_bucket: str) -> None:
    package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    with (tmp_path / ARTIFACT).open("ab") as artifact:
        artifact.write(b"tampered")

    with pytest.raises(UserError, match="no longer match the manifest"):
        publish(tmp_path, bucket=dev_bucket, region="us-east-1", quiet=True)
    assert boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=dev_bucket).get("KeyCount") == 0


def test_an_interrupted_multipart_upload_leaves_nothing_behind(
    tmp_path: Path, dev_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops on the second part of a multipart upload: no object, no unfinished upload,
    and a rerun completes. (Parts are shrunk to S3's 5 MiB minimum to keep the artifact small.)"""
    from boto3.s3.transfer import TransferConfig  # noqa: PLC0415

    from tritonform.release import aws as aws_clients  # noqa: PLC0415
    from tritonform.release import publish as publishing  # noqa: PLC0415

    repository = tmp_path / "repo"
    copy_model_repository(repository)
    (repository / "vector_normalizer" / "1" / "weights.bin").write_bytes(os.urandom(12 << 20))
    package(repository, tmp_path / "pkg", default_model="text_embedder")
    monkeypatch.setattr(publishing, "PART_BYTES", 5 << 20)
    monkeypatch.setattr(publishing, "TRANSFER", TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20,
                                                               max_concurrency=1))  # fmt: skip
    real_client = aws_clients.client
    parts: list[int] = []

    def drop_on_second_part(**_kwargs: object) -> None:
        parts.append(1)
        if len(parts) == 2:
            raise ConnectionError("connection reset by peer")

    def flaky_client(service: str, region: str) -> object:
        created = real_client(service, region)
        if service == "s3":
            created.meta.events.register("before-call.s3.UploadPart", drop_on_second_part)
        return created

    monkeypatch.setattr(aws_clients, "client", flaky_client)
    with pytest.raises((UserError, ConnectionError)):
        publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)

    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=dev_bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=dev_bucket).get("Uploads", []) == []

    monkeypatch.setattr(aws_clients, "client", real_client)
    rerun = publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)
    assert rerun.uploaded
    head = s3.head_object(Bucket=dev_bucket, Key=rerun.s3_uri.split("/", 3)[3], ChecksumMode="ENABLED")
    # three 5 MiB parts: the composite checksum is recomputed from the local bytes (moto omits S3's "-3")
    composite = publishing.expected_s3_checksum(
        tmp_path / "pkg" / ARTIFACT, (tmp_path / "pkg" / ARTIFACT).stat().st_size
    )
    assert composite.endswith("-3")
    assert head["ChecksumSHA256"].split("-")[0] == composite.split("-")[0]


def test_publish_registers_a_model_package_pending_approval(tmp_path: Path, dev_bucket: str) -> None:
    manifest = package(REPO_ROOT / "model_repository", tmp_path, default_model="text_embedder")
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"

    result = publish(tmp_path, bucket=dev_bucket, region="us-east-1", register=True, image_uri=image, quiet=True)
    again = publish(tmp_path, bucket=dev_bucket, region="us-east-1", register=True, image_uri=image, quiet=True)

    assert result.model_package_arn is not None and again.model_package_arn == result.model_package_arn
    described = boto3.client("sagemaker", region_name="us-east-1").describe_model_package(
        ModelPackageName=result.model_package_arn
    )
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["CustomerMetadataProperties"]["sha256"] == manifest.sha256


# --- attach --------------------------------------------------------------------------------------------


@pytest.fixture
def published(tmp_path: Path, dev_bucket: str) -> tuple[Path, str]:
    """A private project copy, and a version of its repository (one line changed) published to dev."""
    project = copy_project(tmp_path / "project")
    config = project / "model_repository" / "vector_normalizer" / "config.pbtxt"
    config.write_text(
        config.read_text().replace("max_queue_delay_microseconds: 2000", "max_queue_delay_microseconds: 1500")
    )
    manifest = package(project / "model_repository", tmp_path / "pkg", default_model="text_embedder")
    publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)
    return project, manifest.sha256


def test_attach_writes_the_release_and_a_history_record(published: tuple[Path, str]) -> None:
    project, sha256 = published
    layout = ProjectLayout(project)
    before = yaml.safe_load(layout.release_file("dev").read_text())

    result = attach(layout, "dev", sha256[:12], actor="alice", reason="new normaliser batching")

    release = yaml.safe_load(layout.release_file("dev").read_text())
    assert release["version_id"] == sha256[:12] and release["artifact"]["sha256"] == sha256
    assert (
        release["triton_image"]["uri"]
        == "763104351884.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"
    )
    assert release["attached"]["by"] == "alice"
    (record,) = read_history(history_file(layout, "dev"))
    assert isinstance(record, ReleaseChange) and record.from_ is not None
    assert record.from_.version_id == before["version_id"]
    assert record.to.sha256 == sha256 and record.to.size_bytes == release["artifact"]["size_bytes"]
    assert record.reason == "new normaliser batching" and record.action == "attach" and record.actor == "alice"
    assert result.previous is not None
    assert load_deployment(layout, "dev").release.artifact.sha256 == sha256  # the new file loads and checks


def test_attach_outside_a_git_checkout_records_no_commit_rather_than_a_made_up_one(
    published: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, sha256 = published
    layout = ProjectLayout(project)
    monkeypatch.setattr(attaching, "source_commit", lambda _root: None)

    attach(layout, "dev", sha256, actor="alice", reason="no checkout")

    assert yaml.safe_load(layout.release_file("dev").read_text())["attached"]["commit"] is None
    assert load_deployment(layout, "dev").release.attached.commit is None  # the file still loads and checks
    (record,) = read_history(history_file(layout, "dev"))
    assert record.commit is None
    assert "0" * 40 not in layout.release_file("dev").read_text() + history_file(layout, "dev").read_text()


def test_attach_refuses_an_unpublished_version(published: tuple[Path, str]) -> None:
    project, _ = published
    layout = ProjectLayout(project)
    before = layout.release_file("dev").read_bytes()

    with pytest.raises(UserError, match="is not published"):
        attach(layout, "dev", "0123456789ab", actor="alice", reason="x")

    assert layout.release_file("dev").read_bytes() == before
    assert not history_file(layout, "dev").exists()


def test_attach_refuses_bytes_that_do_not_match_their_checksum(published: tuple[Path, str], dev_bucket: str) -> None:
    project, sha256 = published
    layout = ProjectLayout(project)
    key = f"text_embedder/{sha256}/model.tar.gz"
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=dev_bucket, Key=key, Body=b"corrupted", Metadata={"sha256": sha256}, ChecksumAlgorithm="SHA256"
    )  # the recorded digest claims the right version; the bytes (and S3's checksum of them) say otherwise

    with pytest.raises(UserError, match=r"S3 checksum .* does not match the bytes"):
        attach(layout, "dev", sha256, actor="alice", reason="x")
    assert not history_file(layout, "dev").exists()


def test_two_attaches_to_one_environment_one_wins_the_other_fails_cleanly(published: tuple[Path, str]) -> None:
    project, sha256 = published
    layout = ProjectLayout(project)
    outcomes: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        with environment_lock(layout, "dev"):
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(timeout=30)
    try:
        attach(layout, "dev", sha256, actor="bob", reason="second")
        outcomes.append("attached")
    except UserError as err:
        outcomes.append(err.render())
    finally:
        release.set()
        holder.join()

    assert len(outcomes) == 1 and "is being changed by pid" in outcomes[0]
    assert not history_file(layout, "dev").exists()
    attach(layout, "dev", sha256, actor="bob", reason="after the other finished")
    assert len(read_history(history_file(layout, "dev"))) == 1
