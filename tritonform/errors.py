"""Errors a user can fix. The CLI prints them without a traceback and exits with their code."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

EXIT_INVALID_INPUT = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: where it is, what is wrong, what is allowed."""

    file: Path | None
    field: str | None
    message: str
    line: int | None = None
    column: int | None = None

    def render(self, relative_to: Path | None = None) -> str:
        where = ""
        if self.file is not None:
            shown = self.file
            if relative_to is not None:
                try:
                    shown = self.file.resolve().relative_to(relative_to.resolve())
                except ValueError:
                    shown = self.file
            where = f"{shown}:{self.line}" if self.line else f"{shown}"
            if self.line and self.column:
                where += f":{self.column}"
        parts = [p for p in (where, self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass
class UserError(Exception):
    """One or more problems in what the user gave us; never a bug in tritonform."""

    problems: list[Problem] = field(default_factory=list)
    exit_code: int = EXIT_INVALID_INPUT

    def __post_init__(self) -> None:
        super().__init__(self.render())

    @classmethod
    def single(
        cls, message: str, *, file: Path | None = None, field: str | None = None, exit_code: int = EXIT_INVALID_INPUT
    ) -> UserError:
        return cls([Problem(file=file, field=field, message=message)], exit_code=exit_code)

    def render(self, relative_to: Path | None = None) -> str:
        return "\n".join(p.render(relative_to) for p in self.problems)


def report_user_error(err: UserError, root: Path) -> int:
    """Print every problem (paths relative to the project) and a count; return the exit code to use."""
    count = len(err.problems)
    print(err.render(relative_to=root), file=sys.stderr)
    if count > 1:
        print(f"{count} problems", file=sys.stderr)
    return err.exit_code
