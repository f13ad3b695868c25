"""The `tritonform` command.

Exit codes: 0 success; 1 the thing checked is not valid (e.g. terraform validate failed); 2 bad input or
usage (a message names the file and field; never a traceback).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tritonform import __version__
from tritonform.config import Deployment, ProjectLayout, load_deployments
from tritonform.config.environment import EnvironmentConfig, weakened_controls
from tritonform.errors import EXIT_INVALID_INPUT, UserError, report_user_error

EXIT_OK = 0
EXIT_NOT_VALID = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID_INPUT)


def _add_repo_and_policy_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    policy = commands.add_parser("policy", help="check rollout policy files; explain an environment's rollout")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, parser_class=_Parser)
    policy_check = policy_commands.add_parser("check", help="check policy files: exit 0 valid, 1 problems, 2 usage")
    policy_check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    policy_explain = policy_commands.add_parser("explain", help="print an environment's rollout as a timeline")
    policy_explain.add_argument("--env", required=True, help="environment name")

    repo = commands.add_parser("repo", help="the Triton model repository")
    repo_commands = repo.add_subparsers(dest="repo_command", required=True, parser_class=_Parser)
    repo_validate = repo_commands.add_parser(
        "validate", help="prove the repository loadable: static checks, then optionally a real Triton server"
    )
    repo_validate.add_argument("path", nargs="?", type=Path, help="repository (default: <root>/model_repository)")
    repo_validate.add_argument("--server", action="store_true", help="also load it into a local Triton server")
    repo_validate.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    repo_validate.add_argument("--default-model", help="the model SageMaker serves by default (must exist)")
    repo_validate.add_argument("--gpus", type=int, help="GPUs per instance of the endpoint (checks GPU ids)")


def _add_release_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    release = commands.add_parser("release", help="package, publish and attach model versions")
    release_commands = release.add_subparsers(dest="release_command", required=True, parser_class=_Parser)
    package = release_commands.add_parser("package", help="write a reproducible model.tar.gz and its manifest")
    package.add_argument("repository", nargs="?", type=Path, help="default: <root>/model_repository")
    package.add_argument("--out", type=Path, required=True, help="directory for model.tar.gz and manifest.json")
    package.add_argument("--default-model", help="the model SageMaker serves by default (must exist)")
    package.add_argument("--compression", choices=["fast", "best"], default="fast", help="gzip effort (default fast)")

    publish = release_commands.add_parser("publish", help="upload a package to an environment's artifact bucket")
    publish.add_argument("package", type=Path, help="directory written by `release package`")
    publish.add_argument("--env", required=True, help="environment whose artifact bucket receives it")
    publish.add_argument("--register", action="store_true", help="also register a SageMaker model package")
    publish.add_argument("--quiet", action="store_true", help="no progress bar")
    attach = release_commands.add_parser("attach", help="pin a published version to an environment")
    attach.add_argument("version", help="version id (12 hex digits) or sha256")
    attach.add_argument("--env", required=True, help="environment")
    attach.add_argument("--reason", default="release", help="why (recorded in the history)")
    attach.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    attach.add_argument("--model", default=None, help="model name (default: the environment's current one)")
    attach.add_argument("--triton-version", default=None, help="Triton image version (default: the current one)")

    watch = release_commands.add_parser("watch", help="follow the endpoint update to InService, rollback or failure")
    watch.add_argument("--env", required=True, help="environment")
    watch.add_argument("--timeout", type=int, default=3600, help="seconds before giving up (default 3600)")
    watch.add_argument("--poll", type=int, default=15, help="seconds between checks (default 15)")
    promote = release_commands.add_parser("promote", help="move the same artifact to the next environment")
    promote.add_argument("--from", dest="source", required=True, help="environment the version runs in")
    promote.add_argument("--to", dest="target", required=True, help="environment to attach it to")
    promote.add_argument("--soak-minutes", type=int, default=30, help="alarms OK for at least this long (30)")
    promote.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    rollback = release_commands.add_parser("rollback", help="re-attach the previous release")
    rollback.add_argument("--env", required=True, help="environment")
    rollback.add_argument("--to", dest="to_version", default=None, help="version id or sha256 (default: previous)")
    rollback.add_argument("--emergency", action="store_true", help="also switch the live endpoint back now")
    rollback.add_argument("--reason", default="rollback", help="why (recorded in the history)")
    rollback.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tritonform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tritonform {__version__}")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: current directory)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    synth = commands.add_parser("synth", help="synthesize one Terraform stack per environment")
    synth.add_argument("--outdir", type=Path, default=None, help="output directory (default: <root>/cdktf.out)")
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

    check = commands.add_parser("check", help="load and check every environment and release (no synthesis)")
    check.add_argument("--env", action="append", dest="environments", metavar="ENV", help="only this environment")

    schema = commands.add_parser("schema", help="write the JSON Schemas of the YAML files")
    schema.add_argument("--out", type=Path, default=None, help="directory (default: <root>/schemas)")
    schema.add_argument("--check", action="store_true", help="fail if the files on disk are out of date")

    _add_repo_and_policy_commands(commands)
    _add_release_commands(commands)

    plan = commands.add_parser("plan", help="synthesize, then terraform plan every stack into JSON for the review")
    plan.add_argument("--out", type=Path, required=True, help="directory for <env>.json plans")
    plan.add_argument("--env", action="append", dest="environments", metavar="ENV", help="only this environment")
    plan.add_argument("--state-backend", choices=["s3", "local"], default="s3", help="default s3")
    plan.add_argument("--stand-in", metavar="URL", help="a local AWS stand-in on loopback (tests and demos)")

    scan = commands.add_parser(
        "scan", help="security gate: checkov and tritonform's checks over every stack and plan (exit 0 pass, 1 fail)"
    )
    scan.add_argument(
        "--plans", type=Path, metavar="DIR", help="also scan the plans in DIR (<env>.json, <env>-access.json)"
    )
    scan.add_argument(
        "--findings-out", type=Path, metavar="FILE", help="write the failures as a report for review --findings"
    )

    review = commands.add_parser("review", help="a pull-request review of the Terraform plans of a change")
    review.add_argument(
        "--plan", action="append", required=True, metavar="ENV=FILE", help="terraform show -json output per env"
    )
    review.add_argument("--base", type=Path, help="checkout of the base branch (for the old release files)")
    review.add_argument("--format", choices=["markdown", "text"], default="markdown", help="default markdown")
    review.add_argument("--out", type=Path, help="write here instead of standard output")
    review.add_argument("--findings", type=Path, help="a checkov JSON report of the synthesized stacks")

    commands.add_parser(
        "demo", help="the main job: a whole release of the example model against local stand-ins (moto, Triton)"
    )

    doctor = commands.add_parser("doctor", help="check the toolchain and write Terraform's offline CLI config")
    doctor.add_argument("--quiet", action="store_true", help="print only problems")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path = args.root.resolve()
    try:
        if args.command == "synth":
            return _synth(root, args)
        if args.command == "check":
            return _check(root, args.environments)
        if args.command == "schema":
            return _schema(root, args.out, args.check)
        if args.command == "doctor":
            return _doctor(root, args.quiet)
        if args.command == "plan":
            return _plan(root, args)
        if args.command == "review":
            return _review(root, args)
        if args.command == "scan":
            return _scan(root, args)
        if args.command == "demo":
            from tritonform.demo import run_demo  # noqa: PLC0415

            return run_demo(root)
        if args.command == "release":
            return _release(root, args)
        if args.command == "repo":
            return _repo_validate(root, args)
        if args.command == "policy":
            return _policy_check(root, args.files) if args.policy_command == "check" else _explain(root, args.env)
    except UserError as err:
        return report_user_error(err, root)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tritonform ... | head`: the reader left, which is not an error
        sys.stderr.close()
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")


def _describe(deployment: Deployment) -> list[str]:
    env, release = deployment.environment, deployment.release
    instance = env.endpoint.instance
    scaling = (
        f"autoscaling {env.capacity.min_instances}-{env.capacity.max_instances}"
        if env.autoscaling
        else "fixed capacity"
    )
    return [
        f"{env.name} ({env.tier}): {env.account_id} {env.region}, endpoint {env.endpoint.name}",
        f"  serving   {env.capacity.initial_instances} x {env.endpoint.instance_type} "
        f"({instance.gpus} x {instance.gpu_model} {instance.gpu_memory_gib} GiB each), {scaling}",
        f"  model     {release.model_name} version {release.version_id} (sha256 {release.artifact.sha256[:16]}...)",
        f"  image     sagemaker-tritonserver {release.triton_image.version}",
        f"  attached  by {release.attached.by} at {release.attached.at.isoformat()} "
        f"from {release.attached.commit[:12]}",
        f"  rollout   {env.rollout_policy} ({deployment.rollout.policy.kind}), {env.rollback_alarms.count} rollback "
        f"alarm(s), up to {deployment.rollout.total_s // 60} min",
        *_describe_hardening(env),
    ]


def _describe_hardening(env: EnvironmentConfig) -> list[str]:
    weakened = weakened_controls(env)
    if not weakened:
        return ["  security  every hardening control on (VPC, network isolation, KMS)"]
    lines = []
    for control in weakened:
        exception = env.security_exception(control.name)
        recorded = (
            f"exception {exception.ticket}, approved by {exception.approved_by}: {exception.reason}"
            if exception
            else "no recorded exception"
        )
        lines.append(f"  security  WITHOUT {control.name} ({control.field}); {recorded}")
    return lines


def _print_warnings(deployments: list[Deployment], root: Path) -> None:
    for deployment in deployments:
        for warning in deployment.warnings:
            print(f"warning: {warning.render(relative_to=root)}", file=sys.stderr)


def _check(root: Path, environments: list[str] | None) -> int:
    deployments = load_deployments(ProjectLayout(root), environments)
    _print_warnings(deployments, root)
    for deployment in deployments:
        print("\n".join(_describe(deployment)))
    print(f"{len(deployments)} environment(s) valid")
    return EXIT_OK


def _synth(root: Path, args: argparse.Namespace) -> int:
    from tritonform import terraform  # noqa: PLC0415
    from tritonform.synth import synthesize  # noqa: PLC0415

    outdir: Path = (args.outdir or root / "cdktf.out").resolve()
    layout = ProjectLayout(root)
    if args.validate:
        terraform.ensure_cli_config(root)  # fail on a missing mirror before spending time on synthesis
    _check_stand_in(args.stand_in)
    stacks = synthesize(layout, outdir, args.environments, args.state_backend, args.stand_in)
    _print_warnings([stack.deployment for stack in stacks], root)
    failures = count = 0
    for stack in stacks:
        lines = _describe(stack.deployment)
        shown = stack.json_path.relative_to(root) if stack.json_path.is_relative_to(root) else stack.json_path
        lines.append(f"  stack     {shown} ({stack.resource_count()} resources)")
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


def _policy_check(root: Path, files: list[Path]) -> int:
    from tritonform.config.loader import load_policy  # noqa: PLC0415

    missing = [f for f in files if not f.is_file()]
    if missing:
        raise UserError.single(f"no such file: {', '.join(str(f) for f in missing)}")
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


def _explain(root: Path, environment: str) -> int:
    from tritonform.explain import explain  # noqa: PLC0415

    (deployment,) = load_deployments(ProjectLayout(root), [environment])
    print(explain(deployment))
    return EXIT_OK


def _repo_validate(root: Path, args: argparse.Namespace) -> int:
    from tritonform.triton.report import run_repo_validate  # noqa: PLC0415

    path: Path = args.path or root / "model_repository"
    if not path.exists():
        raise UserError.single("no such directory", file=path)
    if args.gpus is not None and not 1 <= args.gpus <= 16:
        raise UserError.single(f"--gpus must be 1-16, got {args.gpus}")
    return run_repo_validate(
        path, root=root, server=args.server, as_json=args.json, default_model=args.default_model, gpus=args.gpus
    )


def _actor(given: str | None) -> str:
    import getpass  # noqa: PLC0415
    import os  # noqa: PLC0415

    return given or os.environ.get("TRITONFORM_ACTOR") or getpass.getuser()


def _release(root: Path, args: argparse.Namespace) -> int:
    if args.release_command == "publish":
        return _publish(root, args)
    if args.release_command == "attach":
        return _attach(root, args)
    if args.release_command == "watch":
        return _watch(root, args)
    if args.release_command == "promote":
        return _promote(root, args)
    if args.release_command == "rollback":
        return _rollback(root, args)
    return _package(root, args)


def _watch(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.live import watch  # noqa: PLC0415

    if args.timeout < 1 or args.poll < 1:
        raise UserError.single("--timeout and --poll must be at least 1 second")
    result = watch(ProjectLayout(root), args.env, timeout_s=args.timeout, poll_s=args.poll)
    print(f"{args.env}: {result.outcome}: {result.detail}")
    return EXIT_OK if result.ok else EXIT_NOT_VALID


def _promote(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.promote import promote  # noqa: PLC0415

    if not 0 <= args.soak_minutes <= 10080:
        raise UserError.single("--soak-minutes must be 0-10080")
    gates, result = promote(
        ProjectLayout(root), args.source, args.target, actor=_actor(args.actor), soak_minutes=args.soak_minutes
    )
    for gate in gates:
        print(f"  gate {gate.name:<8} {'pass' if gate.passed else 'FAIL'}: {gate.detail}")
    if result is None:
        failed = ", ".join(g.name for g in gates if not g.passed)
        print(f"not promoted ({failed} failed); nothing was written", file=sys.stderr)
        return EXIT_NOT_VALID
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.target}: {before} -> {result.release.version_id} (the bytes that run in {args.source})")
    return EXIT_OK


def _rollback(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.promote import rollback  # noqa: PLC0415

    result, switched = rollback(
        ProjectLayout(root), args.env, actor=_actor(args.actor), to_version=args.to_version,
        emergency=args.emergency, reason=args.reason,
    )  # fmt: skip
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.env}: {before} -> {result.release.version_id} (re-attached)")
    if switched:
        print(f"  the live endpoint was switched to {switched}; deploy the re-attached release to match it")
    return EXIT_OK


def _publish(root: Path, args: argparse.Namespace) -> int:
    from tritonform.config.loader import load_environment  # noqa: PLC0415
    from tritonform.release.attach import current_release, resolve_image  # noqa: PLC0415
    from tritonform.release.publish import publish  # noqa: PLC0415

    layout = ProjectLayout(root)
    environment = load_environment(layout, args.env)
    image = None
    if args.register:
        current = current_release(layout, args.env)
        version = current.triton_image.version if current else "24.09"
        image = resolve_image(environment.region, version, environment.endpoint.instance_type)
    result = publish(
        args.package, bucket=environment.artifacts.bucket, region=environment.region, register=args.register,
        image_uri=image, quiet=args.quiet,
    )  # fmt: skip
    print(f"{'published' if result.uploaded else 'already published (same sha256), left as it is'}: {result.s3_uri}")
    print(f"  sha256   {result.sha256} (verified: size, digest and S3 SHA-256 checksum)")
    if result.model_package_arn:
        print(f"  package  {result.model_package_arn} (PendingManualApproval)")
    return EXIT_OK


def _attach(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.attach import attach  # noqa: PLC0415

    result = attach(
        ProjectLayout(root), args.env, args.version, actor=_actor(args.actor), reason=args.reason,
        model_name=args.model, triton_version=args.triton_version,
    )  # fmt: skip
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.env}: {before} -> {result.release.version_id} ({result.release.model_name})")
    print(f"  wrote    environments/releases/{args.env}.yaml and a record in environments/history/{args.env}.jsonl")
    print(f"  image    {result.release.triton_image.uri}")
    print("  next     open a pull request with these two files; the plan review shows the rollout")
    return EXIT_OK


def _package(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release import package as packaging  # noqa: PLC0415
    from tritonform.release.git import source_commit  # noqa: PLC0415

    repository: Path = args.repository or root / "model_repository"
    if not repository.is_dir():
        raise UserError.single("no such directory", file=repository)
    manifest = packaging.package(
        repository,
        args.out,
        default_model=args.default_model,
        source_commit=source_commit(repository),
        compression=args.compression,
    )
    print(f"packaged {len(manifest.files)} file(s) into {args.out / packaging.ARTIFACT}")
    print(f"  version  {manifest.version_id}")
    print(f"  sha256   {manifest.sha256}")
    print(f"  size     {manifest.size_bytes} bytes")
    print(f"  commit   {manifest.source_commit or 'unknown (not a git checkout)'}")
    return EXIT_OK


def _validate_stack(directory: Path, root: Path) -> tuple[list[str], bool]:
    from tritonform import terraform  # noqa: PLC0415

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
    from tritonform.standin import STAND_IN_URL  # noqa: PLC0415

    if url is not None and not re.fullmatch(STAND_IN_URL, url):
        raise UserError.single(f"--stand-in must be http://127.0.0.1:<port> (loopback only), not {url!r}")


def _plan(root: Path, args: argparse.Namespace) -> int:
    from tritonform import terraform  # noqa: PLC0415
    from tritonform.synth import synthesize  # noqa: PLC0415

    _check_stand_in(args.stand_in)
    stacks = synthesize(ProjectLayout(root), root / "cdktf.out", args.environments, args.state_backend, args.stand_in)
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for stack in stacks:
        env = stack.deployment.environment.name
        initialised = terraform.init(stack.directory, root, backend=True)
        result, document = terraform.plan_json(stack.directory, root) if initialised.ok else (initialised, "")
        if result.ok:
            (args.out / f"{env}.json").write_text(document, encoding="utf-8")
            print(f"{env}: plan written to {args.out / f'{env}.json'}")
        else:
            failed += 1
            print(f"{env}: terraform FAILED:\n{result.output[-3000:]}", file=sys.stderr)
    return EXIT_NOT_VALID if failed else EXIT_OK


def _scan(root: Path, args: argparse.Namespace) -> int:
    import tempfile  # noqa: PLC0415

    from tritonform.security.scan import load_baseline, scan  # noqa: PLC0415
    from tritonform.synth import synthesize  # noqa: PLC0415

    layout = ProjectLayout(root)
    baseline = load_baseline(root)
    with tempfile.TemporaryDirectory(prefix="tritonform-scan-") as temporary:
        synth_dir = Path(temporary) / "cdktf.out"
        stacks = synthesize(layout, synth_dir)
        known = {s.stack_name for s in stacks} | {s.access_directory.name for s in stacks if s.access_directory}
        plans = {}
        for plan in sorted(args.plans.glob("*.json")) if args.plans else []:
            stack = plan.stem if plan.stem.startswith("tritonform-") else f"tritonform-{plan.stem}"
            if stack not in known:
                raise UserError.single(f"plan of an unknown stack {stack!r}; stacks: {', '.join(sorted(known))}",
                                       file=plan)  # fmt: skip
            plans[stack] = plan
        if args.plans and not plans:
            raise UserError.single(f"no plans (*.json) in {args.plans}: make them with tritonform plan --out DIR")
        result = scan(root, [s.deployment for s in stacks], synth_dir, plans, baseline)
    if args.findings_out:
        args.findings_out.write_text(json.dumps(result.findings_report(), indent=1) + "\n", encoding="utf-8")
    print("\n".join(result.render()))
    return EXIT_OK if result.ok else EXIT_NOT_VALID


def _review(root: Path, args: argparse.Namespace) -> int:
    from tritonform.config.loader import load_deployment  # noqa: PLC0415
    from tritonform.release.attach import current_release  # noqa: PLC0415
    from tritonform.review.findings import load_findings  # noqa: PLC0415
    from tritonform.review.plan import load_plan  # noqa: PLC0415
    from tritonform.review.assess import review_environment  # noqa: PLC0415
    from tritonform.review.render import markdown, plain  # noqa: PLC0415

    layout = ProjectLayout(root)
    known = layout.environment_names()
    findings = load_findings(args.findings) if args.findings else {}
    reviews = []
    for spec in args.plan:
        env, sep, file = spec.partition("=")
        if not sep or not env or not file:
            raise UserError.single(f"--plan {spec!r}: expected ENV=FILE (e.g. --plan prod=plans/prod.json)")
        if env not in known:
            raise UserError.single(f"--plan {spec!r}: no environment {env!r}; environments: {', '.join(known)}")
        plan = load_plan(f"tritonform-{env}", Path(file))
        base = current_release(ProjectLayout(args.base), env) if args.base else None
        reviews.append(review_environment(load_deployment(layout, env), plan, base, findings.get(env)))
    text = markdown(reviews) if args.format == "markdown" else plain(reviews)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return EXIT_OK


def _schema(root: Path, out: Path | None, check: bool) -> int:
    from tritonform.config.schema import (  # noqa: PLC0415
        SCHEMAS,
        reference_markdown,
        render,
        update_readme,
        write_schemas,
    )

    directory = out or root / "schemas"
    readme = root / "README.md"
    if check:
        stale = [
            name
            for name, model in SCHEMAS.items()
            if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != render(model, name)
        ]
        if readme.is_file() and reference_markdown() not in readme.read_text(encoding="utf-8"):
            stale.append("README.md configuration reference")
        if stale:
            print(f"out of date: {', '.join(stale)}; run: tritonform schema", file=sys.stderr)
            return EXIT_NOT_VALID
        print("schemas up to date")
        return EXIT_OK
    for path in write_schemas(directory):
        print(f"wrote {path}")
    if readme.is_file() and update_readme(readme):
        print(f"updated the configuration reference in {readme}")
    return EXIT_OK


def _doctor(root: Path, quiet: bool) -> int:
    import os  # noqa: PLC0415

    from tritonform import terraform  # noqa: PLC0415
    from tritonform._node import use_bundled_node  # noqa: PLC0415

    use_bundled_node()
    config = terraform.ensure_cli_config(root)
    lines = [
        f"python     {sys.version.split()[0]}",
        f"node       {os.environ.get('JSII_NODE', 'node on PATH')}",
        f"terraform  {terraform.version()}",
        f"mirror     {terraform.find_provider_mirror()} ({terraform.AWS_PROVIDER} {terraform.AWS_PROVIDER_VERSION})",
        f"cli config {config}",
    ]
    if not quiet:
        print("\n".join(lines))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
