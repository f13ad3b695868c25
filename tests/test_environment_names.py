"""An environment name becomes part of file names (its YAML, release, history and lock): a malformed or unknown
name is refused before anything is read or written, whichever command it is given to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRun
from tritonform.config import ProjectLayout
from tritonform.errors import UserError

pytestmark = pytest.mark.config

HOSTILE_NAMES = ["../../escape", "../dev", "dev/../../x", "./dev", ".", "..", "/tmp/x", "dev.yaml", "Dev", "dev\n",
                 "d" * 21, "", "-dev", "dév"]  # fmt: skip
UNKNOWN_NAMES = ["qa", "prod2"]
COMMANDS: list[list[str]] = [
    ["release", "attach", "--env", "{env}", "0123456789ab"],
    ["release", "rollback", "--env", "{env}"],
    ["release", "watch", "--env", "{env}", "--timeout", "1"],
    ["release", "promote", "--from", "dev", "--to", "{env}"],
    ["release", "promote", "--from", "{env}", "--to", "prod"],
    ["release", "publish", "{tmp}", "--env", "{env}"],
    ["policy", "explain", "--env", "{env}"],
    ["synth", "--env", "{env}", "--outdir", "{tmp}/out"],
]


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_NAMES + UNKNOWN_NAMES)
def test_layout_refuses_a_name_before_deriving_a_path(tmp_path: Path, project: Path, name: str) -> None:
    layout = ProjectLayout(project)
    with pytest.raises(UserError) as caught:
        layout.lock_file(name)
    assert "environment" in caught.value.render()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_file_names_are_never_built_from_a_malformed_name(project: Path, name: str) -> None:
    layout = ProjectLayout(project)
    for derive in (layout.environment_file, layout.release_file):
        with pytest.raises(UserError, match="not an environment name"):
            derive(name)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("name", ["../../escape", "dev/../../x", "qa"])
def test_commands_refuse_the_name_and_write_nothing(
    tmp_path: Path, project: Path, run_cli: Callable[..., CliRun], command: list[str], name: str
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = _files(tmp_path)
    args = [part.format(env=name, tmp=scratch) for part in command]
    result = run_cli("--root", str(project), *args)
    assert result.code == 2, (args, result.out, result.err)
    assert "Traceback" not in result.err
    assert name in result.err or repr(name) in result.err
    assert _files(tmp_path) == before, "the command wrote something"
