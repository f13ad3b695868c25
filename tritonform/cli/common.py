"""What every command module shares: the parser class, the handler type and the exit codes.

Exit codes: 0 success; 1 the thing checked is not valid; 2 bad input or usage (errors.EXIT_INVALID_INPUT).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from tritonform.errors import EXIT_INVALID_INPUT

EXIT_OK = 0
EXIT_NOT_VALID = 1

Handler: TypeAlias = Callable[[Path, argparse.Namespace], int]
"""What a command runs: the resolved project root and the parsed arguments in, the exit code out."""


class Parser(argparse.ArgumentParser):
    """A usage error exits with EXIT_INVALID_INPUT, the code of every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID_INPUT)


if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[Parser]
