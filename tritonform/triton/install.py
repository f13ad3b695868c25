"""Fetch and unpack the local Triton server (run by scripts/bootstrap; idempotent).

Pinned by hash in tools/triton/requirements.txt. The wheel is only unpacked, never installed: its
tritonserver binary finds its libraries relative to itself. The Python-backend stub for Python 3.11 is put
where the backend looks for it, and numpy 1.x is unpacked beside it for the models' imports.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "tools" / "triton" / "requirements.txt"
HOME = ROOT / ".tritonform" / "triton"
SERVER_DIR = HOME / "pytriton"
STUB_PYTHON = HOME / "stub-python"
MARKER = HOME / ".installed"


def tritonserver_binary() -> Path:
    return SERVER_DIR / "pytriton" / "tritonserver" / "bin" / "tritonserver"


def backends_directory() -> Path:
    return SERVER_DIR / "pytriton" / "tritonserver" / "backends"


def installed() -> bool:
    return MARKER.is_file() and MARKER.read_text() == LOCK.read_text() and tritonserver_binary().is_file()


def _unpack(wheel: Path, destination: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            target = (destination / member.filename).resolve()
            if not target.is_relative_to(destination.resolve()):
                raise RuntimeError(f"{wheel.name}: {member.filename} would leave the target directory")
            archive.extract(member, destination)
            mode = member.external_attr >> 16
            if mode & stat.S_IXUSR:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install() -> None:
    if installed():
        return
    HOME.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=HOME) as scratch:
        wheels = Path(scratch) / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "--require-hashes", "--python-version", "3.11", "--platform",
             "manylinux_2_35_x86_64", "--platform", "manylinux_2_17_x86_64", "-r", str(LOCK), "-d", str(wheels)],
            check=True,
        )  # fmt: skip
        server = Path(scratch) / "pytriton"
        stub_python = Path(scratch) / "stub-python"
        _unpack(next(wheels.glob("nvidia_pytriton-*.whl")), server)
        _unpack(next(wheels.glob("numpy-*.whl")), stub_python)
        python_backend = server / "pytriton" / "tritonserver" / "backends" / "python"
        stub = server / "pytriton" / "tritonserver" / "python_backend_stubs" / "3.11" / "triton_python_backend_stub"
        shutil.copy2(stub, python_backend / "triton_python_backend_stub")
        for path in (server / "pytriton" / "tritonserver" / "bin" / "tritonserver", python_backend / stub.name):
            path.chmod(0o755)
        for old in (SERVER_DIR, STUB_PYTHON):
            shutil.rmtree(old, ignore_errors=True)
        server.replace(SERVER_DIR)
        stub_python.replace(STUB_PYTHON)
    MARKER.write_text(LOCK.read_text())


if __name__ == "__main__":
    install()
    print(f"tritonserver: {tritonserver_binary()}")
