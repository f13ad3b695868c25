"""One deployment environment (dev, staging, prod): where and how its Triton endpoint runs.

Loaded from environments/<name>.yaml. Every rule that can be checked without AWS is checked here, so no
construct is ever built from a value SageMaker or Terraform would refuse later.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from tritonform.config.compare import CompareSettings
from tritonform.config.instances import GPU_INSTANCES, GpuInstance, explain_not_gpu
from tritonform.documents import FieldError, FrozenModel

Tier = Literal["dev", "staging", "prod"]
# An environment's name is also a file name (environments/<name>.yaml, its release, history and lock).
ENVIRONMENT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"

# SageMaker resource names: letters, digits and hyphens, starting and ending alphanumeric. The endpoint
# name leaves room for "-<version id>-<digest>" in the configuration and model names (63 characters).
EndpointName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,35}[a-zA-Z0-9])?$")]
VariantName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")]
# "Bucket naming rules", Amazon S3 User Guide: these prefixes and suffixes are reserved (xn-- for
# internationalised names; the suffixes name access point, Object Lambda and directory bucket aliases).
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3")


def _not_reserved_by_s3(name: str) -> str:
    reserved = [p for p in RESERVED_BUCKET_PREFIXES if name.startswith(p)]
    reserved += [s for s in RESERVED_BUCKET_SUFFIXES if name.endswith(s)]
    if reserved:
        raise ValueError(
            f"{name!r} uses {reserved[0]!r}, which S3 reserves; bucket names may not start with "
            f"{', '.join(RESERVED_BUCKET_PREFIXES)} or end with {', '.join(RESERVED_BUCKET_SUFFIXES)}"
        )
    return name


BucketName = Annotated[
    str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$"), AfterValidator(_not_reserved_by_s3)
]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(?:-[a-z]+)+-[0-9]$")]
AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
KMS_KEY_ARN_PATTERN = r"^arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]{1,128}$"
KmsKeyArn = Annotated[str, Field(pattern=KMS_KEY_ARN_PATTERN)]
SubnetId = Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, Field(pattern=r"^sg-[0-9a-f]{8,17}$")]
TagValue = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\w\s.:/=+@-]*$")]
PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
StateKeyPrefix = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9!_.*'()-]+/)*$", max_length=200)]


class EndpointSettings(FrozenModel):
    """The SageMaker endpoint and the single production variant that serves Triton."""

    name: EndpointName
    """SageMaker endpoint name (1-37 characters, letters, digits, hyphens). Fixed for the endpoint's life."""

    instance_type: str = Field(min_length=1, max_length=40)
    """An NVIDIA GPU instance type for SageMaker hosting, e.g. ml.g5.2xlarge."""

    variant_name: VariantName = "AllTraffic"
    """Production variant name. Must stay the same across versions: a blue/green update requires it."""

    volume_size_gb: Annotated[int, Field(ge=1, le=512)] | None = None
    """EBS volume per instance in GB. Default: SageMaker's. Refused for instance types with local NVMe."""

    model_data_download_timeout_s: Annotated[int, Field(ge=60, le=3600)] = 1200
    """How long SageMaker may take to download and unpack model.tar.gz (60-3600 s). Default 1200."""

    container_startup_health_check_timeout_s: Annotated[int, Field(ge=60, le=3600)] = 600
    """How long Triton may take to load every model and pass /ping (60-3600 s). Default 600."""

    triton_log_verbose: Annotated[int, Field(ge=0, le=3)] = 0
    """Triton's verbose log level (SAGEMAKER_TRITON_LOG_VERBOSE, 0-3; 0 is off). Default 0: the SageMaker Triton
    container logs verbosely unless told otherwise, every request included."""

    @field_validator("instance_type")
    @classmethod
    def _is_gpu(cls, value: str) -> str:
        if value not in GPU_INSTANCES:
            raise ValueError(explain_not_gpu(value))
        return value

    @property
    def instance(self) -> GpuInstance:
        return GPU_INSTANCES[self.instance_type]

    @model_validator(mode="after")
    def _volume_only_on_ebs_instances(self) -> Self:
        if self.volume_size_gb is not None and self.instance.local_nvme:
            raise FieldError(
                "volume_size_gb",
                f"{self.instance_type} has local NVMe instance storage, so SageMaker attaches no EBS volume "
                "and refuses a volume size; remove volume_size_gb",
            )
        return self


