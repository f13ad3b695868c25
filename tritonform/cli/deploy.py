"""`tritonform deploy --env ENV`: apply, watch to the real outcome, verify, record (release/deploy.py).

Exit codes: 0 the release is live and answered its smoke requests as declared; 1 anything else (rolled
back, failed, not verified); 2 usage or bad input.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK
from tritonform.cli.paths import output_directory
from tritonform.config import ProjectLayout
from tritonform.errors import UserError
from tritonform.standin import STAND_IN_URL

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_deploy(commands: Commands) -> None:
    deploy = commands.add_parser(
        "deploy", help="apply an environment with its live instance count, watch the update to its real outcome, "
        "verify it with the smoke requests and record it (exit 0 only for a verified deploy)",
    )  # fmt: skip
    deploy.add_argument("--env", required=True, help="environment")
    deploy.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    deploy.add_argument("--timeout", type=int, default=3600, help="seconds to watch the update after the apply "
                        "(default 3600)")  # fmt: skip
    deploy.add_argument("--poll", type=float, default=15, help="seconds between checks (default 15)")
    deploy.add_argument("--outdir", type=output_directory, default=None, help="synthesis output (default: "
                        "<root>/cdktf.out)")  # fmt: skip
    deploy.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    deploy.add_argument("--stand-in", metavar="URL", help="deploy to a local AWS stand-in (a moto server on "
                        "loopback) with local Terraform state, instead of AWS (tests and demos)")  # fmt: skip
    deploy.add_argument("--sagemaker", metavar="URL", help="with --stand-in: the local SageMaker on loopback "
                        "(tritonform/localsagemaker) that answers SageMaker and InvokeEndpoint")  # fmt: skip
    deploy.set_defaults(handler=deploy_environment)


def deploy_environment(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.deploy import StandIns, deploy  # noqa: PLC0415  (start-up: boto3)

    for option, url in (("--stand-in", args.stand_in), ("--sagemaker", args.sagemaker)):
        if url is not None and not re.fullmatch(STAND_IN_URL, url):
            raise UserError.single(f"{option} must be http://127.0.0.1:<port> (loopback only), not {url!r}")
    if args.sagemaker and not args.stand_in:
        raise UserError.single("--sagemaker points SageMaker at a local SageMaker: give --stand-in too")
    if args.timeout < 1 or args.poll <= 0:
        raise UserError.single("--timeout must be at least 1 second and --poll positive")
    stand_ins = StandIns(args.stand_in, args.sagemaker) if args.stand_in else None
    report = deploy(
        ProjectLayout(root), args.env, actor=args.actor or os.environ.get("TRITONFORM_ACTOR") or getpass.getuser(),
        stand_ins=stand_ins, outdir=args.outdir, timeout_s=args.timeout, poll_s=args.poll,
        progress=(lambda _line: None) if args.json else print,
    )  # fmt: skip
    if args.json:
        print(report.as_json())
    else:
        for answer in report.smoke:
            print(f"  smoke     {'ok  ' if answer.ok else 'FAIL'} {answer.request}: {answer.detail}")
        print(f"{args.env}: {report.outcome}: {report.detail}")
        took = report.durations["total_s"]
        print(f"  live      {report.live_configuration or 'no endpoint'} ({report.instances} instance(s)); "
              f"recorded in environments/history/{args.env}.jsonl; took {took:.0f} s")  # fmt: skip
    return EXIT_OK if report.ok else EXIT_NOT_VALID
