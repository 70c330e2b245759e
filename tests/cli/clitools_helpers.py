# SPDX-License-Identifier: MIT
"""clitools_helpers.py — fixtures and checks for clitools_test.sh (onnx,
numpy: Debian's /usr/bin/python3)."""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_pb(path, arr, name=""):
    t = numpy_helper.from_array(arr, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def load_pb(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t), t.name


def make_models(d):
    """relu.onnx: x [N,3] -> y; mlp.onnx: x [N,3] @ W [3,2] -> loss (a
    scalar); ints.onnx: i int64 [2,5] -> j = i + i; names.onnx: output
    named 'a/b:0'."""
    os.makedirs(d, exist_ok=True)
    op = [helper.make_opsetid("", 17)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=op), os.path.join(d, "relu.onnx"))
    W = numpy_helper.from_array(np.array([[1, 2], [3, -4], [0.5, 1]], np.float32), "W")
    loss = helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["h"]),
                           helper.make_node("ReduceSumSquare", ["h"], ["loss"], keepdims=0)],
                          "mlp", [x], [loss], [W])
    onnx.save(helper.make_model(g, opset_imports=op), os.path.join(d, "mlp.onnx"))
    i = helper.make_tensor_value_info("i", TensorProto.INT64, [2, 5])
    j = helper.make_tensor_value_info("j", TensorProto.INT64, [2, 5])
    g = helper.make_graph([helper.make_node("Add", ["i", "i"], ["j"])], "ints", [i], [j])
    onnx.save(helper.make_model(g, opset_imports=op), os.path.join(d, "ints.onnx"))
    o = helper.make_tensor_value_info("a/b:0", TensorProto.FLOAT, ["N", 3])
    g = helper.make_graph([helper.make_node("Neg", ["x"], ["a/b:0"])], "names", [x], [o])
    onnx.save(helper.make_model(g, opset_imports=op), os.path.join(d, "names.onnx"))
    np.save(os.path.join(d, "x.npy"), np.array([[-1, 2, -3], [4, -5, 6]], np.float32))
    np.save(os.path.join(d, "x_f64.npy"), np.array([[-1, 2, -3]], np.float64))
    np.save(os.path.join(d, "x_fortran.npy"), np.asfortranarray(np.array([[-1, 2, -3], [4, -5, 6]], np.float32)))


def make_suite(node, d):
    """A test tree: a copy of a few official cases, one with a wrong
    expected value, one whose model onnxgrad cannot run (Acos), one of
    float16, and a grad case (mlp) with stored gradients from numpy."""
    os.makedirs(d, exist_ok=True)
    for case in ["test_relu", "test_add_bcast", "test_acos", "test_cast_FLOAT_to_FLOAT16"]:
        if os.path.isdir(os.path.join(node, case)):
            shutil.copytree(os.path.join(node, case), os.path.join(d, case))
    shutil.copytree(os.path.join(node, "test_relu"), os.path.join(d, "bad", "test_relu_wrong"))
    p = os.path.join(d, "bad", "test_relu_wrong", "test_data_set_0", "output_0.pb")
    y, name = load_pb(p)
    y = y.copy()
    y[1, 2, 3] += 0.5
    save_pb(p, y, name)
    # grad: mlp with x of [2,3]; loss = sum((x @ W)^2); dloss/dx = 2 (xW) W^T, dloss/dW = 2 x^T (xW)
    g = os.path.join(d, "grad", "mlp")
    s = os.path.join(g, "test_data_set_0")
    os.makedirs(s)
    shutil.copy(os.path.join(os.path.dirname(d), "models", "mlp.onnx"), os.path.join(g, "model.onnx"))
    x = np.array([[1, -2, 0.5], [0.25, 3, -1]], np.float32)
    W = np.array([[1, 2], [3, -4], [0.5, 1]], np.float32)
    h = x @ W
    save_pb(os.path.join(s, "input_0.pb"), x, "x")
    save_pb(os.path.join(s, "output_0.pb"), np.array(np.sum(h * h), np.float32), "loss")
    save_pb(os.path.join(s, "grad_0.pb"), (2 * h @ W.T).astype(np.float32), "x")
    save_pb(os.path.join(s, "grad_1.pb"), (2 * x.T @ h).astype(np.float32), "W")
    s1 = os.path.join(g, "test_data_set_1")   # no stored gradients
    os.makedirs(s1)
    save_pb(os.path.join(s1, "input_0.pb"), x, "x")
    save_pb(os.path.join(s1, "output_0.pb"), np.array(np.sum(h * h), np.float32), "loss")
    s2 = os.path.join(g, "test_data_set_2")   # a wrong gradient
    shutil.copytree(s, s2)
    gw = (2 * x.T @ h).astype(np.float32)
    gw[2, 1] += 1
    save_pb(os.path.join(s2, "grad_1.pb"), gw, "W")


