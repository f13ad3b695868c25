"""The base of every configuration model, and the error that names the field a cross-check blames."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Immutable, closed, strictly typed: a typo is an error, never a silently ignored key."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )


class FieldError(ValueError):
    """Raised by cross-field validators so the error points at the field to change, not the whole file.

    `field` is relative to the model that raised it (dotted, e.g. "capacity.min_instances").
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
