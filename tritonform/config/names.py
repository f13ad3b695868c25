"""Every name tritonform derives from configuration, defined once.

Synthesis (constructs and stacks), the release commands, the reviews and the security scan all take names
from here, so a command looks a resource up under the very name synthesis gave it. tests/test_names.py
pins each name for every shipped environment: a change here renames live resources.

Rollback alarm names are stable across versions (<endpoint>-rollback-<kind>): the endpoint's
auto_rollback_configuration lists them, so a new version never changes the endpoint's rollback settings.
(Older releases of the Terraform AWS provider replaced the endpoint when that list changed; with 5.100.0 a
real plan shows an in-place update, which tests/test_review.py checks.)
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Literal

from tritonform.config.environment import KMS_KEY_ARN_PATTERN, AlarmWindow, EnvironmentConfig
from tritonform.config.instances import GPU_INSTANCES
from tritonform.config.release import ReleaseConfig
from tritonform.config.triton_images import REPOSITORY, TritonImage

PREFIX = "tritonform"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
SETTINGS_DIGEST_LENGTH = 8
# Where the serving stack creates the key, its ARN is a token until apply; a name derived before synthesis
# (the release commands) stands in this text for it. Neither is a key ARN, so neither enters the digest.
KEY_THE_STACK_CREATES = "(the key the serving stack creates)"
_PLAIN_KMS_KEY_ARN = re.compile(KMS_KEY_ARN_PATTERN)
CaptureMode = Literal["Input", "Output"]
_CAPTURE_MODES: dict[str, CaptureMode] = {"input": "Input", "output": "Output"}

# --- AWS partition and ARNs ------------------------------------------------------------------------------


def partition_of(region: str) -> str:
    """The partition a region belongs to (China and GovCloud have their own; IAM's ARN format reference)."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def arn(partition: str, service: str, resource: str, *, region: str = "", account: str = "") -> str:
    """arn:<partition>:<service>:<region>:<account>:<resource>; global services leave region (and S3 the
    account) empty."""
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def image_repository_arn(image: TritonImage) -> str:
    """The ECR repository of AWS's SageMaker Triton image in the image's region."""
    return arn(
        partition_of(image.region), "ecr", f"repository/{REPOSITORY}", region=image.region, account=image.account
    )


# --- Stacks and their state ------------------------------------------------------------------------------


def serving_stack_name(environment_name: str) -> str:
    return f"{PREFIX}-{environment_name}"


def access_stack_name(environment_name: str) -> str:
    """The stack of the CI deploy role (synthesized only for an environment with a `ci` section)."""
    return f"{serving_stack_name(environment_name)}-access"


def state_key(
    env: EnvironmentConfig, stack: Literal["serving", "access"] = "serving", backend: Literal["s3", "local"] = "s3"
) -> str:
    """Where a stack's Terraform state lives: <key_prefix><env>[-access].tfstate in the state bucket, or a
    file terraform.<env>[-access].tfstate beside the stack for the local backend (tests, the stand-in)."""
    stem = env.name if stack == "serving" else f"{env.name}-access"
    return f"{env.state.key_prefix}{stem}.tfstate" if backend == "s3" else f"terraform.{stem}.tfstate"


# The serving stack's variable for the instance count a new configuration starts with (the deploy entry
# points set it to the live count), and its output naming the fallback release's configuration.
LIVE_INSTANCES_VARIABLE = "live_instances"
FALLBACK_OUTPUT = "fallback_configuration_name"
# The model and configuration of each declared release have construct ids keyed by its version id
# (model-<version id>, configuration-<version id>).
_VERSION_KEY = re.compile(r"-[0-9a-f]{12}$")


def unkeyed_construct_path(path: str) -> str:
    """A construct path without version keys ("triton/configuration-969c14487609" -> "triton/configuration"):
    what a security baseline entry names, so that it holds for every release."""
    return "/".join(_VERSION_KEY.sub("", part) for part in path.split("/"))


# --- IAM and KMS -----------------------------------------------------------------------------------------


def execution_role_name(env: EnvironmentConfig) -> str:
    return f"{PREFIX}-{env.endpoint.name}-execution"


def deploy_role_name(env: EnvironmentConfig) -> str:
    return f"{PREFIX}-{env.name}-deploy"


def key_alias(env: EnvironmentConfig) -> str:
    """The alias of the key the serving stack creates (none is created when the environment brings one)."""
    return f"alias/{PREFIX}-{env.name}"


def github_oidc_provider_arn(env: EnvironmentConfig) -> str | None:
    """The OIDC provider CI's tokens come from: the configured one, or GitHub's in the environment's
    account. None without a `ci` section."""
    if env.ci is None:
        return None
    return env.ci.oidc_provider_arn or arn(
        partition_of(env.region), "iam", f"oidc-provider/{GITHUB_OIDC_HOST}", account=env.account_id
    )


def github_subject(env: EnvironmentConfig) -> str | None:
    """The one OIDC subject that may assume the deploy role. None without a `ci` section."""
    if env.ci is None:
        return None
    return f"repo:{env.ci.github_repository}:environment:{env.ci.github_environment or env.name}"


def model_package_group(model_name: str) -> str:
    """The SageMaker model package group a model's versions are registered in (group names allow no '_')."""
    return f"{PREFIX}-" + "".join(c if c.isalnum() else "-" for c in model_name)


# --- Rollback alarms -------------------------------------------------------------------------------------

# The built-in rollback alarms: the environment's field and the kind its name ends with.
BUILT_IN_ALARM_SUFFIXES = {
    "server_error_rate": "5xx-rate",
    "model_latency_p99": "latency-p99",
}


def alarm_name(endpoint_name: str, suffix: str) -> str:
    return f"{endpoint_name}-rollback-{suffix}"


def named_rollback_alarms(env: EnvironmentConfig) -> list[tuple[str, AlarmWindow]]:
    """Every configured rollback alarm as (name, window), built-in ones first, in a fixed order."""
    alarms = env.rollback_alarms
    named: list[tuple[str, AlarmWindow]] = []
    for attribute, suffix in BUILT_IN_ALARM_SUFFIXES.items():
        window = getattr(alarms, attribute)
        if window is not None:
            named.append((alarm_name(env.endpoint.name, suffix), window))
    named += [(alarm_name(env.endpoint.name, extra.name), extra) for extra in alarms.extra]
    return named


def rollback_alarm_names(env: EnvironmentConfig) -> list[str]:
    return [name for name, _ in named_rollback_alarms(env)]


# --- The endpoint configuration and the model ------------------------------------------------------------


@dataclass(frozen=True)
class DataCaptureInputs:
    destination_s3_uri: str
    sampling_percent: int
    modes: tuple[CaptureMode, ...]
    kms_key_arn: str | None
    """A plain key ARN, a token, or None (S3-managed keys)."""


@dataclass(frozen=True)
class ConfigurationInputs:
    """Every input of the model and the endpoint configuration that makes Terraform replace them, apart
    from the endpoint name and the version id, which the configuration name carries itself.

    Every argument of aws_sagemaker_model and aws_sagemaker_endpoint_configuration but `tags` is ForceNew
    in the AWS provider (5.100; registry.terraform.io/providers/hashicorp/aws/5.100.0/docs), and SageMaker
    refuses to create a configuration or a model under a name that exists ("Cannot create already existing
    endpoint configuration"). So each of these must change the name, through `settings_digest`.
    """

    variant_name: str
    model_name: str
    artifact_sha256: str
    artifact_s3_uri: str
    image_uri: str
    instance_type: str
    initial_instance_count: int
    volume_size_gb: int | None
    volume_kms_key_arn: str | None
    """A plain key ARN, a token, or None (no EBS volume, or it is not encrypted with the key)."""
    model_data_download_timeout_s: int
    container_startup_health_check_timeout_s: int
    network_isolation: bool
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    data_capture: DataCaptureInputs | None
    triton_log_verbose: int

    @property
    def container_environment(self) -> dict[str, str]:
        return {
            "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": self.model_name,
            # /ping reports ready only once Triton has loaded the models, so a traffic shift never reaches
            # an instance that is still loading (or failed to load) them.
            "SAGEMAKER_TRITON_PING_MODE": "ready",
            # The container's serve script (triton-inference-server/server, docker/sagemaker/serve) passes
            # --log-verbose=true unless SAGEMAKER_TRITON_LOG_VERBOSE is set. A number is what every Triton
            # release's --log-verbose parses (older ones take no true/false).
            "SAGEMAKER_TRITON_LOG_VERBOSE": str(self.triton_log_verbose),
        }


def configuration_inputs(
    env: EnvironmentConfig, release: ReleaseConfig, *, kms_key_arn: str | None
) -> ConfigurationInputs:
    """What the endpoint configuration and model of `release` in `env` run. `kms_key_arn`: the key of the
    environment's data, a plain ARN or the token of the key the stack creates (None: no key)."""
    capture = env.data_capture
    return ConfigurationInputs(
        variant_name=env.endpoint.variant_name,
        model_name=release.model_name,
        artifact_sha256=release.artifact.sha256,
        artifact_s3_uri=release.artifact.s3_uri,
        image_uri=release.triton_image.uri,
        instance_type=env.endpoint.instance_type,
        initial_instance_count=env.capacity.initial_instances,
        volume_size_gb=env.endpoint.volume_size_gb,
        volume_kms_key_arn=kms_key_arn if not env.endpoint.instance.local_nvme and env.encryption.volume else None,
        model_data_download_timeout_s=env.endpoint.model_data_download_timeout_s,
        container_startup_health_check_timeout_s=env.endpoint.container_startup_health_check_timeout_s,
        network_isolation=env.network.network_isolation,
        subnet_ids=tuple(env.network.subnet_ids),
        security_group_ids=tuple(env.network.security_group_ids),
        data_capture=DataCaptureInputs(
            destination_s3_uri=f"s3://{env.artifacts.bucket}/{capture.prefix}{env.endpoint.name}",
            sampling_percent=capture.sampling_percent,
            modes=tuple(_CAPTURE_MODES[mode] for mode in capture.capture),
            kms_key_arn=kms_key_arn if env.encryption.data_capture else None,
        )
        if capture
        else None,
        triton_log_verbose=env.endpoint.triton_log_verbose,
    )


def _plain_key(key_arn: str | None) -> str | None:
    """The key ARN if it is one from configuration; None for a token (the key the stack creates: a
    placeholder, replaced only together with the stack) and for no key."""
    return key_arn if key_arn is not None and _PLAIN_KMS_KEY_ARN.fullmatch(key_arn) else None


def settings_digest(inputs: ConfigurationInputs) -> str:
    """Digest of everything that decides what the configuration and the model run.

    The document is written out field by field on purpose: a new input changes no name until it is added
    here, and the keys and values of the existing ones must never change (that would rename every
    configuration, a blue/green update of every endpoint on its next deploy).
    """
    capture = inputs.data_capture
    document: dict[str, object] = {
        "variant_name": inputs.variant_name,
        "model_name": inputs.model_name,
        "artifact_sha256": inputs.artifact_sha256,
        "artifact_s3_uri": inputs.artifact_s3_uri,
        "image_uri": inputs.image_uri,
        "instance_type": inputs.instance_type,
        "initial_instance_count": inputs.initial_instance_count,
        "volume_size_gb": inputs.volume_size_gb,
        "model_data_download_timeout_s": inputs.model_data_download_timeout_s,
        "container_startup_health_check_timeout_s": inputs.container_startup_health_check_timeout_s,
        "network_isolation": inputs.network_isolation,
        "subnet_ids": list(inputs.subnet_ids),
        "security_group_ids": list(inputs.security_group_ids),
        "data_capture": {
            "destination_s3_uri": capture.destination_s3_uri,
            "sampling_percent": capture.sampling_percent,
            "modes": list(capture.modes),
        }
        if capture
        else None,
        "container_environment": inputs.container_environment,
    }
    # Which keys are used decides the configuration too. Each entry is recorded only when it is not the
    # usual case (the key the stack creates, used everywhere), so those configurations keep their names.
    unencrypted = []
    if capture and capture.kms_key_arn is None:
        unencrypted.append("data_capture")
    if inputs.volume_kms_key_arn is None and not GPU_INSTANCES[inputs.instance_type].local_nvme:
        unencrypted.append("volume")
    if unencrypted:
        document["without_kms"] = unencrypted
    given_keys = {
        use: key
        for use, key in (
            ("data_capture", _plain_key(capture.kms_key_arn if capture else None)),
            ("volume", _plain_key(inputs.volume_kms_key_arn)),
        )
        if key is not None
    }
    if given_keys:
        document["kms_key_arns"] = given_keys
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:SETTINGS_DIGEST_LENGTH]


def endpoint_configuration_name(endpoint_name: str, version_id: str, inputs: ConfigurationInputs) -> str:
    """`<endpoint>-<version id>-<settings digest>`, also the model's name: readable in the console, and new
    whenever what runs changes, so Terraform creates the new configuration before it destroys the old."""
    return f"{endpoint_name}-{version_id}-{settings_digest(inputs)}"


def configuration_name(env: EnvironmentConfig, release: ReleaseConfig) -> str:
    """The endpoint configuration (and model) name synthesis gives `release` in `env`."""
    key = env.encryption.kms_key_arn or KEY_THE_STACK_CREATES
    return endpoint_configuration_name(
        env.endpoint.name, release.version_id, configuration_inputs(env, release, kms_key_arn=key)
    )
