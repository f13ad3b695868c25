"""The NVIDIA GPU instance types SageMaker real-time endpoints offer, and what each one carries.

Kept as data in the repository (not fetched) so that synthesis stays pure. Instance storage matters:
SageMaker refuses a KMS key (KmsKeyId) and a volume size for instance types with local NVMe storage,
which it encrypts with the instance's hardware module instead (CreateEndpointConfig API reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuInstance:
    name: str
    gpus: int
    gpu_model: str
    gpu_memory_gib: int
    local_nvme: bool

    @property
    def family(self) -> str:
        return self.name.split(".")[1]


def _family(family: str, gpu_model: str, memory: int, nvme: bool, sizes: dict[str, int]) -> list[GpuInstance]:
    return [GpuInstance(f"ml.{family}.{size}", gpus, gpu_model, memory, nvme) for size, gpus in sizes.items()]


_SINGLE_TO_EIGHT = {
    "xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
    "12xlarge": 4, "24xlarge": 4, "48xlarge": 8,
}  # fmt: skip

_G4DN = {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1, "12xlarge": 4}

GPU_INSTANCES: dict[str, GpuInstance] = {
    i.name: i
    for i in [
        *_family("g4dn", "T4", 16, True, _G4DN),
        *_family("g5", "A10G", 24, True, _SINGLE_TO_EIGHT),
        *_family("g6", "L4", 24, True, _SINGLE_TO_EIGHT),
        *_family("g6e", "L40S", 48, True, _SINGLE_TO_EIGHT),
        *_family("p3", "V100", 16, False, {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
        *_family("p4d", "A100", 40, True, {"24xlarge": 8}),
        *_family("p4de", "A100", 80, True, {"24xlarge": 8}),
        *_family("p5", "H100", 80, True, {"48xlarge": 8}),
        *_family("p5e", "H200", 141, True, {"48xlarge": 8}),
        *_family("p5en", "H200", 141, True, {"48xlarge": 8}),
    ]
}

_NON_NVIDIA_ACCELERATORS = {"inf1", "inf2", "trn1", "trn1n", "trn2"}
_INSTANCE_TYPE = re.compile(r"^ml\.([a-z0-9]+)\.([0-9]*x?large|medium|small|metal)$")


def gpu_families() -> list[str]:
    return sorted({f"ml.{i.family}.*" for i in GPU_INSTANCES.values()})


def explain_not_gpu(instance_type: str) -> str:
    """Why `instance_type` cannot host a Triton GPU endpoint, in words a user can act on."""
    allowed = ", ".join(gpu_families())
    match = _INSTANCE_TYPE.match(instance_type)
    if not match:
        return (
            f"{instance_type!r} is not a SageMaker instance type (expected ml.<family>.<size>); GPU families: {allowed}"
        )
    family = match.group(1)
    if family in _NON_NVIDIA_ACCELERATORS:
        return (
            f"{instance_type!r} carries AWS Inferentia/Trainium, not an NVIDIA GPU; "
            f"Triton GPU endpoints need one of: {allowed}"
        )
    if any(i.family == family for i in GPU_INSTANCES.values()):
        sizes = sorted(i.name for i in GPU_INSTANCES.values() if i.family == family)
        return f"{instance_type!r} is not a size SageMaker offers for endpoints; {family} sizes: {', '.join(sizes)}"
    return f"{instance_type!r} is a CPU instance type; a Triton GPU endpoint needs one of: {allowed}"
