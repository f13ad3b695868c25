"""The inference contract read from a model repository that static validation found valid (contract.py
says what it holds and why)."""

from __future__ import annotations

from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.errors import UserError
from tritonform.triton.contract import Contract, ModelContract, Role, StepContract, TensorContract
from tritonform.triton.repository import ModelInfo, RepositoryReport
from tritonform.triton.validate import validate_repository


def _data_type(value: int) -> str:
    return str(mc.DataType.Name(value)).removeprefix("TYPE_")


def _tensor(tensor: mc.ModelInput | mc.ModelOutput) -> TensorContract:
    if isinstance(tensor, mc.ModelInput):
        return TensorContract(name=tensor.name, data_type=_data_type(tensor.data_type), dims=list(tensor.dims),
                              optional=tensor.optional, ragged=tensor.allow_ragged_batch)  # fmt: skip
    return TensorContract(name=tensor.name, data_type=_data_type(tensor.data_type), dims=list(tensor.dims))


def _model(model: ModelInfo, config: mc.ModelConfig, role: Role) -> ModelContract:
    steps = [
        StepContract(model=step.model_name, version=step.model_version, input_map=dict(step.input_map),
                     output_map=dict(step.output_map))
        for step in config.ensemble_scheduling.step
    ]  # fmt: skip
    return ModelContract(
        name=model.name,
        role=role,
        backend=model.backend or config.platform,
        max_batch_size=config.max_batch_size,
        decoupled=config.model_transaction_policy.decoupled,
        completed_at_load=model.completed_at_load,
        inputs=sorted((_tensor(t) for t in config.input), key=lambda t: t.name),
        outputs=sorted((_tensor(t) for t in config.output), key=lambda t: t.name),
        steps=steps,
    )


def contract_of(report: RepositoryReport, default_model: str | None, triton_version: str | None) -> Contract:
    """The contract of a repository static validation found valid (`report.problems` empty)."""
    steps = {
        step.model_name
        for model in report.models.values()
        if model.config is not None
        for step in model.config.ensemble_scheduling.step
    }
    models = []
    for name, model in sorted(report.models.items()):
        if model.config is None:  # only for an invalid repository, which is never recorded
            continue
        role: Role = "default" if name == default_model else "internal" if name in steps else "direct"
        models.append(_model(model, model.config, role))
    return Contract(default_model=default_model, triton_version=triton_version, models=models)


def only_entry_model(report: RepositoryReport) -> str | None:
    """The one model no ensemble runs as a step, when there is exactly one: a repository's evident default."""
    steps = {s.model_name for m in report.models.values() if m.config for s in m.config.ensemble_scheduling.step}
    entries = [name for name in report.models if name not in steps]
    return entries[0] if len(entries) == 1 else None


def repository_contract(
    repository: Path, *, default_model: str | None = None, triton_version: str | None = None
) -> Contract:
    """Validate a repository and read its contract; an invalid one is an error naming its problems.
    Without `default_model`, the only model no ensemble runs as a step is taken as the default."""
    report = validate_repository(repository, default_model=default_model)
    if report.problems:
        raise UserError.single(
            "not a valid model repository ({len(report.problems)} problem(s), the first: "
            f"{report.problems[0].message}; `tritonform repo validate {repository}` lists them all): it has no "
            "contract",
            file=repository,
        )
    return contract_of(report, default_model or only_entry_model(report), triton_version)
