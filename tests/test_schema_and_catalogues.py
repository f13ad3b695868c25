"""The generated JSON Schemas, the GPU catalogue and the Triton image catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tritonform.config import instances, triton_images
from tritonform.config.schema import SCHEMAS, render

pytestmark = pytest.mark.config


@pytest.mark.parametrize("filename", sorted(SCHEMAS))
def test_committed_schema_is_up_to_date(filename: str) -> None:
    committed = (REPO_ROOT / "schemas" / filename).read_text(encoding="utf-8")
    assert committed == render(SCHEMAS[filename], filename), "run: tritonform schema"


@pytest.mark.parametrize(
    ("schema_file", "pattern"),
    [
        ("environment.schema.json", "environments/*.yaml"),
        ("release.schema.json", "environments/releases/*.yaml"),
    ],
)
def test_shipped_yaml_conforms_to_its_schema(schema_file: str, pattern: str) -> None:
    schema = json.loads((REPO_ROOT / "schemas" / schema_file).read_text())
    files = sorted(REPO_ROOT.glob(pattern))
    assert len(files) >= 3
    for path in files:
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "attached" in data and not isinstance(data["attached"]["at"], str):
            data["attached"]["at"] = data["attached"]["at"].isoformat()  # an unquoted timestamp: YAML parsed it
        jsonschema.validate(data, schema)


def test_schema_rejects_what_the_models_reject() -> None:
    schema = json.loads((REPO_ROOT / "schemas" / "environment.schema.json").read_text())
    data = yaml.safe_load((REPO_ROOT / "environments" / "dev.yaml").read_text())
    data["replicas"] = 3

    with pytest.raises(jsonschema.ValidationError, match="replicas"):
        jsonschema.validate(data, schema)


def test_schema_documents_every_field() -> None:
    schema = json.loads((REPO_ROOT / "schemas" / "environment.schema.json").read_text())
    undocumented = [
        f"{name}.{field}"
        for name, definition in schema.get("$defs", {}).items()
        for field, spec in definition.get("properties", {}).items()
        if "description" not in spec and "$ref" not in spec and "allOf" not in spec
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("region", "version"), [("us-east-1", "24.09"), ("us-west-2", "25.04"), ("eu-central-1", "23.12"),
                            ("ap-south-2", "25.09")],
)  # fmt: skip
def test_image_uri_matches_the_sagemaker_sdk(region: str, version: str) -> None:
    from sagemaker.core import image_uris  # noqa: PLC0415  (slow import: only here)

    expected = image_uris.retrieve(
        framework="sagemaker-tritonserver", region=region, version=version, instance_type="ml.g5.xlarge"
    )
    image = triton_images.image_for(region, version)

    assert image is not None
    assert image.uri == expected
    assert triton_images.parse_image_uri(expected) == image


def test_a_region_the_sdk_refuses_has_no_image() -> None:
    from sagemaker.core import image_uris  # noqa: PLC0415

    with pytest.raises(ValueError, match="Unsupported region: ap-south-2"):
        image_uris.retrieve(framework="sagemaker-tritonserver", region="ap-south-2", version="24.09")
    assert triton_images.image_for("ap-south-2", "24.09") is None


def test_unknown_version_or_region_has_no_image() -> None:
    assert triton_images.image_for("us-east-1", "19.01") is None
    assert triton_images.published_regions("19.01") == {}
    assert triton_images.image_for("xx-nowhere-1", "24.09") is None


def test_gpu_catalogue() -> None:
    g5 = instances.GPU_INSTANCES["ml.g5.12xlarge"]
    assert (g5.gpus, g5.gpu_model, g5.local_nvme) == (4, "A10G", True)
    assert instances.GPU_INSTANCES["ml.p3.2xlarge"].local_nvme is False
    assert "ml.m5.large" not in instances.GPU_INSTANCES
    assert "CPU instance type" in instances.explain_not_gpu("ml.m5.large")


def test_doctor_reports_the_toolchain(tmp_path: Path) -> None:
    from tests.conftest import tritonform_subprocess  # noqa: PLC0415

    result = tritonform_subprocess("--root", str(tmp_path), "doctor", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "terraform  1.11" in result.stdout
    assert (tmp_path / ".tritonform" / "terraform.rc").is_file()


def test_readme_configuration_reference_is_generated_from_the_models() -> None:
    from tritonform.config.schema import reference_markdown  # noqa: PLC0415

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert reference_markdown() in readme, "run: tritonform schema"
    assert "| `capacity.min_instances` | `1` |" in readme
