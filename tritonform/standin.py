"""A moto server on loopback as the AWS API, for the demo and the end-to-end tests.

It binds 127.0.0.1 on a free port, runs in its own process group, and is stopped by its process id.
Clients find it through AWS_ENDPOINT_URL; nothing is ever sent anywhere else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

START_TIMEOUT_S = 30
# Where a stand-in may be reached: loopback only, never any other address.
STAND_IN_URL = r"http://127\.0\.0\.1:[0-9]{1,5}"


@dataclass(frozen=True)
class MotoServer:
    url: str
    pid: int

    def env(self, region: str = "us-east-1") -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> bool:
    """True once the server started as `process` accepts connections on `port`; False if it exited first or
    `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def stop_process_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM the server's process group (it runs in its own session), SIGKILL it if it outlives `timeout_s`."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    server = MotoServer(f"http://127.0.0.1:{port}", process.pid)
    try:
        if not wait_until_listening(process, port, START_TIMEOUT_S):
            raise RuntimeError("moto server did not start")
        yield server
    finally:
        stop_process_group(process, timeout_s=10)


@contextmanager
def aws_pointed_at(server: MotoServer) -> Iterator[None]:
    """Point every AWS client of this process at `server`, and restore the environment afterwards."""
    saved = {key: os.environ.get(key) for key in server.env()}
    os.environ.update(server.env())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
