"""Loading models into a running local Triton server (explicit model control), in parallel.

Triton's model repository extension loads an ensemble's steps with it, and loads them again when they are
already loaded (POST /v2/repository/models/<name>/load; measured on tritonserver 2.51: a Python step loaded
on its own and then through its ensemble starts twice). So the models that no ensemble runs are asked for,
each on its own connection at the same time, and every step is loaded through its ensemble; what each model
ended as is then read from the repository index (POST /v2/repository/index), so a failure is named by the
model that failed, as a load of that model alone would name it.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
from http import HTTPStatus
from urllib.parse import quote

from tritonform.triton.repository import RepositoryReport

LOAD_TIMEOUT_S = 120
MAX_PARALLEL_LOADS = 4
READY = "READY"


def _steps(report: RepositoryReport, models: list[str]) -> set[str]:
    return {
        step.model_name
        for name in models
        if (config := report.models[name].config) is not None and report.models[name].is_ensemble
        for step in config.ensemble_scheduling.step
    }


def _post(url: str, path: str) -> tuple[int, object]:
    """POST to the server's HTTP endpoint (host:port) with the standard library's client, one connection per
    call: tritonclient's HTTP client runs on gevent, which is not meant to be shared between threads."""
    host, _, port = url.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=LOAD_TIMEOUT_S)
    try:
        connection.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(body) if body else None
    except ValueError:
        return response.status, body.decode("utf-8", errors="replace")


def _load_one(url: str, name: str) -> str | None:
    """Load `name`; None when it loaded, else Triton's message."""
    status, answer = _post(url, f"/v2/repository/models/{quote(name, safe='')}/load")
    if status == HTTPStatus.OK:
        return None
    error = answer.get("error") if isinstance(answer, dict) else answer
    return str(error or f"HTTP {status}")


def _states(url: str) -> dict[str, tuple[str, str]]:
    """Model name -> (state, reason), from the repository index."""
    _, index = _post(url, "/v2/repository/index")
    entries = index if isinstance(index, list) else []
    return {
        str(entry["name"]): (str(entry.get("state", "")), str(entry.get("reason", "")))
        for entry in entries
        if isinstance(entry, dict) and "name" in entry
    }


def load_models(url: str, report: RepositoryReport, models: list[str]) -> tuple[list[str], dict[str, str]]:
    """Load `models` (names in `report`, each ensemble after its steps) into the server at `url`; return the
    models that loaded and, for each that did not, why, both in the order of `models`."""
    steps = _steps(report, models)
    asked = [name for name in models if name not in steps]
    with concurrent.futures.ThreadPoolExecutor(max(1, min(MAX_PARALLEL_LOADS, len(asked)))) as pool:
        errors = dict(zip(asked, pool.map(lambda name: _load_one(url, name), asked), strict=True))
    states = _states(url)
    loaded: list[str] = []
    failed: dict[str, str] = {}
    for name in models:
        state, reason = states.get(name, ("", ""))
        if state == READY and errors.get(name) is None:
            loaded.append(name)
            continue
        # a step that its failing ensemble never got to is asked for alone, as it would be without the ensemble
        error = errors.get(name) or reason or _load_one(url, name)
        if error is None:
            loaded.append(name)
        else:
            failed[name] = error
    return loaded, failed
