"""The endpoints the local SageMaker holds, and how DescribeEndpoint shows them.

DescribeEndpoint's answer follows the SageMaker API Reference: DescribeEndpoint, ProductionVariantSummary,
PendingDeploymentSummary, PendingProductionVariantSummary, ProductionVariantStatus, DeployedImage.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tritonform.localsagemaker.api import DeploymentConfig
from tritonform.localsagemaker.backing import ConfigSpec, VariantSpec
from tritonform.localsagemaker.fleets import RunningFleet
from tritonform.localsagemaker.plan import Phase

# EndpointStatus values during which "Cannot update in-progress endpoint" is answered (DescribeEndpoint).
IN_PROGRESS = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}


@dataclass
class Fleet:
    """One endpoint configuration as deployed: its variants with their instance counts and weights."""

    spec: ConfigSpec
    counts: dict[str, int]
    weights: dict[str, float]

    @classmethod
    def of(cls, spec: ConfigSpec) -> Fleet:
        return cls(spec, spec.counts(), {v.name: v.weight for v in spec.variants})

    def variant(self, name: str) -> VariantSpec:
        return next(v for v in self.spec.variants if v.name == name)


@dataclass
class Rollout:
    """A CreateEndpoint, UpdateEndpoint or UpdateEndpointWeightsAndCapacities in progress."""

    target: Fleet
    config: DeploymentConfig | None
    started: float
    phase: Phase | None = None
    fleet: RunningFleet | None = None
    """The new version's local Triton fleet, once started (with --run-models)."""


@dataclass(frozen=True)
class TimelineEvent:
    """One step of an operation as it happened; read by the tests through the stand-in's own route."""

    at_s: float
    """Model seconds since the operation started (real seconds times the time scale)."""
    status: str
    action: str
    config: str
    new_share: float
    new_instances: dict[str, int]
    old_instances: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        return {"at_s": round(self.at_s, 3), "status": self.status, "action": self.action, "config": self.config,
                "new_share": round(self.new_share, 4), "new_instances": self.new_instances,
                "old_instances": self.old_instances}  # fmt: skip


@dataclass
class Endpoint:
    name: str
    arn: str
    region: str
    status: str
    requested_config: str
    """The configuration CreateEndpoint named: still shown when the endpoint failed to start."""
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    serving: Fleet | None = None
    rollout: Rollout | None = None
    last_deployment_config: DeploymentConfig | None = None
    failure_reason: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    operation_started: float = field(default_factory=time.monotonic)
    live_fleet: RunningFleet | None = None
    """The serving configuration's local Triton fleet (with --run-models)."""
    invocations: int = 0
    """Invocations routed so far: the count that spreads them between the old and the new fleet."""


def _images(variant: VariantSpec, when: float) -> list[dict[str, object]]:
    # DeployedImage, SageMaker API Reference. Choice (no registry to ask): the resolved image is the
    # specified one, resolved when the fleet started.
    return [{"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": when} for image in variant.images]


def _serving_variants(endpoint: Endpoint) -> list[dict[str, object]]:
    fleet = endpoint.serving
    assert fleet is not None
    rollout = endpoint.rollout
    phase = rollout.phase if rollout else None
    summaries = []
    for variant in fleet.spec.variants:
        current = fleet.counts[variant.name]
        desired = current
        weight = fleet.weights[variant.name]
        desired_weight = weight
        if phase is not None and variant.name in phase.old_instances:
            current = phase.old_instances[variant.name]
        if rollout is not None and rollout.config is None:  # UpdateEndpointWeightsAndCapacities
            desired = rollout.target.counts.get(variant.name, desired)
            desired_weight = rollout.target.weights.get(variant.name, weight)
        summaries.append({
            "VariantName": variant.name, "DeployedImages": _images(variant, endpoint.modified),
            "CurrentWeight": weight, "DesiredWeight": desired_weight,
            "CurrentInstanceCount": current, "DesiredInstanceCount": desired,
        })  # fmt: skip
    return summaries


def _pending(endpoint: Endpoint) -> dict[str, object]:
    rollout = endpoint.rollout
    assert rollout is not None
    phase = rollout.phase
    variants = []
    for variant in rollout.target.spec.variants:
        running = phase.new_instances.get(variant.name, 0) if phase else 0
        status = phase.variant_status if phase else "Creating"
        message = f"{phase.action} ({phase.new_share:.0%} of traffic on this fleet)" if phase else "starting"
        variants.append({
            "VariantName": variant.name, "DeployedImages": _images(variant, rollout.started),
            "CurrentWeight": rollout.target.weights[variant.name],
            "DesiredWeight": rollout.target.weights[variant.name],
            "CurrentInstanceCount": running, "DesiredInstanceCount": rollout.target.counts[variant.name],
            "InstanceType": variant.instance_type,
            "VariantStatus": [{"Status": status, "StatusMessage": message, "StartTime": rollout.started}],
        })  # fmt: skip
    return {"EndpointConfigName": rollout.target.spec.name, "ProductionVariants": variants,
            "StartTime": rollout.started}  # fmt: skip


def describe(endpoint: Endpoint) -> dict[str, object]:
    """DescribeEndpoint: EndpointConfigName is the configuration in service; while an update runs, the new
    one is in PendingDeploymentSummary ("The summary of an in-progress deployment when an endpoint is
    creating or updating with a new endpoint configuration")."""
    answer: dict[str, object] = {
        "EndpointName": endpoint.name, "EndpointArn": endpoint.arn, "EndpointStatus": endpoint.status,
        "CreationTime": endpoint.created, "LastModifiedTime": endpoint.modified,
    }  # fmt: skip
    if endpoint.serving is not None:
        answer["EndpointConfigName"] = endpoint.serving.spec.name
        answer["ProductionVariants"] = _serving_variants(endpoint)
    else:
        answer["EndpointConfigName"] = endpoint.requested_config
    rollout = endpoint.rollout
    if rollout is not None and (rollout.config is not None or endpoint.serving is None):
        answer["PendingDeploymentSummary"] = _pending(endpoint)
    if endpoint.last_deployment_config is not None:
        answer["LastDeploymentConfig"] = endpoint.last_deployment_config.wire()
    if endpoint.failure_reason:
        # DescribeEndpoint.FailureReason, SageMaker API Reference: set when the status is Failed, and when
        # the endpoint is InService but an update failed (EndpointMetadata.FailureReason).
        answer["FailureReason"] = endpoint.failure_reason
    return answer


def summary(endpoint: Endpoint) -> dict[str, object]:
    """EndpointSummary, SageMaker API Reference (ListEndpoints)."""
    return {"EndpointName": endpoint.name, "EndpointArn": endpoint.arn, "CreationTime": endpoint.created,
            "LastModifiedTime": endpoint.modified, "EndpointStatus": endpoint.status}  # fmt: skip
