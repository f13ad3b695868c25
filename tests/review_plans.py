"""Plan documents for review tests, in the shape `terraform show -json` writes.

The base is a real plan: tests/data/review/dev-noop-plan.json is Terraform 1.11's `show -json` of the stand-in
dev stack planned against its own applied state (tests/test_review.py makes the same plan and checks that the
recording still has its resources, attributes, blocks and outputs: the metric math rollback alarm's
metric_query, the version-keyed model and configuration, the fallback_configuration_name output). The stand-in stack on moto alone leaves out autoscaling and
the bucket policy (tritonform/stacks/serving.py NOT_ON_MOTO_ALONE, NOT_ON_STAND_IN), so those two are added here with the attributes the
provider's documentation lists for them (registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/
appautoscaling_target, appautoscaling_policy, s3_bucket_policy) and the values the example synthesizes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT
from tritonform.config import ProjectLayout, load_deployment
from tritonform.config.loader import Deployment
from tritonform.release.attach import current_release
from tritonform.review.assess import review_environment
from tritonform.review.model import EnvironmentReview
from tritonform.review.plan import parse_plan

RECORDED_PLAN = Path(__file__).parent / "data" / "review" / "dev-noop-plan.json"
BUCKET = "acme-tritonform-dev-artifacts"
DENY_PLAIN_HTTP = {"Version": "2012-10-17", "Statement": [{
    "Sid": "DenyPlainHttp", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}  # fmt: skip
RESOURCE_ID = "endpoint/text-embedder-dev/variant/AllTraffic"
SCALING = {"service_namespace": "sagemaker", "scalable_dimension": "sagemaker:variant:DesiredInstanceCount",
           "resource_id": RESOURCE_ID}  # fmt: skip


def _no_op(resource_type: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"address": f"{resource_type}.{name}", "mode": "managed", "type": resource_type, "name": name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["no-op"], "before": values, "after": copy.deepcopy(values), "after_unknown": {},
                       "before_sensitive": {}, "after_sensitive": {}}}  # fmt: skip


NOT_ON_STAND_IN = [
    _no_op("aws_appautoscaling_target", "autoscaling_target_1B7E5A0C", {
        **SCALING, "arn": "arn:aws:application-autoscaling:us-east-1:111111111111:scalable-target/0123",
        "id": RESOURCE_ID, "min_capacity": 1, "max_capacity": 2,
        "role_arn": "arn:aws:iam::111111111111:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        "suspended_state": [], "tags": None, "tags_all": {}}),
    _no_op("aws_appautoscaling_policy", "autoscaling_invocations-per-instance_2C6F1D3E", {
        **SCALING, "alarm_arns": [], "arn": "arn:aws:autoscaling:us-east-1:111111111111:scalingPolicy:0123",
        "id": "invocations-per-instance", "name": "invocations-per-instance", "policy_type": "TargetTrackingScaling",
        "predictive_scaling_policy_configuration": [], "step_scaling_policy_configuration": [],
        "target_tracking_scaling_policy_configuration": [{
            "customized_metric_specification": [], "disable_scale_in": False,
            "predefined_metric_specification": [{"predefined_metric_type": "SageMakerVariantInvocationsPerInstance",
                                                 "resource_label": ""}],
            "scale_in_cooldown": 300, "scale_out_cooldown": 120, "target_value": 200}]}),
    _no_op("aws_s3_bucket_policy", "artifacts_policy_4E1B8F21",
           {"bucket": BUCKET, "id": BUCKET, "policy": json.dumps(DENY_PLAIN_HTTP)}),
]  # fmt: skip


@cache
def _base_document() -> str:
    document = json.loads(RECORDED_PLAN.read_text(encoding="utf-8"))
    document["resource_changes"] += NOT_ON_STAND_IN
    return json.dumps(document)


def base_document() -> dict[str, Any]:
    """A fresh copy of the whole no-op plan, the recorded resources and the two added."""
    document: dict[str, Any] = json.loads(_base_document())
    return document


def entry(document: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The first resource change of a type."""
    found: dict[str, Any] = next(rc for rc in document["resource_changes"] if rc["type"] == resource_type)
    return found


def put(values: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    """Set the value at a path of keys and list indexes (the blocks on the way must exist)."""
    target: Any = values
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


Edit = Callable[[dict[str, Any]], object]


def with_change(resource_type: str, after: Edit, *, before: Edit | None = None,
                document: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The base plan with one resource updated in place: `before` edits the state it starts from (both
    sides), `after` what the plan sets."""
    document = document if document is not None else base_document()
    change = entry(document, resource_type)["change"]
    if before is not None:
        before(change["before"])
        change["after"] = copy.deepcopy(change["before"])
    after(change["after"])
    change["actions"] = ["update"]
    return document


@cache
def dev_deployment() -> Deployment:
    return load_deployment(ProjectLayout(REPO_ROOT), "dev")


def review_of(document: dict[str, Any]) -> EnvironmentReview:
    """The review of a plan document, read as the CLI reads a plan file (through JSON text)."""
    plan = parse_plan("tritonform-dev", Path("dev.plan.json"), json.loads(json.dumps(document)))
    return review_environment(dev_deployment(), plan, current_release(ProjectLayout(REPO_ROOT), "dev"))
