"""Two inference contracts compared, each change classified for the teams whose clients call the endpoint.

Breaking: a request or a reading of the answer that works today can fail or mean something else after the
change. An input or output removed (a rename is a removal and an addition; the likely new name is given), a
data type changed, an input's dims narrowed or fixed (a request shape accepted today is refused), an
output's fixed dim changed or made variable (a client that expects that many values gets another count),
the batch dim added or removed, max_batch_size lowered, a new required input (or an optional one made
required), a decoupled model turned on or off, another default model, and an ensemble whose client-visible
output comes from other steps or another model. Compatible: a new optional input, a new output, an input's
dims widened, a fixed output dim that was variable, max_batch_size raised, an input made optional, a model
added, internal wiring that leaves every output's source as it was, another Triton image version.

Models run only as ensemble steps (role internal) are not compared on their own: a client reaches them
through an ensemble, whose own interface and wiring are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tritonform.triton.contract import Contract, ModelContract, StepContract, TensorContract

Kind = Literal["breaking", "compatible"]


@dataclass(frozen=True)
class ContractChange:
    kind: Kind
    model: str | None
    """The model the change is in; None for a change of the whole contract (the default model)."""

    what: str
    """What changed, e.g. `output EMBEDDING dims [64] -> [32]`."""

    reason: str
    """Why it is breaking or compatible, in words a client team understands."""

    def line(self) -> str:
        where = f"{self.model}: " if self.model else ""
        return f"{self.kind}: {where}{self.what} ({self.reason})"


@dataclass(frozen=True)
class ContractDiff:
    old_sha256: str
    new_sha256: str
    changes: tuple[ContractChange, ...]

    @property
    def breaking(self) -> tuple[ContractChange, ...]:
        return tuple(change for change in self.changes if change.kind == "breaking")

    @property
    def verdict(self) -> Literal["unchanged", "compatible", "breaking"]:
        if self.breaking:
            return "breaking"
        return "compatible" if self.changes or self.old_sha256 != self.new_sha256 else "unchanged"

    def summary(self) -> str:
        """One line: the verdict and the first breaking change."""
        if self.verdict == "unchanged":
            return f"contract unchanged (sha256 {self.new_sha256[:12]})"
        head = f"contract {self.old_sha256[:12]} -> {self.new_sha256[:12]}: {self.verdict}"
        if self.breaking:
            more = f" and {len(self.breaking) - 1} more" if len(self.breaking) > 1 else ""
            first = self.breaking[0]
            return f"{head}: {first.model + ': ' if first.model else ''}{first.what} ({first.reason}){more}"
        return f"{head} ({len(self.changes)} change(s))"


def _dims(dims: list[int]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _likely_rename(gone: TensorContract, added: list[TensorContract]) -> str:
    same = [t.name for t in added if t.data_type == gone.data_type and t.dims == gone.dims]
    return f"; renamed to {same[0]}?" if len(same) == 1 else ""


def _input_dims(model: str, old: TensorContract, new: TensorContract, out: list[ContractChange]) -> None:
    what = f"input {new.name} dims {_dims(old.dims)} -> {_dims(new.dims)}"
    if len(old.dims) != len(new.dims):
        out.append(ContractChange("breaking", model, what, "the number of dims changed: requests shaped as "
                                  "today are refused"))  # fmt: skip
        return
    narrowed = [i for i, (a, b) in enumerate(zip(old.dims, new.dims, strict=True)) if b not in (a, -1)]
    if narrowed:
        out.append(ContractChange("breaking", model, what, "a dim is fixed or narrowed: requests of other sizes "
                                  "that are accepted today are refused"))  # fmt: skip
    else:
        out.append(ContractChange("compatible", model, what, "dims widened: every request shape accepted today "
                                  "is still accepted"))  # fmt: skip


def _output_dims(model: str, old: TensorContract, new: TensorContract, out: list[ContractChange]) -> None:
    what = f"output {new.name} dims {_dims(old.dims)} -> {_dims(new.dims)}"
    if len(old.dims) != len(new.dims):
        out.append(ContractChange("breaking", model, what, "the answer has another number of dims"))
        return
    changed = [i for i, (a, b) in enumerate(zip(old.dims, new.dims, strict=True)) if a not in (b, -1)]
    if changed:
        out.append(ContractChange("breaking", model, what, "a client that expects the old number of values in the "
                                  "answer gets another (or a varying) count"))  # fmt: skip
    else:
        out.append(ContractChange("compatible", model, what, "a dim that varied is now fixed: every answer still "
                                  "has a shape a client reading the old one accepts"))  # fmt: skip


def _inputs(model: str, old: list[TensorContract], new: list[TensorContract], out: list[ContractChange]) -> None:
    before, after = {t.name: t for t in old}, {t.name: t for t in new}
    added = [t for name, t in after.items() if name not in before]
    for name, gone in before.items():
        if name not in after:
            renamed = _likely_rename(gone, added)
            out.append(ContractChange("breaking", model, f"input {name} removed",
                                      f"requests that send {name} are refused{renamed}"))  # fmt: skip
    for tensor in added:
        if tensor.optional:
            out.append(ContractChange("compatible", model, f"optional input {tensor.name} added",
                                      "requests without it are answered as before"))  # fmt: skip
        else:
            out.append(ContractChange("breaking", model, f"required input {tensor.name} added",
                                      "requests that do not send it are refused"))  # fmt: skip
    for name in before.keys() & after.keys():
        a, b = before[name], after[name]
        if a.data_type != b.data_type:
            out.append(ContractChange("breaking", model, f"input {name} data type {a.data_type} -> {b.data_type}",
                                      f"requests that send {a.data_type} are refused"))  # fmt: skip
        if a.dims != b.dims:
            _input_dims(model, a, b, out)
        if a.optional and not b.optional:
            out.append(ContractChange("breaking", model, f"input {name} is now required",
                                      "requests that leave it out are refused"))  # fmt: skip
        elif b.optional and not a.optional:
            out.append(ContractChange("compatible", model, f"input {name} is now optional",
                                      "requests that send it are answered as before"))  # fmt: skip
        if a.ragged != b.ragged:
            out.append(ContractChange("compatible", model, f"input {name} ragged batching "
                                      f"{'on' if b.ragged else 'off'}", "how the server batches requests "
                                      "together; what a client sends is unchanged"))  # fmt: skip


def _outputs(model: str, old: list[TensorContract], new: list[TensorContract], out: list[ContractChange]) -> None:
    before, after = {t.name: t for t in old}, {t.name: t for t in new}
    added = [t for name, t in after.items() if name not in before]
    for name, gone in before.items():
        if name not in after:
            out.append(ContractChange("breaking", model, f"output {name} removed",
                                      f"clients that read {name} from the answer no longer find it"
                                      f"{_likely_rename(gone, added)}"))  # fmt: skip
    for tensor in added:
        out.append(ContractChange("compatible", model, f"output {tensor.name} added",
                                  "answers carry one more output; the ones read today are still there"))  # fmt: skip
    for name in before.keys() & after.keys():
        a, b = before[name], after[name]
        if a.data_type != b.data_type:
            out.append(ContractChange("breaking", model, f"output {name} data type {a.data_type} -> {b.data_type}",
                                      "clients decode the answer's values as another type"))  # fmt: skip
        if a.dims != b.dims:
            _output_dims(model, a, b, out)


def _lineage(model: ModelContract, tensor: str, seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Every step (model, version and maps) the ensemble tensor `tensor` is computed through, in data order."""
    for step in model.steps:
        if tensor in step.output_map.values() and tensor not in seen:
            upstream = tuple(
                entry
                for source in sorted(step.input_map.values())
                for entry in _lineage(model, source, seen | {tensor})
            )
            return (*upstream, _step_text(step))
    return ()


