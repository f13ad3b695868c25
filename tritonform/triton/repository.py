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

# The file the FIL backend loads when default_model_filename is not set, by its model_type parameter
# (github.com/triton-inference-server/fil_backend docs/model_config.md); xgboost is the default type.
FIL_MODEL_FILES = {
    "xgboost": "xgboost.model", "xgboost_json": "xgboost.json", "xgboost_ubj": "xgboost.ubj",
    "lightgbm": "model.txt", "treelite_checkpoint": "checkpoint.tl",
}  # fmt: skip
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
    declared: mc.ModelConfig | None = None
    """The config as written in config.pbtxt."""
    config: mc.ModelConfig | None = None
    """The config as Triton completes it from the file names before validating (autocomplete.py)."""
    versions: list[int] = field(default_factory=list)
    smoke: SmokeFile | None = None
    completed_at_load: bool = False
    """A Python model whose auto_complete_config may add inputs, outputs and batching: the rules that
    need those are left to --server."""
    _lines: dict[tuple[str, str], int] | None = field(default=None, repr=False)

    @property
    def backend(self) -> str:
        if self.config is None:
            return ""
        return self.config.backend or PLATFORM_BACKENDS.get(self.config.platform, "")

    def line_of_value(self, key: str, value: str) -> int | None:
        """Line of the first `key: "value"` in config.pbtxt, from an index built in one pass: a config with
        thousands of tensors or steps costs linear time, not a scan per lookup."""
        if self._lines is None:
            self._lines = {}
            for number, row in enumerate(self.text.splitlines(), 1):
                for match in _KEY_VALUE.finditer(row):
                    self._lines.setdefault((match.group(1), match.group(2)), number)
        return self._lines.get((key, value))

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
        return sorted(self.versions)[-count:] if count > 0 else []


_KEY_VALUE = re.compile(r'(\w+)\s*:\s*"((?:[^"\\]|\\.)*)"')


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
    return model.line_of_value("name", name)


def dims_text(dims: Iterable[int], shown: int = 8) -> str:
    """Dims as a message shows them: the first few of a long list, then how many there are."""
    values = list(dims)
    head = ", ".join(str(d) for d in values[:shown])
    return f"[{head}, ... ({len(values)} dims)]" if len(values) > shown else f"[{head}]"
