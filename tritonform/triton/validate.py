"""Static validation of a Triton model repository: what Triton (and SageMaker's Triton container) would
refuse at load time, found in seconds and without the model files' contents.

The config is parsed into Triton's own ModelConfig schema (tritonclient ships it), so unknown fields, bad
enums and bad numbers are reported as Triton would, with line and column. Each config is then completed as
Triton completes it before validating (autocomplete.py), and judged by the load-time rules of Triton's core
(triton-inference-server/core src/model_config_utils.cc and friends) that need no model file's contents; each
problem names the file, the line and what is allowed. What Triton accepts is accepted: a model that completes
its own config at load time is left to --server for what only it knows. The checks live by concern: files.py
(what can ship), layout.py (directories, configs, default model), model_rules.py (platform, versions, instance
groups), io_rules.py (tensors, reshapes, batch inputs/outputs), scheduling_rules.py (batchers, response
cache), ensembles.py (steps, tensors, decoupled steps, cycles), smoke_check.py (smoke.yaml).
"""

from __future__ import annotations

from pathlib import Path

from tritonform.triton.ensembles import check_ensembles
from tritonform.triton.layout import check_default_model, check_files, load_model, model_directories
from tritonform.triton.model_rules import check_model
from tritonform.triton.repository import Checker, ModelInfo, RepositoryReport
from tritonform.triton.smoke_check import check_smoke


def validate_repository(
    repository: Path,
    *,
    default_model: str | None = None,
    gpus_per_instance: int | None = None,
) -> RepositoryReport:
    """Every static check; `default_model` is SAGEMAKER_TRITON_DEFAULT_MODEL_NAME, `gpus_per_instance` the
    endpoint's instance type (for GPU ids in instance groups)."""
    report = RepositoryReport(repository)
    check = Checker(report)
    if not repository.is_dir():
        check.problem(repository, "not a directory: a Triton model repository is a directory of model directories")
        return report
    check_files(check, repository)
    for directory in model_directories(check, repository):
        model = load_model(check, directory)
        report.models[model.name] = model
    check_models(check, report.models, gpus_per_instance)
    for model in report.models.values():
        if model.completed_at_load:
            check.note(f"{model.name}: completed by the model at load time (auto_complete_config): its inputs, "
                       "outputs and batching are checked by --server only")  # fmt: skip
    check_default_model(check, repository, report.models, default_model)
    return report


def check_models(check: Checker, models: dict[str, ModelInfo], gpus_per_instance: int | None) -> None:
    """The rules on parsed configs: each model's own, the ensembles', the smoke files'. Also run by
    server.py on the configs the server completed."""
    for model in models.values():
        if model.config is not None:
            check_model(check, model, gpus_per_instance)
    check_ensembles(check, models)
    for model in models.values():
        if model.config is not None:
            check_smoke(check, model)
