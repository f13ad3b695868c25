"""Real fleets: each configuration in service runs its model.tar.gz in a local Triton server.

A fleet is started the way SageMaker's Triton container starts one ("Deploy models with Triton Inference
Server", SageMaker Developer Guide): the model data (the container's ModelDataUrl) is downloaded from S3,
checked against the object's ETag (an MD5 for a single-part upload, "Checking object integrity", Amazon
S3 User Guide), unpacked (the model directories at the root of the archive), and every model is loaded;
SAGEMAKER_TRITON_DEFAULT_MODEL_NAME names the model invocations go to. A fleet whose models fail to load
never takes traffic. The server is tritonform's local harness (tritonform/triton/server.py: Python
backend, CPU only, GPU instance groups moved to the CPU).

Choice (the docs are silent; a local machine has no fleet of instances): one local Triton server stands
for every instance of a variant; instance counts remain bookkeeping.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from tritonform.localsagemaker.backing import Backing, ConfigSpec, VariantSpec
from tritonform.triton import server as harness
from tritonform.triton.loading import load_models
from tritonform.triton.validate import validate_repository

# The longest a fleet being stopped waits for the invocations in flight on it (the runtime's own timeout).
DRAIN_S = 60.0

DEFAULT_MODEL_ENV = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"
CHUNK = 1 << 20


class FleetStartError(Exception):
    """A fleet that could not start; the message becomes the endpoint's FailureReason."""


@dataclass
class VariantServer:
    variant: str
    default_model: str
    http_url: str


@dataclass
class RunningFleet:
    config_name: str
    servers: dict[str, VariantServer] = field(default_factory=dict)
    stack: ExitStack = field(default_factory=ExitStack)
    digests: dict[str, str] = field(default_factory=dict)
    """sha256 of each variant's model data, as downloaded."""
    in_flight: int = 0
    """Invocations routed to this fleet and not answered yet."""
    answered: threading.Condition = field(default_factory=threading.Condition)

    def routed(self) -> None:
        """One invocation is routed here (under the service's lock, which also takes a fleet out of routing,
        so a fleet being stopped waits for every invocation that picked it)."""
        with self.answered:
            self.in_flight += 1

    def finished(self) -> None:
        """One invocation routed here has its answer."""
        with self.answered:
            self.in_flight -= 1
            self.answered.notify_all()

    def close(self, drain_s: float = DRAIN_S) -> None:
        """Stop the fleet's servers once the invocations in flight on it are answered (at most `drain_s`).
        Choice (the docs do not say what happens to a request in flight on a fleet being terminated): it is
        answered, as behind a load balancer that drains connections; no new one is routed here by then."""
        with self.answered:
            self.answered.wait_for(lambda: self.in_flight <= 0, timeout=drain_s)
        self.stack.close()


def _download(backing: Backing, region: str, url: str, target: Path) -> str:
    """Stream s3://bucket/key to `target`; check it against the ETag; return its sha256."""
    parsed = urlparse(url)
    try:
        answer = backing.client("s3", region).get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
    except ClientError as err:
        raise FleetStartError(f"Failed to download model data from {url}: {err}") from None
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with target.open("wb") as out:
        for chunk in answer["Body"].iter_chunks(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            out.write(chunk)
    etag = str(answer.get("ETag", "")).strip('"')
    if etag and "-" not in etag and etag != md5.hexdigest():
        raise FleetStartError(f"Model data at {url} is corrupt: its MD5 {md5.hexdigest()} is not its ETag {etag}")
    return sha256.hexdigest()


def _unpack(archive: Path, destination: Path, url: str) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            # the "data" filter refuses absolute paths, links and members that would leave `destination`
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise FleetStartError(f"Model data at {url} is not a readable tar.gz archive: {err}") from None


def _default_model(variant: VariantSpec, models: list[str]) -> str:
    named = variant.environment.get(DEFAULT_MODEL_ENV)
    if named:
        return named
    if len(models) == 1:
        return models[0]
    # Choice (the container's behaviour without the variable is not documented for several models).
    raise FleetStartError(f"{DEFAULT_MODEL_ENV} is not set and the repository holds {len(models)} models")


class FleetStarter:
    def __init__(self, backing: Backing, scratch: Path) -> None:
        self.backing = backing
        self.scratch = scratch

    def start(self, region: str, spec: ConfigSpec) -> RunningFleet:
        """Start every variant of `spec`, or raise FleetStartError (everything started so far is stopped)."""
        fleet = RunningFleet(spec.name)
        try:
            for variant in spec.variants:
                fleet.servers[variant.name] = self._variant(region, variant, fleet)
        except BaseException:
            fleet.close()
            raise
        return fleet

    def _variant(self, region: str, variant: VariantSpec, fleet: RunningFleet) -> VariantServer:
        if len(variant.model_data_urls) != 1:
            raise FleetStartError(f"variant {variant.name}: a Triton container needs one ModelDataUrl, "
                               f"got {len(variant.model_data_urls)}")  # fmt: skip
        url = variant.model_data_urls[0]
        work = Path(fleet.stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-", dir=self.scratch)))
        fleet.digests[variant.name] = _download(self.backing, region, url, work / "model.tar.gz")
        unpacked = work / "unpacked"
        unpacked.mkdir()
        _unpack(work / "model.tar.gz", unpacked, url)
        report = validate_repository(unpacked)
        if not report.valid:
            raise FleetStartError(f"variant {variant.name}: the model repository in {url} is not valid: "
                               + "; ".join(problem.message for problem in report.problems[:3]))  # fmt: skip
        repository = work / "repository"
        repository.mkdir()
        result = harness.ServerResult()
        # The harness's own preparation (GPU groups to the CPU, the stub's numpy); private there, reused here.
        runnable = harness._local_copy(report, repository, result)
        default = _default_model(variant, sorted(report.models))
        running = fleet.stack.enter_context(harness.triton_server(repository, work / "tritonserver.log"))
        _, failed = load_models(running.http_url, report, runnable)
        if failed:
            name, message = next(iter(failed.items()))
            raise FleetStartError(f"variant {variant.name}: model {name} failed to load: {message}")
        if default not in runnable:
            raise FleetStartError(f"variant {variant.name}: the default model {default} cannot run on this server")
        return VariantServer(variant.name, default, running.http_url)
