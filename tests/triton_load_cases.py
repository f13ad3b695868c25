"""Load-time rules of Triton, each as a pair: a repository Triton refuses (with the words the validator must
say and where) and a near miss Triton loads. Python-backend pairs are also loaded into the real local
tritonserver by tests/test_triton_server.py, which proves both halves against Triton itself."""

from __future__ import annotations

from dataclasses import dataclass

MODEL_PY = "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
AUTO_COMPLETE_PY = """class TritonPythonModel:
    @staticmethod
    def auto_complete_config(config):
        config.add_input({"name": "X", "data_type": "TYPE_FP32", "dims": [4]})
        config.add_output({"name": "Y", "data_type": "TYPE_FP32", "dims": [4]})
        config.set_max_batch_size(8)
        return config

    def execute(self, requests):
        return []
"""
HEAD = 'backend: "python"\nmax_batch_size: 4\n'
X = 'input [ { name: "X" data_type: TYPE_FP32 dims: [ -1 ] } ]\n'
Y = 'output [ { name: "Y" data_type: TYPE_FP32 dims: [ -1 ] } ]\n'


@dataclass(frozen=True)
class Pair:
    rule: str
    refused: dict[str, str]
    where: str
    words: str
    accepted: dict[str, str]
    gpus: int | None = None
    """GPUs per instance the validator is told (GPU rules cannot be proven on the CPU-only local server)."""


def python(config: str, name: str = "m", source: str = MODEL_PY) -> dict[str, str]:
    return {f"{name}/config.pbtxt": config, f"{name}/1/model.py": source}


def pair(rule: str, refused: str, line: int, words: str, accepted: str) -> Pair:
    """A one-model pair: model m on the Python backend, refused at m/config.pbtxt:<line>."""
    return Pair(rule, python(refused), f"m/config.pbtxt:{line}", words, python(accepted))


def ensemble(
    steps: str, extra: str = "", outputs: str = 'output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
) -> str:
    return ('platform: "ensemble"\nmax_batch_size: 8\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
            + outputs + extra + "ensemble_scheduling { step [ " + steps + " ] }\n")  # fmt: skip


STEP = 'backend: "python"\nmax_batch_size: 8\ninput [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]\n' \
       'output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'  # fmt: skip
TWO_IN = STEP.replace('input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]',
                      'input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "IN2" data_type: TYPE_FP32 dims: [ 4 ] } ]')  # fmt: skip
DECOUPLED = STEP + "model_transaction_policy { decoupled: true }\n"


