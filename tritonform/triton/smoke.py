"""Smoke requests declared next to a model (<model>/smoke.yaml) and how an answer is judged."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from tritonform.documents import FieldError, FrozenModel

Datatype = Literal["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                   "FP64", "BYTES"]  # fmt: skip
# Triton's config data types as the client protocol names them.
CONFIG_TO_PROTOCOL = {
    "TYPE_BOOL": "BOOL", "TYPE_UINT8": "UINT8", "TYPE_UINT16": "UINT16", "TYPE_UINT32": "UINT32",
    "TYPE_UINT64": "UINT64", "TYPE_INT8": "INT8", "TYPE_INT16": "INT16", "TYPE_INT32": "INT32",
    "TYPE_INT64": "INT64", "TYPE_FP16": "FP16", "TYPE_FP32": "FP32", "TYPE_FP64": "FP64", "TYPE_STRING": "BYTES",
    "TYPE_BF16": "BF16",
}  # fmt: skip
SMOKE_FILE = "smoke.yaml"
Value = float | int | bool | str


class TensorValue(FrozenModel):
    datatype: Datatype
    """Protocol data type (FP32, INT64, BYTES, ...)."""

    shape: Annotated[list[Annotated[int, Field(ge=0, le=1_000_000)]], Field(min_length=1, max_length=8)]
    """Full shape, batch dimension included."""

    data: Annotated[list[Value], Field(max_length=1_000_000)]
    """Values in row-major order."""

    @model_validator(mode="after")
    def _count(self) -> Self:
        expected = math.prod(self.shape)
        if len(self.data) != expected:
            raise FieldError("data", f"shape {self.shape} holds {expected} values, data has {len(self.data)}")
        return self


class ExpectedTensor(FrozenModel):
    datatype: Datatype
    """The data type the output must have."""

    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=8)]
    """The shape the output must have."""

    data: list[Value] | None = None
    """The values it must have (floats within `tolerance`). Default: not checked."""

    tolerance: Annotated[float, Field(ge=0, le=1)] = 1e-5
    """Largest allowed absolute difference for floating-point values. Default 1e-5."""

    @model_validator(mode="after")
    def _count(self) -> Self:
        if self.data is not None and len(self.data) != math.prod(self.shape):
            raise FieldError(
                "data", f"shape {self.shape} holds {math.prod(self.shape)} values, data has {len(self.data)}"
            )
        return self


class SmokeRequest(FrozenModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    """What the request shows."""

    inputs: Annotated[dict[str, TensorValue], Field(min_length=1)]
    """Input name -> tensor."""

    expect: Annotated[dict[str, ExpectedTensor], Field(min_length=1)]
    """Output name -> what it must be."""


class SmokeFile(FrozenModel):
    """<model>/smoke.yaml."""

    requests: Annotated[list[SmokeRequest], Field(min_length=1, max_length=50)]


def compare(expected: ExpectedTensor, datatype: str, shape: list[int], values: list[Value]) -> str | None:
    """Why an output differs from what was declared, or None when it matches."""
    if datatype != expected.datatype:
        return f"datatype {datatype}, expected {expected.datatype}"
    if list(shape) != list(expected.shape):
        return f"shape {list(shape)}, expected {expected.shape}"
    if expected.data is None:
        return None
    for index, (got, want) in enumerate(zip(values, expected.data, strict=True)):
        if isinstance(want, float | int) and not isinstance(want, bool) and isinstance(got, float | int):
            if abs(float(got) - float(want)) > expected.tolerance:
                return f"value [{index}] is {got}, expected {want} (tolerance {expected.tolerance})"
        elif got != want:
            return f"value [{index}] is {got!r}, expected {want!r}"
    return None


def smoke_path(model_directory: Path) -> Path:
    return model_directory / SMOKE_FILE
