"""One model's own rules, as Triton applies them when it loads the model: platform and backend, version
directories and policy, instance groups; tensors (io_rules.py) and schedulers (scheduling_rules.py).
Sources: triton-inference-server/core src/model_config_utils.cc (ValidateModelConfig, ValidateInstanceGroup,
NormalizeInstanceGroup) and src/model_repository_manager.cc; field meanings: common protobuf/model_config.proto.
"""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.triton.autocomplete import ENSEMBLE_PLATFORM
from tritonform.triton.io_rules import check_tensors
from tritonform.triton.repository import FIL_MODEL_FILES, Checker, ModelInfo, line_of
from tritonform.triton.scheduling_rules import check_scheduling

KNOWN_BACKENDS = {
    "python", "onnxruntime", "tensorrt", "pytorch", "tensorflow", "openvino", "fil", "dali", "vllm", "tensorrtllm",
    "identity", "repeat", "square",
}  # fmt: skip
# core src/model_config_utils.cc: GetBackendType / GetBackendTypeFromPlatform (triton-inference-server/
# common): the backends Triton pairs with platforms; any platform goes with any other backend.
TYPED_BACKEND_PLATFORMS = {
    "tensorrt": {"tensorrt_plan"},
    "onnxruntime": {"onnxruntime_onnx"},
    "pytorch": {"pytorch_libtorch"},
    "tensorflow": {"tensorflow_savedmodel", "tensorflow_graphdef"},
}
# TensorRT instances need a GPU (triton-inference-server/tensorrt_backend src/tensorrt.cc, ModelInstanceState:
# "no gpu is available for a context ... is an invalid state since TensorRT requires a GPU"); KIND_MODEL, which
# places the engine on the devices the plan names, is not refused here.
GPU_ONLY_BACKENDS = {"tensorrt"}
# Backends that load the model file named by default_model_filename (or their default) from each version.
FILE_BACKENDS = {"python", "onnxruntime", "tensorrt", "pytorch", "tensorflow", "openvino", "fil"}
MODEL_FILES = "model.py, model.onnx, model.plan, model.pt, model.savedmodel/, model.graphdef, model.xml"
KIND = mc.ModelInstanceGroup


def check_model(check: Checker, model: ModelInfo, gpus_per_instance: int | None) -> None:
    """Every rule that needs only this model's config and directory; `gpus_per_instance` as for
    validate_repository."""
    _check_platform(check, model)
    _check_versions(check, model)
    check_tensors(check, model)
    check_scheduling(check, model)
    _check_instance_groups(check, model, gpus_per_instance)
    _check_metrics(check, model)


def _check_platform(check: Checker, model: ModelInfo) -> None:
    """core src/model_config_utils.cc: ValidateModelConfig, after AutoCompleteBackendFields (autocomplete.py)."""
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    if not config.backend and config.platform != ENSEMBLE_PLATFORM:
        if config.platform:
            check.problem(path, f"platform {config.platform!r} names no backend Triton knows; known platforms: "
                                "tensorrt_plan, onnxruntime_onnx, pytorch_libtorch, tensorflow_savedmodel, "
                                "tensorflow_graphdef, ensemble (or set backend)",
                          line_of(text, r"^\s*platform\s*:"))  # fmt: skip
        else:
            first = sorted((p.name for p in model.directory.iterdir() if p.is_dir()), key=str.encode)
            where = f"{first[0]}/" if first else "a version directory"
            check.problem(path, "neither platform nor backend is set, and Triton cannot infer a backend: it looks "
                                f"at {where} for {MODEL_FILES} (or set backend, e.g. backend: \"python\")")  # fmt: skip
        return
    if config.backend and config.platform == ENSEMBLE_PLATFORM:
        check.problem(path, 'an ensemble (platform: "ensemble") has no backend', line_of(text, r"^\s*backend\s*:"))
        return
    allowed = TYPED_BACKEND_PLATFORMS.get(config.backend)
    if allowed is not None and config.platform not in allowed:
        check.problem(path, f"platform {config.platform!r} does not run on backend {config.backend!r} (it runs "
                            f"{', '.join(sorted(allowed))})", line_of(text, r"^\s*(backend|platform)\s*:"))  # fmt: skip
    if config.backend and config.backend not in KNOWN_BACKENDS:
        check.note(f"{model.name}: backend {config.backend!r} is not one tritonform knows; its files are not checked")
    if config.HasField("ensemble_scheduling") and config.platform != ENSEMBLE_PLATFORM:
        check.problem(path, 'ensemble_scheduling is only allowed with platform: "ensemble"',
                      line_of(text, r"ensemble_scheduling"))  # fmt: skip


