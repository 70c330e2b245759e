#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_net_torch.py — judges a model the layer builder (og_net_*) wrote.

Used by tests/unit/test_layers.c:

    check_net_torch.py MODEL.onnx INPUT.pb OUTPUT.pb [TOL]

1. onnx.checker.check_model(full_check=True) must pass, opset 17;
2. the node chain is rebuilt as PyTorch's torch.nn.Sequential of the
   modules each layer stands for (Conv -> nn.Conv{1,2,3}d, Gemm (transB=1)
   -> nn.Linear, MaxPool/AveragePool -> nn.{Max,Avg}Pool*d,
   GlobalAveragePool -> nn.AdaptiveAvgPool*d(1), Relu/Tanh/Sigmoid,
   Flatten -> nn.Flatten, BatchNormalization -> nn.BatchNorm*d (eval),
   Dropout -> nn.Dropout (eval)), with the file's initializers copied into
   the modules' parameters and buffers by name ("conv1.weight" ->
   the conv1 module's weight);
3. in eval mode on INPUT (onnxgrad's run input) it must give OUTPUT
   (onnxgrad's result) within TOL (default 1e-5) absolute + relative.

Exit status: 0 ok, 1 a check failed, 2 usage error or onnx/torch missing.
"""
import sys


def attr(node, name, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def build(model):
    import torch
    from onnx import numpy_helper
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    g = model.graph
    rank = {v.name: len(v.type.tensor_type.shape.dim) for v in list(g.input) + list(g.value_info) + list(g.output)}
    mods = []
    for node in model.graph.node:
        op = node.op_type
        if op == "Constant":
            continue
        if op == "Conv":
            w = inits[node.input[1]]
            k = list(attr(node, "kernel_shape"))
            pads = list(attr(node, "pads"))
            sp = len(k)
            assert pads[:sp] == pads[sp:], "asymmetric pads"
            cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[sp]
            group = attr(node, "group", 1)
            m = cls(w.shape[1] * group, w.shape[0], k, stride=list(attr(node, "strides")), padding=pads[:sp],
                    dilation=list(attr(node, "dilations")), groups=group, bias=len(node.input) > 2)
        elif op == "Gemm":
            assert attr(node, "transB") == 1 and attr(node, "transA", 0) == 0
            w = inits[node.input[1]]
            m = torch.nn.Linear(w.shape[1], w.shape[0], bias=len(node.input) > 2)
        elif op in ("MaxPool", "AveragePool"):
            k = list(attr(node, "kernel_shape"))
            sp = len(k)
            pads = list(attr(node, "pads", [0] * 2 * sp))
            assert pads[:sp] == pads[sp:], "asymmetric pads"
            if op == "MaxPool":
                cls = {1: torch.nn.MaxPool1d, 2: torch.nn.MaxPool2d, 3: torch.nn.MaxPool3d}[sp]
                m = cls(k, stride=list(attr(node, "strides")), padding=pads[:sp])
            else:
                assert attr(node, "count_include_pad") == 1
                cls = {1: torch.nn.AvgPool1d, 2: torch.nn.AvgPool2d, 3: torch.nn.AvgPool3d}[sp]
                m = cls(k, stride=list(attr(node, "strides")), padding=pads[:sp], count_include_pad=True)
        elif op == "GlobalAveragePool":
            sp = rank[node.input[0]] - 2
            m = {1: torch.nn.AdaptiveAvgPool1d, 2: torch.nn.AdaptiveAvgPool2d, 3: torch.nn.AdaptiveAvgPool3d}[sp](1)
        elif op == "BatchNormalization":
            c = inits[node.input[1]].shape[0]
            cls = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
                   5: torch.nn.BatchNorm3d}[rank[node.input[0]]]
            m = cls(c, eps=attr(node, "epsilon"), momentum=1 - attr(node, "momentum"))
            assert abs(m.momentum - 0.1) < 1e-6, "momentum should be PyTorch's 0.1"
        elif op == "Dropout":
            m = torch.nn.Dropout(0.5)
        elif op == "Relu":
            m = torch.nn.ReLU()
        elif op == "Tanh":
            m = torch.nn.Tanh()
        elif op == "Sigmoid":
            m = torch.nn.Sigmoid()
        elif op == "Flatten":
            assert attr(node, "axis", 1) == 1
            m = torch.nn.Flatten()
        else:
            raise SystemExit("check_net_torch: unexpected op %s (node %s)" % (op, node.name))
        mods.append((node, m))
    return mods, inits


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import numpy as np
        import onnx
        import torch
        from onnx import numpy_helper
    except ImportError as e:
        print("check_net_torch: %s" % e, file=sys.stderr)
        return 2
    tol = float(argv[4]) if len(argv) == 5 else 1e-5
    model = onnx.load(argv[1])
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)], model.opset_import

    def load_pb(path):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        return numpy_helper.to_array(t)

    x = torch.from_numpy(load_pb(argv[2]).copy())
    want = load_pb(argv[3])
    mods, inits = build(model)
    seq = torch.nn.Sequential()
    for node, m in mods:
        seq.add_module(node.name, m)
    # Parameters and buffers by name: "conv1.weight" is module conv1's weight.
    state = seq.state_dict()
    used = 0
    for name in state:
        if name.endswith("num_batches_tracked"):
            continue
        assert name in inits, "no initializer %s in the file (has %s)" % (name, sorted(inits))
        assert tuple(state[name].shape) == tuple(inits[name].shape), name
        state[name] = inits[name]
        used += 1
    trainable = [t for t in inits if t != "training_mode"]
    assert used == len(trainable), "initializers left over: %s" % sorted(set(trainable) - set(state))
    seq.load_state_dict(state)
    seq.eval()
    with torch.no_grad():
        got = seq(x).numpy()
    if got.shape != want.shape:
        print("check_net_torch: PyTorch gives shape %s, onnxgrad %s" % (got.shape, want.shape))
        return 1
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    bound = tol + tol * np.abs(want.astype(np.float64))
    worst = float(err.max()) if err.size else 0.0
    print("check_net_torch: %s: onnx.checker ok; %d modules; max |torch - onnxgrad| = %.3g over %d values"
          % (argv[1], len(mods), worst, err.size))
    if not (err <= bound).all():
        print("check_net_torch: FAIL: differs by more than %g" % tol)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
