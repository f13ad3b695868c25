"""The `tritonform` argument parser: every command's parser names the handler that runs it."""

from __future__ import annotations

import argparse
from pathlib import Path

from tritonform import __version__
from tritonform.cli.check import add_check
from tritonform.cli.common import Parser
from tritonform.cli.contract import add_contract
from tritonform.cli.deploy import add_deploy
from tritonform.cli.paths import input_directory
from tritonform.cli.policy import add_policy
from tritonform.cli.project import add_demo, add_doctor, add_schema
from tritonform.cli.rehearse import add_rehearse
from tritonform.cli.release import add_release
from tritonform.cli.repo import add_repo
from tritonform.cli.review import add_review
from tritonform.cli.stacks import add_plan, add_scan, add_synth

DESCRIPTION = """The `tritonform` command.

Exit codes: 0 success; 1 the thing checked is not valid (e.g. terraform validate failed); 2 bad input or
usage (a message names the file and field; never a traceback).
"""

# In the order `tritonform --help` lists them.
COMMANDS = (
    add_synth, add_check, add_schema, add_policy, add_repo, add_release, add_contract, add_deploy, add_plan, add_scan,
    add_review, add_rehearse, add_demo, add_doctor,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tritonform", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tritonform {__version__}")
    parser.add_argument(
        "--root", type=input_directory, default=Path.cwd(), help="project root (default: current directory)"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add_command in COMMANDS:
        add_command(commands)
    return parser