def _check_versions(check: Checker, model: ModelInfo) -> None:
    config, declared = model.config, model.declared
    assert config is not None and declared is not None
    if not model.versions:
        check.problem(model.directory, "no version directory (1/, 2/, ...): Triton loads nothing for this model")
        return
    if not model.served_versions():
        # core src/model_repository_manager.cc: "at least one version must be available under the version
        # policy"
        check.problem(model.config_path, f"version_policy serves none of the versions {sorted(model.versions)}: "
                                         "Triton needs at least one",
                      line_of(model.text, r"version_policy"))  # fmt: skip
        return
    if model.is_ensemble:
        return
    if model.backend not in FILE_BACKENDS:
        return  # a custom backend decides itself which files it reads, if any
    filename = config.default_model_filename
    if not filename and model.backend == "fil":
        model_type = config.parameters["model_type"].string_value if "model_type" in config.parameters else "xgboost"
        filename = FIL_MODEL_FILES.get(model_type, "")
    if not filename:
        return
    for version in model.served_versions():
        candidate = model.directory / str(version) / filename
        if not candidate.exists():
            how = "default_model_filename" if declared.default_model_filename else f"the {model.backend} backend"
            check.problem(candidate, f"missing: {how} loads {filename} from every served version ({version})")


def _check_instance_groups(check: Checker, model: ModelInfo, gpus_per_instance: int | None) -> None:
    """core src/model_config_utils.cc: NormalizeInstanceGroup then ValidateInstanceGroup. A count below 1 is
    not an error: Triton replaces it with the default count."""
    config = model.config
    assert config is not None
    path, text = model.config_path, model.text
    if model.is_ensemble:
        return
    for index, group in enumerate(config.instance_group):
        line = (model.line_of_value("name", group.name) if group.name else None) or line_of(text, r"instance_group")
        label = f"instance_group {group.name or index + 1}"
        kind = KIND.Kind.Name(group.kind)
        gpus = list(group.gpus)
        if group.kind in (KIND.KIND_CPU, KIND.KIND_MODEL) and gpus:
            check.problem(path, f"{label}: kind {kind} lists gpus {gpus}; gpus apply to KIND_GPU (or KIND_AUTO)",
                          line_of(text, r"gpus\s*:") or line)  # fmt: skip
        if group.kind == KIND.KIND_GPU and gpus_per_instance == 0:
            check.problem(path, f"{label}: kind KIND_GPU, but the endpoint's instance type has no GPU", line)
        elif group.kind in (KIND.KIND_GPU, KIND.KIND_AUTO) and gpus_per_instance is not None:
            wrong = [g for g in gpus if not 0 <= g < gpus_per_instance]
            if wrong:
                ids = f"ids 0-{gpus_per_instance - 1}" if gpus_per_instance else "no GPU"
                after = (
                    " (KIND_AUTO falls back to KIND_CPU, which takes no gpus)" if group.kind == KIND.KIND_AUTO else ""
                )
                check.problem(path, f"{label}: gpus {gpus}: the endpoint's instance type has {gpus_per_instance} "
                                    f"GPU(s), {ids}{after}", line_of(text, r"gpus\s*:") or line)  # fmt: skip
        if group.profile and config.platform != "tensorrt_plan":
            check.problem(path, f"{label}: profile is only for TensorRT models (tensorrt_plan)",
                          line_of(text, r"profile\s*:") or line)  # fmt: skip
        for profile in group.profile:
            if not profile.isdigit():
                check.problem(path, f"{label}: profile {profile!r} is not a non-negative integer", line)
        if model.backend in GPU_ONLY_BACKENDS and group.kind == KIND.KIND_CPU:
            check.problem(path, f"the {model.backend} backend runs on GPUs only; {kind} cannot load it", line)


def _check_metrics(check: Checker, model: ModelInfo) -> None:
    """core src/model_config_utils.cc: ValidateModelMetrics (servers older than model_metrics refuse the field
    itself, so a metric control Triton would refuse is refused either way)."""
    config = model.config
    assert config is not None
    line = line_of(model.text, r"model_metrics")
    for index, control in enumerate(config.model_metrics.metric_control, 1):
        label = f"model_metrics metric_control {index}"
        if not control.metric_identifier.family:
            check.problem(model.config_path, f"{label} needs metric_identifier with a family", line)
        if not control.histogram_options.buckets:
            check.problem(model.config_path, f"{label} needs histogram_options with buckets", line)
