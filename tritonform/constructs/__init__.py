"""cdktf constructs. Each takes one frozen props object, builds its children on self, exposes what others need.

Imported lazily: `tritonform.constructs.endpoint_props` (the endpoint's props) must be usable without
loading cdktf and its Node.js process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tritonform._node import prepare_jsii_node

prepare_jsii_node()  # before anything below imports cdktf (and with it, jsii)

_HOMES = {
    "ArtifactStoreProps": "artifact_store",
    "ModelArtifactStore": "artifact_store",
    "EndpointAutoscaling": "autoscaling",
    "EndpointAutoscalingProps": "autoscaling",
    "ExecutionRole": "execution_role",
    "ExecutionRoleProps": "execution_role",
    "RollbackAlarms": "rollback_alarms",
    "RollbackAlarmsProps": "rollback_alarms",
    "StateBackendProps": "state_backend",
    "configure_state_backend": "state_backend",
    "TritonEndpoint": "triton_endpoint",
    "DataCaptureProps": "endpoint_props",
    "TritonEndpointProps": "endpoint_props",
}
__all__ = [
    "ArtifactStoreProps",
    "DataCaptureProps",
    "EndpointAutoscaling",
    "EndpointAutoscalingProps",
    "ExecutionRole",
    "ExecutionRoleProps",
    "ModelArtifactStore",
    "RollbackAlarms",
    "RollbackAlarmsProps",
    "StateBackendProps",
    "TritonEndpoint",
    "TritonEndpointProps",
    "configure_state_backend",
]

if TYPE_CHECKING:
    from tritonform.constructs.artifact_store import ArtifactStoreProps, ModelArtifactStore
    from tritonform.constructs.autoscaling import EndpointAutoscaling, EndpointAutoscalingProps
    from tritonform.constructs.endpoint_props import DataCaptureProps, TritonEndpointProps
    from tritonform.constructs.execution_role import ExecutionRole, ExecutionRoleProps
    from tritonform.constructs.rollback_alarms import RollbackAlarms, RollbackAlarmsProps
    from tritonform.constructs.state_backend import StateBackendProps, configure_state_backend
    from tritonform.constructs.triton_endpoint import TritonEndpoint


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
