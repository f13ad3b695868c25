"""`tritonform rehearse`: an environment's rollout of a candidate version, run against the local stand-ins.

Exit 0 when the rollout behaved as the environment's configuration promises, 1 when it did not, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK
from tritonform.cli.paths import input_file
from tritonform.errors import UserError
from tritonform.explain import clock

if TYPE_CHECKING:
    from tritonform.cli.common import Commands
    from tritonform.rehearsal.verdict import Rehearsal

DEFAULT_TIME_SCALE = 60.0


def _positive(what: str, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not math.isfinite(value) or not 0 < value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be above 0 and at most {high:g}, not {text!r}")
        return value

    return parse


def _share(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not math.isfinite(value) or not 0 <= value < 1:
            raise argparse.ArgumentTypeError(f"{what} is a share of the requests, 0 <= F < 1, not {text!r}")
        return value

    return parse


def add_rehearse(commands: Commands) -> None:
    rehearse = commands.add_parser(
        "rehearse",
        help="rehearse an environment's rollout of a candidate against the local SageMaker (never AWS): exit 0 "
        "as promised, 1 not, 2 usage",
    )
    rehearse.add_argument("--env", required=True, help="environment name")
    rehearse.add_argument(
        "--version",
        metavar="VERSION|DIR",
        help="candidate: a model repository directory or a release's version id (default: the "
        "working tree's model_repository/, rolled out as a new version)",
    )
    rehearse.add_argument(
        "--fault", metavar="FAULT", help="built into the candidate's models: error-rate=F, latency-ms=N or load-failure"
    )
    rehearse.add_argument(
        "--rate",
        type=_positive("--rate", 1000),
        default=None,
        metavar="RPS",
        help="requests per second, as the endpoint sees them in model time (default: the environment's expected_rps)",
    )
    rehearse.add_argument(
        "--bad-requests",
        type=_share("--bad-requests"),
        default=0.0,
        metavar="F",
        help="share of the requests sent malformed, as a client's bug would (0 <= F < 1; default 0): a healthy "
        "candidate must still complete",
    )
    rehearse.add_argument(
        "--time-scale",
        type=_positive("--time-scale", 10_000),
        default=DEFAULT_TIME_SCALE,
        metavar="N",
        help=f"every wait and bake divided by N (default {DEFAULT_TIME_SCALE:g})",
    )
    rehearse.add_argument(
        "--requests",
        type=input_file,
        metavar="FILE",
        help="requests to send (smoke.yaml format; default: the default model's smoke.yaml)",
    )
    rehearse.add_argument("--json", action="store_true", help="print one JSON object")
    rehearse.set_defaults(handler=run_rehearse)


def run_rehearse(root: Path, args: argparse.Namespace) -> int:
    from tritonform.rehearsal.faults import parse_fault  # noqa: PLC0415  (boto3 and moto load only when used)
    from tritonform.rehearsal.rehearse import RehearsalRequest, rehearse  # noqa: PLC0415

    fault = parse_fault(args.fault) if args.fault is not None else None
    request = RehearsalRequest(
        args.env, args.version, fault, args.rate, args.time_scale, args.requests, bad_requests=args.bad_requests
    )
    try:
        result = rehearse(root, request)
    except UserError as err:
        if err.exit_code != EXIT_NOT_VALID or not args.json:
            raise
        print(
            json.dumps(
                {
                    "environment": args.env,
                    "outcome": "failed",
                    "as_promised": False,
                    "why": [err.render(root)],
                    "timeline": None,
                }
            )
        )
        return EXIT_NOT_VALID
    print(json.dumps(result.as_dict(), indent=2) if args.json else render(result))
    return EXIT_OK if result.as_promised else EXIT_NOT_VALID


def _at(seconds: float | None) -> str:
    return "" if seconds is None else "+" + clock(round(seconds))


def _detection_lines(result: Rehearsal) -> list[str]:
    """The alarms' reach at this rate on the first step: the numbers `policy explain` prints."""
    lines = [f"what the alarms can catch at {result.rate:g} requests/s on the first step (policy explain's numbers):"]
    for detection in result.detection:
        reach = (
            f"a 5XX share of {detection.smallest_error_rate:.1%} or more"
            if detection.smallest_error_rate is not None
            else f"{detection.slow_requests_needed} slow request(s) a period"
            if detection.slow_requests_needed is not None
            else "nothing (too few requests a period)"
            if not detection.sees_traffic
            else "its metric"
        )
        lines.append(
            f"  {detection.alarm.name}: {reach}, {detection.requests_per_period:g} requests a period, ALARM "
            f"{clock(detection.earliest_s)}-{clock(detection.latest_s)} after a failure starts"
        )
    return lines if result.detection else []


def render(result: Rehearsal) -> str:
    lines = [
        f"rehearsal of {result.environment}'s rollout at {result.rate:g} requests/s (model time), time scale "
        f"{result.time_scale:g}, on the local SageMaker (instance type {result.instance_type} in the stand-in)",
        f"  old:       {result.old}",
        f"  candidate: {result.candidate}",
        "",
        "predicted (policy explain, worst-case start-up):",
        *(f"  {_at(row['at_s']):>9}  {row['traffic_percent']:>3}%  {row['action']}" for row in result.predicted),
        "observed (the stand-in's timeline, model seconds after UpdateEndpoint):",
    ]
    rows = [(float(e["at_s"]), f"{e['new_share']:>4.0%}  {e['status']:<12} {e['action']}") for e in result.observed]
    rows += [(at, f"      alarm {name} went to ALARM") for name, at in result.alarms_fired.items()]
    if result.back_on_old_at_s is not None:
        rows.append((result.back_on_old_at_s, "      all traffic back on the old version"))
    lines += [f"  {_at(at):>9}  {text}" for at, text in sorted(rows, key=lambda row: row[0])]
    if not result.alarms_fired:
        lines.append("  no rollback alarm went to ALARM")
    load = result.load
    lines += [
        f"load: {load['sent']} requests sent, {load['succeeded']} succeeded, {load['failed']} failed, "
        f"{load['late']} skipped (not sendable on time)"
        + (
            f"; {load['malformed']} malformed on purpose ({load['malformed_accepted']} accepted)"
            if load["malformed"]
            else ""
        ),
        *_detection_lines(result),
        f"outcome: {result.outcome}" + (f" ({result.failure_reason})" if result.failure_reason else ""),
        f"promise: {result.promise}: {'kept' if result.as_promised else 'NOT kept'}",
        *(f"  {line}" for line in result.why),
    ]
    return "\n".join(lines)
