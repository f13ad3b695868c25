"""Shared fixtures: a throw-away copy of the example project, and YAML editing helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tritonform import cli
from tritonform.standin import MotoServer, aws_pointed_at, moto_server

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIRS = ("environments", "rollout_policies", "model_repository")


def copy_project(destination: Path) -> Path:
    for name in PROJECT_DIRS:
        shutil.copytree(REPO_ROOT / name, destination / name)
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
