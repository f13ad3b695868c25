"""Identifiers are ASCII: pydantic's regular expressions are Unicode-aware, so `\\d` would accept any script's
digits (an account id of Arabic-Indic digits passed). Every pattern says [0-9], and non-ASCII digits are refused."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from tests.conftest import REPO_ROOT
from tritonform.config.environment import EnvironmentConfig
from tritonform.config.release import ReleaseConfig
from tritonform.config.rollout import POLICY_KINDS
from tritonform.config.security_baseline import Baseline
from tritonform.documents import model_in, validate_data
from tritonform.errors import UserError
from tritonform.triton.smoke import SmokeFile

pytestmark = pytest.mark.config

# Nd digits of other scripts: Arabic-Indic, Devanagari, full-width, mathematical bold.
FOREIGN_DIGITS = ["\u0660", "\u0966", "\uff10", "\U0001d7ce"]


def _patterns(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[tuple[str, str]]:
    if model in seen:
        return []
    seen.add(model)
    found: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        stack: list[object] = [info.annotation, *info.metadata]
        while stack:
            item = stack.pop()
            pattern = getattr(item, "pattern", None)
            if isinstance(pattern, str):
                found.append((f"{model.__name__}.{name}", pattern))
            stack.extend(typing.get_args(item))
            stack.extend(getattr(item, "metadata", []) or [])
            nested = model_in(item)
            if nested is not None:
                found.extend(_patterns(nested, seen))
    return found


MODELS: list[type[BaseModel]] = [EnvironmentConfig, ReleaseConfig, Baseline, SmokeFile, *POLICY_KINDS.values()]


def test_the_walk_finds_the_patterns_it_checks() -> None:
    fields = {field for model in MODELS for field, _ in _patterns(model, set())}
    assert {"EnvironmentConfig.account_id", "ReleaseConfig.version_id"} <= fields


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_no_pattern_accepts_digits_of_other_scripts(model: type[BaseModel]) -> None:
    offenders = [(field, pattern) for field, pattern in _patterns(model, set()) if re.search(r"\\d", pattern)]
    assert not offenders, f"use [0-9], not \\d (Unicode-aware in pydantic): {offenders}"


@pytest.mark.parametrize("digit", FOREIGN_DIGITS)
def test_an_account_id_of_foreign_digits_is_refused(digit: str) -> None:
    document = yaml.safe_load((REPO_ROOT / "environments/prod.yaml").read_text())
    document["account_id"] = digit * 12
    with pytest.raises(UserError) as caught:
        validate_data(EnvironmentConfig, document, Path("prod.yaml"))
    assert [p.field for p in caught.value.problems] == ["account_id"]


def _prod_with(change: typing.Callable[[dict[str, typing.Any]], None]) -> list[tuple[str | None, str]]:
    document = yaml.safe_load((REPO_ROOT / "environments/prod.yaml").read_text())
    change(document)
    try:
        validate_data(EnvironmentConfig, document, Path("prod.yaml"))
    except UserError as err:
        return [(p.field, p.message) for p in err.problems]
    return []


@pytest.mark.parametrize("name", ["xn--bucket", "sthree-models", "sthree-configurator-x", "amzn-s3-demo-models",
                                  "models-s3alias", "models--ol-s3", "models--x-s3"])  # fmt: skip
@pytest.mark.parametrize("where", [("artifacts", "bucket"), ("state", "bucket"), ("artifacts", "access_log_bucket")])
def test_bucket_names_s3_reserves_are_refused(name: str, where: tuple[str, str]) -> None:
    section, key = where
    problems = _prod_with(lambda d: d[section].__setitem__(key, name))
    assert [field for field, _ in problems] == [f"{section}.{key}"]
    assert "S3 reserves" in problems[0][1]


def test_names_that_only_resemble_reserved_ones_are_accepted() -> None:
    assert _prod_with(lambda d: d["artifacts"].__setitem__("bucket", "models-xn--s3alias-archive")) == []


def test_state_in_the_artifact_bucket_is_refused() -> None:
    problems = _prod_with(lambda d: d["state"].__setitem__("bucket", d["artifacts"]["bucket"]))
    assert [field for field, _ in problems] == ["state.bucket"]
    assert "separate" in problems[0][1]
