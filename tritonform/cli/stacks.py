"""The commands that synthesize stacks: `synth`, `plan` (Terraform plans for the review) and `scan`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform import terraform
from tritonform.cli.check import describe, print_warnings
from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK
from tritonform.cli.paths import (
    input_directory,
    output_directory,
    output_file,
    prepare_output_directory,
    write_output_file,
)
from tritonform.config import ProjectLayout
from tritonform.config.names import access_stack_name, serving_stack_name
from tritonform.errors import UserError
from tritonform.first_deploy import synthesize_bootstrap
from tritonform.standin import STAND_IN_URL
from tritonform.synth import SynthesizedStack, synthesize

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_synth(commands: Commands) -> None:
    synth = commands.add_parser("synth", help="synthesize one Terraform stack per environment")
    synth.add_argument(
        "--outdir", type=output_directory, default=None, help="output directory (default: <root>/cdktf.out)"
    )
    synth.add_argument("--env", action="append", dest="environments", metavar="ENV", help="only this environment")
    synth.add_argument(
        "--state-backend",
        choices=["s3", "local"],
        default="s3",
        help="s3 (default, from each environment's state settings) or local files for tests and demos",
    )
    synth.add_argument(
        "--validate",
        action="store_true",
        help="then run terraform init (offline) and validate on every stack",
    )
    synth.add_argument(
        "--stand-in",
        metavar="URL",
        help="point the provider at a local AWS stand-in, e.g. http://127.0.0.1:5000 (demo and tests only)",
    )
    synth.add_argument(
        "--bootstrap",
        action="store_true",
        help="first deploy of a new environment (no release yet): its artifact store alone, to apply before the "
        "first version is published and attached (README: the first deploy)",
    )
    synth.set_defaults(handler=synth_stacks)


def add_plan(commands: Commands) -> None:
    plan = commands.add_parser("plan", help="synthesize, then terraform plan every stack into JSON for the review")
    plan.add_argument("--out", type=output_directory, required=True, help="directory for <env>.json plans")
    plan.add_argument("--env", action="append", dest="environments", metavar="ENV", help="only this environment")
    plan.add_argument("--state-backend", choices=["s3", "local"], default="s3", help="default s3")
    plan.add_argument("--stand-in", metavar="URL", help="a local AWS stand-in on loopback (tests and demos)")
    plan.set_defaults(handler=plan_stacks)


def add_scan(commands: Commands) -> None:
    scan = commands.add_parser(
        "scan", help="security gate: checkov and tritonform's checks over every stack and plan (exit 0 pass, 1 fail)"
    )
    scan.add_argument(
        "--plans",
        type=input_directory,
        metavar="DIR",
        help="also scan the plans in DIR (<env>.json, <env>-access.json)",
    )
    scan.add_argument(
        "--findings-out", type=output_file, metavar="FILE", help="write the failures as a report for review --findings"
    )
    scan.set_defaults(handler=scan_stacks)


def synth_stacks(root: Path, args: argparse.Namespace) -> int:
    outdir: Path = (args.outdir or root / "cdktf.out").resolve()
    layout = ProjectLayout(root)
    if args.validate:
        terraform.ensure_cli_config(root)  # fail on a missing mirror before spending time on synthesis
    _check_stand_in(args.stand_in)
    if args.bootstrap:
        return _synth_bootstrap(root, layout, outdir, args)
    stacks = synthesize(layout, outdir, args.environments, args.state_backend, args.stand_in)
    print_warnings([stack.deployment for stack in stacks], root)
    failures = count = 0
    for stack in stacks:
        lines = describe(stack.deployment)
        shown = stack.json_path.relative_to(root) if stack.json_path.is_relative_to(root) else stack.json_path
        lines.append(f"  stack     {shown} ({stack.resource_count()} resources)")
        fallback = stack.fallback_configuration()
        lines.append(f"  fallback  {fallback} (the last release verified live, kept declared)" if fallback else
                     "  fallback  none: no other release of this environment was verified live")  # fmt: skip
        directories = [stack.directory]
        if stack.access_directory is not None:
            directories.append(stack.access_directory)
            access = stack.access_directory / "cdk.tf.json"
            lines.append(f"  access    {access.relative_to(root) if access.is_relative_to(root) else access} "
                         "(the CI deploy role; applied by an administrator)")  # fmt: skip
        for directory in directories if args.validate else []:
            validated_lines, ok = _validate_stack(directory, root)
            lines += validated_lines
            failures += not ok
        count += len(directories)
        print("\n".join(lines), flush=True)
    summary = f"{count} stack(s) synthesized into {outdir}"
    if args.validate:
        summary += f"; terraform validate: {count - failures} ok, {failures} failed"
    print(summary)
    return EXIT_NOT_VALID if failures else EXIT_OK


def plan_stacks(root: Path, args: argparse.Namespace) -> int:
    _check_stand_in(args.stand_in)
    stacks = synthesize(ProjectLayout(root), root / "cdktf.out", args.environments, args.state_backend, args.stand_in)
    prepare_output_directory(args.out)
    failed = 0
    for stack in stacks:
        env = stack.deployment.environment.name
        initialised = terraform.init(stack.directory, root, backend=True)
        result, document = terraform.plan_json(stack.directory, root) if initialised.ok else (initialised, "")
        if result.ok:
            write_output_file(args.out / f"{env}.json", document)
            print(f"{env}: plan written to {args.out / f'{env}.json'}")
        else:
            failed += 1
            print(f"{env}: terraform FAILED:\n{result.output[-3000:]}", file=sys.stderr)
    return EXIT_NOT_VALID if failed else EXIT_OK


def scan_stacks(root: Path, args: argparse.Namespace) -> int:
    from tritonform.security.scan import load_baseline, scan  # noqa: PLC0415  (start-up: ~0.1 s of pydantic models)

    layout = ProjectLayout(root)
    baseline = load_baseline(root)
    with tempfile.TemporaryDirectory(prefix="tritonform-scan-") as temporary:
        synth_dir = Path(temporary) / "cdktf.out"
        stacks = synthesize(layout, synth_dir)
        known = _stacks_by_plan_name(stacks)
        plans = {}
        for plan in sorted(args.plans.glob("*.json")) if args.plans else []:
            stack = known.get(plan.stem)
            if stack is None:
                raise UserError.single(f"plan of an unknown stack {serving_stack_name(plan.stem)!r}; stacks: "
                                       f"{', '.join(sorted(set(known.values())))}", file=plan)  # fmt: skip
            plans[stack] = plan
        if args.plans and not plans:
            raise UserError.single(f"no plans (*.json) in {args.plans}: make them with tritonform plan --out DIR")
        result = scan(root, [s.deployment for s in stacks], synth_dir, plans, baseline)
    if args.findings_out:
        write_output_file(args.findings_out, json.dumps(result.findings_report(), indent=1) + "\n")
    print("\n".join(result.render()))
    return EXIT_OK if result.ok else EXIT_NOT_VALID


def _synth_bootstrap(root: Path, layout: ProjectLayout, outdir: Path, args: argparse.Namespace) -> int:
    stacks = synthesize_bootstrap(layout, outdir, args.environments, args.state_backend, args.stand_in)
    failures = 0
    for stack in stacks:
        env = stack.environment
        shown = stack.json_path.relative_to(root) if stack.json_path.is_relative_to(root) else stack.json_path
        lines = [
            f"{env.name} ({env.tier}): {env.account_id} {env.region}, first deploy",
            f"  stack     {shown} (bootstrap: the artifact store alone, bucket {env.artifacts.bucket}; no model, "
            "no endpoint)",
            f"  next      apply it; then release package, publish --env {env.name} and attach --env {env.name}; "
            f"then tritonform synth --env {env.name} and apply the full stack to the same state",
        ]
        if args.validate:
            validated_lines, ok = _validate_stack(stack.directory, root)
            lines += validated_lines
            failures += not ok
        print("\n".join(lines), flush=True)
    summary = f"{len(stacks)} bootstrap stack(s) synthesized into {outdir}"
    if args.validate:
        summary += f"; terraform validate: {len(stacks) - failures} ok, {failures} failed"
    print(summary)
    return EXIT_NOT_VALID if failures else EXIT_OK


def _stacks_by_plan_name(stacks: list[SynthesizedStack]) -> dict[str, str]:
    """A plan file is named after its environment (dev.json, dev-access.json, as `plan --out` writes them)
    or its stack (tritonform-dev.json); both name the stack."""
    names: dict[str, str] = {}
    for stack in stacks:
        env = stack.deployment.environment.name
        names[env] = names[serving_stack_name(env)] = serving_stack_name(env)
        if stack.access_directory is not None:
            names[f"{env}-access"] = names[access_stack_name(env)] = access_stack_name(env)
    return names


def _validate_stack(directory: Path, root: Path) -> tuple[list[str], bool]:
    name = directory.name
    initialised = terraform.init(directory, root)
    if not initialised.ok:
        return [f"  {name}: terraform init FAILED:", *(f"    {line}" for line in
                                                     initialised.output.strip().splitlines()[-15:])], False  # fmt: skip
    validated = terraform.validate(directory, root)
    if not validated.ok:
        return [f"  {name}: terraform validate FAILED:", *(f"    {d}" for d in validated.diagnostics)], False
    warnings = f" ({len(validated.diagnostics)} warnings)" if validated.diagnostics else ""
    return [f"  {name}: terraform validate ok{warnings}"], True


def _check_stand_in(url: str | None) -> None:
    if url is not None and not re.fullmatch(STAND_IN_URL, url):
        raise UserError.single(f"--stand-in must be http://127.0.0.1:<port> (loopback only), not {url!r}")
