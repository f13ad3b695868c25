"""`tritonform policy check` and `policy explain`: rollout policy files, and an environment's rollout."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK, Parser
from tritonform.cli.paths import input_file
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.loader import load_policy
from tritonform.errors import UserError
from tritonform.explain import explain

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_policy(commands: Commands) -> None:
    policy = commands.add_parser("policy", help="check rollout policy files; explain an environment's rollout")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, parser_class=Parser)
    policy_check = policy_commands.add_parser("check", help="check policy files: exit 0 valid, 1 problems, 2 usage")
    policy_check.add_argument("files", nargs="+", type=input_file, metavar="FILE")
    policy_check.set_defaults(handler=check_policies)
    policy_explain = policy_commands.add_parser("explain", help="print an environment's rollout as a timeline")
    policy_explain.add_argument("--env", required=True, help="environment name")
    policy_explain.set_defaults(handler=explain_rollout)


def check_policies(root: Path, args: argparse.Namespace) -> int:
    files: list[Path] = args.files
    problems = 0
    for path in files:
        try:
            policy = load_policy(path)
        except UserError as err:
            problems += len(err.problems)
            print(err.render(relative_to=root))
            continue
        print(f"{path}: ok ({policy.kind})")
    if problems:
        print(f"{problems} problem(s) in {len(files)} file(s)")
    return EXIT_NOT_VALID if problems else EXIT_OK


def explain_rollout(root: Path, args: argparse.Namespace) -> int:
    (deployment,) = load_deployments(ProjectLayout(root), [args.env])
    print(explain(deployment))
    return EXIT_OK
