"""What the demo reads back to show what happened: the local SageMaker's record of an endpoint operation,
the endpoint configuration Terraform's state records, the release files and histories."""

from __future__ import annotations

import difflib
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tritonform.config import ProjectLayout
from tritonform.release.history import (
    DeployRecorded,
    HistoryRecord,
    InServiceSeen,
    ReleaseChange,
    RollbackDetected,
    history_file,
    read_history,
)


def timeline_steps(local_sagemaker_url: str, endpoint: str) -> list[str]:
    """The steps of the endpoint's last operation in model seconds, with the new fleet's share of traffic
    (`GET /_localsagemaker/timeline/<endpoint>`, the local SageMaker's own route, not an AWS API)."""
    url = f"{local_sagemaker_url}/_localsagemaker/timeline/{endpoint}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        events = json.load(answer)["Timeline"]
    return [f"{event['at_s']:.0f} s {event['status']} {event['action']} (new fleet {event['new_share']:.0%})"
            for event in events]  # fmt: skip


def state_configuration(stack_dir: Path, env: str) -> str:
    """The endpoint configuration Terraform's local state records for the endpoint."""
    state = json.loads((stack_dir / f"terraform.{env}.tfstate").read_text())
    for resource in state.get("resources", []):
        if resource.get("type") == "aws_sagemaker_endpoint":
            return str(resource["instances"][0]["attributes"]["endpoint_config_name"])
    return "nothing (no endpoint in the state)"


def report_changes(
    layout: ProjectLayout, environments: tuple[str, ...], before: dict[str, str], say: Callable[[str], None]
) -> None:
    """Each environment's release file as a diff against `before`, and its whole history."""
    for env in environments:
        after = layout.release_file(env).read_text()
        diff = difflib.unified_diff(before[env].splitlines(), after.splitlines(), lineterm="", n=0)
        say(f"  environments/releases/{env}.yaml:")
        for line in diff:
            if not line.startswith(("---", "+++", "@@")):
                say(f"    {line}")
        say(f"  environments/history/{env}.jsonl:")
        for record in read_history(history_file(layout, env)):
            say(f"    {record.at:%H:%M:%S} {record.action:<17} by {record.actor}: {_what(record)}")


def _what(record: HistoryRecord) -> str:
    if isinstance(record, ReleaseChange):
        return f"{record.from_.version_id if record.from_ else 'none'} -> {record.to.version_id}"
    if isinstance(record, RollbackDetected):
        return f"{record.from_.version_id} -> {record.to.live_configuration}"
    if isinstance(record, DeployRecorded):
        return f"{record.release.version_id}: {record.outcome}, live on {record.live_configuration}"
    if isinstance(record, InServiceSeen):
        return f"{record.release.version_id} live on {record.configuration}"
    return f"{record.from_.live_configuration} -> {record.configuration} in {record.duration_s:.1f} s"
