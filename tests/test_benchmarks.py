"""The benchmarks run and compare like with like. Their targets are checked by running them, not here:
CI machines are shared and noisy, so no test asserts a duration."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_synth

pytestmark = pytest.mark.synth


def test_synth_benchmark_runs_and_both_paths_agree(capsys: pytest.CaptureFixture[str]) -> None:
    """Also the proof that the lean provider loading (tritonform/_node.py) changes nothing Terraform sees: the
    benchmark synthesizes every environment both ways and compares the trees byte for byte."""
    code = bench_synth.main(["--runs", "1", "--no-targets"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["identical_output"] is True
    assert report["lean_median_s"] > 0 and report["plain_median_s"] > 0
