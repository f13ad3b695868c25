"""The review of an instance-type change on an autoscaled variant: SageMaker refuses that update while the
variant is registered as a scalable target ("Update endpoints that use auto scaling", SageMaker Developer
Guide), so the review needs attention and says the procedure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.review_plans import base_document, entry, review_of

pytestmark = pytest.mark.config

CONFIGURATION = "aws_sagemaker_endpoint_configuration"


def new_instance_type(document: dict[str, Any], instance_type: str) -> str:
    """The configuration replaced by one with another instance type (its name changes with it); the old type."""
    change = entry(document, CONFIGURATION)["change"]
    change["actions"] = ["create", "delete"]
    old = str(change["before"]["production_variants"][0]["instance_type"])
    change["after"]["production_variants"][0]["instance_type"] = instance_type
    change["after"]["name"] = str(change["after"]["name"]) + "-new"
    return old


def scaling_concerns(document: dict[str, Any]) -> list[str]:
    return [c for c in review_of(document).concerns if "registered for autoscaling" in c]


def test_an_instance_type_change_of_a_registered_variant_needs_attention_with_the_procedure() -> None:
    document = base_document()
    old = new_instance_type(document, "ml.g4dn.2xlarge")

    review = review_of(document)
    (concern,) = scaling_concerns(document)

    assert review.verdict == "needs attention"
    assert f"variant AllTraffic changes ({old} -> ml.g4dn.2xlarge)" in concern
    assert "deregister its scalable target first" in concern and "register the old target again" in concern


def test_without_a_registered_target_only_the_instance_change_itself_is_a_concern() -> None:
    document = base_document()
    document["resource_changes"] = [rc for rc in document["resource_changes"]
                                    if rc["type"] != "aws_appautoscaling_target"]  # fmt: skip
    new_instance_type(document, "ml.g4dn.2xlarge")

    assert scaling_concerns(document) == []
    assert "the instance type or count changes" in review_of(document).concerns


def test_a_new_version_on_the_same_instance_type_says_nothing_about_autoscaling() -> None:
    document = base_document()
    change = entry(document, CONFIGURATION)["change"]
    change["actions"] = ["create", "delete"]
    change["after"]["name"] = str(change["after"]["name"]) + "-new"

    assert scaling_concerns(document) == []