class Capacity(FrozenModel):
    """How many instances serve the endpoint. min <= initial <= max."""

    initial_instances: Annotated[int, Field(ge=1, le=100)] = 1
    """Instances created with each new version (1-100). Default 1."""

    min_instances: Annotated[int, Field(ge=1, le=100)] = 1
    """Autoscaling never goes below this (1-100). Default 1."""

    max_instances: Annotated[int, Field(ge=1, le=100)] = 1
    """Autoscaling never goes above this (1-100). Default 1."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_instances > self.max_instances:
            raise FieldError(
                "min_instances",
                f"min_instances ({self.min_instances}) is greater than max_instances ({self.max_instances})",
            )
        if not self.min_instances <= self.initial_instances <= self.max_instances:
            raise FieldError(
                "initial_instances",
                f"initial_instances ({self.initial_instances}) must lie between min_instances "
                f"({self.min_instances}) and max_instances ({self.max_instances})",
            )
        return self


class Autoscaling(FrozenModel):
    """Target tracking on the variant: invocations per instance and GPU utilisation, whichever asks more."""

    invocations_per_instance: Annotated[int, Field(ge=1, le=100_000)] = 100
    """Target SageMakerVariantInvocationsPerInstance, per minute (1-100000). Default 100."""

    gpu_utilization_percent: Annotated[int, Field(ge=10, le=95)] | None = 70
    """Target average GPU utilisation per GPU in percent (10-95); null disables GPU scaling. Default 70."""

    scale_in_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 600
    """Seconds after a scale-in before the next one (0-3600). Default 600: GPU instances start slowly."""

    scale_out_cooldown_s: Annotated[int, Field(ge=0, le=3600)] = 120
    """Seconds after a scale-out before the next one (0-3600). Default 120."""

    disable_scale_in: bool = False
    """Only ever scale out (scale in by hand). Default false."""


class Network(FrozenModel):
    """Where the model containers run. Network isolation is on unless explicitly turned off."""

    subnet_ids: Annotated[list[SubnetId], Field(max_length=16)] = []
    """Private subnets for the endpoint's instances (1-16, with security_group_ids). Default: none."""

    security_group_ids: Annotated[list[SecurityGroupId], Field(max_length=5)] = []
    """Security groups for the instances (1-5, with subnet_ids). Default: none."""

    network_isolation: bool = True
    """Run the container without any outbound network access. Default true."""

    @model_validator(mode="after")
    def _vpc_pairs(self) -> Self:
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            missing = "security_group_ids" if self.subnet_ids else "subnet_ids"
            raise FieldError(missing, "a VPC needs both subnet_ids and security_group_ids, or neither")
        for name, values in (
            ("subnet_ids", self.subnet_ids),
            ("security_group_ids", self.security_group_ids),
        ):
            if len(set(values)) != len(values):
                raise FieldError(name, "contains the same id twice")
        return self

    @property
    def in_vpc(self) -> bool:
        return bool(self.subnet_ids)


class Encryption(FrozenModel):
    """Customer-managed KMS encryption for the artifacts, the data capture and (where allowed) the volume.

    Each use can be turned off on its own; prod refuses that without a recorded security exception.
    """

    kms_key_arn: KmsKeyArn | None = None
    """Use this existing key. Default null: the stack creates a key with rotation and an explicit policy."""

    artifacts: bool = True
    """Encrypt the artifact bucket with the KMS key (SSE-KMS); false falls back to S3-managed keys (SSE-S3).
    Default true."""

    volume: bool = True
    """Encrypt the instances' EBS volume with the KMS key. Instance types with local NVMe have no EBS volume:
    their storage is encrypted by the instance's hardware module whatever this says. Default true."""

    data_capture: bool = True
    """Encrypt captured requests and responses with the KMS key. Default true."""

    @property
    def uses_kms(self) -> bool:
        return self.artifacts or self.volume or self.data_capture


