"""The inference contract of a model repository: what a client of the endpoint can rely on.

For every model a client may call directly (the default model SageMaker routes InvokeEndpoint to, and every
model that no ensemble runs as one of its steps) each input and output with its name, data type, dims (-1
for a variable dim, as config.pbtxt writes it), whether the model batches (max_batch_size), and the optional
and ragged flags; for ensembles, the wiring (steps with their input and output maps), so that a change of
where an output comes from is seen; and the Triton image version the repository was validated for. Models
run only as ensemble steps are recorded too, as internal: a client reaches them through an ensemble.

It is read (contract_extract.py) from the configs as static validation completed them (the same configs
Triton validates at load time, tritonform/triton/autocomplete.py), so it claims only what config.pbtxt and
the file names say: a Python model that completes its own config at load time (auto_complete_config) is
marked so, and its recorded interface is only what its config.pbtxt declares.

The canonical JSON (sorted keys, no whitespace) is what the digest is taken over, so the same interface
gives the same sha256 wherever it is recorded (manifest.json, the published object, the release file).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from tritonform.documents import FrozenModel
from tritonform.errors import UserError

CONTRACT_FILE = "contract.json"
"""Beside model.tar.gz in the artifact bucket (`<model>/<sha256>/contract.json`), written by publish."""

Role = Literal["default", "direct", "internal"]
MAX_NAME = 200


class TensorContract(FrozenModel):
    """One input or output as a client sees it."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    data_type: Annotated[str, Field(min_length=1, max_length=32)]
    """Triton's config data type without its TYPE_ prefix (FP32, INT64, STRING, ...)."""

    dims: list[int]
    """Per request, without the batch dim; -1 is a variable dim."""

    optional: bool = False
    """Inputs only: a request may leave it out."""

    ragged: bool = False
    """Inputs only: allow_ragged_batch, requests of different shapes are batched together."""


class StepContract(FrozenModel):
    """One step of an ensemble: which model (and version, -1 the latest) and how its tensors are wired."""

    model: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    version: int
    input_map: dict[str, str]
    """The step model's input -> the ensemble tensor it reads."""

    output_map: dict[str, str]
    """The step model's output -> the ensemble tensor it writes."""


class ModelContract(FrozenModel):
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    role: Role
    """default: InvokeEndpoint's model; direct: callable by name; internal: run only as an ensemble step."""

    backend: str
    """The backend or platform (python, onnxruntime, ensemble, ...)."""

    max_batch_size: Annotated[int, Field(ge=0)]
    """0: the model does not batch and requests carry no batch dim; N: requests carry a leading batch dim
    of at most N."""

    decoupled: bool = False
    """The model may send zero or many responses per request (decoupled transaction policy)."""

    completed_at_load: bool = False
    """The model completes its own config at load time: its inputs and outputs here are what config.pbtxt
    declares, the model may add more."""

    inputs: list[TensorContract]
    outputs: list[TensorContract]
    steps: list[StepContract] = Field(default_factory=list)
    """An ensemble's wiring; empty for other models."""


class Contract(FrozenModel):
    schema_version: Literal[1] = 1
    default_model: str | None
    """SAGEMAKER_TRITON_DEFAULT_MODEL_NAME; null when none was named (nothing is routed by default)."""

    triton_version: str | None
    """The SageMaker Triton image version (YY.MM) the repository was validated for; null when not given."""

    models: list[ModelContract]
    """Sorted by name."""

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def model(self, name: str) -> ModelContract | None:
        return next((model for model in self.models if model.name == name), None)


def parse_contract(data: object, path: Path) -> Contract:
    """A contract as recorded in a manifest or contract.json; a damaged one is an error naming the file."""
    try:
        return Contract.model_validate_json(json.dumps(data))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = f"not a tritonform contract: {where}: {first['msg']}"
        raise UserError.single(message, file=path, field="contract") from None


class BreakingAcknowledged(FrozenModel):
    """A breaking contract change someone let through (`--accept-breaking "REASON"`), as the history keeps it."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    from_contract: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    to_contract: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    changes: Annotated[list[Annotated[str, Field(min_length=1, max_length=2000)]], Field(min_length=1, max_length=1000)]
    """Each breaking change, in the words `tritonform contract diff` prints it."""
