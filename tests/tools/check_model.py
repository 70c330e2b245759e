#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_model.py — the ONNX reference implementation's view of a model file.

Used by tests/unit/test_io.c so that files onnxgrad writes are judged by
onnx itself, and files onnx writes are read by onnxgrad:

    check_model.py check FILE   onnx.checker.check_model(full_check=True);
                                exit 0 if the model passes
    check_model.py make FILE    write a small reference model whose weights
                                use typed fields (float_data, int64 dims)
                                rather than raw_data, with metadata and
                                doc strings, for onnxgrad to load

Exit status: 0 ok, 1 the model failed the check, 2 usage error or onnx
missing (python3-onnx is required: the caller treats 2 as a failure too).
"""
import struct
import sys


def check(path):
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    g = model.graph
    print("%s: ok (ir_version %d, opsets %s, %d nodes, %d initializers, %d value_info)"
          % (path, model.ir_version,
             ",".join("%s:%d" % (o.domain or "ai.onnx", o.version) for o in model.opset_import),
             len(g.node), len(g.initializer), len(g.value_info)))


def make(path):
    import onnx
    from onnx import TensorProto, helper
    w = helper.make_tensor("W", TensorProto.FLOAT, [3, 4],
                           [0.5 * k - 2.0 for k in range(12)], raw=False)
    b = helper.make_tensor("B", TensorProto.FLOAT, [3], struct.pack("<3f", 1.0, -1.0, 0.25),
                           raw=True)
    gemm = helper.make_node("Gemm", ["x", "W", "B"], ["h"], name="fc", transB=1, alpha=2.0,
                            doc_string="fully connected")
    relu = helper.make_node("Relu", ["h"], ["y"], name="act")
    graph = helper.make_graph(
        [gemm, relu], "reference",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        initializer=[w, b], doc_string="made by check_model.py")
    model = helper.make_model(graph, producer_name="onnx-helper", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"author": "tests"})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("check", "make"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import onnx  # noqa: F401
    except ImportError as e:
        print("check_model.py: python3-onnx is not installed: %s" % e, file=sys.stderr)
        return 2
    try:
        (check if argv[1] == "check" else make)(argv[2])
    except Exception as e:  # the checker's own exception types vary by version
        print("%s: %s: %s" % (argv[2], type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
