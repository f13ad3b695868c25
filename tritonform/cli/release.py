"""`tritonform release`: package, publish, attach, watch, promote and roll back model versions.

The AWS-facing modules (boto3) are imported inside the handlers that need them: boto3 adds ~0.2 s to the
start of every command, and `package` and the other commands never call AWS.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK, Parser
from tritonform.cli.compare import add_compare
from tritonform.cli.paths import input_directory, output_directory
from tritonform.config import ProjectLayout
from tritonform.config.loader import load_environment
from tritonform.errors import UserError
from tritonform.release import package as packaging
from tritonform.release.git import tree_state

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_release(commands: Commands) -> None:
    release = commands.add_parser("release", help="package, publish and attach model versions")
    release_commands = release.add_subparsers(dest="release_command", required=True, parser_class=Parser)
    package = release_commands.add_parser("package", help="write a reproducible model.tar.gz and its manifest")
    package.add_argument("repository", nargs="?", type=input_directory, help="default: <root>/model_repository")
    package.add_argument("--out", type=output_directory, required=True, help="directory for model.tar.gz and "
                         "manifest.json (outside the repository)")  # fmt: skip
    package.add_argument("--allow-modified", action="store_true", help="package uncommitted changes, recorded as "
                         "a modified working tree of the commit")  # fmt: skip
    package.add_argument("--default-model", help="the model SageMaker serves by default (must exist)")
    package.add_argument("--compression", choices=["fast", "best"], default="fast", help="gzip effort (default fast)")
    package.add_argument("--triton-version", default=None, help="the SageMaker Triton image "
                         "(YY.MM) the repository is validated for, recorded in its contract")  # fmt: skip
    package.set_defaults(handler=package_repository)

    publish = release_commands.add_parser("publish", help="upload a package to an environment's artifact bucket")
    publish.add_argument("package", type=input_directory, help="directory written by `release package`")
    publish.add_argument("--env", required=True, help="environment whose artifact bucket receives it")
    publish.add_argument("--register", action="store_true", help="also register a SageMaker model package")
    publish.add_argument("--quiet", action="store_true", help="no progress bar")
    publish.set_defaults(handler=publish_package)
    attach = release_commands.add_parser("attach", help="pin a published version to an environment")
    attach.add_argument("version", help="version id (12 hex digits) or sha256")
    attach.add_argument("--env", required=True, help="environment")
    attach.add_argument("--reason", default="release", help="why (recorded in the history)")
    attach.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    attach.add_argument("--model", default=None, help="model name (default: the environment's current one)")
    attach.add_argument("--triton-version", default=None, help="Triton image version (default: the current one)")
    attach.add_argument("--accept-breaking", metavar="REASON", default=None, help="let a breaking change of the "
                        "inference contract through, for this reason (recorded in the history)")  # fmt: skip
    attach.set_defaults(handler=attach_version)

    watch = release_commands.add_parser("watch", help="follow the endpoint update to InService, rollback or failure")
    watch.add_argument("--env", required=True, help="environment")
    watch.add_argument("--timeout", type=int, default=3600, help="seconds before giving up (default 3600)")
    watch.add_argument("--poll", type=int, default=15, help="seconds between checks (default 15)")
    watch.set_defaults(handler=watch_update)
    promote = release_commands.add_parser("promote", help="move the same artifact to the next environment")
    promote.add_argument("--from", dest="source", required=True, help="environment the version runs in")
    promote.add_argument("--to", dest="target", required=True, help="environment to attach it to")
    promote.add_argument("--soak-minutes", type=int, default=30, help="alarms OK for at least this long (30)")
    promote.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    promote.add_argument("--accept-breaking", metavar="REASON", default=None, help="let a breaking change of the "
                         "inference contract through, for this reason (recorded in the history)")  # fmt: skip
    promote.set_defaults(handler=promote_version)
    add_compare(release_commands)
    rollback = release_commands.add_parser("rollback", help="re-attach the previous release")
    rollback.add_argument("--env", required=True, help="environment")
    rollback.add_argument("--to", dest="to_version", default=None, help="version id or sha256 (default: previous)")
    rollback.add_argument("--emergency", action="store_true", help="first switch the live endpoint to the last "
                          "release verified live, all at once, and wait until it serves there")  # fmt: skip
    rollback.add_argument("--reason", default="rollback", help="why (recorded in the history)")
    rollback.add_argument("--actor", default=None, help="who (default: TRITONFORM_ACTOR, then the user name)")
    rollback.set_defaults(handler=roll_back)


def package_repository(root: Path, args: argparse.Namespace) -> int:
    repository: Path = args.repository or root / "model_repository"
    if not repository.is_dir():
        raise UserError.single("no such directory", file=repository)
    packaging.refuse_output_inside(repository, args.out)
    state = tree_state(repository, packaging.packaged_paths(repository))
    manifest = packaging.package(
        repository,
        args.out,
        default_model=args.default_model,
        source_commit=state.commit,
        source_changes=None if state.commit is None else state.changes,
        allow_modified=args.allow_modified,
        compression=args.compression,
        triton_version=args.triton_version,
    )
    print(f"packaged {len(manifest.files)} file(s) into {args.out / packaging.ARTIFACT}")
    print(f"  version  {manifest.version_id}")
    print(f"  sha256   {manifest.sha256}")
    print(f"  size     {manifest.size_bytes} bytes")
    print(f"  commit   {state.describe()}")
    print(f"  contract {manifest.contract_sha256} (manifest.json: inputs, outputs, batching, ensemble wiring)")
    for path in state.changes:
        print(f"  differs  {path}")
    return EXIT_OK


def publish_package(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.attach import current_release, resolve_image  # noqa: PLC0415  (start-up: boto3)
    from tritonform.release.publish import publish  # noqa: PLC0415  (start-up: boto3)

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


def attach_version(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.attach import attach  # noqa: PLC0415  (start-up: boto3)

    result = attach(
        ProjectLayout(root), args.env, args.version, actor=_actor(args.actor), reason=args.reason,
        model_name=args.model, triton_version=args.triton_version, accept_breaking=args.accept_breaking,
    )  # fmt: skip
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.env}: {before} -> {result.release.version_id} ({result.release.model_name})")
    print(f"  wrote    environments/releases/{args.env}.yaml and a record in environments/history/{args.env}.jsonl")
    print(f"  image    {result.release.triton_image.uri}")
    if result.contract is not None:
        print(f"  contract {result.contract.note}")
    print("  next     open a pull request with these two files; the plan review shows the rollout")
    return EXIT_OK


def watch_update(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.live import watch  # noqa: PLC0415  (start-up: boto3)

    if args.timeout < 1 or args.poll < 1:
        raise UserError.single("--timeout and --poll must be at least 1 second")
    result = watch(ProjectLayout(root), args.env, timeout_s=args.timeout, poll_s=args.poll)
    print(f"{args.env}: {result.outcome}: {result.detail}")
    return EXIT_OK if result.ok else EXIT_NOT_VALID


def promote_version(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.promote import promote  # noqa: PLC0415  (start-up: boto3)

    if not 0 <= args.soak_minutes <= 10080:
        raise UserError.single("--soak-minutes must be 0-10080")
    gates, result = promote(
        ProjectLayout(root), args.source, args.target, actor=_actor(args.actor), soak_minutes=args.soak_minutes,
        accept_breaking=args.accept_breaking,
    )  # fmt: skip
    for gate in gates:
        print(f"  gate {gate.name:<8} {'pass' if gate.passed else 'FAIL'}: {gate.detail}")
    if result is None:
        failed = ", ".join(g.name for g in gates if not g.passed)
        print(f"not promoted ({failed} failed); nothing was written", file=sys.stderr)
        return EXIT_NOT_VALID
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.target}: {before} -> {result.release.version_id} (the bytes that run in {args.source})")
    return EXIT_OK


def roll_back(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.promote import rollback  # noqa: PLC0415  (start-up: boto3)

    result, switched = rollback(
        ProjectLayout(root), args.env, actor=_actor(args.actor), to_version=args.to_version,
        emergency=args.emergency, reason=args.reason,
    )  # fmt: skip
    before = result.previous.version_id if result.previous else "nothing"
    print(f"{args.env}: {before} -> {result.release.version_id} (re-attached)")
    if switched:
        print(f"  switched  {switched.before} -> {switched.configuration} in {switched.duration_s:.1f} s (all at "
              f"once, no bake, no rollback alarms; {switched.instances} instance(s) kept)")  # fmt: skip
        print("  next      open a pull request with the release file and the history; its deploy matches the switch")
    return EXIT_OK


def _actor(given: str | None) -> str:
    return given or os.environ.get("TRITONFORM_ACTOR") or getpass.getuser()
