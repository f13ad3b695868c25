"""Packaging throughput: `tritonform release package` against `tar czf` on the same synthetic repository.

The repository mimics a real one: a few large weight files (random bytes: trained weights barely
compress) and small configs. Both tools run as whole processes in the same run; the ratio is what counts.
Targets: the repository is >= 1 GB, so that throughput rather than start-up is measured, and tritonform is at
least as fast as tar (ratio >= 1): packaging reproducibly, with a manifest, must cost no more than tar does.

    .venv/bin/python -m benchmarks.bench_package [--size-mb 1024] [--no-targets]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.0
WEIGHT_FILES = 4
CHUNK = 1 << 20


def make_repository(root: Path, size_mb: int) -> int:
    per_file = size_mb // WEIGHT_FILES
    total = 0
    for index in range(WEIGHT_FILES):
        model = root / f"model_{index}"
        (model / "1").mkdir(parents=True)
        (model / "config.pbtxt").write_text(
            f'name: "model_{index}"\nbackend: "python"\nmax_batch_size: 8\n'
            'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        )
        (model / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
        with (model / "1" / "weights.bin").open("wb") as weights:
            for _ in range(per_file):
                weights.write(os.urandom(CHUNK))
        total += per_file * CHUNK
    return total


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=3600, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the synthetic weights (default 1024)")
    parser.add_argument("--no-targets", action="store_true", help="report only; do not fail on a missed target")
    args = parser.parse_args(argv)
    if shutil.which("tar") is None:
        print("tar is not installed: nothing to compare with", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tritonform-bench-") as scratch:
        repository = Path(scratch) / "repo"
        size = make_repository(repository, args.size_mb)
        tar_s = timed(["tar", "czf", str(Path(scratch) / "tar.tar.gz"), "-C", str(repository), "."])
        ours_s = timed([sys.executable, "-m", "tritonform.cli", "release", "package", str(repository),
                        "--out", str(Path(scratch) / "ours")])  # fmt: skip
        ours_size = (Path(scratch) / "ours" / "model.tar.gz").stat().st_size
        tar_size = (Path(scratch) / "tar.tar.gz").stat().st_size
    ratio = tar_s / ours_s
    report = {
        "benchmark": "package a synthetic model repository",
        "repository_mb": round(size / CHUNK),
        "tar_czf_s": round(tar_s, 2),
        "tritonform_s": round(ours_s, 2),
        "tritonform_mb_per_s": round(size / CHUNK / ours_s, 1),
        "ratio_vs_tar": round(ratio, 2),
        "output_mb": {"tar": round(tar_size / CHUNK, 1), "tritonform": round(ours_size / CHUNK, 1)},
        "targets": {"repository_mb_min": 1024, "ratio_min": TARGET_RATIO},
        "met": size >= 1024 * CHUNK and ratio >= TARGET_RATIO,
    }
    print(json.dumps(report, indent=2))
    return 0 if args.no_targets or report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
