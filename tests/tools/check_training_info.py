#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_training_info.py — onnx's view of models with training infos
(ModelProto.training_info), for tests/unit/test_training_info.c.

    check_training_info.py check FILE   onnx.checker.check_model(FILE, full_check=True),
                                        and, because onnx 1.12's checker does not
                                        look at training_info at all, the same check
                                        on what ONNX says an algorithm step runs: the
                                        main graph and the algorithm concatenated
                                        (inputs, initializers, nodes, outputs,
                                        value_info), plus each initialization graph
                                        on its own; bindings checked against the
                                        rules of onnx.proto
    check_training_info.py make FILE    write a model with onnx.helper.make_training_info
                                        (typed float_data tensors, doc strings,
                                        value_info, an initialization graph)
    check_training_info.py same A B     the two models' main graphs and training infos
                                        are equal field by field (tensors by value,
                                        so raw_data and float_data compare equal)

Exit status: 0 ok, 1 a check failed, 2 usage error or onnx missing.
"""
import sys


def fail(msg):
    print("check_training_info.py: " + msg, file=sys.stderr)
    sys.exit(1)


def combined(model, graph, name, keep_main):
    import onnx
    from onnx import helper
    g = model.graph
    if keep_main:
        parts = [g, graph]
    else:
        parts = [graph]
    out = helper.make_graph(
        [n for p in parts for n in p.node], name,
        [v for p in parts for v in p.input],
        [v for p in parts for v in p.output],
        [t for p in parts for t in p.initializer],
        value_info=[v for p in parts for v in p.value_info])
    if not keep_main:
        # an initialization graph may read the main graph's initializers
        have = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
        for n in graph.node:
            for i in n.input:
                if i and i not in have:
                    out.initializer.extend([t for t in g.initializer if t.name == i])
                    have.add(i)
    m = helper.make_model(out, opset_imports=list(model.opset_import))
    m.ir_version = model.ir_version
    return m


def check(path):
    import onnx
    onnx.checker.check_model(path, full_check=True)
    model = onnx.load(path)
    g = model.graph
    main_inits = {t.name for t in g.initializer}
    main_outs = {v.name for v in g.output}
    update_keys = set()
    for k, ti in enumerate(model.training_info):
        alg = ti.algorithm
        step = combined(model, alg, "step_%d" % k, True)
        try:
            onnx.checker.check_model(step, full_check=True)
        except Exception as e:
            fail("%s: training_info[%d]: main graph + algorithm fails the checker: %s" % (path, k, e))
        alg_inits = {t.name for t in alg.initializer}
        for b in ti.update_binding:
            if b.key not in main_inits | alg_inits:
                fail("training_info[%d]: update key %r is no initializer" % (k, b.key))
            if b.value not in {v.name for v in alg.output} | main_outs:
                fail("training_info[%d]: update value %r is no output" % (k, b.value))
            if b.key in update_keys:
                fail("update key %r bound twice" % b.key)
            update_keys.add(b.key)
        if ti.HasField("initialization"):
            init = combined(model, ti.initialization, "init_%d" % k, False)
            try:
                onnx.checker.check_model(init, full_check=True)
            except Exception as e:
                fail("%s: training_info[%d]: initialization fails the checker: %s" % (path, k, e))
            if len(ti.initialization.input):
                fail("training_info[%d]: initialization has inputs" % k)
        init_outs = {v.name for v in ti.initialization.output}
        for b in ti.initialization_binding:
            if b.key not in main_inits | alg_inits or b.value not in init_outs:
                fail("training_info[%d]: bad initialization binding %r <- %r" % (k, b.key, b.value))
    print("%s: ok (%d training infos)" % (path, len(model.training_info)))


def make(path):
    import numpy as np
    import onnx
    from onnx import TensorProto as T, helper
    W = helper.make_tensor("W", T.FLOAT, [2, 2], [1.0, -2.0, 0.5, 3.0])
    B = helper.make_tensor("B", T.FLOAT, [2], [0.25, -0.5])
    main = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"], name="mm"),
         helper.make_node("Add", ["XW", "B"], ["Y"], name="add", doc_string="bias")],
        "main", [helper.make_tensor_value_info("X", T.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("Y", T.FLOAT, ["N", 2])], [W, B])
    lr = helper.make_tensor("lr", T.FLOAT, [], [0.125])
    alg = helper.make_graph(
        [helper.make_node("Mul", ["lr", "G"], ["dW"], name="scale_w"),
         helper.make_node("Sub", ["W", "dW"], ["W_new"], name="step_w"),
         helper.make_node("Mul", ["lr", "GB"], ["dB"], name="scale_b"),
         helper.make_node("Sub", ["B", "dB"], ["B_new"], name="step_b")],
        "sgd", [helper.make_tensor_value_info("G", T.FLOAT, [2, 2]),
                helper.make_tensor_value_info("GB", T.FLOAT, [2])],
        [helper.make_tensor_value_info("W_new", T.FLOAT, [2, 2]),
         helper.make_tensor_value_info("B_new", T.FLOAT, [2])], [lr],
        doc_string="plain SGD",
        value_info=[helper.make_tensor_value_info("dW", T.FLOAT, [2, 2])])
    init = helper.make_graph(
        [helper.make_node("Constant", [], ["W0"], name="c",
                          value=helper.make_tensor("v", T.FLOAT, [2, 2], [0.0, 1.0, 2.0, 3.0]))],
        "init", [], [helper.make_tensor_value_info("W0", T.FLOAT, [2, 2])])
    ti = helper.make_training_info(alg, [("W", "W_new"), ("B", "B_new")], init, [("W", "W0")])
    m = helper.make_model(main, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx-helper")
    m.training_info.append(ti)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)


def same_values(a, b, what):
    from onnx import helper
    if [v.name for v in a] != [v.name for v in b]:
        fail("%s names %r vs %r" % (what, [v.name for v in a], [v.name for v in b]))
    for x, y in zip(a, b):
        if x.type != y.type or x.doc_string != y.doc_string:
            fail("%s %r: %s vs %s" % (what, x.name, x, y))


def same_tensors(a, b, what):
    import numpy as np
    from onnx import numpy_helper
    if [t.name for t in a] != [t.name for t in b]:
        fail("%s names differ" % what)
    for x, y in zip(a, b):
        p, q = numpy_helper.to_array(x), numpy_helper.to_array(y)
        if p.dtype != q.dtype or p.shape != q.shape or not np.array_equal(p, q):
            fail("%s %r differs: %r vs %r" % (what, x.name, p, q))


def same_graph(a, b, what):
    from onnx import helper
    if a.name != b.name or a.doc_string != b.doc_string:
        fail("%s name/doc %r/%r vs %r/%r" % (what, a.name, a.doc_string, b.name, b.doc_string))
    if len(a.node) != len(b.node):
        fail("%s: %d vs %d nodes" % (what, len(a.node), len(b.node)))
    for x, y in zip(a.node, b.node):
        fields = lambda n: (n.op_type, n.name, n.domain, list(n.input), list(n.output), n.doc_string,
                            [att.name for att in n.attribute])
        if fields(x) != fields(y):
            fail("%s node %r: %r vs %r" % (what, x.name, fields(x), fields(y)))
        for p, q in zip(x.attribute, y.attribute):
            u, v = helper.get_attribute_value(p), helper.get_attribute_value(q)
            if hasattr(u, "dims"):
                same_tensors([u], [v], "%s node %r attribute %r" % (what, x.name, p.name))
            elif u != v:
                fail("%s node %r attribute %r: %r vs %r" % (what, x.name, p.name, u, v))
    same_tensors(a.initializer, b.initializer, what + " initializer")
    same_values(a.input, b.input, what + " input")
    same_values(a.output, b.output, what + " output")


def same(pa, pb):
    import onnx
    a, b = onnx.load(pa), onnx.load(pb)
    same_graph(a.graph, b.graph, "graph")
    if [(o.domain, o.version) for o in a.opset_import] != [(o.domain, o.version) for o in b.opset_import]:
        fail("opset_import differs")
    if len(a.training_info) != len(b.training_info):
        fail("%d vs %d training infos" % (len(a.training_info), len(b.training_info)))
    for k, (x, y) in enumerate(zip(a.training_info, b.training_info)):
        w = "training_info[%d]" % k
        same_graph(x.algorithm, y.algorithm, w + ".algorithm")
        same_values(x.algorithm.value_info, y.algorithm.value_info, w + ".algorithm.value_info")
        if x.HasField("initialization") != y.HasField("initialization"):
            fail(w + ": initialization present in one only")
        if x.HasField("initialization"):
            same_graph(x.initialization, y.initialization, w + ".initialization")
        for f in ("initialization_binding", "update_binding"):
            if [(e.key, e.value) for e in getattr(x, f)] != [(e.key, e.value) for e in getattr(y, f)]:
                fail("%s.%s differs" % (w, f))
    print("%s and %s: same (%d training infos)" % (pa, pb, len(a.training_info)))


def main():
    try:
        import onnx  # noqa: F401
    except ImportError:
        print("check_training_info.py: python3-onnx is missing", file=sys.stderr)
        sys.exit(2)
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "same":
        same(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
