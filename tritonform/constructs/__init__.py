"""cdktf constructs. Each takes one frozen props object, builds its children on self, exposes what others need."""

from tritonform._node import use_bundled_node

use_bundled_node()  # before anything below imports cdktf (and with it, jsii)

from tritonform.constructs.artifact_store import ArtifactStoreProps, ModelArtifactStore  # noqa: E402
from tritonform.constructs.autoscaling import EndpointAutoscaling, EndpointAutoscalingProps  # noqa: E402
from tritonform.constructs.execution_role import ExecutionRole, ExecutionRoleProps  # noqa: E402
from tritonform.constructs.rollback_alarms import RollbackAlarms, RollbackAlarmsProps  # noqa: E402
from tritonform.constructs.state_backend import StateBackendProps, configure_state_backend  # noqa: E402
from tritonform.constructs.triton_endpoint import DataCaptureProps, TritonEndpoint, TritonEndpointProps  # noqa: E402

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
