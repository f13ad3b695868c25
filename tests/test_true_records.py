"""True records: a package, a release file, a history record and a review say which state of the model repository
they come from, and `check`/`synth` validate what each environment's release pins, not the working tree's
change in progress. A git checkout in tmp_path, the CLI in-process, moto on loopback for publish and attach."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import CliRun, copy_project
from tritonform.config import ProjectLayout, load_deployment
from tritonform.config.release import artifact_key
from tritonform.release.attach import attach
from tritonform.release.history import ReleaseChange, history_file, read_history
from tritonform.release.package import MANIFEST
from tritonform.release.publish import publish
from tritonform.release.reproduce import archive_digest
from tritonform.review.assess import review_environment
from tritonform.review.plan import Plan
from tritonform.review.render import plain

pytestmark = pytest.mark.e2e

NORMALIZER = Path("model_repository/vector_normalizer/config.pbtxt")
SHIPPED_VERSION = "969c14487609"


def git(project: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=project, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The example project committed to a fresh git repository, with *.bak ignored."""
    project = copy_project(tmp_path / "project")
    (project / ".gitignore").write_text("*.bak\n", encoding="utf-8")
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "example project")
    return project


def change_queue_delay(project: Path) -> None:
    """A valid change in progress: the normaliser's batching delay."""
    config = project / NORMALIZER
    config.write_text(
        config.read_text().replace("max_queue_delay_microseconds: 2000", "max_queue_delay_microseconds: 1500")
    )


def package_cli(run_cli: Callable[..., CliRun], project: Path, out: Path, *extra: str) -> CliRun:
    return run_cli("--root", str(project), "release", "package", "--out", str(out), "--default-model",
                   "text_embedder", *extra)  # fmt: skip


def test_a_clean_checkout_is_packaged_with_its_commit_and_not_modified(
    checkout: Path, tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    result = package_cli(run_cli, checkout, tmp_path / "pkg")

    assert result.code == 0, result.err
    manifest = json.loads((tmp_path / "pkg" / MANIFEST).read_text())
    head = git(checkout, "rev-parse", "HEAD")
    assert manifest["source_commit"] == head
    assert manifest["source_modified"] is False and manifest["source_changes"] == []
    assert f"commit   {head}\n" in result.out
    assert manifest["version_id"] == SHIPPED_VERSION  # the same bytes the shipped releases pin


def test_a_modified_repository_is_refused_naming_what_differs_and_nothing_is_written(
    checkout: Path, tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    change_queue_delay(checkout)
    (checkout / "model_repository/text_embedder/notes.bak").write_text("ignored by git, packaged all the same\n")
    (checkout / "model_repository/.scratch").write_text("a dot file: packaging skips it\n")
    (checkout / "model_repository/text_preprocessor/1/model.py").unlink()

    result = package_cli(run_cli, checkout, tmp_path / "pkg")

    assert result.code == 2
    assert "Traceback" not in result.err
    assert "has uncommitted changes (text_embedder/notes.bak, text_preprocessor/1/model.py, " in result.err
    assert "vector_normalizer/config.pbtxt)" in result.err
    assert ".scratch" not in result.err
    assert "--allow-modified" in result.err
    assert not (tmp_path / "pkg").exists()


def test_outside_a_git_checkout_the_commit_is_unknown_not_made_up(
    project: Path, tmp_path: Path, run_cli: Callable[..., CliRun]
) -> None:
    result = package_cli(run_cli, project, tmp_path / "pkg")

    assert result.code == 0, result.err
    manifest = json.loads((tmp_path / "pkg" / MANIFEST).read_text())
    assert manifest["source_commit"] is None and manifest["source_modified"] is None
    assert "commit   unknown (not a git checkout)" in result.out


def test_allow_modified_is_recorded_in_manifest_release_file_history_and_review(
    checkout: Path, tmp_path: Path, dev_bucket: str, run_cli: Callable[..., CliRun]
) -> None:
    change_queue_delay(checkout)
    head = git(checkout, "rev-parse", "HEAD")
    layout = ProjectLayout(checkout)
    base = load_deployment(layout, "dev").release

    result = package_cli(run_cli, checkout, tmp_path / "pkg", "--allow-modified")

    assert result.code == 0, result.err
    assert f"commit   a modified working tree of {head} (1 path(s) differ from it)" in result.out
    assert "  differs  vector_normalizer/config.pbtxt" in result.out
    manifest = json.loads((tmp_path / "pkg" / MANIFEST).read_text())
    assert manifest["source_commit"] == head and manifest["source_modified"] is True
    assert manifest["source_changes"] == ["vector_normalizer/config.pbtxt"]

    publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)
    attach(layout, "dev", manifest["sha256"], actor="alice", reason="try the new batching")

    release = yaml.safe_load(layout.release_file("dev").read_text())
    assert release["artifact"]["source"] == {"commit": head, "modified": True}
    (record,) = read_history(history_file(layout, "dev"))
    assert isinstance(record, ReleaseChange)
    assert record.to.source_commit == head and record.to.source_modified is True
    assert record.from_ is not None and record.from_.source_commit is None  # the shipped release does not say
    deployment = load_deployment(layout, "dev")
    text = plain([review_environment(deployment, Plan("tritonform-dev", tmp_path / "plan.json", []), base)])
    assert f"packaged from a modified working tree of commit {head[:12]})" in text
    assert "runs      the working tree's model_repository/ (packages to version " in "\n".join(
        run_cli("--root", str(checkout), "check", "--env", "dev").out.splitlines()
    )


def test_a_clean_package_attached_says_its_commit_everywhere(
    checkout: Path, tmp_path: Path, dev_bucket: str, run_cli: Callable[..., CliRun]
) -> None:
    change_queue_delay(checkout)
    git(checkout, "commit", "-q", "-am", "new batching")
    head = git(checkout, "rev-parse", "HEAD")
    layout = ProjectLayout(checkout)
    assert package_cli(run_cli, checkout, tmp_path / "pkg").code == 0
    manifest = json.loads((tmp_path / "pkg" / MANIFEST).read_text())
    publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)

    attach(layout, "dev", manifest["sha256"], actor="alice", reason="new batching")

    assert yaml.safe_load(layout.release_file("dev").read_text())["artifact"]["source"] == {
        "commit": head,
        "modified": False,
    }
    (record,) = read_history(history_file(layout, "dev"))
    assert record.to.source_commit == head and record.to.source_modified is False  # type: ignore[union-attr]
    check = run_cli("--root", str(checkout), "check", "--env", "prod")
    assert f"runs      version {SHIPPED_VERSION}, its source is not recorded in the release file; " in check.out


