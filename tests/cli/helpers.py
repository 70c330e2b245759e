#!/usr/bin/python3
"""Python-side oracles for tests/cli/cli_test.sh (uses python3-onnx + numpy).

    helpers.py make-model DIR       DIR/cnn.onnx, DIR/data/input_0.pb and the
                                    numpy-computed DIR/data/output_0.pb
    helpers.py compare GOT WANT [NAME]
                                    TensorProtos match: dtype, shape, values
                                    (rtol 1e-3, atol 1e-5), and name if given
    helpers.py check-converted FILE passes onnx.checker and records the
                                    inferred intermediate shapes as value_info
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The intermediates of the CNN below and their inferred ranks.
INTERMEDIATES = {"conv": 4, "relu1": 4, "pool": 4, "flat": 2, "gemm": 2}


def make_model(out_dir):
    import os
    rng = np.random.default_rng(7)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    b2 = rng.standard_normal(3).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu1"]),
        helper.make_node("MaxPool", ["relu1"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W2", "B2"], ["gemm"]),
        helper.make_node("Relu", ["gemm"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "cli_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, "cnn.onnx"))

    # The reference, computed directly so it does not depend on onnxgrad.
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 2, 5, 5))
    for i in range(5):
        for j in range(5):
            patch = xp[:, :, i:i + 3, j:j + 3]
            conv[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    conv += b.reshape(1, 2, 1, 1)
    r = np.maximum(conv, 0)
    pool = r[:, :, :4, :4].reshape(2, 2, 2, 2, 2, 2).max(axis=(3, 5))
    y = np.maximum(pool.reshape(2, 8) @ w2 + b2, 0).astype(np.float32)

    data = os.path.join(out_dir, "data")
    os.makedirs(data, exist_ok=True)
    for name, arr, file in (("x", x, "input_0.pb"), ("y", y, "output_0.pb")):
        with open(os.path.join(data, file), "wb") as f:
            f.write(numpy_helper.from_array(arr, name).SerializeToString())


def load(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t


def compare(got_path, want_path, name=None):
    got, want = load(got_path), load(want_path)
    g, w = numpy_helper.to_array(got), numpy_helper.to_array(want)
    if name is not None and got.name != name:
        sys.exit("name %r, expected %r" % (got.name, name))
    if g.dtype != w.dtype or g.shape != w.shape:
        sys.exit("%s %s, expected %s %s" % (g.dtype, g.shape, w.dtype, w.shape))
    if g.dtype.kind == "f":
        ok = np.allclose(g, w, rtol=1e-3, atol=1e-5, equal_nan=True)
    else:
        ok = np.array_equal(g, w)
    if not ok:
        sys.exit("values differ:\n%s\nexpected\n%s" % (g, w))


def check_converted(path):
    model = onnx.load(path)
    onnx.checker.check_model(model)
    vi = {v.name: v for v in model.graph.value_info}
    for name, rank in INTERMEDIATES.items():
        if name not in vi:
            sys.exit("no value_info for %r (have %s)" % (name, sorted(vi)))
        t = vi[name].type.tensor_type
        if t.elem_type != TensorProto.FLOAT or len(t.shape.dim) != rank:
            sys.exit("value_info %r: %s" % (name, vi[name]))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-model":
        make_model(*args)
    elif cmd == "compare":
        compare(*args)
    elif cmd == "check-converted":
        check_converted(*args)
    else:
        sys.exit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
