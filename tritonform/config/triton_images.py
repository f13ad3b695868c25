"""Where AWS publishes the SageMaker Triton image, read from the sagemaker SDK's own catalogue.

The catalogue is a JSON file inside the installed sagemaker-core package. Reading it directly, rather
than importing the SDK (about 2 s), keeps config loading and synthesis fast and free of AWS calls; a test
checks that the URIs built here equal `sagemaker.core.image_uris.retrieve`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

REPOSITORY = "sagemaker-tritonserver"
_CATALOGUE = "sagemaker/core/image_uri_config/sagemaker-tritonserver.json"
IMAGE_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?"
    r"/sagemaker-tritonserver:(?P<version>[0-9]{2}\.[0-9]{2})-py3$"
)


@dataclass(frozen=True)
class TritonImage:
    account: str
    region: str
    version: str
    tag: str

    @property
    def uri(self) -> str:
        suffix = ".cn" if self.region.startswith("cn-") else ""
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com{suffix}/{REPOSITORY}:{self.tag}"


@dataclass(frozen=True)
class _Release:
    registries: dict[str, str]
    tag: str


@cache
def _catalogue() -> dict[str, _Release]:
    files = metadata.files("sagemaker-core") or []
    for entry in files:
        if str(entry).replace("\\", "/") == _CATALOGUE:
            data = json.loads(Path(str(entry.locate())).read_text(encoding="utf-8"))
            return {
                version: _Release(dict(spec["registries"]), spec.get("tag_prefix", f"{version}-py3"))
                for version, spec in data["versions"].items()
                if spec.get("repository", REPOSITORY) == REPOSITORY
            }
    raise RuntimeError("sagemaker-core is installed without its Triton image catalogue; re-run scripts/bootstrap")


def versions() -> list[str]:
    return sorted(_catalogue())


def published_regions(version: str) -> dict[str, str]:
    """Region -> registry account for one Triton image version; empty when the version is unknown."""
    release = _catalogue().get(version)
    return dict(release.registries) if release else {}


def image_for(region: str, version: str) -> TritonImage | None:
    release = _catalogue().get(version)
    account = release.registries.get(region) if release else None
    return TritonImage(account, region, version, release.tag) if release and account else None


def parse_image_uri(uri: str) -> TritonImage | None:
    match = IMAGE_URI.match(uri)
    if not match:
        return None
    return TritonImage(match["account"], match["region"], match["version"], f"{match['version']}-py3")
