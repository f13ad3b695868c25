"""`tritonform contract diff OLD NEW`: what changes for the clients of an endpoint between two versions.

Exit codes: 0 no change or only compatible changes; 1 a breaking change; 2 usage or bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK, Parser
from tritonform.config import ProjectLayout
from tritonform.triton.contract_diff import ContractDiff, diff_contracts

if TYPE_CHECKING:
    from tritonform.cli.common import Commands
    from tritonform.release.contract_sources import ContractSource

SIDE_HELP = "a model repository directory, a package directory (manifest.json) or env:NAME (what its release pins)"


def add_contract(commands: Commands) -> None:
    contract = commands.add_parser("contract", help="the inference contract: inputs, outputs, batching, wiring")
    contract_commands = contract.add_subparsers(dest="contract_command", required=True, parser_class=Parser)
    diff = contract_commands.add_parser(
        "diff", help="every change between two versions' contracts, breaking or compatible (exit 1: breaking)"
    )
    diff.add_argument("old", help=SIDE_HELP)
    diff.add_argument("new", help=SIDE_HELP)
    diff.add_argument("--default-model", help="for a repository directory: the model SageMaker serves by default "
                      "(default: the one model no ensemble runs as a step)")  # fmt: skip
    diff.add_argument("--json", action="store_true", help="one JSON object on stdout")
    diff.set_defaults(handler=diff_command)


def diff_command(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.contract_sources import contract_source  # noqa: PLC0415  (start-up: boto3)

    layout = ProjectLayout(root)
    old = contract_source(layout, args.old, args.default_model)
    new = contract_source(layout, args.new, args.default_model)
    diff = diff_contracts(old.contract, new.contract)
    print(json.dumps(as_json(old, new, diff), indent=2) if args.json else as_text(old, new, diff))
    return EXIT_NOT_VALID if diff.breaking else EXIT_OK


def as_json(old: ContractSource, new: ContractSource, diff: ContractDiff) -> dict[str, object]:
    return {
        "old": {"source": old.described, "sha256": diff.old_sha256},
        "new": {"source": new.described, "sha256": diff.new_sha256},
        "verdict": diff.verdict,
        "changes": [{"kind": c.kind, "model": c.model, "change": c.what, "reason": c.reason} for c in diff.changes],
    }


def as_text(old: ContractSource, new: ContractSource, diff: ContractDiff) -> str:
    lines = [
        f"old  {diff.old_sha256[:12]}  {old.described}",
        f"new  {diff.new_sha256[:12]}  {new.described}",
        f"{diff.verdict}: {len(diff.breaking)} breaking, {len(diff.changes) - len(diff.breaking)} compatible change(s)",
    ]
    for change in sorted(diff.changes, key=lambda c: c.kind != "breaking"):
        where = f"{change.model}: " if change.model else ""
        lines.append(f"  {change.kind:<10}  {where}{change.what}")
        lines.append(f"              {change.reason}")
    return "\n".join(lines)
