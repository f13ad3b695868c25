"""The smoke-file check of static validation: <model>/smoke.yaml must parse and name the model's real
inputs and outputs with their protocol data types (the requests themselves run in server.py)."""

from __future__ import annotations

from tritonclient.grpc import model_config_pb2 as mc

from tritonform.documents import parse_model
from tritonform.errors import UserError
from tritonform.triton.repository import Checker, ModelInfo
from tritonform.triton.smoke import CONFIG_TO_PROTOCOL, SmokeFile, smoke_path


def check_smoke(check: Checker, model: ModelInfo) -> None:
    """<model>/smoke.yaml must parse and speak of the model's real inputs and outputs."""
    path = smoke_path(model.directory)
    if not path.exists() and not path.is_symlink():
        return  # optional; anything else by that name (a directory, a pipe) is refused by the bounded reader
    try:
        model.smoke = parse_model(SmokeFile, path)
    except UserError as err:
        check.extend(err.problems)
        return
    assert model.config is not None
    if model.completed_at_load:
        return  # its inputs and outputs come from auto_complete_config: the server checks the requests
    declared = {
        "input": {t.name: mc.DataType.Name(t.data_type) for t in model.config.input},
        "output": {t.name: mc.DataType.Name(t.data_type) for t in model.config.output},
    }
    for request in model.smoke.requests:
        for kind, tensors in (("input", request.inputs), ("output", request.expect)):
            for name, tensor in tensors.items():
                if name not in declared[kind]:
                    check.problem(path, f"request {request.name!r}: {name!r} is not an {kind} of {model.name} "
                                        f"({kind}s: {', '.join(sorted(declared[kind]))})")  # fmt: skip
                elif CONFIG_TO_PROTOCOL.get(declared[kind][name]) != tensor.datatype:
                    protocol = CONFIG_TO_PROTOCOL.get(declared[kind][name])
                    check.problem(path, f"request {request.name!r}: {name!r} is {declared[kind][name]} in the config "
                                        f"(protocol {protocol}), not {tensor.datatype}")  # fmt: skip
