"""Shared test helpers, one of each: copies of the example project, the reader of synthesized stacks, the
artifact buckets in moto, YAML editing, running the CLI; and the tier check (every test names one tier).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# cdktf.Testing.app() makes a directory in Node's os.tmpdir() and never removes it: the jsii kernel (started
# by the first import of cdktf, below) and every process the tests start get a temporary directory of their
# own. The first process of a run makes it (xdist's workers and pytester's inner runs inherit it) and removes
# it when it exits.
if "TRITONFORM_TESTS_TMPDIR" not in os.environ:
    _run_tmp = tempfile.mkdtemp(prefix="tritonform-tests-")
    os.environ["TRITONFORM_TESTS_TMPDIR"] = os.environ["TMPDIR"] = _run_tmp
    atexit.register(shutil.rmtree, _run_tmp, True)

import boto3
import pytest
import yaml

from tritonform import cli
from tritonform.standin import MotoServer, aws_pointed_at, moto_server

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIRS = ("environments", "rollout_policies", "model_repository")
_NOT_SOURCES = shutil.ignore_patterns("__pycache__")
"""Bytecode a test run left in the example (Triton's python backend imports model.py) is no part of a copy."""

pytest_plugins = ["pytester"]  # tests/test_tiers.py runs the tier check on throw-away test modules

TIERS = ("config", "constructs", "synth", "e2e")
"""pytest markers, one per test module (`pytestmark`), registered in pyproject.toml: `-m config` selects one."""


# --- tiers ------------------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before -m deselects: an untiered test is reported whichever tier is asked for
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run a test without exactly one tier marker, so that `-m <tier>` never silently skips it."""
    wrong: dict[str, set[str]] = {}
    for item in items:
        tiers = {marker.name for marker in item.iter_markers() if marker.name in TIERS}
        if len(tiers) != 1:
            wrong.setdefault(item.nodeid.split("::")[0], set()).update(tiers)
    if wrong:
        lines = [
            f"  {path}: {', '.join(sorted(tiers)) if tiers else 'no tier'}" for path, tiers in sorted(wrong.items())
        ]
        raise pytest.UsageError(
            "every test needs exactly one tier marker; put one of these at module level:\n"
            + "".join(f"  pytestmark = pytest.mark.{tier}\n" for tier in TIERS)
            + "(or add it to an existing pytestmark list). Tests without exactly one tier:\n"
            + "\n".join(lines)
        )


# --- the example project ----------------------------------------------------------------------------------


def copy_project(destination: Path) -> Path:
    """A copy of the example project's inputs (environments, rollout policies, model repository)."""
    for name in PROJECT_DIRS:
        shutil.copytree(REPO_ROOT / name, destination / name, ignore=_NOT_SOURCES)
    return destination


def copy_model_repository(destination: Path) -> Path:
    """A copy of the example model repository alone, for tests that package or serve it."""
    shutil.copytree(REPO_ROOT / "model_repository", destination, ignore=_NOT_SOURCES)
    return destination


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the example project that a test may break as it likes."""
    return copy_project(tmp_path / "project")


Editor = Callable[[Path, Callable[[dict[str, Any]], object]], None]


def edit_yaml(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture
def edit() -> Editor:
    return edit_yaml


class CliRun:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run `tritonform` in-process (fast; the subprocess tests cover the real entry point)."""

    def run(*args: str) -> CliRun:
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run


def tritonform_subprocess(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """The real console entry point, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tritonform.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def synthesized_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped example project synthesized once per session (the expensive step)."""
    outdir = tmp_path_factory.mktemp("synth") / "cdktf.out"
    result = tritonform_subprocess("synth", "--outdir", str(outdir), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    yield outdir


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoServer]:
    """A moto server on loopback as the AWS API for one test module; clients find it via AWS_ENDPOINT_URL."""
    with moto_server() as server, aws_pointed_at(server):
        yield server


def artifact_bucket(environment: str) -> str:
    """The artifact bucket that the example project's environments/<environment>.yaml names."""
    data = yaml.safe_load((REPO_ROOT / "environments" / f"{environment}.yaml").read_text(encoding="utf-8"))
    return str(data["artifacts"]["bucket"])


def create_artifact_buckets(aws: MotoServer, *environments: str, versioned: tuple[str, ...] = ()) -> dict[str, str]:
    """Empty the moto server, then create these environments' artifact buckets: {environment: bucket}.

    The stack makes every artifact bucket versioned; `versioned` names the ones a test needs that for.
    """
    aws.reset()
    s3 = boto3.client("s3", region_name="us-east-1")
    buckets = {environment: artifact_bucket(environment) for environment in environments}
    for environment, bucket in buckets.items():
        s3.create_bucket(Bucket=bucket)
        if environment in versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return buckets


@pytest.fixture
def dev_bucket(aws: MotoServer) -> str:
    """An empty moto but for dev's artifact bucket."""
    return create_artifact_buckets(aws, "dev")["dev"]


# --- synthesized stacks -----------------------------------------------------------------------------------


def stack_directory(outdir: Path, stack: str) -> Path:
    """Where synthesis into OUTDIR puts one stack (cdktf's layout: OUTDIR/stacks/<stack>/cdk.tf.json)."""
    return outdir / "stacks" / stack


def stack_file(outdir: Path, stack: str) -> Path:
    return stack_directory(outdir, stack) / "cdk.tf.json"


def stack_document(outdir: Path, stack: str) -> dict[str, Any]:
    """One synthesized stack's Terraform JSON."""
    document: dict[str, Any] = json.loads(stack_file(outdir, stack).read_text(encoding="utf-8"))
    return document


def edit_stack_document(outdir: Path, stack: str, change: Callable[[dict[str, Any]], object]) -> None:
    """Rewrite one synthesized stack after `change` edits its JSON in place (to plant a fault)."""
    document = stack_document(outdir, stack)
    change(document)
    stack_file(outdir, stack).write_text(json.dumps(document), encoding="utf-8")