def _break_batching(project: Path) -> None:
    """A change Triton would refuse: the ensemble batches up to 64, the normaliser would take 32."""
    config = project / NORMALIZER
    config.write_text(config.read_text().replace("max_batch_size: 64", "max_batch_size: 32"))


def test_a_release_from_a_clean_commit_is_validated_from_git_while_the_working_tree_moves_on(
    checkout: Path, tmp_path: Path, dev_bucket: str, run_cli: Callable[..., CliRun]
) -> None:
    change_queue_delay(checkout)
    git(checkout, "commit", "-q", "-am", "new batching")
    head = git(checkout, "rev-parse", "HEAD")
    assert package_cli(run_cli, checkout, tmp_path / "pkg").code == 0
    manifest = json.loads((tmp_path / "pkg" / MANIFEST).read_text())
    publish(tmp_path / "pkg", bucket=dev_bucket, region="us-east-1", quiet=True)
    attach(ProjectLayout(checkout), "dev", manifest["sha256"], actor="alice", reason="new batching")
    _break_batching(checkout)  # the next change, in progress

    result = run_cli("--root", str(checkout), "check", "--env", "dev")

    assert result.code == 0, result.err
    assert (
        f"  runs      {head[:12]}:model_repository/ from git, packaged from commit {head[:12]} (packages to version "
        f"{manifest['version_id']} byte for byte; the working tree's model_repository/ packages to other bytes): "
        "validated"
    ) in result.out


def _pin_source(project: Path, env: str, commit: str) -> None:
    """Say in `env`'s release file that its artifact was packaged from a clean `commit` (as attach records)."""
    path = project / "environments" / "releases" / f"{env}.yaml"
    release = yaml.safe_load(path.read_text())
    release["artifact"]["source"] = {"commit": commit, "modified": False}
    path.write_text(yaml.safe_dump(release, sort_keys=False))


def test_a_commit_a_release_pins_is_validated_and_its_problems_named_as_git_names_them(
    checkout: Path, run_cli: Callable[..., CliRun]
) -> None:
    _break_batching(checkout)
    git(checkout, "commit", "-q", "-am", "a broken normaliser, packaged by hand")
    broken = git(checkout, "rev-parse", "HEAD")
    _pin(checkout, "dev")
    _pin_source(checkout, "dev", broken)
    git(checkout, "revert", "--no-edit", "HEAD")  # the working tree moves on: dev still runs the broken bytes

    result = run_cli("--root", str(checkout), "check", "--env", "dev")

    assert result.code == 2
    assert f"model_name: {broken[:12]}:model_repository/ is not loadable by Triton" in result.err
    assert (
        f"{broken[:12]}:model_repository/text_embedder/config.pbtxt:29: step 2 (vector_normalizer): the " in result.err
    )
    assert "tritonform-pinned-" not in result.err  # no scratch path