def check_test_json(path, cases_txt, node):
    """Every case cases.txt expects to pass is a PASS in `onnxgrad test
    NODE --json`; its xfail cases are not; the totals add up."""
    with open(path) as f:
        r = json.load(f)
    res = {os.path.basename(os.path.dirname(c["case"])): c["result"] for c in r["cases"]}
    want_pass, xfail = [], []
    with open(cases_txt) as f:
        for line in f:
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "xfail":
                xfail.append(w[1])
            elif w[0] == "refused":
                continue
            else:
                want_pass.append(w[0])
    bad = [c for c in want_pass if os.path.isdir(os.path.join(node, c)) and res.get(c) != "pass"]
    assert not bad, "expected to pass: %s" % [(c, res.get(c)) for c in bad[:10]]
    assert len(want_pass) > 100, len(want_pass)
    counts = {k: sum(1 for c in r["cases"] if c["result"] == k) for k in ("pass", "fail", "refused")}
    assert counts == {"pass": r["passed"], "fail": r["failed"], "refused": r["refused"]}, (counts, r)
    fails = [os.path.basename(os.path.dirname(c["case"])) for c in r["cases"] if c["result"] == "fail"]
    assert all(f in xfail for f in fails), "unexpected failures %s" % fails


def check_suite_json(path):
    with open(path) as f:
        r = json.load(f)
    by = {c["case"].split("/suite/")[1]: c for c in r["cases"]}
    assert by["test_relu/test_data_set_0"]["result"] == "pass", by
    w = by["bad/test_relu_wrong/test_data_set_0"]
    assert w["result"] == "fail" and w["worst"]["tensor"] == "output 'y'" and w["worst"]["index"] == "[1,2,3]", w
    assert abs(w["worst"]["got"] + 0.5 - w["worst"]["expected"]) < 1e-6 or abs(w["worst"]["expected"] - w["worst"]["got"] - 0.5) < 1e-6, w
    assert by["test_acos/test_data_set_0"]["result"] == "refused" and "Acos" in by["test_acos/test_data_set_0"]["message"]
    f16 = by.get("test_cast_FLOAT_to_FLOAT16/test_data_set_0")
    assert f16 is None or f16["result"] == "refused", f16
    assert r["failed"] == 1 and r["passed"] >= 2, r


def check_npy(path, want_json, dtype=None):
    a = np.load(path)
    want = np.array(json.loads(want_json))
    assert a.shape == want.shape and np.allclose(a, want), (a, want)
    if dtype:
        assert a.dtype == np.dtype(dtype), a.dtype


def check_pb(path, want_json):
    a, _ = load_pb(path)
    want = np.array(json.loads(want_json))
    assert a.shape == want.shape and np.allclose(a, want), (a, want)


def check_random(path, lo, hi, integer):
    a, _ = load_pb(path)
    lo, hi = float(lo), float(hi)
    if integer == "1":
        assert a.dtype.kind == "i" and a.min() >= lo and a.max() <= hi and len(np.unique(a)) > 1, a
    else:
        assert a.min() >= lo and a.max() < hi and len(np.unique(a)) > 1, a


def check_error_json(path, status, fragment):
    with open(path) as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    assert len(lines) == 1, lines
    e = json.loads(lines[0])["error"]
    assert e["status"] == status and fragment in e["message"], e


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"make-models": make_models, "make-suite": make_suite, "check-test-json": check_test_json,
     "check-suite-json": check_suite_json, "check-npy": check_npy, "check-pb": check_pb,
     "check-random": check_random, "check-error-json": check_error_json}[cmd](*args)


if __name__ == "__main__":
    main()