class Artifacts(FrozenModel):
    """The environment's model artifact bucket (created by the stack)."""

    bucket: BucketName
    """Globally unique S3 bucket name that holds the packaged model versions."""

    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days a replaced or deleted object version is kept before expiry (1-3650). Default 90."""

    access_log_bucket: BucketName | None = None
    """Existing bucket that receives S3 server access logs of the artifact bucket, under
    <artifact bucket>/. Default null: no server access logs (CloudTrail data events are the audit trail)."""

    @model_validator(mode="after")
    def _logs_elsewhere(self) -> Self:
        if self.access_log_bucket == self.bucket:
            raise FieldError("access_log_bucket", "a bucket cannot hold its own access logs (each log is a write)")
        return self


class DataCapture(FrozenModel):
    """Capture a sample of requests and responses to the artifact bucket, encrypted with the env's key."""

    sampling_percent: Annotated[int, Field(ge=1, le=100)] = 10
    """Share of requests captured (1-100). Default 10."""

    capture: Annotated[list[Literal["input", "output"]], Field(min_length=1, max_length=2)] = [
        "input",
        "output",
    ]
    """What to capture. Default both."""

    prefix: StateKeyPrefix = "data-capture/"
    """Key prefix in the artifact bucket, ending in '/'. Default data-capture/."""

    @field_validator("capture")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists the same mode twice")
        return value


class StateBackend(FrozenModel):
    """Where Terraform keeps this environment's state: S3, encrypted, with S3-native locking."""

    bucket: BucketName
    """Existing, versioned S3 bucket for Terraform state (created outside this stack)."""

    key_prefix: StateKeyPrefix = "tritonform/"
    """Prefix of the state key; the key is <prefix><environment>.tfstate. Default tritonform/."""

    region: Region | None = None
    """Region of the state bucket. Default: the environment's region."""


class CiAccess(FrozenModel):
    """The role CI deploys this environment with: GitHub Actions through OIDC, scoped to this environment.

    Synthesized into its own stack, tritonform-<env>-access, which an administrator applies once: a role
    must not be able to change its own permissions, so the serving stack never manages it.
    """

    github_repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")]
    """owner/name of the repository whose workflows may assume the role."""

    github_environment: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")] | None = None
    """GitHub deployment environment the job must run in (its protection rules gate the deploy).
    Default: the environment's name."""

    oidc_provider_arn: (
        Annotated[str, Field(pattern=r"^arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:oidc-provider/[a-z0-9./-]+$")] | None
    ) = None
    """IAM OIDC provider for GitHub. Default: token.actions.githubusercontent.com in the environment's account."""


