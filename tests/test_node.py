"""The Node.js process jsii starts: the bundled binary, and the AWS provider's JavaScript loaded lazily
unless the plain path is asked for (the synth benchmark and test_synth compare the two paths' output)."""

from __future__ import annotations

import os
import shlex

import pytest

from tritonform._node import LAZY_PROVIDER_INDEX, prepare_jsii_node

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

    assert os.environ["NODE_OPTIONS"] == "--max-old-space-size=2048"


def test_the_plain_path_leaves_no_empty_node_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITONFORM_PROVIDER_IMPORT", raising=False)
    monkeypatch.delenv("NODE_OPTIONS", raising=False)
    prepare_jsii_node()
    monkeypatch.setenv("TRITONFORM_PROVIDER_IMPORT", "full")

    prepare_jsii_node()

    assert "NODE_OPTIONS" not in os.environ
