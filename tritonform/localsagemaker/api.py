"""The SageMaker request shapes the local SageMaker reads, and the errors it answers with.

Shapes follow the SageMaker API Reference (DeploymentConfig, BlueGreenUpdatePolicy, TrafficRoutingConfig,
CapacitySize, RollingUpdatePolicy, AutoRollbackConfig). Errors are sent the way the AWS JSON 1.1 protocol
sends them (HTTP 400, `__type` in the body and the `x-amzn-ErrorType` header), which boto3 and the Go SDK
used by Terraform both read.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError
from pydantic.alias_generators import to_pascal

# Valid ranges, SageMaker API Reference: TrafficRoutingConfig.WaitIntervalInSeconds,
# BlueGreenUpdatePolicy.TerminationWaitInSeconds / MaximumExecutionTimeoutInSeconds,
# RollingUpdatePolicy.WaitIntervalInSeconds / MaximumExecutionTimeoutInSeconds, AutoRollbackConfig.Alarms.
WAIT_RANGE = (0, 3600)
TIMEOUT_RANGE = (600, 28800)
ALARMS_RANGE = (1, 10)
# Share of the variant's instance count (TrafficRoutingConfig.CanarySize / LinearStepSize,
# RollingUpdatePolicy.MaximumBatchSize), in percent.
CANARY_PERCENT = (1, 50)
LINEAR_PERCENT = (10, 50)
ROLLING_PERCENT = (5, 50)


class ApiError(Exception):
    """An error answered to the client: its code (`__type`), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> bytes:
        return json.dumps({"__type": self.code, "message": self.message, "Message": self.message}).encode()


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


