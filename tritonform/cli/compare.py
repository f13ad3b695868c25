"""`tritonform release compare`: a candidate against its baseline, side by side on local Triton servers.

Exit codes: 0 the candidate answers like the baseline within the environment's tolerance and latency budget
(or its differences are acknowledged); 1 it does not; 2 usage or bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK
from tritonform.cli.paths import input_directory, input_file
from tritonform.config import ProjectLayout
from tritonform.errors import UserError

if TYPE_CHECKING:
    from tritonform.cli.common import Commands
    from tritonform.release.compare import Comparison


def add_compare(release_commands: Commands) -> None:
    compare = release_commands.add_parser(
        "compare", help="a candidate against its baseline on local Triton servers: answers, errors, latency"
    )
    compare.add_argument("--baseline", required=True, help="a model repository directory, or the version id of a "
                         "release whose bytes this checkout reproduces")  # fmt: skip
    compare.add_argument("--candidate", required=True, type=input_directory, help="a model repository directory")
    compare.add_argument("--env", default=None, help="the environment whose release_compare settings (tolerances, "
                         "latency budget) apply; default: the documented defaults")  # fmt: skip
    compare.add_argument("--default-model", default=None, help="default: the baseline release's, or the one model "
                         "no ensemble runs")  # fmt: skip
    sources = compare.add_mutually_exclusive_group()
    sources.add_argument("--requests", type=input_file, default=None, help="requests in smoke.yaml's format "
                         "(default: the default model's smoke.yaml)")  # fmt: skip
    sources.add_argument("--capture", default=None, metavar="S3_URI", help="replay SageMaker data capture files "
                         "(JSON Lines) under this s3://bucket/prefix")  # fmt: skip
    compare.add_argument("--sample", type=int, default=None, help="captured requests to replay (default: the "
                         "environment's release_compare.capture_sample, 1000)")  # fmt: skip
    compare.add_argument("--accept-differences", metavar="REASON", default=None, help="differing answers are "
                         "intended, for this reason")  # fmt: skip
    compare.add_argument("--json", action="store_true", help="one JSON object on stdout")
    compare.set_defaults(handler=compare_versions)


def compare_versions(root: Path, args: argparse.Namespace) -> int:
    from tritonform.release.capture import captured_requests  # noqa: PLC0415  (start-up: boto3)
    from tritonform.release.compare import compare  # noqa: PLC0415  (start-up: numpy, tritonclient)
    from tritonform.release.compare_inputs import (  # noqa: PLC0415  (start-up: as above)
        baseline_directory,
        default_model_for,
        file_or_smoke_requests,
        settings_for,
    )

    layout = ProjectLayout(root)
    if args.accept_differences is not None and not 1 <= len(args.accept_differences.strip()) <= 500:
        raise UserError.single("--accept-differences needs a reason of 1-500 characters")
    settings = settings_for(layout, args.env)
    sample = args.sample if args.sample is not None else settings.capture_sample
    if not 1 <= sample <= 100_000:
        raise UserError.single(f"--sample must be 1-100000, got {sample}")
    with baseline_directory(layout, args.baseline, args.env) as baseline:
        model = default_model_for(args.default_model, baseline, args.candidate)
        if args.capture:
            region = _region(layout, args.env)
            requests = captured_requests(args.capture, region=region, sample=sample)
        else:
            requests = file_or_smoke_requests(args.requests, args.candidate, model)
        result = compare(
            baseline.directory, args.candidate, requests, default_model=model, settings=settings,
            baseline_said=baseline.said, candidate_said=f"the repository {args.candidate}",
            accept_differences=args.accept_differences,
        )  # fmt: skip
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(report_lines(result)))
    return EXIT_OK if result.ok else EXIT_NOT_VALID


def _region(layout: ProjectLayout, env: str | None) -> str:
    from tritonform.config.loader import load_environment  # noqa: PLC0415  (only for --capture)

    return load_environment(layout, env).region if env else "us-east-1"


def report_lines(result: Comparison) -> list[str]:
    lines = [f"baseline   {result.baseline}", f"candidate  {result.candidate}", f"requests   {result.sent}",
             f"contract   {result.contract.summary()}"]  # fmt: skip
    lines += [f"           {change.line()}" for change in result.contract.changes]
    for side in ("baseline", "candidate"):
        if side in result.latency_ms:
            stats = result.latency_ms[side]
            lines.append(f"latency    {side:<9} p50 {stats['p50']:.2f} ms, p99 {stats['p99']:.2f} ms")
    if result.ratio:
        lines.append(f"ratio      candidate/baseline p50 {result.ratio['p50']:.2f}x, p99 {result.ratio['p99']:.2f}x")
    for difference in result.differences.values():
        gap = "" if difference.max_abs == float("inf") else f", largest difference {difference.max_abs:.3g}"
        lines.append(f"differs    {difference.output}: {difference.requests} request(s){gap} (e.g. "
                     f"{', '.join(difference.examples)})")  # fmt: skip
    lines += [f"error      candidate only: {error}" for error in result.candidate_errors[:5]]
    lines += [f"error      baseline only: {error}" for error in result.baseline_errors[:5]]
    if result.both_errors:
        lines.append(f"error      both refused {result.both_errors} request(s)")
    if result.accepted_differences and result.differences:
        lines.append(f"accepted   differing answers: {result.accepted_differences}")
    lines.append("PASS" if result.ok else "FAIL: " + "; ".join(result.failures))
    return lines
