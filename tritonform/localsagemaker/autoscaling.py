"""Application Auto Scaling as the local SageMaker answers it: tags here, everything else in moto.

The AWS provider for Terraform reads a scalable target's tags with ListTagsForResource after creating it,
and moto 5.2.5 does not implement the tag operations (HTTP 500). So when the provider's
`applicationautoscaling` endpoint points at the local SageMaker, it answers ListTagsForResource, TagResource
and UntagResource itself (Application Auto Scaling API Reference) and forwards every other operation unchanged
to moto. Requests use the AWS JSON 1.1 protocol with `X-Amz-Target: AnyScaleFrontendService.<Operation>`.

Two forwarded operations are watched on their way back:
- RegisterScalableTarget: its `Tags` (applied on registration, RegisterScalableTarget) are recorded under the
  ScalableTargetARN moto answers with, so ListTagsForResource returns them;
- DeregisterScalableTarget: "Deregistering a scalable target deletes the scaling policies and the scheduled
  actions that are associated with it" (DeregisterScalableTarget); moto keeps the policies, so they are deleted
  in moto here, and the target's tags are dropped.
"""

from __future__ import annotations

import threading
from typing import Any

from tritonform.localsagemaker.api import ApiError, validation
from tritonform.localsagemaker.backing import Backing

TARGET_PREFIX = "AnyScaleFrontendService."
TAG_OPERATIONS = {"ListTagsForResource", "TagResource", "UntagResource"}
WATCHED_OPERATIONS = {"RegisterScalableTarget", "DeregisterScalableTarget"}
# TagResource, Application Auto Scaling API Reference: up to 50 tags per resource; keys 1-128 characters,
# values 0-256.
MAX_TAGS = 50
KEY_LENGTH = (1, 128)
VALUE_LENGTH = (0, 256)

Request = dict[str, object]


def _not_found(arn: str) -> ApiError:
    # ListTagsForResource / TagResource / UntagResource: ResourceNotFoundException. Choice (the docs are
    # silent): the wording, and that only targets registered through the local SageMaker are known here.
    return ApiError("ResourceNotFoundException", f"No scalable target found for {arn}")


def _arn(request: Request) -> str:
    value = request.get("ResourceARN")
    if not isinstance(value, str) or not value:
        raise validation("1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: "
                         "Member must not be null")  # fmt: skip
    return value


def _tag_map(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "Tags must be a map of strings")
    tags = {str(key): str(item) for key, item in value.items()}
    for key, item in tags.items():
        if not KEY_LENGTH[0] <= len(key) <= KEY_LENGTH[1] or len(item) > VALUE_LENGTH[1]:
            raise validation(f"tag {key!r}: keys must be {KEY_LENGTH[0]}-{KEY_LENGTH[1]} characters and values at "
                             f"most {VALUE_LENGTH[1]}")  # fmt: skip
    return tags


class ScalingTags:
    """Tags of the scalable targets registered through the local SageMaker, per ScalableTargetARN."""

    def __init__(self, backing: Backing) -> None:
        self.backing = backing
        self._lock = threading.Lock()
        self._tags: dict[str, dict[str, str]] = {}

    def answer(self, operation: str, request: Request) -> dict[str, object]:
        """ListTagsForResource, TagResource or UntagResource."""
        arn = _arn(request)
        with self._lock:
            tags = self._tags.get(arn)
            if tags is None:
                raise _not_found(arn)
            if operation == "ListTagsForResource":
                return {"Tags": dict(tags)}
            if operation == "TagResource":
                merged = {**tags, **_tag_map(request.get("Tags"))}
                if len(merged) > MAX_TAGS:
                    raise ApiError("TooManyTagsException", f"a resource can have at most {MAX_TAGS} tags")
                tags.update(merged)
                return {}
            keys = request.get("TagKeys")
            for key in keys if isinstance(keys, list) else []:
                tags.pop(str(key), None)
            return {}

    def registered(self, request: Request, answer: dict[str, Any]) -> None:
        """RegisterScalableTarget succeeded in moto: keep the tags it was given under the target's ARN (a
        registration that updates a target keeps its tags and adds the new ones)."""
        arn = answer.get("ScalableTargetARN")
        if not isinstance(arn, str) or not arn:
            return
        with self._lock:
            self._tags.setdefault(arn, {}).update(_tag_map(request.get("Tags")))

    def target_arn(self, region: str, request: Request) -> str | None:
        """The ARN of the target a DeregisterScalableTarget names, read from moto before it is forwarded."""
        found = self._targets(region, request)
        arn = found[0].get("ScalableTargetARN") if found else None
        return arn if isinstance(arn, str) and arn else None

    def deregistered(self, region: str, request: Request, arn: str | None) -> None:
        """DeregisterScalableTarget succeeded in moto: delete the target's scaling policies there, as
        Application Auto Scaling does, and forget its tags."""
        client = self.backing.client("application-autoscaling", region)
        keys = {k: request[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension") if k in request}
        if len(keys) == 3:
            policies = client.describe_scaling_policies(
                ServiceNamespace=keys["ServiceNamespace"], ResourceId=keys["ResourceId"]
            ).get("ScalingPolicies", [])
            for policy in policies:
                if policy.get("ScalableDimension") == keys["ScalableDimension"]:
                    client.delete_scaling_policy(PolicyName=policy["PolicyName"], **keys)
        if arn is not None:
            with self._lock:
                self._tags.pop(arn, None)

    def _targets(self, region: str, request: Request) -> list[dict[str, Any]]:
        namespace, resource = request.get("ServiceNamespace"), request.get("ResourceId")
        if not isinstance(namespace, str) or not isinstance(resource, str):
            return []
        answer = self.backing.client("application-autoscaling", region).describe_scalable_targets(
            ServiceNamespace=namespace, ResourceIds=[resource]
        )
        dimension = request.get("ScalableDimension")
        return [t for t in answer.get("ScalableTargets", []) if t.get("ScalableDimension") == dimension]
