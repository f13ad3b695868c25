"""Security findings for the review, read from a checkov report (`checkov -o json`) when one is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tritonform.errors import UserError
from tritonform.review.model import Finding


def load_findings(path: Path) -> dict[str, list[Finding]]:
    """Failed checks per environment (matched through the stack directory in each finding's file path)."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError.single(f"not a checkov JSON report: {err}", file=path) from None
    reports = document if isinstance(document, list) else [document]
    found: dict[str, list[Finding]] = {}
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            raise UserError.single("not a checkov JSON report: no results (checkov ... -o json)", file=path)
        for check in report["results"].get("failed_checks", []):
            file_path = str(check.get("file_path", ""))
            marker = "/stacks/tritonform-"
            if marker not in file_path:
                continue
            env = file_path.split(marker, 1)[1].split("/", 1)[0]
            found.setdefault(env, []).append(
                Finding(str(check.get("check_id")), str(check.get("check_name")), str(check.get("resource")))
            )
    return found
