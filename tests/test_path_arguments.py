"""Every path argument of every command, given every shape a path can have (missing, a file, a directory, a
named pipe, a path through a file, nested missing parents, a trailing slash): the answer is exit 0 or 2,
never a traceback; a wrong shape is one message naming the argument and writes nothing; and nothing appears
anywhere but the output the command was asked to write (hypothesis builds the paths).

The tests run as root, for whom every directory is writable, so "cannot be written" is the path through a
file, which no user can create. The Terraform and checkov steps of `plan` and `scan` are replaced by stand-ins
that return at once: what is under test is how the commands take and write their paths.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CliRun
from tritonform.cli import stacks
from tritonform.cli.paths import _umask, write_output_file
from tritonform.security import scan as security_scan

pytestmark = pytest.mark.config

Kind = Literal["absent", "dir", "file", "fifo"]
Expected = Literal["input-directory", "input-file", "output-directory", "output-file"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True)
class Shape:
    """A path of 1-4 steps; `kinds[i]` is what exists at the i-th step (nothing exists below a non-directory)."""

    kinds: tuple[Kind, ...]
    trailing_slash: bool

    def materialise(self, base: Path) -> Path:
        path = base
        blocked = False
        for index, kind in enumerate(self.kinds):
            path = path / f"p{index}"
            if blocked or kind == "absent":
                blocked = True
                continue
            if kind == "dir":
                path.mkdir()
            elif kind == "file":
                path.write_text("not what a command expects\n", encoding="utf-8")
            else:
                os.mkfifo(path)
            blocked = kind != "dir"
        return path

    @property
    def final(self) -> Kind | Literal["through-file"]:
        """What is at the path: a kind, "absent", or "through-file" when a step above is not a directory."""
        for kind in self.kinds[:-1]:
            if kind == "absent":
                return "absent"
            if kind != "dir":
                return "through-file"
        return self.kinds[-1]

    def fits(self, expected: Expected) -> bool:
        final = self.final
        if expected == "input-directory":
            return final == "dir"
        if expected == "input-file":
            return final == "file" and not self.trailing_slash
        if expected == "output-directory":
            return final in ("dir", "absent")
        return final in ("file", "absent") and not self.trailing_slash


shapes = st.builds(
    Shape, st.lists(st.sampled_from(["absent", "dir", "file", "fifo"]), min_size=1, max_size=4).map(tuple),
    st.booleans(),
)  # fmt: skip


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    expected: Expected
    codes: tuple[int, ...] = (0, 2)
    """The exit codes a path of the right shape may give: 1 too for a command whose job is a verdict on what
    the path holds (an empty directory is not a valid model repository)."""

    def __str__(self) -> str:
        return " ".join(self.argv)


PLAN = '{"format_version": "1.2", "resource_changes": []}\n'
COMMANDS = [
    Command(("--root", "{path}", "check"), "input-directory"),
    Command(("synth", "--env", "dev", "--state-backend", "local", "--outdir", "{path}"), "output-directory"),
    Command(("plan", "--env", "dev", "--state-backend", "local", "--out", "{path}"), "output-directory"),
    Command(("scan", "--plans", "{path}"), "input-directory"),
    Command(("scan", "--findings-out", "{path}"), "output-file"),
    Command(("schema", "--out", "{path}"), "output-directory"),
    Command(("review", "--plan", "dev={plan}", "--out", "{path}"), "output-file"),
    Command(("review", "--plan", "dev={plan}", "--findings", "{path}"), "input-file"),
    Command(("review", "--plan", "dev={plan}", "--base", "{path}"), "input-directory"),
    Command(("repo", "validate", "{path}"), "input-directory", codes=(0, 1, 2)),
    Command(("policy", "check", "{path}"), "input-file", codes=(0, 1, 2)),
    Command(("release", "package", "--out", "{path}"), "output-directory"),
    Command(("release", "package", "{path}", "--out", "{elsewhere}"), "input-directory", codes=(0, 1, 2)),
    Command(("release", "publish", "{path}", "--env", "dev"), "input-directory"),
]


def _entries(directory: Path) -> dict[Path, int]:
    return {path: path.lstat().st_mtime_ns for path in directory.rglob("*")}


class _FakeScan:
    ok = True

    def findings_report(self) -> dict[str, Any]:
        return {"results": {"failed_checks": []}}

    def render(self) -> list[str]:
        return ["scan: stand-in result"]


def _quick_plan_and_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Terraform and no checkov: `plan` and `scan` get no stacks, and the scan an empty result (`synth`
    synthesizes for real)."""
    monkeypatch.setattr(stacks, "synthesize", lambda *args, **kwargs: [])
    monkeypatch.setattr(security_scan, "scan", lambda *args, **kwargs: _FakeScan())


@pytest.fixture
def workspace(tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Runs start in an empty working directory inside tmp_path (a relative write would land there)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    (tmp_path / "plan.json").write_text(PLAN, encoding="utf-8")
    yield tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=str)
@SETTINGS
@given(shape=shapes)
def test_every_shape_of_every_path_argument(
    workspace: Path, project: Path, run_cli: Callable[..., CliRun], monkeypatch: pytest.MonkeyPatch,
    command: Command, shape: Shape,
) -> None:  # fmt: skip
    if command.argv[0] in ("plan", "scan"):
        _quick_plan_and_scan(monkeypatch)
    watched = [project, workspace / "cwd"]
    with tempfile.TemporaryDirectory(dir=workspace) as scratch:
        sandbox, elsewhere = Path(scratch) / "sandbox", Path(scratch) / "elsewhere"
        sandbox.mkdir()
        path = shape.materialise(sandbox)
        given_path = f"{path}/" if shape.trailing_slash else str(path)
        before = {directory: _entries(directory) for directory in (*watched, sandbox)}
        argv = [part.format(path=given_path, plan=workspace / "plan.json", elsewhere=elsewhere)
                for part in command.argv]  # fmt: skip
        root = [] if command.argv[0] == "--root" else ["--root", str(project)]

        result = run_cli(*root, *argv)

        assert result.code in command.codes, (result.out, result.err)
        assert "Traceback" not in result.err
        for directory in watched:
            assert _entries(directory) == before[directory], f"{command} changed {directory}"
        new = set(_entries(sandbox)) - set(before[sandbox])
        if not shape.fits(command.expected):
            assert result.code == 2
            assert "error: argument" in result.err and str(path) in result.err, result.err
            assert not new, f"a refused path wrote {new}"
            return
        assert all(entry == path or entry.is_relative_to(path) or path.is_relative_to(entry) for entry in new), new
        if result.code == 0 and command.expected == "output-directory":
            assert path.is_dir()
        if result.code == 0 and command.expected == "output-file" and command.argv[0] == "review":
            assert path.is_file() and "dev" in path.read_text(encoding="utf-8")


def test_an_output_file_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "made" / "on" / "demand" / "review.md"
    write_output_file(target, "first review\n")
    assert target.read_text(encoding="utf-8") == "first review\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as open() would have made it

    real_fdopen = os.fdopen

    class FullDisk(io.TextIOWrapper):
        def write(self, text: str) -> int:
            super().write(text[:5])
            self.flush()
            raise OSError(28, "No space left on device")

    def fdopen(handle: int, mode: str, encoding: str) -> io.TextIOWrapper:
        return FullDisk(real_fdopen(handle, mode.replace("w", "wb")), encoding=encoding)

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(OSError, match="No space left"):
        write_output_file(target, "second review, longer\n")

    assert target.read_text(encoding="utf-8") == "first review\n"  # the old file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["review.md"]  # no temporary file left
