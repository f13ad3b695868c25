"""What static validation knows about one model repository: each model directory as far as it could be
read, the problems found (file, line, message) and the notes, shared by every group of checks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.errors import Problem
from tritonform.triton.smoke import SmokeFile

# What each platform/backend loads from a version directory when default_model_filename is not set.
DEFAULT_MODEL_FILES = {
    "python": "model.py",
    "onnxruntime": "model.onnx",
    "tensorrt": "model.plan",
    "pytorch": "model.pt",
    "tensorflow_savedmodel": "model.savedmodel",
    "tensorflow_graphdef": "model.graphdef",
    "openvino": "model.xml",
    "fil": "xgboost.model",
}
PLATFORM_BACKENDS = {
    "tensorrt_plan": "tensorrt",
    "onnxruntime_onnx": "onnxruntime",
    "pytorch_libtorch": "pytorch",
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "ensemble": "",
}


@dataclass
class ModelInfo:
    """One model directory as far as static checks could read it."""

    name: str
    directory: Path
    config_path: Path
    text: str = ""
    config: mc.ModelConfig | None = None
    versions: list[int] = field(default_factory=list)
    smoke: SmokeFile | None = None

    @property
    def backend(self) -> str:
        if self.config is None:
            return ""
        return self.config.backend or PLATFORM_BACKENDS.get(self.config.platform, "")

    @property
    def is_ensemble(self) -> bool:
        return self.config is not None and self.config.platform == "ensemble"

    def served_versions(self) -> list[int]:
        """Versions Triton would load under the config's version policy (default: the latest one)."""
        if self.config is None or not self.versions:
            return []
        policy = self.config.version_policy
        choice = policy.WhichOneof("policy_choice")
        if choice == "all":
            return sorted(self.versions)
        if choice == "specific":
            return sorted(v for v in self.versions if v in set(policy.specific.versions))
        count = policy.latest.num_versions if choice == "latest" else 1
        return sorted(self.versions)[-max(count, 1) :]


@dataclass
class RepositoryReport:
    repository: Path
    models: dict[str, ModelInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


class Checker:
    """Collects problems in the order the checks find them: the order they are printed in."""

    def __init__(self, report: RepositoryReport) -> None:
        self.report = report

    def problem(self, path: Path | None, message: str, line: int | None = None, column: int | None = None) -> None:
        self.report.problems.append(Problem(file=path, field=None, message=message, line=line, column=column))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.report.problems.extend(problems)

    def note(self, note: str) -> None:
        self.report.notes.append(note)


def line_of(text: str, pattern: str, start_line: int = 1) -> int | None:
    """Line (1-based) of the first match of `pattern` at or after `start_line`, for pointing at a field."""
    regex = re.compile(pattern)
    for number, row in enumerate(text.splitlines(), 1):
        if number >= start_line and regex.search(row):
            return number
    return None


def name_line(model: ModelInfo, name: str) -> int | None:
    """Line of the first `name: "<name>"`: where a tensor, control input or instance group is declared."""
    return line_of(model.text, rf'name\s*:\s*"{re.escape(name)}"')


def dims_text(dims: Iterable[int]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"