def _step_text(step: StepContract) -> str:
    version = "latest" if step.version == -1 else f"version {step.version}"
    ins = ", ".join(f"{k}<-{v}" for k, v in sorted(step.input_map.items()))
    outs = ", ".join(f"{k}->{v}" for k, v in sorted(step.output_map.items()))
    return f"{step.model} ({version}; {ins}; {outs})"


def _wiring(old: ModelContract, new: ModelContract, out: list[ContractChange]) -> None:
    if old.steps == new.steps:
        return
    changed_outputs = False
    for tensor in sorted({t.name for t in old.outputs} & {t.name for t in new.outputs}):
        before, after = _lineage(old, tensor), _lineage(new, tensor)
        if before != after:
            changed_outputs = True
            out.append(ContractChange("breaking", new.name, f"output {tensor} is computed differently: "
                                      f"{' -> '.join(before) or 'nothing'} became {' -> '.join(after) or 'nothing'}",
                                      "same name and shape, but other models or steps produce it: its values may "
                                      "mean something else"))  # fmt: skip
    if not changed_outputs:
        out.append(ContractChange("compatible", new.name, f"ensemble steps changed ({len(old.steps)} -> "
                                  f"{len(new.steps)})", "every output is computed through the same steps as "
                                  "before"))  # fmt: skip


