"""security-baseline.yaml: the scan findings a project accepts on purpose, each with its justification."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tritonform.documents import FrozenModel


class BaselineEntry(FrozenModel):
    """One accepted finding: a check on a construct, in some or all stacks, and why it is acceptable."""

    check: Annotated[str, Field(pattern=r"^[A-Z0-9_]{3,40}$")]
    """The check id, e.g. CKV_AWS_98."""

    path: Annotated[str, Field(pattern=r"^[\w./-]{1,200}$")]
    """The construct path inside its stack, e.g. triton/configuration (version keys left out: it holds for the
    configuration-<version id> of every release)."""

    stacks: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,60}$")]] | Literal["all"] = "all"
    """Stacks the entry applies to. Default all."""

    justification: Annotated[str, Field(min_length=40, max_length=1500)]
    """Why the finding is acceptable, for the next reviewer (40-1500 characters)."""


class Baseline(FrozenModel):
    """security-baseline.yaml."""

    accepted: Annotated[list[BaselineEntry], Field(max_length=100)] = []
    """Accepted findings. Default none."""
