#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Python-side oracles for tests/cli/cli_test.sh (uses python3-onnx + numpy).

    helpers.py make-model DIR       DIR/cnn.onnx, DIR/data/input_0.pb and the
                                    numpy-computed DIR/data/output_0.pb
    helpers.py compare GOT WANT [NAME]
                                    TensorProtos match: dtype, shape, values
                                    (rtol 1e-3, atol 1e-5), and name if given
    helpers.py check-converted FILE passes onnx.checker and records the
                                    inferred intermediate shapes as value_info
    helpers.py make-grad-models DIR models for the gradient commands, their
                                    inputs, seeds and numpy-computed gradients
                                    (see make_grad_models)
    helpers.py check-json FILE KIND ARGS...
                                    FILE is one strict JSON document of KIND
                                    (see check_json)
    helpers.py rename SRC DST NAME  SRC's TensorProto named NAME, as DST
    helpers.py make-bad-names FILE  a model whose input name is not UTF-8
    helpers.py check-gradcheck-json FILE N PASS [MODEL]
                                    FILE is one JSON object reporting N tensors
                                    and pass == PASS (true/false); with MODEL,
                                    named after its float inputs/initializers
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The intermediates of the CNN below and their inferred ranks.
INTERMEDIATES = {"conv": 4, "relu1": 4, "pool": 4, "flat": 2, "gemm": 2}


def make_cnn_graph(rng, batch):
    """Conv -> Relu -> MaxPool -> Flatten -> Gemm -> Relu on x[batch,1,5,5]."""
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
    return helper.make_graph(
        nodes, "cli_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")])


def make_model(out_dir):
    import os
    rng = np.random.default_rng(7)
    graph = make_cnn_graph(rng, "N")
    w, b, w2, b2 = (numpy_helper.to_array(t) for t in graph.initializer)
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

    # An initializer fed from a file: W2 replaced, and the output it gives.
    w2_alt = rng.standard_normal((8, 3)).astype(np.float32)
    y_alt = np.maximum(pool.reshape(2, 8) @ w2_alt + b2, 0).astype(np.float32)
    alt = os.path.join(out_dir, "alt")   # not in data/: --inputs would bind it
    os.makedirs(alt, exist_ok=True)
    save_pb(os.path.join(alt, "W2.pb"), w2_alt, "W2")
    save_pb(os.path.join(alt, "y.pb"), y_alt, "y")


