"""A Triton Python-backend model that runs its version folder's model.onnx with onnxruntime.

The test repositories serve each Stable Diffusion component through this file because Triton's
ONNX Runtime backend is not distributed on PyPI: same model names, tensor names and types as
the `onnxruntime_onnx` repository `pentimento serve-repo` writes. When the dynamic batcher
hands over several requests at once, their inputs are joined along the batch axis, run as one
batch, and the outputs split back, as Triton's own ONNX Runtime backend does.
"""

import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.batched = int(config.get("max_batch_size", 0)) > 0
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.outputs = [tensor["name"] for tensor in config["output"]]
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            path, options, providers=["CPUExecutionProvider"]
        )
        self.ranks = {tensor.name: len(tensor.shape) for tensor in self.session.get_inputs()}

    def _feed(self, request):
        feed = {}
        for name in self.inputs:
            value = pb_utils.get_input_tensor_by_name(request, name).as_numpy()
            rank = self.ranks[name]
            if value.ndim > rank:
                value = value.reshape(value.shape[:rank])
            feed[name] = value
        return feed

    def _joinable(self, feeds):
        first = feeds[0]
        return all(
            feed[name].ndim >= 1 and feed[name].shape[1:] == first[name].shape[1:]
            for feed in feeds
            for name in self.inputs
        )

    def execute(self, requests):
        feeds = [self._feed(request) for request in requests]
        if self.batched and len(feeds) > 1 and self._joinable(feeds):
            joined = {
                name: np.concatenate([feed[name] for feed in feeds]) for name in self.inputs
            }
            results = self.session.run(self.outputs, joined)
            sizes = [feed[self.inputs[0]].shape[0] for feed in feeds]
            responses = []
            start = 0
            for size in sizes:
                tensors = [
                    pb_utils.Tensor(name, np.ascontiguousarray(result[start : start + size]))
                    for name, result in zip(self.outputs, results)
                ]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
                start += size
            return responses
        responses = []
        for feed in feeds:
            results = self.session.run(self.outputs, feed)
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(result))
                for name, result in zip(self.outputs, results)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