def step(model: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    maps = " ".join(f'input_map {{ key: "{k}" value: "{v}" }}' for k, v in inputs.items())
    maps += " " + " ".join(f'output_map {{ key: "{k}" value: "{v}" }}' for k, v in outputs.items())
    return f'{{ model_name: "{model}" model_version: -1 {maps} }}'


def with_steps(ensemble_config: str, **models: str) -> dict[str, str]:
    files = {"e/config.pbtxt": ensemble_config, "e/1/.keep": ""}
    for name, config in models.items():
        files.update(python(config, name))
    return files


A = step("a", {"IN": "X"}, {"OUT": "Y"})
PAIRS: list[Pair] = [
    Pair("backend inferred from the version directory",
         {"m/config.pbtxt": "", "m/1/main.py": MODEL_PY}, "m/config.pbtxt", "Triton cannot infer a backend",
         {"m/config.pbtxt": "", "m/1/model.py": MODEL_PY}),
    Pair("a default_model_filename that implies no backend",
         {"m/config.pbtxt": 'default_model_filename: "main.py"\n', "m/1/main.py": MODEL_PY}, "m/config.pbtxt",
         "Triton cannot infer a backend", {"m/config.pbtxt": 'default_model_filename: "model.py"\n', "m/1/model.py": MODEL_PY}),
    Pair("platform pairs only with its own typed backend",
         {"m/config.pbtxt": 'platform: "onnxruntime_onnx"\nbackend: "pytorch"\n', "m/1/model.pt": ""}, "m/config.pbtxt:1",
         "platform 'onnxruntime_onnx' does not run on backend 'pytorch'",
         {"m/config.pbtxt": 'platform: "onnxruntime_onnx"\nbackend: "python"\n', "m/1/model.py": MODEL_PY}),
    pair("batch input data type", HEAD + X + 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT64 source_input: "X" } ]\n',
         4, "batch_input 'N' (BATCH_ELEMENT_COUNT): data_type TYPE_INT64; a batch input is TYPE_INT32 or TYPE_FP32",
         HEAD + X + 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT32 source_input: "X" } ]\n'),
    pair("batch input sources", HEAD + X + 'batch_input [ { kind: BATCH_ITEM_SHAPE target_name: "N" data_type: TYPE_FP32 source_input: [ "X", "X" ] } ]\n',
         4, "needs exactly 1 source_input, has 2",
         HEAD + X + 'batch_input [ { kind: BATCH_ITEM_SHAPE target_name: "N" data_type: TYPE_FP32 source_input: [ "X" ] } ]\n'),
    pair("batch input source is an input", HEAD + X + 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "N" data_type: TYPE_INT32 source_input: "Z" } ]\n',
         4, "source_input 'Z' is not an input (inputs: X)",
         HEAD + X + 'batch_input [ { kind: BATCH_ELEMENT_COUNT target_name: "X" data_type: TYPE_INT32 source_input: "X" } ]\n'),
    pair("batch output target is an output", HEAD + X + Y + 'batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "Z" source_input: "X" } ]\n',
         5, "target_name 'Z' is not an output (outputs: Y)",
         HEAD + X + Y + 'batch_output [ { kind: BATCH_SCATTER_WITH_INPUT_SHAPE target_name: "Y" source_input: "X" } ]\n'),
    pair("reshape between variable dims", HEAD + 'input [ { name: "X" data_type: TYPE_FP32 dims: [ 2, 4, -1, 6 ] reshape: { shape: [ 4, -1, 2, 6 ] } } ]\n',
         3, "differ between their variable dims (element counts [8, 6] and [4, 12])",
         HEAD + 'input [ { name: "X" data_type: TYPE_FP32 dims: [ 2, 4, -1, 6 ] reshape: { shape: [ 8, -1, 1, 6 ] } } ]\n'),
    pair("reshape with more variable dims", HEAD + 'input [ { name: "X" data_type: TYPE_FP32 dims: [ -1, 6 ] reshape: { shape: [ -1, -1, 6 ] } } ]\n',
         3, "have a different number of variable (-1) dims",
         HEAD + 'input [ { name: "X" data_type: TYPE_FP32 dims: [ -1, 6 ] reshape: { shape: [ -1, 2, 3 ] } } ]\n'),
    pair("scalar reshape needs batching", 'backend: "python"\nmax_batch_size: 0\ninput [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]\n',
         3, "an empty reshape (a scalar) needs max_batch_size > 0",
         HEAD + 'input [ { name: "X" data_type: TYPE_FP32 dims: [ 1 ] reshape: { shape: [ ] } } ]\n'),
    pair("image formats have 3 dims", HEAD + 'input [ { name: "X" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 2, 2 ] } ]\n',
         3, "has format FORMAT_NHWC, which needs 3 dims (has 2)",
         HEAD + 'input [ { name: "X" data_type: TYPE_FP32 format: FORMAT_NHWC dims: [ 2, 2, 3 ] } ]\n'),
    pair("shape tensors are TensorRT's", HEAD + 'input [ { name: "X" data_type: TYPE_INT32 dims: [ 2 ] is_shape_tensor: true } ]\n',
         3, "is a shape tensor: only TensorRT models", HEAD + 'input [ { name: "X" data_type: TYPE_INT32 dims: [ 2 ] } ]\n'),
    pair("profiles are TensorRT's", HEAD + 'instance_group [ { kind: KIND_CPU profile: [ "0" ] } ]\n', 3,
         "profile is only for TensorRT models", HEAD + 'instance_group [ { kind: KIND_CPU count: 2 } ]\n'),
    pair("KIND_MODEL takes no gpus", HEAD + 'instance_group [ { kind: KIND_MODEL gpus: [ 0 ] } ]\n', 3,
         "kind KIND_MODEL lists gpus [0]", HEAD + 'instance_group [ { kind: KIND_MODEL } ]\n'),
    pair("a count below 1 is Triton's default, not an error", HEAD + 'instance_group [ { kind: KIND_CPU count: -2 gpus: [ 1 ] } ]\n', 3,
         "kind KIND_CPU lists gpus [1]", HEAD + 'instance_group [ { kind: KIND_CPU count: -2 } ]\n'),
    pair("oldest strategy's preferred sizes", HEAD + "sequence_batching { oldest { max_candidate_sequences: 4 preferred_batch_size: [ 8 ] } }\n",
         3, "sequence_batching oldest preferred_batch_size 8: must be between 1 and max_batch_size (4)",
         HEAD + "sequence_batching { oldest { max_candidate_sequences: 4 preferred_batch_size: [ 4 ] } }\n"),
    pair("direct strategy's slot utilization", HEAD + "sequence_batching { direct { minimum_slot_utilization: 1.5 } }\n", 3,
         "minimum_slot_utilization 1.5: must be between 0.0 and 1.0", HEAD + "sequence_batching { direct { minimum_slot_utilization: 1.0 } }\n"),
    pair("correlation id control takes no false/true values",
         HEAD + 'sequence_batching { control_input [ { name: "C" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 int32_false_true: [ 0, 1 ] } ] } ] }\n',
         3, "CONTROL_SEQUENCE_CORRID takes a data_type, not int32_false_true",
         HEAD + 'sequence_batching { control_input [ { name: "C" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 } ] } ] }\n'),
    pair("control inputs have names", HEAD + 'sequence_batching { control_input [ { control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ] }\n',
         3, "a sequence control input without a name",
         HEAD + X + 'sequence_batching { control_input [ { name: "X" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }, '
                    '{ kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] } ] }\n'),
    pair("initial state fits its state", HEAD + 'sequence_batching { state [ { input_name: "I" output_name: "O" data_type: TYPE_INT32 dims: [ 2 ] '
                                                'initial_state [ { name: "z" data_type: TYPE_INT32 dims: [ 3 ] zero_data: true } ] } ] }\n',
         3, "initial_state 'z' of state 'I': dims [3] do not match the state's [2]",
         HEAD + 'sequence_batching { state [ { input_name: "I" output_name: "O" data_type: TYPE_INT32 dims: [ -1 ] '
                'initial_state [ { name: "z" data_type: TYPE_INT32 dims: [ 3 ] zero_data: true } ] } ] }\n'),
    pair("response cache and decoupled models", 'backend: "python"\nmodel_transaction_policy { decoupled: true }\nresponse_cache { enable: true }\n',
         3, "the response cache does not support decoupled models", 'backend: "python"\nmodel_transaction_policy { decoupled: true }\n'),
    pair("response cache and sequence batching", HEAD + "sequence_batching { }\nresponse_cache { enable: true }\n", 4,
         "the response cache does not support sequence batching", HEAD + "sequence_batching { }\n"),
    pair("dynamic batching without max_batch_size", 'backend: "python"\nmax_batch_size: 0\ndynamic_batching { preferred_batch_size: [ 2 ] }\n', 3,
         "dynamic_batching preferred_batch_size 2: must be between 1 and max_batch_size (0)",
         'backend: "python"\nmax_batch_size: 0\ndynamic_batching { }\n'),
    pair("priority levels only bound what they enable", HEAD + "dynamic_batching { priority_levels: 2 default_priority_level: 3 }\n", 3,
         "default_priority_level 3: with priority_levels 2 it must be 1-2", HEAD + "dynamic_batching { default_priority_level: 3 }\n"),
    pair("preserve ordering with priorities", HEAD + "dynamic_batching { preserve_ordering: true priority_levels: 2 default_priority_level: 1 }\n", 3,
         "preserve_ordering allows one priority level, not 2",
         HEAD + "dynamic_batching { preserve_ordering: true priority_levels: 1 default_priority_level: 1 }\n"),
    pair("preserve ordering with delayed requests",
         HEAD + "dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 100 } }\n", 3,
         "preserve_ordering cannot be combined with a queue policy whose timeout_action is DELAY",
         HEAD + "dynamic_batching { preserve_ordering: true default_queue_policy { timeout_action: DELAY } }\n"),
    Pair("an unused step output", with_steps(ensemble(A + ", " + step("b", {"IN": "X"}, {"OUT": "Z"})), a=STEP, b=STEP), "e/config.pbtxt:5",
         "step 2 (b): its output 'Z' is neither consumed by a step nor an ensemble output",
         with_steps(ensemble(step("b", {"IN": "Z"}, {"OUT": "Y"}) + ", " + step("a", {"IN": "X"}, {"OUT": "Z"})), a=STEP, b=STEP)),
    Pair("ensembles take no optimization", with_steps(ensemble(A, extra="optimization { priority: PRIORITY_MAX }\n"), a=STEP),
         "e/config.pbtxt:5", "an ensemble has no optimization", with_steps(ensemble(A, extra='parameters { key: "k" value: { string_value: "v" } }\n'), a=STEP)),
    Pair("ensembles have no backend", with_steps(ensemble(A, extra='backend: "python"\n'), a=STEP), "e/config.pbtxt:5",
         'an ensemble (platform: "ensemble") has no backend', with_steps(ensemble(A), a=STEP)),
    Pair("a step needs an input_map", with_steps(ensemble(A + ', { model_name: "c" model_version: -1 output_map { key: "OUT" value: "W" } }',
                                                         outputs='output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "W" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'),
                                                a=STEP, c=STEP.replace('input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]\n', "")),
         "e/config.pbtxt", "step 2 (c): no input_map", with_steps(ensemble(A), a=STEP)),
    Pair("a step that batches less than the ensemble", with_steps(ensemble(A), a=STEP.replace("max_batch_size: 8", "max_batch_size: 4")),
         "e/config.pbtxt:5", "the ensemble batches up to 8 but a takes max_batch_size 4",
         with_steps(ensemble(step("a", {"IN": "X"}, {"OUT": "Y"})),
                    a=STEP.replace("max_batch_size: 8", "max_batch_size: 0").replace("dims: [ 4 ]", "dims: [ -1, 4 ]"))),
    Pair("a step taking tensors from different decoupled models",
         with_steps(ensemble(step("d1", {"IN": "X"}, {"OUT": "p"}) + ", " + step("d2", {"IN": "X"}, {"OUT": "q"}) + ", "
                             + step("j", {"IN": "p", "IN2": "q"}, {"OUT": "Y"})), d1=DECOUPLED, d2=DECOUPLED, j=TWO_IN),
         "e/config.pbtxt", "step 3 (j): its inputs descend from different decoupled models",
         with_steps(ensemble(step("d1", {"IN": "X"}, {"OUT": "p"}) + ", " + step("j", {"IN": "p", "IN2": "p"}, {"OUT": "Y"})),
                    d1=DECOUPLED, j=TWO_IN)),
    Pair("ensemble outputs from different decoupled models",
         with_steps(ensemble(step("d1", {"IN": "X"}, {"OUT": "Y"}) + ", " + step("a", {"IN": "X"}, {"OUT": "W"}),
                             outputs='output [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "W" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'),
                    d1=DECOUPLED, a=STEP),
         "e/config.pbtxt:4", "the ensemble's outputs descend from different decoupled models",
         with_steps(ensemble(step("d1", {"IN": "X"}, {"OUT": "p"}) + ", " + step("a", {"IN": "p"}, {"OUT": "Y"})), d1=DECOUPLED, a=STEP)),
    Pair("version 0 is a version, 01 is not", {"m/config.pbtxt": HEAD, "m/01/model.py": MODEL_PY}, "m/01",
         "version directory '01': Triton ignores it", {"m/config.pbtxt": HEAD, "m/0/model.py": MODEL_PY, "m/01/model.py": MODEL_PY}),
    Pair("a model without config.pbtxt is completed like an empty one", {"m/1/main.py": MODEL_PY}, "m/config.pbtxt",
         "Triton cannot infer a backend", {"m/1/model.py": MODEL_PY}),
    Pair("GPU ids of KIND_AUTO", python(HEAD + "instance_group [ { kind: KIND_AUTO gpus: [ 1 ] } ]\n"), "m/config.pbtxt:3",
         "gpus [1]: the endpoint's instance type has 1 GPU(s), ids 0-0 (KIND_AUTO falls back to KIND_CPU",
         python(HEAD + "instance_group [ { kind: KIND_AUTO gpus: [ 0 ] } ]\n"), gpus=1),
    Pair("KIND_GPU on an instance type without GPUs", python(HEAD + "instance_group [ { kind: KIND_GPU } ]\n"), "m/config.pbtxt:3",
         "kind KIND_GPU, but the endpoint's instance type has no GPU", python(HEAD + "instance_group [ { kind: KIND_AUTO } ]\n"), gpus=0),
]  # fmt: skip
