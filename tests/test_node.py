"""The Node.js process jsii starts: the bundled binary, and the AWS provider's JavaScript loaded lazily
unless the plain path is asked for (the synth benchmark and test_synth compare the two paths' output); jsii's
own deprecation warning silenced, and node's own lines printed as text."""

from __future__ import annotations

import io
import os
import shlex
import subprocess

import pytest

from tritonform._node import LAZY_PROVIDER_INDEX, QUIET_JSII_DEPRECATION, _console_sink, prepare_jsii_node

pytestmark = pytest.mark.config


def preloads(options: str) -> list[str]:
    words = shlex.split(options)
    return [words[i + 1] for i, word in enumerate(words) if word == "--require"]


def test_the_lean_path_preloads_the_lazy_index_once_and_keeps_the_users_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRITONFORM_PROVIDER_IMPORT", raising=False)
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=2048")

    prepare_jsii_node()
    prepare_jsii_node()  # every importer of cdktf calls it

    assert os.environ["NODE_OPTIONS"].startswith("--max-old-space-size=2048 ")
    assert preloads(os.environ["NODE_OPTIONS"]) == [str(LAZY_PROVIDER_INDEX)]
    assert LAZY_PROVIDER_INDEX.is_file()


def test_the_plain_path_drops_a_preload_it_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITONFORM_PROVIDER_IMPORT", raising=False)
    monkeypatch.setenv("NODE_OPTIONS", "--max-old-space-size=2048")
    prepare_jsii_node()  # the parent: a test run or the benchmark, on the lean path

    monkeypatch.setenv("TRITONFORM_PROVIDER_IMPORT", "full")
    prepare_jsii_node()  # the child it starts for the plain path

    assert os.environ["NODE_OPTIONS"] == f"--max-old-space-size=2048 {QUIET_JSII_DEPRECATION}"


def test_the_plain_path_leaves_no_empty_node_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITONFORM_PROVIDER_IMPORT", raising=False)
    monkeypatch.delenv("NODE_OPTIONS", raising=False)
    prepare_jsii_node()
    monkeypatch.setenv("TRITONFORM_PROVIDER_IMPORT", "full")

    prepare_jsii_node()

    assert os.environ["NODE_OPTIONS"] == QUIET_JSII_DEPRECATION  # nothing empty, no preload, the one flag


def test_the_options_silence_util_is_array_and_no_other_deprecation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_OPTIONS", raising=False)
    prepare_jsii_node()
    prepare_jsii_node()
    options = os.environ["NODE_OPTIONS"]
    assert shlex.split(options).count(QUIET_JSII_DEPRECATION) == 1
    script = "require('util').isArray([]); new Buffer(1)"  # DEP0044, then DEP0005 (the Buffer constructor)

    def stderr_with(node_options: str) -> str:
        env = {**os.environ, "NODE_OPTIONS": node_options}
        return subprocess.run([os.environ["JSII_NODE"], "-e", script], capture_output=True, text=True, env=env,
                              timeout=60, check=True).stderr  # fmt: skip

    assert "DEP0044" in stderr_with("")
    silenced = stderr_with(options)
    assert "DEP0044" not in silenced
    assert "DEP0005" in silenced


def test_node_lines_outside_the_console_protocol_are_printed_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    banner = "!!  Node 20 is end-of-life  !!\n"
    stream = io.BytesIO(b'{"stderr": "aGVsbG8K"}\n' + banner.encode() + b"[1, 2]\n")

    _console_sink(stream)

    err = capsys.readouterr().err
    assert err == f"hello\n{banner}[1, 2]\n"
    assert "b'" not in err
