"""The `tritonform` command: the top layer, which nothing else in the package imports.

`parser` builds the argument parser from one module per command group (check, stacks, project, policy,
repo, release, review); each command's parser names its handler, and `main` runs it and turns a UserError
into a message and an exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from tritonform.cli.common import EXIT_OK, Handler
from tritonform.cli.parser import build_parser
from tritonform.errors import UserError, report_user_error

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root: Path = args.root.resolve()
    handler: Handler = args.handler
    try:
        return handler(root, args)
    except UserError as err:
        return report_user_error(err, root)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tritonform ... | head`: the reader left, which is not an error
        sys.stderr.close()
        return EXIT_OK
