"""The package's shape: layers that import one way (no cycles, nothing imports the CLI) and modules of a size
that a reader can hold, unless the module says why it is long.

Imports are read with `ast`, so every import counts: at module level, inside functions (a lazy import does
not make a cycle go away, it only moves the failure to the first call), under `if TYPE_CHECKING:`, relative
ones, and `from package import submodule`. Importing `a.b.c` also runs `a/__init__` and `a/b/__init__`, so
those count too, except the importer's own packages, which are already being imported when it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.config

PACKAGE = Path(__file__).resolve().parents[1] / "tritonform"
MAX_LINES = 400
LONG_REASON = "Long because"
"""A module over MAX_LINES lines says why in its docstring, in a sentence that starts with these words."""

LONG_MODULES: dict[str, str] = {
    "config/environment.py": "the schema of environments/<name>.yaml: one pydantic model per section, each field "
    "documented where it is declared (the JSON Schema and the README reference are generated from it)",
    "config/rollout.py": "the four policy kinds with SageMaker's limits, the timeline planner and the compiled "
    "deployment config in one module; splitting the models from the planning is still to do",
}
"""Modules that are long today without saying why, each with the reason it is tolerated: shrink, do not grow."""


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package by dotted name; a package is named by its directory (its __init__.py)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules in `known` that importing `module` runs, read from every import statement in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:  # `from a import b`: b is the submodule a.b, or a name defined in a
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    own = set(_ancestors(module))
    run = {ancestor for target in targets for ancestor in _ancestors(target) if ancestor not in own}
    return {name for name in targets | run if name in known and name != module}


def import_graph(package: Path) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a] (each imports the next), or None; the same graph gives the same one."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph.get(module, ())):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)):
                return cycle
        path.pop()
        on_path.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (cycle := visit(module)):
            return cycle
    return None


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source, encoding="utf-8")
    return root / "pkg"


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(PACKAGE))

    assert cycle is None, f"import cycle: {' -> '.join(cycle)} (each imports the next)"


def test_nothing_imports_the_cli_but_the_cli() -> None:
    """The CLI is the top layer: a module below it that needs something from it needs that moved down."""
    graph = import_graph(PACKAGE)
    cli = {name for name in graph if name == "tritonform.cli" or name.startswith("tritonform.cli.")}

    upward = sorted(f"{name} imports {target}" for name in graph.keys() - cli for target in graph[name] & cli)

    assert upward == []


FUNCTION_LEVEL_CYCLE = {  # how cli <-> synth looked: each side imported the other inside a function
    "pkg/__init__.py": "",
    "pkg/cli.py": "def main():\n    from pkg.synth import synthesize\n    return synthesize()\n\n"
    "def report_user_error(err):\n    return 2\n",
    "pkg/synth.py": "def synthesize():\n    try:\n        pass\n    except ValueError as err:\n"
    "        from pkg.cli import report_user_error  # noqa: PLC0415\n        return report_user_error(err)\n",
}
RELATIVE_AND_SUBMODULE_CYCLE = {  # how config.loader <-> triton.validate looked, spelled with relative imports
    "pkg/__init__.py": "",
    "pkg/config/__init__.py": "from .loader import load_deployments\n",
    "pkg/config/loader.py": "def load_deployments():\n    from ..triton import validate\n    return validate\n\n"
    "def parse_model():\n    pass\n",
    "pkg/triton/__init__.py": "",
    "pkg/triton/validate.py": "def validate_repository():\n    from pkg.config.loader import parse_model\n",
}
THROUGH_A_PACKAGE_INIT = {  # validate needs only config.instances, but importing it runs config/__init__
    "pkg/__init__.py": "",
    "pkg/config/__init__.py": "from pkg.config.loader import load\n",
    "pkg/config/instances.py": "GPUS = {}\n",
    "pkg/config/loader.py": "import pkg.triton.validate\n\ndef load():\n    pass\n",
    "pkg/triton/__init__.py": "",
    "pkg/triton/validate.py": "from pkg.config.instances import GPUS\n",
}
UNDER_TYPE_CHECKING = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.b import B\n",
    "pkg/b.py": "from pkg import a\n\nclass B:\n    pass\n",
}


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (FUNCTION_LEVEL_CYCLE, ["pkg.cli", "pkg.synth", "pkg.cli"]),
        (RELATIVE_AND_SUBMODULE_CYCLE, ["pkg.config", "pkg.config.loader", "pkg.triton.validate", "pkg.config"]),
        (THROUGH_A_PACKAGE_INIT, ["pkg.config", "pkg.config.loader", "pkg.triton.validate", "pkg.config"]),
        (UNDER_TYPE_CHECKING, ["pkg.a", "pkg.b", "pkg.a"]),
    ],
    ids=["function-level", "relative-and-submodule", "through-a-package-init", "under-type-checking"],
)
def test_cycle_finder_names_the_cycle(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    assert find_cycle(import_graph(_tree(tmp_path, files))) == cycle


def test_cycle_finder_accepts_a_package_whose_modules_import_their_siblings(tmp_path: Path) -> None:
    package = _tree(tmp_path, {
        "pkg/__init__.py": "from pkg.cli.main import main\n",
        "pkg/errors.py": "class UserError(Exception):\n    pass\n",
        "pkg/cli/__init__.py": "from .main import main\n",
        "pkg/cli/common.py": "from pkg.errors import UserError\n",
        "pkg/cli/main.py": "from pkg.cli import common\nfrom . import check\n\ndef main():\n"
                           "    from pkg.errors import UserError\n",
        "pkg/cli/check.py": "from pkg.cli.common import UserError\nimport pkg.errors\n",
    })  # fmt: skip

    graph = import_graph(package)

    assert find_cycle(graph) is None
    assert graph["pkg.cli.main"] == {"pkg.cli.common", "pkg.cli.check", "pkg.errors"}
    assert graph["pkg.cli.check"] == {"pkg.cli.common", "pkg.errors"}


def _line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def long_modules_without_a_reason(package: Path, tolerated: dict[str, str]) -> list[str]:
    unexplained = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        if _line_count(path) <= MAX_LINES or name in tolerated:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if LONG_REASON not in docstring:
            unexplained.append(f"{name}: {_line_count(path)} lines")
    return unexplained


def test_long_modules_say_why() -> None:
    unexplained = long_modules_without_a_reason(PACKAGE, LONG_MODULES)

    assert unexplained == [], f"over {MAX_LINES} lines: split the module, or say why ('{LONG_REASON} ...')"


def test_size_check_counts_lines_and_reads_the_reason(tmp_path: Path) -> None:
    body = "X = 1\n" * MAX_LINES
    package = _tree(tmp_path, {
        "pkg/short.py": '"""Fits."""\n' + body[: -len("X = 1\n")],
        "pkg/long.py": '"""Does not say why."""\n' + body,
        "pkg/sub/explained.py": f'"""A table.\n\n{LONG_REASON} it is one table of data."""\n' + body,
        "pkg/sub/tolerated.py": body + "Y = 2\n",
    })  # fmt: skip

    assert long_modules_without_a_reason(package, {"sub/tolerated.py": "a reason"}) == ["long.py: 401 lines"]


@pytest.mark.parametrize("name", sorted(LONG_MODULES))
def test_the_list_of_long_modules_is_not_stale(name: str) -> None:
    path = PACKAGE / name

    assert path.is_file(), f"{name} is gone: drop it from LONG_MODULES"
    assert _line_count(path) > MAX_LINES, f"{name} is {_line_count(path)} lines now: drop it from LONG_MODULES"