def save_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def make_grad_models(out_dir):
    """Writes into out_dir:
    mlp.onnx     x[2,3] -> Gemm(W1,B1) -> Relu -> Gemm(W2,B2) -> z[2,1]
                 -> ReduceSum -> loss[1,1]; outputs loss, z; a second input
                 ids (int64, unused) that has no gradient
    chain.onnx   x[2,3] -> Gemm(W1,B1) -> Relu -> Gemm(W3,B3) -> y[2,2]
    nodep.onnx   y = Where(Greater(x, 0), a, b): y[1] does not depend on x
                 through a differentiable path
    odd_names.onnx  a Gemm whose input and weight names need JSON escaping
    cnn2.onnx    make_model's CNN with the batch fixed at 2
    data/input_0.pb (x), data/input_1.pb (ids), seeds/z.pb (u, the upstream
    gradient of z), unnamed/z.pb (u without a name), ones/z.pb (ones), empty/,
    and the gradients
    numpy gives: ref/loss_<t>.pb (loss seeded with 1) and ref/seed_<t>.pb
    (z seeded with u) for t in x, W1, B1, W2, B2."""
    import os
    rng = np.random.default_rng(11)
    f32 = np.float32
    x = rng.standard_normal((2, 3)).astype(f32)
    w1 = rng.standard_normal((3, 4)).astype(f32)
    b1 = rng.standard_normal(4).astype(f32)
    w2 = rng.standard_normal((4, 1)).astype(f32)
    b2 = rng.standard_normal(1).astype(f32)
    w3 = rng.standard_normal((4, 2)).astype(f32)
    b3 = rng.standard_normal(2).astype(f32)
    u = rng.standard_normal((2, 1)).astype(f32)
    ids = np.array([1, 2], dtype=np.int64)

    def info(name, dtype, shape):
        return helper.make_tensor_value_info(name, dtype, shape)

    def save(model, file):
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, os.path.join(out_dir, file))

    opset = [helper.make_opsetid("", 17)]
    mlp = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W2", "B2"], ["z"]),
         helper.make_node("ReduceSum", ["z"], ["loss"], keepdims=1)],
        "mlp", [info("x", TensorProto.FLOAT, [2, 3]), info("ids", TensorProto.INT64, [2])],
        [info("loss", TensorProto.FLOAT, [1, 1]), info("z", TensorProto.FLOAT, [2, 1])],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1"),
         numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")])
    save(helper.make_model(mlp, opset_imports=opset), "mlp.onnx")

    chain = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"]),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W3", "B3"], ["y"])],
        "chain", [info("x", TensorProto.FLOAT, [2, 3])], [info("y", TensorProto.FLOAT, [2, 2])],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1"),
         numpy_helper.from_array(w3, "W3"), numpy_helper.from_array(b3, "B3")])
    save(helper.make_model(chain, opset_imports=opset), "chain.onnx")

    zero = numpy_helper.from_array(np.zeros(1, dtype=f32), "zero")
    nodep = helper.make_graph(
        [helper.make_node("Greater", ["x", "zero"], ["c"]),
         helper.make_node("Where", ["c", "a", "b"], ["y"])],
        "nodep", [info("x", TensorProto.FLOAT, [1]), info("a", TensorProto.FLOAT, [1]),
                  info("b", TensorProto.FLOAT, [1])],
        [info("y", TensorProto.FLOAT, [1])], [zero])
    save(helper.make_model(nodep, opset_imports=opset), "nodep.onnx")

    # Gradients by hand, in float64; "alt": W2 replaced by w2_alt (fed with -i).
    w2_alt = np.random.default_rng(12).standard_normal((4, 1)).astype(f32)  # own stream: the rest stays as it was
    os.makedirs(os.path.join(out_dir, "alt"), exist_ok=True)
    save_pb(os.path.join(out_dir, "alt", "W2.pb"), w2_alt, "W2")
    xd, w1d, b1d, b2d = (a.astype(np.float64) for a in (x, w1, b1, b2))
    h = xd @ w1d + b1d
    r = np.maximum(h, 0)
    for tag, dz, w2d in (("loss", np.ones((2, 1)), w2.astype(np.float64)),
                         ("seed", u.astype(np.float64), w2.astype(np.float64)),
                         ("alt", np.ones((2, 1)), w2_alt.astype(np.float64))):
        dh = (dz @ w2d.T) * (h > 0)
        grads = {"x": dh @ w1d.T, "W1": xd.T @ dh, "B1": dh.sum(0),
                 "W2": r.T @ dz, "B2": dz.sum(0)}
        for name, g in grads.items():
            os.makedirs(os.path.join(out_dir, "ref"), exist_ok=True)
            save_pb(os.path.join(out_dir, "ref", "%s_%s.pb" % (tag, name)), g.astype(f32), name)
    # Names JSON must escape: a quote, a backslash, a tab, non-ASCII.
    odd = 'x "q"\\\t\u00e9\u2028'
    named = helper.make_graph(
        [helper.make_node("Gemm", [odd, "W\\1"], ["z"], alpha=0.5)],
        "odd_names", [info(odd, TensorProto.FLOAT, [1, 3])], [info("z", TensorProto.FLOAT, [1, 1])],
        [numpy_helper.from_array(w1[:, :1].copy(), "W\\1")])
    save(helper.make_model(named, opset_imports=opset), "odd_names.onnx")

    # The CNN of make_model with a fixed batch of 2, for gradcheck's random inputs.
    cnn = make_cnn_graph(rng, 2)
    save(helper.make_model(cnn, opset_imports=[helper.make_opsetid("", 13)]), "cnn2.onnx")

    for sub in ("data", "seeds", "unnamed", "empty", "ones"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    save_pb(os.path.join(out_dir, "data", "input_0.pb"), x, "x")
    save_pb(os.path.join(out_dir, "data", "input_1.pb"), ids, "ids")
    save_pb(os.path.join(out_dir, "seeds", "z.pb"), u, "z")
    save_pb(os.path.join(out_dir, "unnamed", "z.pb"), u, "")
    save_pb(os.path.join(out_dir, "ones", "z.pb"), np.ones((2, 1), dtype=f32), "ones")


def check_gradcheck_json(path, n, passed, model=None):
    """The report is one JSON object with n tensors and pass == passed;
    given the model, the tensors are its float inputs, then its float
    initializers, by name."""
    import json
    with open(path) as f:
        report = json.load(f)
    if model is not None:
        g = onnx.load(model).graph
        want = [v.name for v in g.input if v.type.tensor_type.elem_type == TensorProto.FLOAT]
        want += [t.name for t in g.initializer if t.data_type == TensorProto.FLOAT]
        got = [t["name"] for t in report["tensors"]]
        if got != want:
            sys.exit("tensors %r, expected %r" % (got, want))
    want = passed == "true"
    if report["pass"] is not want:
        sys.exit("pass is %r, expected %r" % (report["pass"], want))
    if len(report["tensors"]) != int(n) or report["tensors_checked"] != int(n):
        sys.exit("%d tensors reported, expected %s" % (len(report["tensors"]), n))
    for t in report["tensors"]:
        for key in ("name", "shape", "numel", "checked", "max_abs_err", "max_rel_err",
                    "worst_index", "analytic", "numeric", "pass"):
            if key not in t:
                sys.exit("tensor entry without %r: %s" % (key, t))
        if t["checked"] and t["worst_index"] is not None:
            idx = np.ravel_multi_index(tuple(t["worst_index"]), tuple(t["shape"]))
            if idx != t["worst_flat_index"]:
                sys.exit("worst_index %s does not match flat %s" % (t["worst_index"], t["worst_flat_index"]))


def rename(src, dst, name):
    """Copies the TensorProto src to dst named name ("" for unnamed)."""
    t = load(src)
    t.name = name
    with open(dst, "wb") as f:
        f.write(t.SerializeToString())


# The raw bytes of a name no Python string can hold: stray bytes that are
# not UTF-8 (0xff; 0xc3 without its continuation byte) and control chars.
BAD_NAME = b"in\xff\xc3\x01\x1f\x7f\"\n"
BAD_NAME_JSON = "in\ufffd\ufffd\x01\x1f\x7f\"\n"


def make_bad_names(path):
    """An Identity model whose input name is BAD_NAME, written by patching
    the bytes of a placeholder name of the same length."""
    placeholder = "P" * len(BAD_NAME)
    g = helper.make_graph(
        [helper.make_node("Identity", [placeholder], ["y"])], "bad_names",
        [helper.make_tensor_value_info(placeholder, TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    data = m.SerializeToString().replace(placeholder.encode(), BAD_NAME)
    with open(path, "wb") as f:
        f.write(data)


def make_declared_clash(path):
    """Relu whose output the model declares [7,7] while inference gives [2]:
    onnxgrad warns, names both shapes, and uses the inferred one."""
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="relu0")], "declared_clash",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [7, 7])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def make_unsupported(path):
    """Relu -> Frobnicate -> Frobnicate -> Relu: two nodes of an op onnxgrad
    lacks, on the path from x to y."""
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["a"], name="r0"),
         helper.make_node("Frobnicate", ["a"], ["b"], name="frob0"),
         helper.make_node("Frobnicate", ["b"], ["c"], name="frob1"),
         helper.make_node("Relu", ["c"], ["y"], name="r1")], "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def check_json(path, kind, *args):
    """FILE is exactly one JSON document (one line) of the given kind:
    info MODEL (every name, dtype and shape as onnx reads the model, ops
    counted), info-bad-names, run N_OUTPUTS REPEAT, grad NAME,NAME...,
    gradcheck N."""
    import json
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")   # valid UTF-8, or this raises
    lines = text.splitlines()
    if len(lines) != 1 or not text.endswith("\n"):
        sys.exit("%d lines, expected one JSON document on one line" % len(lines))
    # strict: NaN/Infinity literals are not JSON
    doc = json.loads(text, parse_constant=lambda c: sys.exit("non-JSON constant %s" % c))
    if kind == "info":
        m = onnx.load(args[0])
        g = m.graph

        def shape(vi):
            t = vi.type.tensor_type
            if not t.HasField("shape"):
                return None
            return [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None)
                    for d in t.shape.dim]
        want_in = [[v.name, shape(v)] for v in g.input]
        got_in = [[v["name"], v["shape"]] for v in doc["inputs"]]
        if got_in != want_in:
            sys.exit("inputs %r, expected %r" % (got_in, want_in))
        want_out = [v.name for v in g.output]
        if [v["name"] for v in doc["outputs"]] != want_out:
            sys.exit("outputs %r, expected %r" % (doc["outputs"], want_out))
        want_init = [[t.name, list(t.dims)] for t in g.initializer]
        got_init = [[t["name"], t["shape"]] for t in doc["initializers"]]
        if got_init != want_init:
            sys.exit("initializers %r, expected %r" % (got_init, want_init))
        ops = {}
        for n in g.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        if doc["ops"] != ops or doc["nodes"] != len(g.node):
            sys.exit("ops %r (%r nodes), expected %r" % (doc["ops"], doc["nodes"], ops))
        want_ti = [{"algorithm_nodes": len(t.algorithm.node), "update_bindings": len(t.update_binding),
                    "initialization_nodes": len(t.initialization.node),
                    "initialization_bindings": len(t.initialization_binding)} for t in m.training_info]
        got_ti = [{k: t[k] for k in want_ti[0]} for t in doc["training_infos"]] if want_ti else doc["training_infos"]
        if got_ti != want_ti:
            sys.exit("training_infos %r, expected %r" % (doc["training_infos"], want_ti))
        want_opsets = [[o.domain or "ai.onnx", o.version] for o in m.opset_import]
        if [[o["domain"], o["version"]] for o in doc["opsets"]] != want_opsets:
            sys.exit("opsets %r, expected %r" % (doc["opsets"], want_opsets))
    elif kind == "check":
        # check MODEL LOADS DIFFERENTIABLE: the flags, and every op of the
        # model counted as onnx reads it, Frobnicate marked missing
        m = onnx.load(args[0])
        want = {}
        for n in m.graph.node:
            want[n.op_type] = want.get(n.op_type, 0) + 1
        got = {o["op_type"]: o["count"] for o in doc["ops"]}
        if got != want:
            sys.exit("ops %r, expected %r" % (got, want))
        if doc["loads"] != (args[1] == "true") or doc["differentiable"] != (args[2] == "true"):
            sys.exit("loads/differentiable %r/%r" % (doc["loads"], doc["differentiable"]))
        for o in doc["ops"]:
            if o["implemented"] == (o["op_type"] == "Frobnicate"):
                sys.exit("op %r marked implemented=%r" % (o["op_type"], o["implemented"]))
        if args[1] == "false" and not any("frob0" in b for b in doc["blocking"]):
            sys.exit("blocking %r lacks frob0" % doc["blocking"])
    elif kind == "info-bad-names":
        if doc["inputs"][0]["name"] != BAD_NAME_JSON:
            sys.exit("name %r, expected %r" % (doc["inputs"][0]["name"], BAD_NAME_JSON))
    elif kind == "run":
        n_out, repeat = int(args[0]), int(args[1])
        if len(doc["outputs"]) != n_out or doc["repeat"] != repeat:
            sys.exit("%r" % doc)
        s = doc["seconds"]
        if not (0 <= s["min"] <= s["median"] <= s["max"]):
            sys.exit("seconds %r" % s)
        for k, o in enumerate(doc["outputs"]):
            if o["file"] != "output_%d.pb" % k or not isinstance(o["shape"], list) or not o["dtype"]:
                sys.exit("output %r" % o)
    elif kind == "grad":
        names = args[0].split(",")
        got = [t["name"] for t in doc["gradients"]]
        if got != names:
            sys.exit("gradients %r, expected %r" % (got, names))
        for k, t in enumerate(doc["gradients"]):
            if t["file"] != "grad_%d.pb" % k:
                sys.exit("gradient %r" % t)
    elif kind == "gradcheck":
        if len(doc["tensors"]) != int(args[0]) or "rng_seed" not in doc:
            sys.exit("%r" % doc)
    else:
        sys.exit("unknown kind %r" % kind)


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
    elif cmd == "make-grad-models":
        make_grad_models(*args)
    elif cmd == "check-gradcheck-json":
        check_gradcheck_json(*args)
    elif cmd == "check-json":
        check_json(*args)
    elif cmd == "rename":
        rename(*args)
    elif cmd == "make-bad-names":
        make_bad_names(*args)
    elif cmd == "make-unsupported":
        make_unsupported(*args)
    elif cmd == "make-declared-clash":
        make_declared_clash(*args)
    else:
        sys.exit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
