"""A new environment before its first release: refused by check and synth with a message that names the
first deploy, and bootstrapped only when it really is new (never released)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliRun
from tests.test_first_deploy import add_new_environment

pytestmark = pytest.mark.config


@pytest.mark.parametrize("selection", [[], ["--env", "qa"]])
def test_a_new_environment_is_refused_with_the_first_deploy(
    project: Path, run_cli: Callable[..., CliRun], selection: list[str]
) -> None:
    add_new_environment(project)

    result = run_cli("--root", str(project), "check", *selection)

    assert result.code == 2
    assert "environments/releases/qa.yaml: environment 'qa' has no release file" in result.err
    assert "tritonform synth --env qa --bootstrap" in result.err


def test_a_lost_release_file_is_an_error_not_a_new_environment(project: Path, run_cli: Callable[..., CliRun]) -> None:
    (project / "environments/releases/staging.yaml").unlink()
    (project / "environments/history").mkdir(exist_ok=True)
    (project / "environments/history/staging.jsonl").write_text("", encoding="utf-8")

    checked = run_cli("--root", str(project), "check")
    bootstrapped = run_cli("--root", str(project), "synth", "--env", "staging", "--bootstrap",
                           "--outdir", str(project / "out"))  # fmt: skip

    assert checked.code == 2 and "'staging' has no release file" in checked.err
    assert bootstrapped.code == 2 and "not new" in bootstrapped.err
    assert not (project / "out").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--env", "dev"], "dev has a release or a history of releases, so it is not new"),
        ([], "--bootstrap needs --env NAME"),
        (["--env", "qa2"], "unknown environment 'qa2'"),
    ],
)
def test_bootstrap_refuses_what_is_not_a_new_environment_and_writes_nothing(
    project: Path, run_cli: Callable[..., CliRun], arguments: list[str], message: str
) -> None:
    add_new_environment(project)

    result = run_cli("--root", str(project), "synth", "--bootstrap", "--outdir", str(project / "out"), *arguments)

    assert result.code == 2
    assert message in result.err
    assert not (project / "out").exists()


def test_a_new_environment_that_takes_anothers_bucket_is_refused(project: Path, run_cli: Callable[..., CliRun]) -> None:
    add_new_environment(project)
    qa = project / "environments/qa.yaml"
    qa.write_text(qa.read_text(encoding="utf-8").replace("acme-tritonform-qa-artifacts",
                                                         "acme-tritonform-staging-artifacts"), encoding="utf-8")  # fmt: skip

    result = run_cli("--root", str(project), "synth", "--env", "qa", "--bootstrap", "--outdir", str(project / "out"))

    assert result.code == 2
    assert "artifacts.bucket: the same as in environment 'staging'" in result.err
