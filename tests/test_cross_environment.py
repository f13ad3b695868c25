"""Checks across environments whatever `--env` selects (an endpoint or a bucket two environments share is
found from either side), and each problem said once: a file two environments share (a rollout policy, the
model repository) is not reported once per environment, and a broken file that is not selected blocks
nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, Editor
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_deployments
from tritonform.errors import UserError
from tritonform.release.reproduce import archive_digest

pytestmark = pytest.mark.config


DEV_BUCKET = "acme-tritonform-dev-artifacts"


def _share_devs_bucket(data: dict[str, Any]) -> None:
    data["artifacts"]["bucket"] = DEV_BUCKET


def _share_devs_endpoint(data: dict[str, Any]) -> None:
    data["account_id"] = "111111111111"
    data["endpoint"]["name"] = "text-embedder-dev"


@pytest.mark.parametrize(("change", "field"), [(_share_devs_bucket, "artifacts.bucket"),
                                               (_share_devs_endpoint, "endpoint.name")])  # fmt: skip
@pytest.mark.parametrize("selected", [["dev"], ["staging"], None])
def test_a_collision_is_found_whichever_environment_is_selected(
    project: Path, edit: Editor, change: Callable[[dict[str, Any]], None], field: str, selected: list[str] | None
) -> None:
    edit(project / "environments/staging.yaml", change)
    if change is _share_devs_bucket:  # staging's release names its artifact in the bucket staging now has
        release = project / "environments/releases/staging.yaml"
        text = release.read_text(encoding="utf-8").replace("acme-tritonform-staging-artifacts/", f"{DEV_BUCKET}/")
        release.write_text(text, encoding="utf-8")

    with pytest.raises(UserError) as caught:
        load_deployments(ProjectLayout(project), selected)

    rendered = caught.value.render(relative_to=project)
    here, other = ("dev", "staging") if selected == ["dev"] else ("staging", "dev")  # said where --env points
    assert f"environments/{here}.yaml: {field}: the same as in environment '{other}'" in rendered


def test_environments_that_do_not_collide_with_the_selected_one_are_not_its_problem(
    project: Path, edit: Editor
) -> None:
    edit(project / "environments/staging.yaml", _share_devs_bucket)

    (prod,) = load_deployments(ProjectLayout(project), ["prod"])

    assert prod.environment.name == "prod"


def test_an_environment_file_that_does_not_load_blocks_only_itself(project: Path) -> None:
    staging = project / "environments/staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8").replace("region: ", "region: [", 1), encoding="utf-8")

    (dev,) = load_deployments(ProjectLayout(project), ["dev"])
    with pytest.raises(UserError) as caught:
        load_deployments(ProjectLayout(project))

    assert dev.environment.name == "dev"
    assert [p.file for p in caught.value.problems] == [staging]  # one problem, and none that follows from it


def test_a_broken_policy_two_environments_use_is_reported_once(project: Path, run_cli: Callable[..., CliRun]) -> None:
    policy = project / "rollout_policies/canary-1-instance.yaml"  # staging's and prod's
    policy.write_text(policy.read_text(encoding="utf-8") + "  x: [\n", encoding="utf-8")

    result = run_cli("--root", str(project), "check")

    assert result.code == 2
    assert result.err.count("rollout_policies/canary-1-instance.yaml") == 1, result.err


def test_a_repository_problem_is_reported_once_for_every_environment_that_runs_it(
    project: Path, run_cli: Callable[..., CliRun]
) -> None:
    config = project / "model_repository/text_embedder/config.pbtxt"
    config.write_text(config.read_text(encoding="utf-8").replace("TYPE_STRING", "TYPE_BOGUS", 1), encoding="utf-8")
    digest = archive_digest(project / "model_repository", "fast")
    assert digest is not None
    sha256, size = digest
    for release in (project / "environments/releases").glob("*.yaml"):  # all three pin the broken bytes
        text = release.read_text(encoding="utf-8")
        pinned = re.search(r"sha256: ([0-9a-f]{64})", text)
        assert pinned is not None
        text = text.replace(pinned.group(1), sha256).replace(pinned.group(1)[:12], sha256[:12])
        release.write_text(re.sub(r"size_bytes: \d+", f"size_bytes: {size}", text), encoding="utf-8")

    result = run_cli("--root", str(project), "check")

    assert result.code == 2
    assert result.err.count("not a valid Triton ModelConfig") == 1, result.err
    for env in ("dev", "staging", "prod"):  # each environment it blocks is still named
        assert f"environments/releases/{env}.yaml:5: model_name: model_repository/ is not loadable" in result.err
