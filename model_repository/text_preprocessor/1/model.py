"""Triton Python-backend model: hash the lower-cased words of each text into 64 buckets and count them.

zlib.crc32 is stable across processes and machines (Python's hash() is salted), so the same text always
gives the same vector.
"""

import zlib

import numpy as np
import triton_python_backend_utils as pb_utils

BUCKETS = 64


def features(text: bytes) -> np.ndarray:
    vector = np.zeros(BUCKETS, dtype=np.float32)
    for word in text.decode("utf-8", errors="replace").lower().split():
        vector[zlib.crc32(word.encode("utf-8")) % BUCKETS] += 1.0
    return vector


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()  # shape [batch, 1]
            batch = np.stack([features(row[0]) for row in texts])
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("FEATURES", batch)]))
        return responses