class Tags(FrozenModel):
    """Tags on every resource, for ownership and cost allocation."""

    owner: TagValue
    """Team that owns and is paged for the endpoint."""

    cost_center: TagValue
    """Cost centre the GPU hours are billed to."""

    extra: Annotated[dict[Annotated[str, Field(pattern=r"^[\w.:/=+@-]{1,128}$")], TagValue], Field(max_length=40)] = {}
    """Any further tags. Default none."""

    @field_validator("extra")
    @classmethod
    def _reserved(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.lower().startswith("aws:") or key.lower() in {
                "owner",
                "costcenter",
                "environment",
                "managedby",
            }:
                raise ValueError(f"tag key {key!r} is reserved (aws:* or set by tritonform)")
        return value


MIN_ERRORS_TO_BREACH = 2
"""The fewest 5XX answers that may make a period breach: one failed request never rolls a release back."""


class AlarmWindow(FrozenModel):
    """How a rollback alarm evaluates its metric: M breaching datapoints out of N periods."""

    period_s: Annotated[int, Field(ge=60, le=3600, multiple_of=60)] = 60
    """Length of one evaluation period (60-3600 s, whole minutes: SageMaker publishes per minute). Default 60."""

    datapoints: Annotated[int, Field(ge=1, le=10)] = 2
    """Breaching periods needed to reach ALARM (M, 1-10). Default 2."""

    evaluation_periods: Annotated[int, Field(ge=1, le=10)] = 3
    """Periods looked at (N, 1-10, at least datapoints). Default 3."""

    @model_validator(mode="after")
    def _m_of_n(self) -> Self:
        if self.datapoints > self.evaluation_periods:
            raise FieldError(
                "datapoints",
                f"datapoints ({self.datapoints}) cannot exceed evaluation_periods ({self.evaluation_periods})",
            )
        return self


class GuardedAlarm(AlarmWindow):
    """A rollback alarm that only judges a period in which the new fleet served enough requests."""

    min_invocations: Annotated[int, Field(ge=1, le=1_000_000)] = 40
    """Requests the new fleet must serve in a period before the period can breach (1-1000000); a quieter period
    counts as healthy, so two failures out of three requests cannot roll a release back. Default 40."""


class ErrorRateAlarm(GuardedAlarm):
    """Fires when the new fleet's share of 5XX answers (Invocation5XXErrors / Invocations) reaches the threshold."""

    threshold_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    """5XX share of the new fleet's requests in a period, in percent, at or above which the period breaches
    (above 0, at most 100). Default 5."""

    @model_validator(mode="after")
    def _one_error_never_fires(self) -> Self:
        # At the quietest period that is judged (min_invocations requests), how many 5XX answers breach.
        if math.ceil(self.threshold_percent * self.min_invocations / 100 - 1e-9) < MIN_ERRORS_TO_BREACH:
            raise FieldError(
                "min_invocations",
                f"with threshold_percent {self.threshold_percent:g} a period of {self.min_invocations} requests "
                f"breaches on a single 5XX answer; raise min_invocations to at least "
                f"{math.ceil(100 * MIN_ERRORS_TO_BREACH / self.threshold_percent - 1e-9)}",
            )
        return self


class LatencyAlarm(GuardedAlarm):
    """Fires when the p99 of the new fleet's ModelLatency exceeds the threshold."""

    threshold_ms: Annotated[int, Field(ge=1, le=600_000)]
    """p99 model latency in milliseconds above which a period breaches (1-600000)."""


class ExtraAlarm(AlarmWindow):
    """Any other CloudWatch metric that should roll a version back."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    """Suffix of the alarm name (<endpoint>-rollback-<name>)."""

    namespace: Annotated[str, Field(min_length=1, max_length=255)]
    """CloudWatch namespace, e.g. AWS/SageMaker or /aws/sagemaker/Endpoints."""

    metric_name: Annotated[str, Field(min_length=1, max_length=255)]
    """CloudWatch metric name."""

    statistic: Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount", "p50", "p90", "p95", "p99"] = "Average"
    """Statistic compared with the threshold. Default Average."""

    comparison: Literal["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold",
                        "LessThanOrEqualToThreshold"] = "GreaterThanThreshold"  # fmt: skip
    """How the statistic is compared with the threshold. Default GreaterThanThreshold."""

    threshold: float
    """The threshold, in the metric's unit."""

    endpoint_dimensions: bool = True
    """Add EndpointName and VariantName dimensions. Default true."""


HardeningControlName = Literal["vpc", "network-isolation", "kms-artifacts", "kms-volume", "kms-data-capture"]


class SecurityException(FrozenModel):
    """A hardening control this environment runs without, on purpose, with who decided it and why.

    Prod refuses to run with a control off unless an exception names it; the exception is kept in the
    environment file (so in git history and in the pull request that adds it) and printed by every
    `tritonform check`, `synth` and plan review.
    """

    control: HardeningControlName
    """The control that is off: vpc, network-isolation, kms-artifacts, kms-volume or kms-data-capture."""

    reason: Annotated[str, Field(min_length=20, max_length=500)]
    """Why the environment cannot run with the control on (20-500 characters)."""

    approved_by: Annotated[str, Field(min_length=1, max_length=100)]
    """Who accepted the risk (a person or a team, as the security review knows them)."""

    ticket: Annotated[str, Field(pattern=r"^[A-Za-z0-9][\w./#:-]{0,99}$")]
    """Where the decision is recorded, e.g. SEC-1234 or a URL path (1-100 characters)."""


MAX_ROLLBACK_ALARMS = 10  # AutoRollbackConfiguration accepts 1-10 alarms


# The fields older files used: both counted errors whatever their share, and InvocationModelErrors counts
# the model's 4XX answers (bad client requests) too ("SageMaker endpoint invocation metrics", SageMaker
# Developer Guide).
RETIRED_ALARM_FIELDS = {
    "invocation_5xx_errors": "a count of 5XX answers fires on a handful of errors at high traffic and misses a "
    "broken version at low traffic",
    "model_errors": "InvocationModelErrors counts the model's 4XX answers too, so malformed client requests roll a "
    "good release back",
}


class RollbackAlarms(FrozenModel):
    """CloudWatch alarms SageMaker watches during every update; any in ALARM rolls the update back.

    The built-in alarms watch only the new fleet: SageMaker publishes endpoint metrics with an
    EndpointConfigName dimension for the fleet that served them ("Auto-Rollback Configuration and
    Monitoring", SageMaker Developer Guide), so neither the old fleet's trouble nor its healthy traffic
    changes what they see.
    """

    server_error_rate: ErrorRateAlarm | None = ErrorRateAlarm()
    """Share of the new fleet's requests answered with 5XX (metric math: 100 * Invocation5XXErrors /
    Invocations). Default: 5% of at least 40 requests, 2 of 3 one-minute periods."""

    model_latency_p99: LatencyAlarm | None = None
    """p99 of the new fleet's ModelLatency above threshold_ms (periods of at least min_invocations requests).
    Default: off (set a threshold from the model's SLO)."""

    extra: Annotated[list[ExtraAlarm], Field(max_length=MAX_ROLLBACK_ALARMS)] = []
    """Further alarms. Default none."""

    metric_delay_s: Annotated[int, Field(ge=0, le=600)] = 60
    """How late endpoint metrics arrive in CloudWatch, added to every detection time (0-600). Default 60."""

    @model_validator(mode="before")
    @classmethod
    def _retired_fields(cls, data: object) -> object:
        if isinstance(data, dict):
            for retired, why in RETIRED_ALARM_FIELDS.items():
                if retired in data:
                    raise FieldError(
                        retired,
                        f"is no longer accepted: {why}; write server_error_rate (threshold_percent, "
                        "min_invocations, period_s, datapoints, evaluation_periods) instead, e.g. "
                        "server_error_rate: {threshold_percent: 5, min_invocations: 40}",
                    )
        return data

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.count > MAX_ROLLBACK_ALARMS:
            raise FieldError("extra", f"{self.count} alarms; SageMaker accepts at most {MAX_ROLLBACK_ALARMS}")
        names = [alarm.name for alarm in self.extra]
        if len(set(names)) != len(names):
            raise FieldError("extra", "two extra alarms have the same name")
        return self

    @property
    def count(self) -> int:
        built_in = (self.server_error_rate, self.model_latency_p99)
        return sum(alarm is not None for alarm in built_in) + len(self.extra)


class EnvironmentConfig(FrozenModel):
    """environments/<name>.yaml."""

    name: Annotated[str, Field(pattern=ENVIRONMENT_NAME_PATTERN)]
    """Environment name; must equal the file name without .yaml."""

    tier: Tier
    """dev, staging or prod: decides which safety rules apply."""

    account_id: AccountId
    """AWS account the environment deploys into (12 digits, quoted). Terraform refuses any other account."""

    region: Region
    """AWS region, e.g. us-east-1. The Triton image must be published there."""

    endpoint: EndpointSettings
    capacity: Capacity = Capacity()
    autoscaling: Autoscaling | None = Autoscaling()
    """Null keeps the instance count fixed at capacity.initial_instances."""

    network: Network = Network()
    encryption: Encryption = Encryption()
    artifacts: Artifacts
    data_capture: DataCapture | None = None
    """Null (the default) captures nothing."""

    state: StateBackend
    tags: Tags
    rollout_policy: PolicyName
    """Name of a file in rollout_policies/ (without .yaml) that every new version is rolled out with."""

    rollback_alarms: RollbackAlarms = RollbackAlarms()
    """Alarms that roll a new version back. Default: the new fleet's 5XX share."""

    expected_rps: Annotated[float, Field(ge=0.01, le=100_000)] = 1.0
    """Requests per second the endpoint normally serves (0.01-100000): what `policy explain` and `rehearse`
    judge the rollback alarms at. Default 1."""

    ci: CiAccess | None = None
    """The CI deploy role (its own stack). Default null: no role is declared."""

    release_compare: CompareSettings = CompareSettings()
    """What `tritonform release compare` allows a candidate: output tolerances and a latency budget."""

    security_exceptions: Annotated[list[SecurityException], Field(max_length=5)] = []
    """Hardening controls turned off on purpose, each with a reason, an approver and a ticket. Prod needs
    one for every control it turns off; an exception for a control that is on is refused. Default none."""

    @model_validator(mode="after")
    def _exceptions_match_controls(self) -> Self:
        named = [exception.control for exception in self.security_exceptions]
        for index, control in enumerate(named):
            if control in named[:index]:
                raise FieldError(f"security_exceptions.{index}.control", f"names {control!r} a second time")
            if control not in {weakened.name for weakened in weakened_controls(self)}:
                raise FieldError(
                    f"security_exceptions.{index}.control",
                    f"{control!r} is on in this environment, so there is nothing to except: remove the entry",
                )
        return self

    @model_validator(mode="after")
    def _alarms_see_the_expected_traffic(self) -> Self:
        # A period with fewer requests than min_invocations never breaches: at the expected traffic with the
        # whole fleet new, every guarded alarm must be able to judge a period.
        alarms = self.rollback_alarms
        for field, alarm in (
            ("server_error_rate", alarms.server_error_rate),
            ("model_latency_p99", alarms.model_latency_p99),
        ):
            if alarm is not None and self.expected_rps * alarm.period_s < alarm.min_invocations:
                raise FieldError(
                    f"rollback_alarms.{field}.min_invocations",
                    f"at expected_rps {self.expected_rps:g} a {alarm.period_s} s period holds "
                    f"{self.expected_rps * alarm.period_s:g} requests, fewer than min_invocations "
                    f"({alarm.min_invocations}): the alarm could never fire; lower min_invocations or lengthen "
                    "period_s",
                )
        return self

    @model_validator(mode="after")
    def _state_apart_from_artifacts(self) -> Self:
        # The artifact bucket is created and destroyed by this stack; the state must outlive it, and the
        # stack's bucket policy and lifecycle rules would govern the state objects too.
        if self.state.bucket == self.artifacts.bucket:
            raise FieldError(
                "state.bucket",
                f"is the artifact bucket {self.artifacts.bucket!r}, which this stack creates; keep Terraform "
                "state in a separate, existing bucket",
            )
        return self

    @model_validator(mode="after")
    def _fixed_capacity_without_autoscaling(self) -> Self:
        capacity = self.capacity
        if self.autoscaling is None and not (
            capacity.min_instances == capacity.initial_instances == capacity.max_instances
        ):
            raise FieldError(
                "capacity",
                "autoscaling is off, so min_instances, initial_instances and max_instances must be equal",
            )
        return self

    @property
    def state_region(self) -> str:
        return self.state.region or self.region

    def security_exception(self, control: str) -> SecurityException | None:
        """The recorded exception for a hardening control, if there is one."""
        return next((e for e in self.security_exceptions if e.control == control), None)


@dataclass(frozen=True)
class HardeningControl:
    """A control that is on by default; turning it off weakens the environment (prod needs an exception)."""

    name: HardeningControlName
    field: str
    """The setting that turns it off, dotted from the environment file's top."""

    why: str
    is_off: Callable[[EnvironmentConfig], bool]


HARDENING_CONTROLS: tuple[HardeningControl, ...] = (
    HardeningControl(
        "vpc",
        "network.subnet_ids",
        "instances outside a VPC reach S3 and ECR over the public AWS network and cannot be confined by "
        "security groups or VPC endpoint policies",
        lambda env: not env.network.in_vpc,
    ),
    HardeningControl(
        "network-isolation",
        "network.network_isolation",
        "without network isolation a compromised model or Triton backend can send data anywhere the "
        "instance's network reaches",
        lambda env: not env.network.network_isolation,
    ),
    HardeningControl(
        "kms-artifacts",
        "encryption.artifacts",
        "S3-managed keys cannot be revoked or audited per use; a KMS key's policy and CloudTrail record "
        "decide and show who read a model",
        lambda env: not env.encryption.artifacts,
    ),
    HardeningControl(
        "kms-volume",
        "encryption.volume",
        "the instances' EBS volumes hold the unpacked model; without the environment's key they are "
        "encrypted only with an AWS-managed key",
        lambda env: not env.encryption.volume and not env.endpoint.instance.local_nvme,
    ),
    HardeningControl(
        "kms-data-capture",
        "encryption.data_capture",
        "captured requests and responses are user data; they must be as protected as the model",
        lambda env: env.data_capture is not None and not env.encryption.data_capture,
    ),
)


def weakened_controls(env: EnvironmentConfig) -> list[HardeningControl]:
    """The hardening controls this environment runs without."""
    return [control for control in HARDENING_CONTROLS if control.is_off(env)]
