"""`tritonform review`: a pull-request review of the Terraform plans of a change."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_OK
from tritonform.cli.paths import input_directory, input_file, output_file, write_output_file
from tritonform.config import ProjectLayout, load_deployment
from tritonform.config.names import serving_stack_name
from tritonform.errors import UserError
from tritonform.review.assess import review_environment
from tritonform.review.contract import contract_review
from tritonform.review.findings import load_findings
from tritonform.review.model import BASE_NOT_GIVEN
from tritonform.review.plan import load_plan
from tritonform.review.render import markdown, plain

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_review(commands: Commands) -> None:
    review = commands.add_parser("review", help="a pull-request review of the Terraform plans of a change")
    review.add_argument(
        "--plan", action="append", required=True, metavar="ENV=FILE", help="terraform show -json output per env"
    )
    review.add_argument("--base", type=input_directory, help="checkout of the base branch (for the old release files)")
    review.add_argument("--format", choices=["markdown", "text"], default="markdown", help="default markdown")
    review.add_argument("--out", type=output_file, help="write here instead of standard output")
    review.add_argument("--findings", type=input_file, help="a checkov JSON report of the synthesized stacks")
    review.set_defaults(handler=review_plans)


def review_plans(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.attach import current_release  # noqa: PLC0415  (start-up: boto3)

    layout = ProjectLayout(root)
    plans = _plan_files(args.plan, layout.environment_names())
    base_layout = _base_layout(args.base)
    findings = load_findings(args.findings) if args.findings else {}
    reviews = []
    for env, file in plans.items():
        plan = load_plan(serving_stack_name(env), file)
        base = current_release(base_layout, env) if base_layout else BASE_NOT_GIVEN
        deployment = load_deployment(layout, env)
        contract = contract_review(layout.root, deployment.release, base_layout.root if base_layout else None,
                                   base if base is not BASE_NOT_GIVEN else None)  # fmt: skip
        reviews.append(review_environment(deployment, plan, base, findings.get(env), contract))
    text = markdown(reviews) if args.format == "markdown" else plain(reviews)
    if args.out:
        write_output_file(args.out, text)
    else:
        print(text, end="")
    return EXIT_OK


def _plan_files(specs: list[str], known: list[str]) -> dict[str, Path]:
    """ENV=FILE per environment, in the order given; one plan per environment (two would be two verdicts)."""
    plans: dict[str, Path] = {}
    for spec in specs:
        env, sep, file = spec.partition("=")
        if not sep or not env or not file:
            raise UserError.single(f"--plan {spec!r}: expected ENV=FILE (e.g. --plan prod=plans/prod.json)")
        if env not in known:
            raise UserError.single(f"--plan {spec!r}: no environment {env!r}; environments: {', '.join(known)}")
        if env in plans:
            raise UserError.single(f"--plan {spec!r}: {env} already has a plan ({plans[env]}); give one plan per "
                                   "environment (the plan of its one stack)")  # fmt: skip
        plans[env] = Path(file)
    return plans


def _base_layout(base: Path | None) -> ProjectLayout | None:
    """The base branch's checkout; one that is missing or not a checkout of the project is an error, not a
    review of new environments."""
    if base is None:
        return None
    if not base.is_dir():
        raise UserError.single("--base: not a directory (give a checkout of the base branch)", file=base)
    if not (base / "environments").is_dir():
        raise UserError.single("--base: no environments/ directory here: not a checkout of this project",
                               file=base)  # fmt: skip
    return ProjectLayout(base)
