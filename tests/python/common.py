# SPDX-License-Identifier: MIT
"""Shared by tests/python/test_*.py: the CLI and scratch directory ctest
passes (ONNXGRAD_CLI, OG_PY_TMP), small PyTorch models exported to ONNX,
and running the CLI."""
import os
import subprocess
import tempfile

import numpy as np

CLI = os.environ.get("ONNXGRAD_CLI", "onnxgrad")
TMP_ROOT = os.environ.get("OG_PY_TMP") or tempfile.gettempdir()
os.makedirs(TMP_ROOT, exist_ok=True)


def scratch(name):
    """A fresh directory for one test."""
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP_ROOT)
    return d


def cli(*args, check=True):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError(f"onnxgrad {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr}")
    return r


def save_pb(array, name, path):
    from onnx import numpy_helper
    t = numpy_helper.from_array(np.asarray(array), name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def read_pb(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def torch_convnet(seed=0, classes=5, with_loss=True):
    """A small conv net (Conv, Relu, MaxPool, Tanh, Flatten, Gemm) for
    3x8x8 images: forward(x, labels) -> (logits, loss), or forward(x) ->
    logits without with_loss."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 6, 3)
            self.fc = nn.Linear(6 * 2 * 2, classes)

        def forward(self, x, labels=None):
            h = F.max_pool2d(F.relu(self.conv1(x)), 2)
            h = torch.tanh(self.conv2(h))
            logits = self.fc(torch.flatten(h, 1))
            return (logits, F.cross_entropy(logits, labels)) if with_loss else logits

    torch.manual_seed(seed)
    return Net()


def export(net, args, path, input_names, output_names, dynamic_batch=True):
    import torch
    dyn = None
    if dynamic_batch:
        dyn = {n: {0: "N"} for n in input_names}
        dyn[output_names[0]] = {0: "N"}
    torch.onnx.export(net, args, path, input_names=input_names, output_names=output_names, opset_version=17,
                      dynamic_axes=dyn, do_constant_folding=False)
    return path


def convnet_model(d, seed=0):
    """(torch net, path of its ONNX export) for 3x8x8 images."""
    import torch
    net = torch_convnet(seed)
    path = export(net, (torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.long)), os.path.join(d, "convnet.onnx"),
                  ["x", "labels"], ["logits", "loss"])
    return net, path


def classifier_model(d, seed=0):
    """(torch net, path of its ONNX export): logits only, for the trainer."""
    import torch
    net = torch_convnet(seed, with_loss=False)
    path = export(net, (torch.rand(2, 3, 8, 8),), os.path.join(d, "classifier.onnx"), ["x"], ["logits"])
    return net, path


def batch(n=4, seed=1, classes=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 8, 8)).astype(np.float32), rng.integers(0, classes, n).astype(np.int64)