class ApiShape(BaseModel):
    """A request structure: PascalCase on the wire, unknown members ignored as the SDKs' servers do."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, frozen=True, extra="ignore")

    def wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, exclude_none=True)


class CapacitySize(ApiShape):
    type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]
    value: int

    def instances_of(self, fleet: int) -> int:
        """Whole instances of a fleet. Choice (the docs are silent): a percentage is rounded down."""
        return self.value if self.type == "INSTANCE_COUNT" else fleet * self.value // 100

    def percent_of(self, fleet: int) -> float:
        return 100.0 * self.value / fleet if self.type == "INSTANCE_COUNT" else float(self.value)


class TrafficRoutingConfig(ApiShape):
    type: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    wait_interval_in_seconds: int
    canary_size: CapacitySize | None = None
    linear_step_size: CapacitySize | None = None


class BlueGreenUpdatePolicy(ApiShape):
    traffic_routing_configuration: TrafficRoutingConfig
    termination_wait_in_seconds: int = 0
    maximum_execution_timeout_in_seconds: int | None = None


class RollingUpdatePolicy(ApiShape):
    maximum_batch_size: CapacitySize
    wait_interval_in_seconds: int
    maximum_execution_timeout_in_seconds: int | None = None
    rollback_maximum_batch_size: CapacitySize | None = None


class AlarmReference(ApiShape):
    alarm_name: str


class AutoRollbackConfig(ApiShape):
    alarms: list[AlarmReference] | None = None


class DeploymentConfig(ApiShape):
    blue_green_update_policy: BlueGreenUpdatePolicy | None = None
    rolling_update_policy: RollingUpdatePolicy | None = None
    auto_rollback_configuration: AutoRollbackConfig | None = None

    @property
    def alarm_names(self) -> list[str]:
        alarms = self.auto_rollback_configuration.alarms if self.auto_rollback_configuration else None
        return [alarm.alarm_name for alarm in alarms or []]

    @property
    def timeout_s(self) -> int:
        """Choice (the docs are silent on the default): without MaximumExecutionTimeoutInSeconds the
        largest allowed value, 28800 s, bounds the update."""
        policy = self.rolling_update_policy or self.blue_green_update_policy
        given = policy.maximum_execution_timeout_in_seconds if policy else None
        return given if given is not None else TIMEOUT_RANGE[1]


# Choice (the docs are silent): an UpdateEndpoint without a DeploymentConfig is a blue/green update that
# shifts all traffic at once without baking ("Blue/Green Deployments", SageMaker Developer Guide: SageMaker
# uses a blue/green deployment whenever an endpoint is updated).
DEFAULT_DEPLOYMENT = DeploymentConfig(
    blue_green_update_policy=BlueGreenUpdatePolicy(
        traffic_routing_configuration=TrafficRoutingConfig(type="ALL_AT_ONCE", wait_interval_in_seconds=0)
    )
)


def parse_deployment_config(raw: object) -> DeploymentConfig:
    try:
        return DeploymentConfig.model_validate(raw)
    except PydanticError as err:
        first = err.errors()[0]
        # AWS names a member in camelCase in its validation messages ("deploymentConfig.blueGreenUpdatePolicy...").
        where = ".".join(str(part)[:1].lower() + str(part)[1:] for part in first["loc"])
        raise validation(f"1 validation error detected: Value '{first.get('input')}' at 'deploymentConfig.{where}' "
                         f"failed to satisfy constraint: {first['msg']}") from None  # fmt: skip


def _range(problems: list[str], where: str, value: int, bounds: tuple[int, int]) -> None:
    """The AWS wording of a range constraint ("N validation errors detected: Value 'x' at 'y' ...")."""
    low, high = bounds
    if value < low:
        problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                        f"greater than or equal to {low}")  # fmt: skip
    elif value > high:
        problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                        f"less than or equal to {high}")  # fmt: skip


def _share(problems: list[str], what: str, size: CapacitySize, fleet: int, bounds: tuple[int, int]) -> None:
    """A size relative to the variant's instance count, given as a percentage or as instances.
    Choice (the docs are silent): a percentage that rounds down to no instance at all is refused."""
    low, high = bounds
    percent = size.percent_of(fleet)
    if size.value < 1 or not low <= percent <= high or size.instances_of(fleet) < 1:
        given = f"{size.value}%" if size.type == "CAPACITY_PERCENT" else f"{size.value} instance(s)"
        problems.append(f"{what} must be {low}-{high}% of the variant's total instance count ({fleet}), got "
                        f"{given} ({percent:.0f}%, {size.instances_of(fleet)} instance(s))")  # fmt: skip


def check_deployment_config(config: DeploymentConfig, fleets: dict[str, int]) -> None:
    """Refuse a DeploymentConfig outside the documented bounds, for every variant's instance count."""
    problems: list[str] = []
    blue_green, rolling = config.blue_green_update_policy, config.rolling_update_policy
    if (blue_green is None) == (rolling is None):
        # DeploymentConfig, SageMaker API Reference: BlueGreenUpdatePolicy or RollingUpdatePolicy.
        raise validation("DeploymentConfig must specify exactly one of BlueGreenUpdatePolicy or RollingUpdatePolicy")
    waits: int
    if blue_green is not None:
        routing = blue_green.traffic_routing_configuration
        prefix = "deploymentConfig.blueGreenUpdatePolicy"
        _range(problems, f"{prefix}.trafficRoutingConfiguration.waitIntervalInSeconds",
               routing.wait_interval_in_seconds, WAIT_RANGE)  # fmt: skip
        _range(problems, f"{prefix}.terminationWaitInSeconds", blue_green.termination_wait_in_seconds, WAIT_RANGE)
        timeout = blue_green.maximum_execution_timeout_in_seconds
        waits = routing.wait_interval_in_seconds + blue_green.termination_wait_in_seconds
        # TrafficRoutingConfig, SageMaker API Reference: CanarySize "must be less than or equal to 50% of the
        # variant's total instance count"; LinearStepSize "must be 10-50% of the variant's total instance count".
        for variant, fleet in fleets.items():
            if routing.type == "CANARY":
                if routing.canary_size is None:
                    problems.append("CanarySize is required when the traffic routing type is CANARY")
                else:
                    _share(problems, f"CanarySize of variant {variant}", routing.canary_size, fleet, CANARY_PERCENT)
            if routing.type == "LINEAR":
                if routing.linear_step_size is None:
                    problems.append("LinearStepSize is required when the traffic routing type is LINEAR")
                else:
                    _share(problems, f"LinearStepSize of variant {variant}", routing.linear_step_size, fleet,
                           LINEAR_PERCENT)  # fmt: skip
    else:
        assert rolling is not None
        prefix = "deploymentConfig.rollingUpdatePolicy"
        _range(problems, f"{prefix}.waitIntervalInSeconds", rolling.wait_interval_in_seconds, WAIT_RANGE)
        timeout = rolling.maximum_execution_timeout_in_seconds
        waits = rolling.wait_interval_in_seconds
        # RollingUpdatePolicy, SageMaker API Reference: MaximumBatchSize "between 5% to 50% of the variant's
        # total instance count".
        for variant, fleet in fleets.items():
            _share(problems, f"MaximumBatchSize of variant {variant}", rolling.maximum_batch_size, fleet,
                   ROLLING_PERCENT)  # fmt: skip
    if timeout is not None:
        _range(problems, f"{prefix}.maximumExecutionTimeoutInSeconds", timeout, TIMEOUT_RANGE)
        # BlueGreenUpdatePolicy, SageMaker API Reference: "the timeout value should be larger than the total
        # waiting time specified in TerminationWaitInSeconds and WaitIntervalInSeconds".
        if timeout <= waits:
            problems.append(f"MaximumExecutionTimeoutInSeconds ({timeout}) must be larger than the waiting time "
                            f"(WaitIntervalInSeconds + TerminationWaitInSeconds = {waits})")  # fmt: skip
    if config.auto_rollback_configuration is not None:
        # AutoRollbackConfig.Alarms, SageMaker API Reference: 1-10 items.
        count = len(config.auto_rollback_configuration.alarms or [])
        if not ALARMS_RANGE[0] <= count <= ALARMS_RANGE[1]:
            problems.append(f"Value at 'deploymentConfig.autoRollbackConfiguration.alarms' failed to satisfy "
                            f"constraint: Member must have length between 1 and 10, got {count}")  # fmt: skip
    if problems:
        count = len(problems)
        raise validation(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))
