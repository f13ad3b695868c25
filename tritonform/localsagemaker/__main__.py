"""`python -m tritonform.localsagemaker --moto URL --port N --time-scale F`: serve until the lifetime ends."""

from __future__ import annotations

import argparse
import logging
import signal
import tempfile
import threading
from pathlib import Path

from tritonform.localsagemaker.backing import Backing
from tritonform.localsagemaker.fleets import FleetStarter
from tritonform.localsagemaker.metrics import Metrics
from tritonform.localsagemaker.runner import Clock
from tritonform.localsagemaker.server import LocalServer, serve
from tritonform.localsagemaker.service import LocalSageMaker

DEFAULT_PROVISIONING_S = 60.0
DEFAULT_LIFETIME_S = 3600.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tritonform.localsagemaker", description=__doc__)
    parser.add_argument("--moto", required=True, help="URL of the moto server on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="port to bind on 127.0.0.1")
    parser.add_argument("--time-scale", type=float, default=1.0, help="divides every wait, bake and timeout")
    parser.add_argument("--provisioning-seconds", type=float, default=DEFAULT_PROVISIONING_S,
                        help="model seconds a fleet or a batch of instances takes to start")  # fmt: skip
    parser.add_argument("--lifetime-seconds", type=float, default=DEFAULT_LIFETIME_S,
                        help="real seconds after which the server stops by itself")  # fmt: skip
    parser.add_argument("--run-models", action="store_true",
                        help="run each version's model.tar.gz in a local Triton server")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    backing = Backing(args.moto)
    with tempfile.TemporaryDirectory(prefix="localsagemaker-") as scratch:
        clock = Clock(args.time_scale)
        starter = FleetStarter(backing, Path(scratch)) if args.run_models else None
        # Choice: metrics and alarm evaluation come with real fleets; without them no invocation is answered,
        # and alarm states set by hand (SetAlarmState) are left alone.
        metrics = Metrics(backing, clock.model_epoch, clock.scale) if args.run_models else None
        sagemaker = LocalSageMaker(backing, clock, args.provisioning_seconds, starter, metrics)
        if metrics is not None:
            metrics.start()
        server = LocalServer(args.port, args.moto, sagemaker)
        # SIGTERM (how the caller stops it) ends serving cleanly, so that the Triton fleets, each in its own
        # process group, are stopped too; shutdown() must run outside the thread that serves.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
        serve(server, args.lifetime_seconds)


if __name__ == "__main__":
    main()
