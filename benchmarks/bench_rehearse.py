"""A rehearsal of prod's canary with a fault: wall time, and the peak memory of the stand-ins it starts.

`tritonform rehearse --env prod --fault error-rate=0.5 --time-scale 60` runs as a whole process, as a user
runs it; its descendants (moto, the local SageMaker, and the two fleets' Triton servers with their Python
model stubs) are sampled from /proc every 0.2 s and their resident sets summed. The sum counts shared pages
once per process, so it overstates what the machine gives them: a conservative figure.
Targets: under 60 s wall (on 2 cores) and under 1.5 GB resident for the stand-ins with both fleets up.

    .venv/bin/python -m benchmarks.bench_rehearse [--fault error-rate=0.5] [--time-scale 60] [--no-targets]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 1536.0
SAMPLE_S = 0.2
ROOT = Path(__file__).resolve().parent.parent


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants_rss_mb(pid: int) -> tuple[float, int]:
    """Summed resident set of every descendant of `pid` (not `pid` itself), and how many there are."""
    tree = _children()
    stack, found = list(tree.get(pid, [])), []
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return sum(_rss_kb(child) for child in found) / 1024, len(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fault", default="error-rate=0.5")
    parser.add_argument("--time-scale", default="60")
    parser.add_argument("--rate", default=None, help="requests per second (default: prod's expected_rps)")
    parser.add_argument("--no-targets", action="store_true", help="report only; do not fail on a missed target")
    args = parser.parse_args(argv)
    command = [sys.executable, "-m", "tritonform.cli", "rehearse", "--env", "prod", "--fault", args.fault,
               "--time-scale", args.time_scale, "--json", *(["--rate", args.rate] if args.rate else [])]  # fmt: skip
    peak_mb, peak_processes = 0.0, 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while process.poll() is None:
            rss_mb, processes = descendants_rss_mb(process.pid)
            if rss_mb > peak_mb:
                peak_mb, peak_processes = rss_mb, processes
            time.sleep(SAMPLE_S)
        wall_s = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        printed, problems = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    try:
        rehearsal = json.loads(printed)
    except json.JSONDecodeError:
        print(f"the rehearsal printed no JSON (exit {process.returncode}):\n{printed}\n{problems}", file=sys.stderr)
        return 2
    report = {
        "benchmark": f"rehearse prod's canary with --fault {args.fault} at time scale {args.time_scale}",
        "cpus": os.cpu_count(),
        "wall_s": round(wall_s, 1),
        "peak_standin_rss_mb": round(peak_mb, 1),
        "processes_at_peak": peak_processes,
        "outcome": rehearsal.get("outcome"),
        "as_promised": rehearsal.get("as_promised"),
        "exit_code": process.returncode,
        "targets": {"wall_s_max": TARGET_WALL_S, "peak_standin_rss_mb_max": TARGET_RSS_MB},
        "met": wall_s < TARGET_WALL_S and peak_mb < TARGET_RSS_MB,
    }
    print(json.dumps(report, indent=2))
    return 0 if args.no_targets or report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