def test_a_recorded_commit_this_checkout_lacks_is_said_not_claimed(
    checkout: Path, run_cli: Callable[..., CliRun]
) -> None:
    _pin_source(checkout, "prod", "f" * 40)
    _break_batching(checkout)

    result = run_cli("--root", str(checkout), "check", "--env", "prod")

    assert result.code == 0, result.err
    assert (
        f"  runs      version {SHIPPED_VERSION}, packaged from commit ffffffffffff, but that commit's model_repository/ "
        "is not in this checkout or packages to other bytes; the working tree's model_repository/ packages to other "
        "bytes, so it is not revalidated here"
    ) in result.out


def _pin(project: Path, env: str) -> str:
    """Pin `env` to the bytes its working tree packages to, as an attach of that package would."""
    sha256, size = archive_digest(project / "model_repository", "fast") or ("", 0)
    path = project / "environments" / "releases" / f"{env}.yaml"
    release = yaml.safe_load(path.read_text())
    bucket = release["artifact"]["s3_uri"].split("/")[2]
    release["version_id"] = sha256[:12]
    release["artifact"] = {"s3_uri": f"s3://{bucket}/{artifact_key('text_embedder', sha256)}", "sha256": sha256,
                           "size_bytes": size}  # fmt: skip
    path.write_text(yaml.safe_dump(release, sort_keys=False))
    return sha256[:12]


def test_a_change_in_progress_does_not_block_environments_that_run_other_bytes(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    config = project / NORMALIZER
    config.write_text(config.read_text().replace("max_batch_size: 64", "max_batch_size: 32"))  # not loadable

    result = run_cli("--root", str(project), "check")

    assert result.code == 0, result.err
    runs = [line for line in result.out.splitlines() if line.startswith("  runs")]
    assert (
        runs
        == [
            f"  runs      version {SHIPPED_VERSION}, its source is not recorded in the release file; the working tree's "
            "model_repository/ packages to other bytes, so it is not revalidated here (`tritonform repo validate` "
            "checks the working tree)"
        ]
        * 3
    )
    assert "validated" not in result.out.replace("not revalidated", "")


def test_the_environment_that_pins_the_change_is_validated_and_blocked_the_others_are_not(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    config = project / NORMALIZER
    config.write_text(config.read_text().replace("max_batch_size: 64", "max_batch_size: 32"))
    version = _pin(project, "dev")

    dev = run_cli("--root", str(project), "check", "--env", "dev")
    prod = run_cli("--root", str(project), "check", "--env", "prod")

    assert dev.code == 2
    assert "the ensemble batches up to 64 but vector_normalizer takes max_batch_size 32" in dev.err
    assert prod.code == 0, prod.err
    assert f"version {SHIPPED_VERSION}, its source is not recorded" in prod.out
    assert version != SHIPPED_VERSION


def test_synth_of_prod_goes_ahead_while_the_working_tree_holds_a_broken_change(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    config = project / NORMALIZER
    config.write_text(config.read_text().replace("max_batch_size: 64", "max_batch_size: 32"))

    result = run_cli("--root", str(project), "synth", "--env", "prod", "--outdir", str(project / "out"))

    assert result.code == 0, result.err
    assert "so it is not revalidated here" in result.out
    assert (project / "out").is_dir()


def test_the_shipped_working_tree_is_what_every_shipped_release_pins(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    result = run_cli("--root", str(project), "check")

    assert result.code == 0, result.err
    assert (
        result.out.count(
            f"  runs      the working tree's model_repository/ (packages to version {SHIPPED_VERSION} byte for byte): "
            "validated"
        )
        == 3
    )


@pytest.mark.parametrize("inside", ["model_repository/dist", "link/dist", "model_repository"])
def test_package_out_inside_the_repository_is_refused(
    project: Path, tmp_path: Path, run_cli: Callable[..., CliRun], inside: str
) -> None:
    (tmp_path / "link").symlink_to(project / "model_repository")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))

    result = package_cli(run_cli, project, tmp_path / inside if inside.startswith("link") else project / inside)

    assert result.code == 2
    assert "is inside the repository being packaged" in result.err
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
