#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""dot_check.py — oracles for tests/cli/dot_test.sh (python3-onnx).

    dot_check.py make DIR           DIR/fanin.onnx: x[N,4] -> MatMul W -> h, h read
                                    three times (Relu(h), Mul(h, h)) -> loss, so
                                    the gradient of h fans in; DIR/unknown.onnx
                                    uses an op onnxgrad does not have
    dot_check.py svg FILE.svg MODEL.onnx [GRADIENT.onnx]
                                    the picture of MODEL (or of its gradient graph
                                    GRADIENT, as gradient-graph saved it) has one
                                    op box per node, coloured forward / backward /
                                    fan-in as the ONNX file says, one cylinder per
                                    initializer, one ellipse per input and output
    dot_check.py cut FILE.svg N     at most N op boxes and the "left out" note
    dot_check.py dot FILE.dot MODEL.onnx
                                    DOT text: a digraph with one op node per node
    dot_check.py info FILE.json MODEL.onnx
                                    info --json extras: parameters {count, bytes}
                                    as onnx counts them, symbolic_dims as the
                                    inputs/outputs name them, training details
"""
import json
import re
import sys
import xml.etree.ElementTree as ET

FORWARD, BACKWARD, FANIN, ALGORITHM = "#cfe2f3", "#f9cb9c", "#b6d7a8", "#d9c6e9"
INPUT, INIT, OUTPUT = "#fff2cc", "#e6e6e6", "#ffe599"
SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    sys.exit("dot_check.py: " + msg)


def make(d):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Mul", ["h", "h"], ["sq"], name="square"),
        helper.make_node("Add", ["r", "sq"], ["s"], name="add"),
        helper.make_node("ReduceSum", ["s"], ["loss"], name="sum", keepdims=0),
    ]
    g = helper.make_graph(nodes, "fanin", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("loss", TensorProto.FLOAT, [])],
                          [numpy_helper.from_array(w, "W")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), d + "/fanin.onnx")
    # an op onnxgrad does not have: drawn as stored, with a note
    n = [helper.make_node("Frobnicate", ["x"], ["y"], name="f"), helper.make_node("Relu", ["y"], ["z"])]
    g = helper.make_graph(n, "unknown", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), d + "/unknown.onnx")


def svg_nodes(path):
    """{title: (fill, shape-element tag, number of ellipses)} of every node but the legend's."""
    out = {}
    for g in ET.parse(path).getroot().iter(SVG + "g"):
        if g.get("class") != "node":
            continue
        title = g.find(SVG + "title").text
        if title.startswith("legend_"):
            continue
        shapes = [e for e in g if e.tag in (SVG + "polygon", SVG + "path", SVG + "ellipse")]
        fill = shapes[0].get("fill") if shapes else None
        out[title] = (fill, sum(e.tag == SVG + "ellipse" for e in shapes))
    return out


def check_svg(path, model_path, grad_path=None):
    import onnx
    m = onnx.load(model_path)
    shown = onnx.load(grad_path) if grad_path else m
    nodes = svg_nodes(path)
    boxes = {t: f for t, (f, _) in nodes.items() if re.fullmatch(r"n\d+", t)}
    if len(boxes) != len(shown.graph.node):
        fail("%d op boxes, the graph has %d nodes" % (len(boxes), len(shown.graph.node)))
    n_fwd = len(m.graph.node)
    want = {FORWARD: 0, BACKWARD: 0, FANIN: 0}
    for k, n in enumerate(shown.graph.node):
        if k < n_fwd:
            want[FORWARD] += 1
        elif "/fanin_" in n.name.rsplit("/", 1)[-1] or n.name.rsplit("/", 1)[-1].startswith("fanin_"):
            want[FANIN] += 1
        else:
            want[BACKWARD] += 1
        got = boxes.get("n%d" % k)
        if got is None:
            fail("node %d (%s) not drawn" % (k, n.name))
    got = {c: sum(f == c for f in boxes.values()) for c in want}
    if got != want:
        fail("colours %r, expected %r (forward, backward, fan-in)" % (got, want))
    if grad_path and (want[FANIN] == 0 or want[BACKWARD] == 0):
        fail("the gradient graph has no fan-in sum or no backward node: the test model is wrong")
    inits = [t for t, (f, _) in nodes.items() if re.fullmatch(r"w\d+", t)]
    if len(inits) != len(shown.graph.initializer) or any(nodes[t][0] != INIT for t in inits):
        fail("%d initializer cylinders, expected %d" % (len(inits), len(shown.graph.initializer)))
    ins = [t for t in nodes if re.fullmatch(r"i\d+", t)]
    if len(ins) != len(shown.graph.input) or any(nodes[t][0] != INPUT for t in ins):
        fail("%d input nodes, expected %d" % (len(ins), len(shown.graph.input)))
    outs = [t for t in nodes if re.fullmatch(r"o\d+", t)]
    if len(outs) != len(shown.graph.output) or any(nodes[t] != (OUTPUT, 2) for t in outs):
        fail("%d output nodes (double ellipses), expected %d" % (len(outs), len(shown.graph.output)))
    print("ok: %d nodes, colours %r" % (len(nodes), got))


