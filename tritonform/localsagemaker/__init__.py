"""A local SageMaker for endpoints: it deploys, shifts traffic, watches the rollback alarms and rolls back.

moto answers UpdateEndpoint with HTTP 500 and puts every endpoint InService at once, so tests of rollouts
cannot run against it alone. This stand-in answers the endpoint operations itself, runs each update as a
state machine on a scaled clock, and forwards everything else to a moto server (tritonform/standin.py).
It binds 127.0.0.1 on a free port, runs in its own process group, stops by itself after its lifetime,
and is stopped by its process id.

    python -m tritonform.localsagemaker --moto http://127.0.0.1:PORT --port N --time-scale 60 [--run-models]

- every wait, bake and timeout is divided by the time scale (at 60, a 600 s bake takes 10 s);
- with --run-models each configuration in service runs its model.tar.gz in a local Triton server,
  InvokeEndpoint (`POST /endpoints/<name>/invocations`) is answered, every invocation is counted in the
  AWS/SageMaker metrics, and alarms on them are evaluated; without it, a version starts when its model data
  is in S3, and alarm states are whatever SetAlarmState made them;
- `GET /_localsagemaker/timeline/<endpoint>` (not an AWS operation) returns the steps of the endpoint's last
  operation in model seconds, for tests.

Modules: api (request shapes, bounds, errors), plan (phases of a deployment), state (endpoints,
DescribeEndpoint), runner (the state machine), service (the operations), backing (what is read from moto),
fleets (local Triton fleets), runtime (InvokeEndpoint), metrics (metrics and alarm evaluation), server (HTTP).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tritonform.standin import MotoServer, free_port, stop_process_group, wait_until_listening

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 60  # it stops its Triton fleets first, each within 15 s


@dataclass(frozen=True)
class LocalSageMakerServer:
    url: str
    pid: int
    time_scale: float
    log_path: Path | None

    def env(self, moto: MotoServer, region: str = "us-east-1") -> dict[str, str]:
        """Every AWS client at the stand-in (it forwards what it does not answer itself to moto)."""
        return {**moto.env(region), "AWS_ENDPOINT_URL": self.url}

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None:
            return ""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextmanager
def local_sagemaker(
    moto: MotoServer,
    *,
    time_scale: float = 1.0,
    provisioning_s: float = 60.0,
    lifetime_s: float = 3600.0,
    log_path: Path | None = None,
    run_models: bool = False,
) -> Iterator[LocalSageMakerServer]:
    """Start `python -m tritonform.localsagemaker` in front of `moto`; stop it by its process group on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "tritonform.localsagemaker", "--moto", moto.url, "--port", str(port),
        "--time-scale", str(time_scale), "--provisioning-seconds", str(provisioning_s),
        "--lifetime-seconds", str(lifetime_s), *(["--run-models"] if run_models else []),
    ]  # fmt: skip
    log = log_path.open("wb") if log_path else None
    process = subprocess.Popen(
        command, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    server = LocalSageMakerServer(f"http://127.0.0.1:{port}", process.pid, time_scale, log_path)
    try:
        if not wait_until_listening(process, port, START_TIMEOUT_S):
            raise RuntimeError(f"the local SageMaker did not start:\n{server.log_tail()}")
        yield server
    finally:
        stop_process_group(process, timeout_s=STOP_TIMEOUT_S)
        if log is not None:
            log.close()
