"""Configuration: environments, releases and (later) rollout policies as frozen pydantic models."""

from tritonform.config.environment import EnvironmentConfig
from tritonform.config.loader import Deployment, ProjectLayout, load_deployment, load_deployments
from tritonform.config.release import ReleaseConfig

__all__ = [
    "Deployment",
    "EnvironmentConfig",
    "ProjectLayout",
    "ReleaseConfig",
    "load_deployment",
    "load_deployments",
]