def _batching(old: ModelContract, new: ModelContract, out: list[ContractChange]) -> None:
    a, b = old.max_batch_size, new.max_batch_size
    if a == b:
        return
    what = f"max_batch_size {a} -> {b}"
    if a == 0 or b == 0:
        change = "added" if a == 0 else "removed"
        out.append(ContractChange("breaking", new.name, what, f"the leading batch dim of every input and output is "
                                  f"{change}: requests shaped as today are refused"))  # fmt: skip
    elif b < a:
        out.append(ContractChange("breaking", new.name, what, f"requests that batch more than {b} are refused"))
    else:
        out.append(ContractChange("compatible", new.name, what, "every batch accepted today is still accepted"))


def _model(old: ModelContract, new: ModelContract, out: list[ContractChange]) -> None:
    _batching(old, new, out)
    if old.decoupled != new.decoupled:
        out.append(ContractChange("breaking", new.name, f"decoupled {old.decoupled} -> {new.decoupled}",
                                  "the number of responses per request changes: clients must read them "
                                  "differently (streaming or not)"))  # fmt: skip
    _inputs(new.name, old.inputs, new.inputs, out)
    _outputs(new.name, old.outputs, new.outputs, out)
    _wiring(old, new, out)
    if new.completed_at_load and not old.completed_at_load:
        out.append(ContractChange("compatible", new.name, "now completes its config at load time",
                                  "inputs and outputs it adds when it loads are not recorded: check them with "
                                  "`tritonform release compare`"))  # fmt: skip


def diff_contracts(old: Contract, new: Contract) -> ContractDiff:
    out: list[ContractChange] = []
    if old.default_model != new.default_model:
        out.append(ContractChange("breaking", None, f"default model {old.default_model} -> {new.default_model}",
                                  "InvokeEndpoint requests now go to another model, with its own inputs and "
                                  "outputs"))  # fmt: skip
    visible = {m.name for m in old.models if m.role != "internal"}
    for model in old.models:
        if model.role == "internal":
            continue
        after = new.model(model.name)
        if after is None:
            out.append(ContractChange("breaking", model.name, "model removed",
                                      f"requests to {model.name} are refused"))  # fmt: skip
        elif after.role == "internal" and model.role != "default":
            out.append(ContractChange("breaking", model.name, "now run only as an ensemble step",
                                      "it is no longer an entry point clients are meant to call"))  # fmt: skip
        else:
            _model(model, after, out)
    for model in new.models:
        if model.role != "internal" and model.name not in visible and model.name != old.default_model:
            out.append(ContractChange("compatible", model.name, "model added", "a new model clients may call; "
                                      "the ones called today are unchanged by it"))  # fmt: skip
    if old.triton_version != new.triton_version:
        was, now = old.triton_version or "not recorded", new.triton_version or "not recorded"
        out.append(ContractChange("compatible", None, f"Triton image validated for {was} -> {now}",
                                  "the server's version; what clients send and read is compared above"))  # fmt: skip
    return ContractDiff(old.sha256, new.sha256, tuple(out))
