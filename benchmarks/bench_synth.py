"""Synthesis speed: tritonform's lean provider loading against a stock cdktf app's.

The lean path imports only the provider's Python modules that tritonform uses and has the jsii kernel
require the provider's lazy JavaScript index (tritonform/_node.py); the plain path
(TRITONFORM_PROVIDER_IMPORT=full) does neither, as `import cdktf_cdktf_provider_aws` does. Both are
measured in the same run, as whole `tritonform synth` processes of every environment (what a user waits
for), alternating so that machine noise hits both alike. Targets: the lean path takes <= 4 s wall, so that
synth stays an edit-and-check loop rather than a wait; it is >= 4x faster than the plain path, so that the
lean loading keeps paying for itself as stacks are added; the output of both is byte-identical, so that
the shortcut changes nothing that Terraform sees.

On the 2-core build machine (six stacks: three serving, three access), before the lazy JavaScript index:
lean 4.8-5.1 s, plain 17.1 s, 3.3-3.4x; about 3 s of the lean run was node compiling all ~2,100 provider
modules in the kernel's `load`. With it: lean 2.0 s, plain 14.6 s, 7.3x (2.8 s, 23 s, 8.2x while the
machine was busy).

    .venv/bin/python -m benchmarks.bench_synth [--runs N] [--no-targets]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_WALL_S = 4.0
TARGET_RATIO = 4.0


def synth_once(outdir: Path, plain: bool) -> float:
    env = {**os.environ, "TRITONFORM_PROVIDER_IMPORT": "full" if plain else "lean"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tritonform.cli", "--root", str(ROOT), "synth", "--outdir", str(outdir)],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def same_output(left: Path, right: Path) -> bool:
    files = sorted(str(p.relative_to(left)) for p in left.rglob("*") if p.is_file())
    right_files = sorted(str(p.relative_to(right)) for p in right.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(left, right, files, shallow=False)
    return files == right_files and not mismatch and not errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each path (default 3)")
    parser.add_argument("--no-targets", action="store_true", help="report only; do not fail on a missed target")
    args = parser.parse_args(argv)

    lean: list[float] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tritonform-bench-") as scratch:
        lean_dir, plain_dir = Path(scratch) / "lean", Path(scratch) / "plain"
        synth_once(lean_dir, plain=False)  # warm the file cache for both paths alike
        for _ in range(args.runs):
            lean.append(synth_once(lean_dir, plain=False))
            plain.append(synth_once(plain_dir, plain=True))
        identical = same_output(lean_dir, plain_dir)

    lean_s, plain_s = statistics.median(lean), statistics.median(plain)
    ratio = plain_s / lean_s
    report = {
        "benchmark": "synth of every environment",
        "runs": args.runs,
        "lean_median_s": round(lean_s, 3),
        "plain_median_s": round(plain_s, 3),
        "speedup": round(ratio, 2),
        "identical_output": identical,
        "targets": {"lean_wall_s_max": TARGET_WALL_S, "speedup_min": TARGET_RATIO},
        "met": identical and lean_s <= TARGET_WALL_S and ratio >= TARGET_RATIO,
    }
    print(json.dumps(report, indent=2))
    if not identical:
        return 1
    return 0 if args.no_targets or report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
