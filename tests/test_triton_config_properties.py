"""No false rejects, as a property: every Python-backend config drawn from a grammar of what Triton loads
(tests/triton_config_strategies.py) passes static validation. The grammar itself is proven against the real
tritonserver in tests/test_triton_load_rules_server.py."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from tritonclient.grpc import model_config_pb2 as mc

from tests.test_triton_repository import build
from tests.triton_config_strategies import python_configs
from tests.triton_load_cases import MODEL_PY
from tritonform.triton.validate import validate_repository

pytestmark = pytest.mark.config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(python_configs())
def test_every_config_triton_loads_is_accepted(config: mc.ModelConfig) -> None:
    with TemporaryDirectory() as scratch:
        repository = build(Path(scratch) / "repo", {"m/config.pbtxt": text_format.MessageToString(config),
                                                    "m/1/model.py": MODEL_PY})  # fmt: skip

        report = validate_repository(repository, gpus_per_instance=1)

        assert [p.render(relative_to=repository) for p in report.problems] == []
        assert report.models["m"].backend == "python"
