"""The repository's layout: files that can ship (files.py), one directory per model with integer version
directories and a config.pbtxt Triton can parse (or none: Triton completes it like an empty one), each config
completed as Triton completes it (autocomplete.py), and the default model SageMaker serves."""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import DecodeError
from tritonclient.grpc import model_config_pb2 as mc

from tritonform.documents import read_text
from tritonform.errors import UserError
from tritonform.triton.autocomplete import complete_backend_fields, defines_auto_complete
from tritonform.triton.files import shippable_entries
from tritonform.triton.repository import Checker, ModelInfo, line_of

MAX_CONFIG_BYTES = 1_000_000


def check_files(check: Checker, repository: Path) -> None:
    """What `release package` would refuse: names that do not unpack the same everywhere, links leaving
    the repository, devices, sockets and pipes (the shared rules of files.py)."""
    check.extend(shippable_entries(repository)[1])


def model_directories(check: Checker, repository: Path) -> list[Path]:
    """The model directories of an existing repository, after the problems with its top level."""
    # triton-inference-server/server docker/sagemaker/serve: the container exits on a top-level config.pbtxt
    # and on a SAGEMAKER_TRITON_DEFAULT_MODEL_NAME without its directory; it starts tritonserver without
    # --disable-auto-complete-config, so configs are completed as autocomplete.py completes them.
    if (repository / "config.pbtxt").exists():
        check.problem(
            repository / "config.pbtxt",
            "a config.pbtxt at the top of the repository: the SageMaker Triton container refuses it; every model "
            "lives in its own directory (<model>/config.pbtxt)",
        )
    directories = sorted(p for p in repository.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))
    if not directories:
        check.problem(repository, "no model directories")
    return directories


def load_model(check: Checker, directory: Path) -> ModelInfo:
    """The model as far as it can be read: a config that does not parse leaves `config` None."""
    config_path = directory / "config.pbtxt"
    model = ModelInfo(directory.name, directory, config_path)
    # core src/model_repository_manager.cc: a version directory is named by the number itself; "0" is a
    # version, "01" is not one (Triton skips it), so it only matters when no real version is left.
    ignored: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir() and entry.name.isdigit():
            if entry.name != str(int(entry.name)):
                ignored.append(entry)
            else:
                model.versions.append(int(entry.name))
    if not model.versions:
        for entry in ignored:
            check.problem(entry, f"version directory {entry.name!r}: Triton ignores it; versions are integers "
                                 f"without leading zeros ({int(entry.name)}/)")  # fmt: skip
    if not config_path.exists() and not config_path.is_symlink():
        # Triton completes a model without config.pbtxt like one with an empty config (auto-complete, on by
        # default: server docs/user_guide/model_configuration.md "Auto-Generated Model Configuration").
        _complete(model, mc.ModelConfig())
        return model
    try:
        model.text = read_text(config_path, limit=MAX_CONFIG_BYTES, what="a Triton model configuration")
    except UserError as err:
        check.extend(err.problems)
        return model
    config = mc.ModelConfig()
    try:
        text_format.Parse(model.text, config)
    except text_format.ParseError as err:
        message = str(err)
        message = re.sub(r"^\d+:\d+ : ", "", message)
        check.problem(config_path, f"not a valid Triton ModelConfig: {message}", err.GetLine(), err.GetColumn())
        return model
    except (DecodeError, ValueError) as err:
        check.problem(config_path, f"not a valid Triton ModelConfig: {err}")
        return model
    _complete(model, config)
    if config.name and config.name != directory.name:
        check.problem(
            config_path,
            f"name is {config.name!r} but the directory is {directory.name!r}; Triton requires them to match",
            line_of(model.text, r"^\s*name\s*:"),
        )
    return model


def _complete(model: ModelInfo, declared: mc.ModelConfig) -> None:
    """The config as Triton completes it from the version directory, and whether the model completes more."""
    model.declared = declared
    model.config = complete_backend_fields(model.name, model.directory, declared)
    if model.config.backend == "python":
        model_file = model.config.default_model_filename
        model.completed_at_load = any(
            defines_auto_complete(model.directory / str(version) / model_file) for version in model.served_versions()
        )


def check_default_model(
    check: Checker, repository: Path, models: dict[str, ModelInfo], default_model: str | None
) -> None:
    if default_model is not None and default_model not in models:
        check.problem(
            repository,
            f"the default model {default_model!r} (SAGEMAKER_TRITON_DEFAULT_MODEL_NAME) is not "
            f"in the repository; models: {', '.join(sorted(models)) or 'none'}",
        )
