"""Triton Python-backend model: L2-normalise each embedding vector in a batch."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            embedding = pb_utils.get_input_tensor_by_name(request, "EMBEDDING").as_numpy()
            norms = np.linalg.norm(embedding, axis=-1, keepdims=True)
            normalized = embedding / np.maximum(norms, np.float32(1e-12))
            output = pb_utils.Tensor("NORMALIZED", normalized.astype(np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[output]))
        return responses
