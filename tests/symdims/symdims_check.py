# SPDX-License-Identifier: MIT
"""Symbolic dims through onnxgrad's inference, against onnx.shape_inference.

For each model below (built with onnx.helper, inputs with dim_params):
`onnxgrad convert` loads, infers and saves it; the saved model must pass
onnx.checker with full_check, carry the expected dims on the named values
(written here from the ONNX op semantics), and agree with
onnx.shape_inference on the same model: every dim onnx names, onnxgrad
names alike; every static dim onnx finds, onnxgrad finds; and onnxgrad
never names or fixes a dim that onnx knows otherwise.

usage: symdims_check.py ONNXGRAD_CLI WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

F = T.FLOAT


def init(name, arr):
    return nh.from_array(np.asarray(arr), name)


def rnd(name, *shape):
    return init(name, np.random.RandomState(0).randn(*shape).astype(np.float32))


def i64(name, vals):
    return init(name, np.array(vals, dtype=np.int64))


def model(nodes, inputs, outputs, inits, opset=17):
    g = h.make_graph(nodes, "g", inputs, [h.make_tensor_value_info(o, F, None) if isinstance(o, str) else o
                                          for o in outputs], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def vi(name, shape, t=F):
    return h.make_tensor_value_info(name, t, shape)


CASES = []


def case(name, expect):
    def deco(fn):
        CASES.append((name, fn, expect))
        return fn
    return deco


# '?' = unknown (neither dim_value nor dim_param)
@case("cnn", {"c": ["N", 8, 8, 8], "p": ["N", 8, 4, 4], "f": ["N", 128], "y": ["N", 10],
              "ap": ["N", 8, 4, 4], "gp": ["N", 8, 1, 1], "r0": ["N", 128], "m": ["N", 5],
              "bn": ["N", 8, 8, 8], "rl": ["N", 8, 8, 8]})
def _cnn():
    return model([
        h.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
        h.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["bn"]),
        h.make_node("Relu", ["bn"], ["rl"]),
        h.make_node("MaxPool", ["rl"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("AveragePool", ["rl"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("GlobalAveragePool", ["ap"], ["gp"]),
        h.make_node("Flatten", ["p"], ["f"]),
        h.make_node("Gemm", ["f", "G"], ["y"], transB=1),
        # Reshape with 0 (copy N) and an explicit size
        h.make_node("Reshape", ["p", "sh0"], ["r0"]),
        h.make_node("MatMul", ["r0", "Gt"], ["m"]),
    ], [vi("x", ["N", 3, 8, 8])], ["y", "m", "gp"],
        [rnd("W", 8, 3, 3, 3), rnd("G", 10, 128), rnd("Gt", 128, 5), i64("sh0", [0, 128]),
         rnd("s", 8), rnd("b", 8), rnd("mu", 8), init("var", np.ones(8, np.float32))])


@case("reshape_minus1", {"r": ["N", 128], "f2": ["?", 8]})
def _reshape_m1():
    # [0, -1]: N copied, the rest unknown while N is; [-1, 8] is N*16 rows
    return model([
        h.make_node("Reshape", ["x", "sh"], ["r"]),
        h.make_node("Reshape", ["x", "sh2"], ["f2"]),
    ], [vi("x", ["N", 4, 4, 8])], ["r", "f2"], [i64("sh", [0, -1]), i64("sh2", [-1, 8])])


@case("two_symbols", {"mm": ["B", "S", "S"], "t": ["B", 16, "S"], "cat": ["B", "S", 32],
                      "cat0": ["?", "S", 16], "sq": ["B", "S"], "us": ["B", 1, "S", 16],
                      "g": ["B", "S", 16], "gs": ["B", 16], "sl": ["B", "?", 16], "slb": ["B", "S", 4],
                      "e": ["B", "S", 16], "sm": ["B", "S", "S"]})
def _two():
    return model([
        h.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
        h.make_node("MatMul", ["x", "t"], ["mm"]),
        h.make_node("Softmax", ["mm"], ["sm"], axis=-1),
        h.make_node("Concat", ["x", "x"], ["cat"], axis=2),
        h.make_node("Concat", ["x", "x"], ["cat0"], axis=0),      # B + B: unknown
        h.make_node("ReduceSum", ["x", "ax2"], ["rs"], keepdims=1),
        h.make_node("Squeeze", ["rs", "ax2"], ["sq"]),
        h.make_node("Unsqueeze", ["x", "ax1"], ["us"]),
        h.make_node("Gather", ["E", "ids"], ["g"]),               # ids [B,S] into a [V,16] table
        h.make_node("Gather", ["x", "one"], ["gs"], axis=1),      # scalar index on the S axis
        h.make_node("Slice", ["x", "st", "en", "ax1"], ["sl"]),    # 1:3 of S: min(S,3)-1, unknown
        h.make_node("Slice", ["x", "st0", "en4", "ax2"], ["slb"]), # 0:4 of a static axis
        h.make_node("Exp", ["x"], ["e"]),
    ], [vi("x", ["B", "S", 16]), vi("ids", ["B", "S"], T.INT64)],
        ["mm", "sm", "cat", "cat0", "sq", "us", "g", "gs", "sl", "slb", "e"],
        [i64("ax2", [2]), i64("ax1", [1]), rnd("E", 50, 16), init("one", np.array(1, np.int64)),
         i64("st", [1]), i64("en", [3]), i64("st0", [0]), i64("en4", [4])])


@case("shape_subgraph", {"r": ["N", "?"], "y": ["N", 10]})
def _shape_sub():
    # the transformer-export idiom: Reshape(x, Concat(Shape(x)[0:1], [-1]))
    return model([
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
        h.make_node("Reshape", ["x", "shp"], ["r"]),
        h.make_node("MatMul", ["r", "Wm"], ["y"]),
    ], [vi("x", ["N", 2, 3, 4])], ["y"],
        [init("zero", np.array(0, np.int64)), i64("ax0", [0]), i64("m1", [-1]), rnd("Wm", 24, 10)])


@case("broadcast", {"a": ["N", 5], "o": ["N", "M"], "w": ["N", 5]})
def _bcast():
    return model([
        h.make_node("Add", ["x", "bias"], ["a"]),
        h.make_node("Mul", ["col", "row"], ["o"]),     # [N,1] * [1,M]
        h.make_node("Where", ["c", "x", "a"], ["w"]),
    ], [vi("x", ["N", 5]), vi("col", ["N", 1]), vi("row", [1, "M"]), vi("c", ["N", 5], T.BOOL)],
        ["a", "o", "w"], [rnd("bias", 5)])


def dims_of(v):
    if not v.type.tensor_type.HasField("shape"):
        return None
    out = []
    for d in v.type.tensor_type.shape.dim:
        if d.HasField("dim_param"):
            out.append(d.dim_param)
        elif d.HasField("dim_value"):
            out.append(d.dim_value)
        else:
            out.append("?")
    return out


def all_dims(m):
    g = m.graph
    return {v.name: dims_of(v) for v in list(g.value_info) + list(g.output)}


def main():
    cli, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    fails = 0
    for name, fn, expect in CASES:
        m = fn()
        src = os.path.join(work, name + ".onnx")
        dst = os.path.join(work, name + "_og.onnx")
        onnx.save(m, src)
        r = subprocess.run([cli, "convert", src, "-o", dst], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {name}: onnxgrad convert: {r.stderr.strip()}")
            fails += 1
            continue
        saved = onnx.load(dst)
        try:
            onnx.checker.check_model(saved, full_check=True)
        except Exception as e:   # noqa: BLE001 - report any checker failure
            print(f"FAIL {name}: saved model fails onnx.checker full_check: {e}")
            fails += 1
        ours = all_dims(saved)
        theirs = all_dims(onnx.shape_inference.infer_shapes(m))
        for v, want in expect.items():
            if ours.get(v) != want:
                print(f"FAIL {name}: '{v}' has dims {ours.get(v)}, expected {want}")
                fails += 1
        for v, ref in theirs.items():
            got = ours.get(v)
            if ref is None:
                continue
            if got is None or len(got) != len(ref):
                print(f"FAIL {name}: '{v}': onnxgrad {got}, onnx.shape_inference {ref}")
                fails += 1
                continue
            for k, (a, b) in enumerate(zip(got, ref)):
                unnamed = isinstance(b, str) and (b == "?" or b.startswith("unk__"))
                if unnamed and a == "?":
                    continue
                if a != b and not (unnamed and isinstance(a, str)):
                    # onnxgrad may name a dim onnx leaves unknown (shape subgraphs), never differ
                    print(f"FAIL {name}: '{v}' dim {k}: onnxgrad {a!r}, onnx.shape_inference {b!r}")
                    fails += 1
        print(f"{'ok' if not fails else '..'}   {name}: " +
              ", ".join(f"{v}={ours.get(v)}" for v in expect))
    if fails:
        print(f"{fails} failure(s)")
        return 1
    print(f"all {len(CASES)} models agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
