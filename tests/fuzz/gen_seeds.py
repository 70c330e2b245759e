#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gen_seeds.py OUTDIR — small hand-made seed models for the fuzz targets.

The conformance cases are all float; these cover the other dtypes each op
accepts (double, the integer Relus and MaxPools, int64 Flatten), optional
inputs and outputs (Conv bias, Gemm C, MaxPool Indices), symbolic batch
dims and a few-node chain, so the fuzzer starts from every kernel. Shapes
are tiny; values are fixed, so the output is the same on every run.

Run with Debian's /usr/bin/python3 (python3-onnx 1.12, numpy); called by
tools/fuzz-seeds.sh.
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

T = TensorProto


def model(name, nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="onnxgrad-fuzz-seeds")
    m.ir_version = 8
    return m.SerializeToString()


def vi(name, dtype, dims):
    return helper.make_tensor_value_info(name, dtype, dims)


def arange(shape, dtype):
    n = int(np.prod(shape))
    return (np.arange(n) % 7 - 3).astype(dtype).reshape(shape)


def seeds():
    out = {}
    for dt, np_dt, name in ((T.DOUBLE, np.float64, "double"), (T.INT8, np.int8, "int8"),
                            (T.INT16, np.int16, "int16"), (T.INT32, np.int32, "int32"),
                            (T.INT64, np.int64, "int64")):
        out["relu_%s" % name] = model("relu", [helper.make_node("Relu", ["x"], ["y"])],
                                      [vi("x", dt, [2, 3])], [vi("y", dt, [2, 3])], opset=14)
    out["relu_opset6_symbolic"] = model("relu", [helper.make_node("Relu", ["x"], ["y"])],
                                        [vi("x", T.FLOAT, ["N", 4])], [vi("y", T.FLOAT, ["N", 4])],
                                        opset=6)

    for dt, np_dt, name in ((T.FLOAT, np.float32, "float"), (T.DOUBLE, np.float64, "double")):
        out["conv_%s_bias_group" % name] = model(
            "conv", [helper.make_node("Conv", ["x", "w", "b"], ["y"], group=2, strides=[1, 2],
                                      pads=[1, 0, 0, 1], dilations=[1, 1])],
            [vi("x", dt, [1, 4, 5, 5])], [vi("y", dt, None)],
            [("w", arange([2, 2, 3, 3], np_dt)), ("b", arange([2], np_dt))])
        out["conv_%s_1d_same_lower" % name] = model(
            "conv", [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[2])],
            [vi("x", dt, ["N", 2, 7])], [vi("y", dt, None)], [("w", arange([3, 2, 2], np_dt))])
        out["conv_%s_3d_depthwise" % name] = model(
            "conv", [helper.make_node("Conv", ["x", "w"], ["y"], group=2, kernel_shape=[2, 2, 2])],
            [vi("x", dt, [1, 2, 3, 3, 3])], [vi("y", dt, None)], [("w", arange([2, 1, 2, 2, 2], np_dt))])
        out["gemm_%s_bias_row" % name] = model(
            "gemm", [helper.make_node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transB=1)],
            [vi("a", dt, [2, 3])], [vi("y", dt, None)],
            [("b", arange([4, 3], np_dt)), ("c", arange([1, 4], np_dt))])
        out["gemm_%s_no_c_opset11" % name] = model(
            "gemm", [helper.make_node("Gemm", ["a", "b"], ["y"], transA=1)],
            [vi("a", dt, [3, 2]), vi("b", dt, [3, "K"])], [vi("y", dt, None)], opset=11)

    for dt, np_dt, name in ((T.DOUBLE, np.float64, "double"), (T.INT8, np.int8, "int8"),
                            (T.UINT8, np.uint8, "uint8")):
        out["maxpool_%s_indices" % name] = model(
            "pool", [helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[2, 2], strides=[2, 1],
                                      pads=[1, 1, 0, 0], ceil_mode=1, storage_order=1)],
            [vi("x", dt, [1, 2, 4, 5])], [vi("y", dt, None), vi("i", T.INT64, None)])
    out["maxpool_float_1d_dilated_same_upper"] = model(
        "pool", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3], dilations=[2],
                                  auto_pad="SAME_UPPER")],
        [vi("x", T.FLOAT, ["N", 1, 9])], [vi("y", T.FLOAT, None)])
    out["gemm_float_broadcast_opset6"] = model(
        "gemm", [helper.make_node("Gemm", ["a", "b", "c"], ["y"], broadcast=1)],
        [vi("a", T.FLOAT, [2, 3])], [vi("y", T.FLOAT, None)],
        [("b", arange([3, 2], np.float32)), ("c", arange([2], np.float32))], opset=6)

    for dt, np_dt, name in ((T.INT64, np.int64, "int64"), (T.BOOL, np.bool_, "bool"),
                            (T.UINT16, np.uint16, "uint16")):
        out["flatten_%s_axis_neg" % name] = model(
            "flatten", [helper.make_node("Flatten", ["x"], ["y"], axis=-2)],
            [vi("x", dt, [2, 1, 3, 2])], [vi("y", dt, None)], opset=13)

    # A chain through every op, with an unwanted Indices output and the
    # input passed straight through as a second output.
    out["chain_conv_relu_pool_flatten_gemm"] = model(
        "chain",
        [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p", ""], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("Gemm", ["f", "g", "gb"], ["y"], transB=1)],
        [vi("x", T.FLOAT, ["N", 1, 4, 4])], [vi("y", T.FLOAT, None), vi("x", T.FLOAT, None)],
        [("w", arange([2, 1, 3, 3], np.float32)), ("g", arange([3, 8], np.float32)),
         ("gb", arange([3], np.float32))])

    # A training info (ModelProto.training_info): an SGD step on W and B
    # that reads the main graph's X and Y, and an initialization graph.
    m = helper.make_model(helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"]), helper.make_node("Add", ["XW", "B"], ["Y"])],
        "main", [vi("X", T.FLOAT, ["N", 2])], [vi("Y", T.FLOAT, ["N", 2])],
        [numpy_helper.from_array(arange([2, 2], np.float32), "W"),
         numpy_helper.from_array(arange([2], np.float32), "B")]),
        opset_imports=[helper.make_opsetid("", 17)], producer_name="onnxgrad-fuzz-seeds")
    m.ir_version = 8
    alg = helper.make_graph(
        [helper.make_node("Transpose", ["X"], ["Xt"]), helper.make_node("MatMul", ["Xt", "Y"], ["G"]),
         helper.make_node("Mul", ["lr", "G"], ["d"]), helper.make_node("Sub", ["W", "d"], ["W_new"]),
         helper.make_node("ReduceSum", ["Y", "axes"], ["GB"], keepdims=0),
         helper.make_node("Mul", ["lr", "GB"], ["dB"]), helper.make_node("Sub", ["B", "dB"], ["B_new"])],
        "sgd", [], [vi("W_new", T.FLOAT, [2, 2]), vi("B_new", T.FLOAT, [2])],
        [numpy_helper.from_array(np.array(0.125, np.float32), "lr"),
         numpy_helper.from_array(np.array([0], np.int64), "axes")])
    init = helper.make_graph([helper.make_node("Identity", ["W_start"], ["W0"])], "init", [],
                             [vi("W0", T.FLOAT, [2, 2])],
                             [numpy_helper.from_array(arange([2, 2], np.float32) * 2, "W_start")])
    m.training_info.append(helper.make_training_info(alg, [("W", "W_new"), ("B", "B_new")], init, [("W", "W0")]))
    out["training_info_sgd"] = m.SerializeToString()
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_seeds.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(sys.argv[1], name + ".onnx"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
