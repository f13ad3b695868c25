"""`tritonform repo validate`: prove the Triton model repository loadable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import Parser
from tritonform.cli.paths import input_directory
from tritonform.errors import UserError
from tritonform.triton.report import run_repo_validate

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_repo(commands: Commands) -> None:
    repo = commands.add_parser("repo", help="the Triton model repository")
    repo_commands = repo.add_subparsers(dest="repo_command", required=True, parser_class=Parser)
    repo_validate = repo_commands.add_parser(
        "validate", help="prove the repository loadable: static checks, then optionally a real Triton server"
    )
    repo_validate.add_argument(
        "path", nargs="?", type=input_directory, help="repository (default: <root>/model_repository)"
    )
    repo_validate.add_argument("--server", action="store_true", help="also load it into a local Triton server")
    repo_validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    repo_validate.add_argument("--default-model", help="the model SageMaker serves by default (must exist)")
    repo_validate.add_argument("--gpus", type=int, help="GPUs per instance of the endpoint (checks GPU ids)")
    repo_validate.set_defaults(handler=validate_repo)


def validate_repo(root: Path, args: argparse.Namespace) -> int:
    path: Path = args.path or root / "model_repository"
    if not path.exists():
        raise UserError.single("no such directory", file=path)
    if args.gpus is not None and not 1 <= args.gpus <= 16:
        raise UserError.single(f"--gpus must be 1-16, got {args.gpus}")
    return run_repo_validate(
        path, root=root, server=args.server, as_json=args.json, default_model=args.default_model, gpus=args.gpus
    )
