"""Security findings for the review, read from a checkov report (`checkov -o json`) when one is given."""

from __future__ import annotations

from pathlib import Path

from tritonform.documents import read_json
from tritonform.errors import UserError
from tritonform.review.model import Finding

MAX_REPORT_BYTES = 64 * 1024 * 1024
"""checkov lists each failed and passed check once per resource: a few MB for thousands of resources.
64 MiB is far above that and still quick to parse; a larger file is refused, not read."""
STACK_MARKER = "/stacks/tritonform-"


def load_findings(path: Path) -> dict[str, list[Finding]]:
    """Failed checks per environment (matched through the stack directory in each finding's file path)."""
    document = read_json(path, limit=MAX_REPORT_BYTES, what="a checkov JSON report")
    reports = document if isinstance(document, list) else [document]
    found: dict[str, list[Finding]] = {}
    for index, report in enumerate(reports):
        where = f"[{index}]" if isinstance(document, list) else ""
        results = report.get("results") if isinstance(report, dict) else None
        if not isinstance(results, dict):
            raise UserError.single("not a checkov JSON report: no results (checkov ... -o json)", file=path,
                                   field=f"{where}results" if where else None)  # fmt: skip
        failed = results.get("failed_checks", [])
        if not isinstance(failed, list):
            raise UserError.single("must be a list of checks", file=path, field=f"{where}results.failed_checks")
        for number, check in enumerate(failed):
            if not isinstance(check, dict):
                raise UserError.single("must be an object (a failed check)", file=path,
                                       field=f"{where}results.failed_checks[{number}]")  # fmt: skip
            file_path = str(check.get("file_path", ""))
            if STACK_MARKER not in file_path:
                continue
            env = file_path.split(STACK_MARKER, 1)[1].split("/", 1)[0]
            found.setdefault(env, []).append(
                Finding(str(check.get("check_id")), str(check.get("check_name")), str(check.get("resource")))
            )
    return found
