#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers of profile_test.sh: a small CNN with a loss, and the checks of the
Chrome trace and the --json outputs of `onnxgrad profile`, `bench` and
`info`.

    check_profile.py make MODEL.onnx
    check_profile.py trace TRACE.json MIN_EVENTS [fused]
    check_profile.py profile PROFILE.json REPEAT
    check_profile.py bench BENCH.json GRAD(0|1)
    check_profile.py info INFO.json
Exit 0 when the check holds; else a message on stderr and exit 1."""
import json
import sys


def fail(msg):
    sys.stderr.write("check_profile.py: " + msg + "\n")
    sys.exit(1)


def make(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "B")
    g = numpy_helper.from_array(rng.standard_normal((5, 4 * 4 * 4)).astype(np.float32), "G")
    nodes = [
        helper.make_node("Conv", ["X", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "G"], ["Y"], name="fc", transB=1),
        helper.make_node("ReduceSum", ["Y"], ["L"], name="loss", keepdims=0),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("L", TensorProto.FLOAT, [])], [w, b, g])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)


def trace(path, min_events, want_fused):
    with open(path) as f:
        doc = json.load(f)
    ev = doc.get("traceEvents")
    if not isinstance(ev, list) or len(ev) < min_events:
        fail("%s: want >= %d traceEvents, got %r" % (path, min_events, None if ev is None else len(ev)))
    fused = False
    for e in ev:
        for k in ("name", "cat", "ph", "ts", "dur", "pid", "tid", "args"):
            if k not in e:
                fail("%s: event without %s: %r" % (path, k, e))
        if e["ph"] != "X" or e["ts"] < 0 or e["dur"] < 0:
            fail("%s: bad ph/ts/dur: %r" % (path, e))
        a = e["args"]
        for k in ("op_type", "kernel", "isa", "nodes", "input_shapes", "output_shapes", "bytes", "flops"):
            if k not in a:
                fail("%s: event args without %s: %r" % (path, k, e))
        if not a["nodes"] or a["nodes"][-1] != e["name"]:
            fail("%s: nodes empty or not ending in the step's node: %r" % (path, e))
        if a["kernel"] != "view" and (a["bytes"] <= 0 or not a["output_shapes"]):
            fail("%s: a kernel without bytes or outputs: %r" % (path, e))
        if a["op_type"] == "Conv" and a["nodes"] == ["conv"] and a["flops"] != 2 * (2 * 4 * 8 * 8) * 27 + 2 * 4 * 8 * 8:
            fail("%s: Conv flops %r, want %d" % (path, a["flops"], 2 * (2 * 4 * 8 * 8) * 27 + 2 * 4 * 8 * 8))
        fused = fused or len(a["nodes"]) > 1
    if want_fused and not fused:
        fail("%s: no event covers several nodes (a fused pattern)" % path)


def profile(path, repeat):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("repeat") != repeat or doc.get("steps", 0) <= 0:
        fail("%s: repeat/steps wrong: %r" % (path, doc))
    ops = doc["ops"]
    share = sum(o["share"] for o in ops)
    if ops and abs(share - 100.0) > 0.5:
        fail("%s: shares sum to %g, want ~100" % (path, share))
    if sum(o["calls"] for o in ops) != doc["steps"] * repeat:
        fail("%s: calls %d != steps %d x repeat %d" % (path, sum(o["calls"] for o in ops), doc["steps"], repeat))
    times = [o["total_ms"] for o in ops]
    if times != sorted(times, reverse=True):
        fail("%s: ops not sorted by time" % path)
    if abs(sum(times) - doc["kernel_ms"]) > 1e-6 * max(1.0, doc["kernel_ms"]):
        fail("%s: op times do not add up to kernel_ms" % path)
    conv = [o for o in ops if o["op_type"] == "Conv" and not o["fused"]]
    if not conv or conv[0]["flops"] is None or conv[0]["flops"] % repeat:
        fail("%s: no Conv row with flops" % path)
    if not doc["kernels"]:
        fail("%s: no kernels" % path)


def bench(path, grad):
    with open(path) as f:
        doc = json.load(f)
    keys = ["forward"] + (["forward_backward"] if grad else [])
    for k in keys:
        t = doc[k]
        if not (0 <= t["min_ms"] <= t["median_ms"] <= t["p90_ms"]):
            fail("%s: %s latencies not ordered: %r" % (path, k, t))
        if t["arena_bytes"] <= 0 or t["runs_per_s"] <= 0:
            fail("%s: %s arena/throughput: %r" % (path, k, t))
    if not grad and "forward_backward" in doc:
        fail("%s: forward_backward without --grad" % path)
    if doc["peak_rss_bytes"] <= 0 or doc["load_ms"] < 0:
        fail("%s: peak_rss_bytes/load_ms: %r" % (path, doc))


def info(path):
    with open(path) as f:
        doc = json.load(f)
    fl = doc.get("flops")
    want = {"Conv": 2 * (2 * 4 * 8 * 8) * 27 + 2 * 4 * 8 * 8, "Gemm": 2 * 2 * 5 * 64, "Relu": 2 * 4 * 8 * 8,
            "ReduceSum": 10, "Flatten": 0}
    for k, v in want.items():
        if fl is None or fl.get(k) != v:
            fail("%s: flops[%s] = %r, want %d" % (path, k, None if fl is None else fl.get(k), v))


def main():
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "trace":
        trace(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4)
    elif cmd == "profile":
        profile(sys.argv[2], int(sys.argv[3]))
    elif cmd == "bench":
        bench(sys.argv[2], sys.argv[3] == "1")
    elif cmd == "info":
        info(sys.argv[2])
    else:
        fail("unknown command " + cmd)


main()
