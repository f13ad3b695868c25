"""What Triton fills into a config before it validates it, so the static rules judge what Triton judges.

Triton completes `backend`, `platform` and `default_model_filename` from the version directory's files
(triton-inference-server/core src/model_config_utils.cc: AutoCompleteBackendFields), and the Python backend
then lets the model's own `auto_complete_config` add inputs, outputs and batching
(triton-inference-server/python_backend README "Auto-complete config"). The first needs no model file's
contents, only its name; the second runs the model, so only the server can check what it produces.
"""

from __future__ import annotations

import re
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

# triton-inference-server/core src/constants.h: the file each backend loads when default_model_filename
# is not set, and the platforms Triton names for them.
SAVEDMODEL_FILE, GRAPHDEF_FILE = "model.savedmodel", "model.graphdef"
PLAN_FILE, ONNX_FILE, OPENVINO_FILE, LIBTORCH_FILE, PYTHON_FILE = (
    "model.plan", "model.onnx", "model.xml", "model.pt", "model.py"
)  # fmt: skip
ENSEMBLE_PLATFORM = "ensemble"
# A Python model file this large is not read for `auto_complete_config`: it is assumed to define one.
MAX_PYTHON_SOURCE_BYTES = 4_000_000


def _first_version_directory(directory: Path) -> Path | None:
    """AutoCompleteBackendFields inspects only the first subdirectory in byte order (a std::set)."""
    try:
        subdirectories = sorted((p for p in directory.iterdir() if p.is_dir()), key=lambda p: p.name.encode())
    except OSError:
        return None
    return subdirectories[0] if subdirectories else None


def complete_backend_fields(model_name: str, directory: Path, declared: mc.ModelConfig) -> mc.ModelConfig:
    """A copy of `declared` with backend, platform and default_model_filename filled in as Triton fills
    them (core src/model_config_utils.cc: AutoCompleteBackendFields, in its order)."""
    config = mc.ModelConfig()
    config.CopyFrom(declared)
    version = _first_version_directory(directory)
    contents = {p.name: p.is_dir() for p in version.iterdir()} if version is not None else {}
    if not config.name:
        config.name = model_name
    by_files = not config.platform and not config.default_model_filename and version is not None

    # TensorFlow: the platform comes from default_model_filename or the file (a savedmodel is a directory).
    if not config.platform and config.backend in ("", "tensorflow"):
        if config.default_model_filename == SAVEDMODEL_FILE:
            config.platform = "tensorflow_savedmodel"
        elif config.default_model_filename == GRAPHDEF_FILE:
            config.platform = "tensorflow_graphdef"
        elif not config.default_model_filename and version is not None:
            if contents.get(SAVEDMODEL_FILE) is True:
                config.platform = "tensorflow_savedmodel"
            if contents.get(GRAPHDEF_FILE) is False:
                config.platform = "tensorflow_graphdef"
    if config.platform in ("tensorflow_savedmodel", "tensorflow_graphdef"):
        config.backend = config.backend or "tensorflow"
        if not config.default_model_filename:
            saved = config.platform == "tensorflow_savedmodel"
            config.default_model_filename = SAVEDMODEL_FILE if saved else GRAPHDEF_FILE
        return config
    # The other backends in Triton's order: (backend, platform it implies, file, file may be a directory).
    rules = (
        ("tensorrt", "tensorrt_plan", PLAN_FILE, False),
        ("onnxruntime", "onnxruntime_onnx", ONNX_FILE, True),
        ("openvino", "", OPENVINO_FILE, True),
        ("pytorch", "pytorch_libtorch", LIBTORCH_FILE, False),
        ("python", "", PYTHON_FILE, True),
    )
    for backend, platform, filename, directory_allowed in rules:
        if not config.backend:
            named = (platform and config.platform == platform) or config.default_model_filename == filename
            found = by_files and filename in contents and (directory_allowed or not contents[filename])
            if named or found:
                config.backend = backend
        if config.backend == backend:
            if platform and not config.platform:
                config.platform = platform
            if not config.default_model_filename:
                config.default_model_filename = filename
            return config
    # A custom backend: only when nothing is given, named by the model directory ("model.<backend>").
    if not config.backend and not config.platform and not config.default_model_filename and "." in model_name:
        config.backend = model_name.split(".", 1)[1]
        config.default_model_filename = f"model.{config.backend}"
    return config


def defines_auto_complete(model_file: Path) -> bool:
    """Whether a Python model may complete its own config. The Python backend calls
    TritonPythonModel.auto_complete_config when the class has one (python_backend src/pb_stub.cc), so: the
    source names it, or the class comes from elsewhere (imported, or with base classes that may define it),
    or the source is too large to read here. Only a class defined here on nothing else is known not to."""
    try:
        if not model_file.is_file():
            return False
        if model_file.stat().st_size > MAX_PYTHON_SOURCE_BYTES:
            return True
        with model_file.open("rb") as handle:
            source = handle.read(MAX_PYTHON_SOURCE_BYTES + 1).decode("utf-8", errors="replace")
    except OSError:
        return False
    if "auto_complete_config" in source:
        return True
    definition = _CLASS.search(source)
    return definition is None or (definition.group(1) or "").strip() not in ("", "object")


_CLASS = re.compile(r"^class\s+TritonPythonModel\s*(?:\(([^)]*)\))?\s*:", re.MULTILINE)
