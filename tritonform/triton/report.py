"""`tritonform repo validate`: static checks, then (with --server) a real Triton load and smoke requests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tritonform.triton.repository import RepositoryReport
from tritonform.triton.validate import validate_repository

EXIT_OK, EXIT_INVALID = 0, 1
COMPLETED_AT_LOAD = "static; completed by the model at load time: checked by --server only"


def _problem_dict(report: RepositoryReport, root: Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for problem in report.problems:
        file = problem.file
        shown = str(file.resolve().relative_to(root.resolve())) if file and file.resolve().is_relative_to(
            root.resolve()) else str(file)  # fmt: skip
        out.append({"file": shown, "line": problem.line, "column": problem.column, "message": problem.message})
    return out


def run_repo_validate(
    path: Path, *, root: Path, server: bool, as_json: bool, default_model: str | None, gpus: int | None
) -> int:
    report = validate_repository(path, default_model=default_model, gpus_per_instance=gpus)
    server_result = None
    if server and report.valid:
        from tritonform.triton.server import check_with_server  # noqa: PLC0415

        server_result = check_with_server(report)
    valid = report.valid and (server_result is None or server_result.ok)
    if as_json:
        document = {
            "repository": str(path),
            "valid": valid,
            "problems": _problem_dict(report, root),
            "notes": report.notes,
            "models": {
                name: {
                    "backend": model.backend or (model.config.platform if model.config else ""),
                    "versions": model.versions,
                    "served_versions": model.served_versions(),
                    "checked": COMPLETED_AT_LOAD if model.completed_at_load else "static",
                }
                for name, model in sorted(report.models.items())
            },
            "server": server_result.as_dict() if server_result else None,
        }
        if server_result:
            for name, checked in server_result.checked.items():
                models = document["models"]
                assert isinstance(models, dict)
                if name in models:
                    models[name]["checked"] = checked
        print(json.dumps(document, indent=2))
        return EXIT_OK if valid else EXIT_INVALID
    for problem in report.problems:
        print(problem.render(relative_to=root))
    for note in report.notes:
        print(f"note: {note}")
    if server_result is not None:
        print("\n".join(server_result.lines()))
    summary = (
        f"{len(report.models)} model(s), {len(report.problems)} problem(s)"
        + (f", server: {'ok' if server_result.ok else 'FAILED'}" if server_result else "")
        + (": valid" if valid else ": NOT valid")
    )
    print(summary)
    if server and not report.valid:
        print("the server check was skipped: fix the static problems first", file=sys.stderr)
    return EXIT_OK if valid else EXIT_INVALID
