"""How `tritonform release compare` judges a candidate against its baseline, per environment
(`release_compare` in environments/<env>.yaml): how far each output's values may move, and how much slower
the candidate may answer, before the comparison fails."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tritonform.documents import FrozenModel

TensorName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$")]


class OutputTolerance(FrozenModel):
    """Two numeric answers agree where |candidate - baseline| <= absolute + relative x |baseline|, element by
    element (numpy.isclose); text and booleans must be equal."""

    absolute: Annotated[float, Field(ge=0, le=1e6)] = 1e-6
    """Absolute tolerance (0-1e6). Default 1e-6."""

    relative: Annotated[float, Field(ge=0, le=1)] = 1e-5
    """Relative tolerance (0-1). Default 1e-5."""


class CompareSettings(FrozenModel):
    """What `release compare` allows a candidate. Default: answers within 1e-6 + 1e-5 x |value|, p50 at most
    1.25 and p99 at most 1.5 times the baseline's (and in both cases more than 2 ms slower to count)."""

    p50_ratio: Annotated[float, Field(ge=1, le=100)] = 1.25
    """Candidate p50 latency / baseline p50 latency allowed (1-100). Default 1.25."""

    p99_ratio: Annotated[float, Field(ge=1, le=100)] = 1.5
    """Candidate p99 latency / baseline p99 latency allowed (1-100). Default 1.5."""

    slack_ms: Annotated[float, Field(ge=0, le=60_000)] = 2.0
    """A latency beyond its ratio is a regression only when it is also this many milliseconds slower
    (0-60000): the noise of a sub-millisecond model on a shared machine is not one. Default 2."""

    tolerance: OutputTolerance = OutputTolerance()
    """For every output not named in `outputs`."""

    outputs: Annotated[dict[TensorName, OutputTolerance], Field(max_length=256)] = {}
    """Per output name, a tolerance of its own (at most 256). Default none."""

    capture_sample: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """Captured requests replayed by `release compare --capture` (1-100000). Default 1000."""

    def tolerance_for(self, output: str) -> OutputTolerance:
        return self.outputs.get(output, self.tolerance)