def check_cut(path, n):
    nodes = svg_nodes(path)
    boxes = [t for t in nodes if re.fullmatch(r"n\d+", t)]
    if len(boxes) != n:
        fail("%d op boxes drawn, expected %d" % (len(boxes), n))
    text = open(path).read()
    if "left out" not in text:
        fail("no 'left out' note in the picture")


def check_dot(path, model_path):
    import onnx
    text = open(path).read()
    if not text.startswith("digraph"):
        fail("not DOT text")
    ops = set(re.findall(r'^\s*"(n\d+)" \[fillcolor=', text, re.M))
    if len(ops) != len(onnx.load(model_path).graph.node):
        fail("%d op nodes in the DOT text" % len(ops))


def check_info(path, model_path):
    import onnx
    import numpy as np
    from onnx import numpy_helper
    m = onnx.load(model_path)
    doc = json.loads(open(path).read())
    count = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    nbytes = sum(numpy_helper.to_array(t).nbytes for t in m.graph.initializer)
    if doc["parameters"] != {"count": count, "bytes": nbytes}:
        fail("parameters %r, expected count %d bytes %d" % (doc["parameters"], count, nbytes))
    uses = {}
    for role, vals in (("input", m.graph.input), ("output", m.graph.output)):
        for v in vals:
            for axis, d in enumerate(v.type.tensor_type.shape.dim):
                if d.dim_param:
                    uses.setdefault(d.dim_param, []).append({"value": v.name, "role": role, "axis": axis})
    got = {s["name"]: s["uses"] for s in doc["symbolic_dims"]}
    if got != uses:
        fail("symbolic_dims %r, expected %r" % (got, uses))
    for k, ti in enumerate(m.training_info):
        t = doc["training_infos"][k]
        ops = {}
        for n in ti.algorithm.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        iops = {}
        for n in ti.initialization.node:
            iops[n.op_type] = iops.get(n.op_type, 0) + 1
        if t["algorithm_ops"] != ops or t["initialization_ops"] != iops:
            fail("training_infos[%d] ops %r / %r, expected %r / %r" % (k, t["algorithm_ops"],
                                                                    t["initialization_ops"], ops, iops))
        ub = [{"key": b.key, "value": b.value} for b in ti.update_binding]
        ib = [{"key": b.key, "value": b.value} for b in ti.initialization_binding]
        if t["update"] != ub or t["initialization"] != ib:
            fail("training_infos[%d] bindings %r / %r" % (k, t["update"], t["initialization"]))


def main():
    a = sys.argv[1:]
    if a[:1] == ["make"]:
        make(a[1])
    elif a[:1] == ["svg"]:
        check_svg(*a[1:])
    elif a[:1] == ["cut"]:
        check_cut(a[1], int(a[2]))
    elif a[:1] == ["dot"]:
        check_dot(a[1], a[2])
    elif a[:1] == ["info"]:
        check_info(a[1], a[2])
    else:
        sys.exit(__doc__)


main()
