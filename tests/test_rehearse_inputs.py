"""`tritonform rehearse` with a candidate named by version id and traffic from a file, on staging.

The other rehearsal tests roll out the working tree's repository with the smoke requests as traffic; these
rehearse a release's own bytes (`--version <version id>`, reproduced from the checkout) and send the requests
of a given file (`--requests FILE`), on the one shipped environment those tests do not rehearse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CliRun, copy_project

pytestmark = [pytest.mark.e2e]
NOT_AN_INPUT = {"datatype": "BYTES", "shape": [1, 1], "data": ["a"]}
EMBEDDING = {"EMBEDDING": {"datatype": "FP32", "shape": [1, 64]}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("rehearse-inputs") / "project")


def rehearse(run_cli: Callable[..., CliRun], root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("--root", str(root), "rehearse", "--env", "staging", "--time-scale", "120", "--json", *args)
    assert "Traceback" not in result.err
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def test_a_release_named_by_version_id_rolls_out_on_staging(run_cli: Callable[..., CliRun], root: Path) -> None:
    dev_release = yaml.safe_load((root / "environments" / "releases" / "dev.yaml").read_text(encoding="utf-8"))
    version = dev_release["version_id"]

    code, report = rehearse(run_cli, root, "--version", version, "--rate", "1")

    assert (code, report["outcome"], report["as_promised"]) == (0, "completed", True), report["why"]
    assert report["environment"] == "staging"
    assert f"version {version}" in report["candidate"]
    load = report["load"]
    assert load["sent"] > 0 and load["failed"] == 0 and set(load["statuses"]) == {"200"}


def test_the_traffic_is_the_requests_of_the_given_file(
    run_cli: Callable[..., CliRun], root: Path, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.yaml"
    # An input the default model does not have: every answer is a client error, where the smoke requests
    # (the traffic without --requests) all succeed, so the statuses show which traffic was sent.
    request = {"name": "no such input", "inputs": {"NOT_AN_INPUT": NOT_AN_INPUT}, "expect": EMBEDDING}
    requests.write_text(yaml.safe_dump({"requests": [request]}), encoding="utf-8")

    _, report = rehearse(run_cli, root, "--requests", str(requests), "--rate", "1")

    load = report["load"]
    assert load["sent"] > 0
    assert load["statuses"] and all(status.startswith("4") for status in load["statuses"]), load
    assert report["outcome"] != "failed", report["why"]
