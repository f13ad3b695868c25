"""Commands about the project itself rather than one environment: `schema`, `doctor` and `demo`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tritonform import terraform
from tritonform._node import use_bundled_node
from tritonform.cli.common import EXIT_NOT_VALID, EXIT_OK
from tritonform.cli.paths import output_directory
from tritonform.demo import run_demo

if TYPE_CHECKING:
    from tritonform.cli.common import Commands


def add_schema(commands: Commands) -> None:
    schema = commands.add_parser("schema", help="write the JSON Schemas of the YAML files")
    schema.add_argument("--out", type=output_directory, default=None, help="directory (default: <root>/schemas)")
    schema.add_argument("--check", action="store_true", help="fail if the files on disk are out of date")
    schema.set_defaults(handler=write_schemas)


def add_demo(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo", help="the main job: a whole release of the example model against local stand-ins (moto, Triton)"
    )
    demo.set_defaults(handler=demo_release)


def add_doctor(commands: Commands) -> None:
    doctor = commands.add_parser("doctor", help="check the toolchain and write Terraform's offline CLI config")
    doctor.add_argument("--quiet", action="store_true", help="print only problems")
    doctor.set_defaults(handler=doctor_toolchain)


def write_schemas(root: Path, args: argparse.Namespace) -> int:
    from tritonform.config import schema  # noqa: PLC0415  (start-up: ~0.1 s of JSON Schema generation set-up)

    directory = args.out or root / "schemas"
    readme = root / "README.md"
    if args.check:
        stale = [
            name
            for name, model in schema.SCHEMAS.items()
            if not (directory / name).is_file()
            or (directory / name).read_text(encoding="utf-8") != schema.render(model, name)
        ]
        if readme.is_file() and schema.reference_markdown() not in readme.read_text(encoding="utf-8"):
            stale.append("README.md configuration reference")
        if stale:
            print(f"out of date: {', '.join(stale)}; run: tritonform schema", file=sys.stderr)
            return EXIT_NOT_VALID
        print("schemas up to date")
        return EXIT_OK
    for path in schema.write_schemas(directory):
        print(f"wrote {path}")
    if readme.is_file() and schema.update_readme(readme):
        print(f"updated the configuration reference in {readme}")
    return EXIT_OK


def demo_release(root: Path, _args: argparse.Namespace) -> int:
    return run_demo(root)


def doctor_toolchain(root: Path, args: argparse.Namespace) -> int:
    use_bundled_node()
    config = terraform.ensure_cli_config(root)
    lines = [
        f"python     {sys.version.split()[0]}",
        f"node       {os.environ.get('JSII_NODE', 'node on PATH')}",
        f"terraform  {terraform.version()}",
        f"mirror     {terraform.find_provider_mirror()} ({terraform.AWS_PROVIDER} {terraform.AWS_PROVIDER_VERSION})",
        f"cli config {config}",
    ]
    if not args.quiet:
        print("\n".join(lines))
    return EXIT_OK
