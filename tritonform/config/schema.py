"""JSON Schemas for the YAML files, generated from the models so editors can complete and check them."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from tritonform.config.environment import EnvironmentConfig
from tritonform.config.release import ReleaseConfig

SCHEMAS: dict[str, type[BaseModel]] = {
    "environment.schema.json": EnvironmentConfig,
    "release.schema.json": ReleaseConfig,
}


def render(model: type[BaseModel], filename: str) -> str:
    schema = model.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"tritonform/{filename}",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, model in SCHEMAS.items():
        path = directory / filename
        path.write_text(render(model, filename), encoding="utf-8")
        written.append(path)
    return written
