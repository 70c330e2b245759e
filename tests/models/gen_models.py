#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Exports the end-to-end test models with PyTorch and writes their references.

    /usr/bin/python3 gen_models.py DIR

For every model in MODELS, DIR/<model>/ receives
  model.onnx            torch.onnx.export(..., do_constant_folding=False)
  inputs/*.pb           the inputs fed to the model (TensorProto, named by input)
  outputs/*.pb          PyTorch's forward outputs
  seeds/*.pb            the fixed upstream gradient dY of each output
  grads/*.pb            PyTorch's gradient of sum(output * dY) w.r.t. every
                        float input and every parameter (by ONNX tensor name)
  manifest.txt          one line per file: "<kind> <tensor name> <file>",
                        kind = input, output, seed (name = the output) or grad
Parameters are mapped to ONNX initializers by name (export_params=True keeps
named_parameters() names); every float initializer must be a parameter or a
buffer of the module and hold exactly its value, else generation fails, so a
renamed or folded weight can never be compared against the wrong gradient.
Eval-mode models with BatchNormalization are fused (Conv+BN) in PyTorch
before export, as the exporter would fold them anyway: the fused weights
are then real parameters whose gradients PyTorch computes.

Written to a temporary sibling and renamed into place when complete; a DIR
whose stamp matches this script's hash is reused, any other is replaced.
Without python3-torch or python3-torchvision it writes DIR/NO_TORCH, says
so and exits 0; each model test then prints SKIP and exits 77 (a skip
ctest shows), so the fixture itself does not hide the tests.
"""
import hashlib
import os
import shutil
import sys
import warnings

STAMP = ".complete"


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def safe_file(name):
    """A file name for a tensor name ('layer1.0.conv1.weight', 'onnx::Conv_5')."""
    s = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return s.lstrip(".") or "t"


# --------------------------------------------------------------------------
# Models. Each builder returns a dict: module, inputs (tuple of tensors),
# input_names, output_names, and optional export keywords and run_inputs
# (inputs the references are computed on, if they differ from the export's).

def models(torch, tv):
    nn = torch.nn
    F = torch.nn.functional

    def seed(k):
        torch.manual_seed(1000 + k)

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ZeroPad2d(2)           # 28x28 -> 32x32, as in the paper
            self.c1 = nn.Conv2d(1, 6, 5)
            self.s2 = nn.AvgPool2d(2)
            self.c3 = nn.Conv2d(6, 16, 5)
            self.s4 = nn.AvgPool2d(2)
            self.f5 = nn.Linear(400, 120)
            self.f6 = nn.Linear(120, 84)
            self.f7 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.s2(torch.tanh(self.c1(self.pad(x))))
            x = self.s4(torch.tanh(self.c3(x)))
            x = torch.flatten(x, 1)
            return self.f7(torch.tanh(self.f6(torch.tanh(self.f5(x)))))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(12, 16, bias=False)
            self.l2 = nn.Linear(16, 16, bias=False)
            self.l3 = nn.Linear(16, 3, bias=False)

        def forward(self, x):
            return self.l3(torch.relu(self.l2(torch.relu(self.l1(x)))))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class ResNetSmall(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
            self.b1 = Block(8, 8, 1)
            self.b2 = Block(8, 16, 2)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.b2(self.b1(self.stem(x)))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def randomize_bn(m):
        # Non-trivial running statistics and affine parameters, so an eval
        # export really has something to fold.
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                with torch.no_grad():
                    mod.running_mean.uniform_(-0.5, 0.5)
                    mod.running_var.uniform_(0.5, 1.5)
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.5, 0.5)
        return m

    def fused(m):
        import torch.fx.experimental.optimization as opt
        return opt.fuse(m.eval(), inplace=False)

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                                                  batch_first=True)

        def forward(self, x):
            return self.enc(x)

    class EmbedLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.fc = nn.Linear(8, 4)

        def forward(self, idx):
            return self.fc(self.emb(idx))

    class UNet(nn.Module):
        def __init__(self, up):
            super().__init__()
            self.e1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            self.e2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
            self.mid = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
            if up == "convt":
                self.up2 = nn.ConvTranspose2d(16, 16, 2, stride=2)
                self.up1 = nn.ConvTranspose2d(16, 16, 2, stride=2)
            else:
                mode = dict(mode="bilinear", align_corners=False) if up == "bilinear" else dict(mode="nearest")
                self.up2 = nn.Upsample(scale_factor=2, **mode)
                self.up1 = nn.Upsample(scale_factor=2, **mode)
            self.d2 = nn.Sequential(nn.Conv2d(32, 16, 3, padding=1), nn.ReLU())
            self.d1 = nn.Sequential(nn.Conv2d(24, 8, 3, padding=1), nn.ReLU())
            self.out = nn.Conv2d(8, 2, 1)

        def forward(self, x):
            s1 = self.e1(x)
            s2 = self.e2(s1)
            m = self.mid(s2)
            y = self.d2(torch.cat([self.up2(m), s2], 1))
            y = self.d1(torch.cat([self.up1(y), s1], 1))
            return self.out(y)

    class LossModel(nn.Module):
        def __init__(self, kind, reduction, weight, ignore_index):
            super().__init__()
            self.fc = nn.Linear(8, 5)
            kw = dict(reduction=reduction)
            if ignore_index is not None:
                kw["ignore_index"] = ignore_index
            w = torch.rand(5) + 0.5 if weight else None
            self.kind = kind
            self.loss = (nn.CrossEntropyLoss if kind == "ce" else nn.NLLLoss)(weight=w, **kw)

        def forward(self, x, target):
            z = self.fc(x)
            if self.kind == "nll":
                # log(softmax) rather than log_softmax: the exporter fuses
                # LogSoftmax + NLLLoss into SoftmaxCrossEntropyLoss, and this
                # model is there for NegativeLogLikelihoodLoss.
                z = torch.log(torch.softmax(z, 1))
            elif self.kind == "logsoftmax_nll":
                z = F.log_softmax(z, 1)
            return self.loss(z, target)

    class SpatialCE(nn.Module):
        # (N, C, H, W) logits, a 1x1 conv classifier per pixel.
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)
            self.loss = nn.CrossEntropyLoss(ignore_index=2)

        def forward(self, x, target):
            return self.loss(self.conv(x), target)

    class DynCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 4 * 4, 3)

        def forward(self, x):
            x = F.max_pool2d(torch.relu(self.conv(x)), 2)
            return self.fc(torch.flatten(x, 1))

    out = {}

    def add(name, fn):
        out[name] = fn

    def img(n, c, h, w):
        return torch.randn(n, c, h, w)

    def lenet():
        seed(1)
        return dict(module=LeNet5().eval(), inputs=(img(2, 1, 28, 28),))
    add("lenet5", lenet)

    def mlp():
        seed(2)
        return dict(module=MLP().eval(), inputs=(torch.randn(2, 3, 12),))
    add("mlp_nobias", mlp)

    def res_eval():
        seed(3)
        return dict(module=fused(randomize_bn(ResNetSmall())), inputs=(img(2, 3, 12, 12),))
    add("resnet_block_eval", res_eval)

    def res_train():
        seed(3)
        return dict(module=randomize_bn(ResNetSmall()).train(), inputs=(img(2, 3, 12, 12),),
                    export=dict(training=torch.onnx.TrainingMode.TRAINING))
    add("resnet_block_train", res_train)

    def res_train_opset12():
        # opset 12's training form: BatchNormalization with saved_mean and
        # saved_var outputs besides the running statistics
        spec = res_train()
        spec["opset"] = 12
        return spec
    add("resnet_block_train_opset12", res_train_opset12)

    def tvnet(ctor, k):
        def build():
            seed(10 + k)
            m = ctor(num_classes=10)
            return dict(module=fused(randomize_bn(m)), inputs=(img(2, 3, 64, 64),))
        return build
    add("resnet18", tvnet(tv.resnet18, 0))
    add("mobilenet_v2", tvnet(tv.mobilenet_v2, 1))
    add("mobilenet_v3_small", tvnet(tv.mobilenet_v3_small, 2))

    def squeeze():
        seed(13)
        return dict(module=tv.squeezenet1_1(num_classes=10).eval(), inputs=(img(2, 3, 64, 64),))
    add("squeezenet1_1", squeeze)

    def transformer():
        seed(20)
        return dict(module=Transformer().eval(), inputs=(torch.randn(2, 5, 16),))
    add("transformer_encoder", transformer)

    def embed():
        seed(21)
        idx = torch.tensor([[1, 3, 3, 7, 0, 19], [7, 7, 2, 1, 1, 5]], dtype=torch.int64)
        return dict(module=EmbedLinear().eval(), inputs=(idx,), input_names=["idx"])
    add("embedding_linear", embed)

    for up in ("convt", "nearest", "bilinear"):
        def unet(up=up):
            seed(22)
            return dict(module=UNet(up).eval(), inputs=(img(2, 3, 16, 16),))
        add("unet_" + up, unet)

    target = torch.tensor([0, 1, 4, 1, 2, 3], dtype=torch.int64)
    for kind in ("ce", "nll"):
        for red, weight, ign in (("mean", False, None), ("sum", True, None), ("none", False, 1),
                                 ("mean", True, 1)):
            name = "%s_%s%s%s" % (kind, red, "_weight" if weight else "", "_ignore" if ign is not None else "")

            def loss(kind=kind, red=red, weight=weight, ign=ign):
                seed(30)
                return dict(module=LossModel(kind, red, weight, ign).eval(),
                            inputs=(torch.randn(6, 8), target), input_names=["x", "target"],
                            output_names=["loss"])
            add("loss_" + name, loss)

    def logsoftmax_nll():
        seed(30)
        return dict(module=LossModel("logsoftmax_nll", "mean", True, None).eval(),
                    inputs=(torch.randn(6, 8), target), input_names=["x", "target"], output_names=["loss"])
    add("loss_logsoftmax_nll_weight", logsoftmax_nll)   # exported as SoftmaxCrossEntropyLoss

    def spatial():
        seed(31)
        t = torch.tensor([[[0, 1], [2, 3]], [[2, 2], [1, 0]]], dtype=torch.int64)
        return dict(module=SpatialCE().eval(), inputs=(img(2, 3, 2, 2), t), input_names=["x", "target"],
                    output_names=["loss"])
    add("loss_ce_spatial_ignore", spatial)

    def dyn():
        seed(40)
        return dict(module=DynCNN().eval(), inputs=(img(2, 2, 8, 8),), run_inputs=(img(3, 2, 8, 8),),
                    export=dict(dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}))
    add("dynamic_batch", dyn)
    return out


# --------------------------------------------------------------------------

def write_pb(onnx, numpy_helper, arr, name, path):
    t = numpy_helper.from_array(arr, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def distinct_params(torch, m):
    # The exporter merges initializers with equal values (torchvision's zero
    # biases), which would leave parameters without an initializer of their
    # own: give constant parameters random values.
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in m.parameters():
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                p.copy_(torch.rand(p.shape, generator=g) * 0.2 - 0.1)


def generate(name, spec, d, torch, onnx, numpy_helper, np):
    m = spec["module"]
    distinct_params(torch, m)
    inputs = spec["inputs"]
    in_names = spec.get("input_names", ["x"])
    out_names = spec.get("output_names", ["y"])
    path = os.path.join(d, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, inputs, path, export_params=True, do_constant_folding=False,
                          opset_version=spec.get("opset", 17),
                          input_names=in_names, output_names=out_names, **spec.get("export", {}))
    model = onnx.load(path)

    params = dict(m.named_parameters())
    buffers = dict(m.named_buffers())
    graph_inputs = [i.name for i in model.graph.input]
    inits = {t.name: t for t in model.graph.initializer}
    wrt = []   # (onnx name, torch tensor)
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind != "f":
            continue
        src = params.get(t.name)
        if src is None and t.name in buffers:
            src = buffers[t.name]
        if src is None:
            raise SystemExit("%s: float initializer %r is neither a parameter nor a buffer" % (name, t.name))
        if tuple(a.shape) != tuple(src.shape) or not np.array_equal(a, src.detach().numpy()):
            raise SystemExit("%s: initializer %r does not hold the value of the parameter of that name"
                             % (name, t.name))
        if t.name in params:
            wrt.append((t.name, params[t.name]))
    unused = set(params) - {n for n, _ in wrt}
    if unused:
        raise SystemExit("%s: parameters missing from the ONNX initializers: %s" % (name, sorted(unused)))
    feed_names = [n for n in graph_inputs if n not in inits]
    if feed_names != in_names:
        raise SystemExit("%s: ONNX inputs %s, expected %s" % (name, feed_names, in_names))

    run_inputs = [x.clone() for x in spec.get("run_inputs", inputs)]
    float_ins = []
    for n, x in zip(in_names, run_inputs):
        if x.is_floating_point():
            x.requires_grad_(True)
            float_ins.append((n, x))
    outs = m(*run_inputs)
    if not isinstance(outs, (tuple, list)):
        outs = (outs,)
    if len(outs) != len(model.graph.output):
        raise SystemExit("%s: PyTorch gives %d outputs, the ONNX model %d" % (name, len(outs), len(model.graph.output)))
    for o, vi in zip(outs, model.graph.output):
        dims = vi.type.tensor_type.shape.dim
        want = [dd.dim_value if dd.HasField("dim_value") else None for dd in dims]
        if len(want) != o.dim() or any(w is not None and w != g for w, g in zip(want, o.shape)):
            raise SystemExit("%s: output %s has shape %s, the ONNX model declares %s"
                             % (name, vi.name, list(o.shape), want))
    rng = np.random.RandomState(12345)
    seeds = [rng.uniform(-1, 1, size=tuple(o.shape)).astype(np.float32) for o in outs]
    total = sum((o * torch.from_numpy(s)).sum() for o, s in zip(outs, seeds))
    targets = [x for _, x in float_ins] + [p for _, p in wrt]
    grads = torch.autograd.grad(total, targets, allow_unused=True)

    lines = []
    for sub in ("inputs", "outputs", "seeds", "grads"):
        os.makedirs(os.path.join(d, sub))

    def put(kind, sub, tname, arr):
        f = "%s/%s.pb" % (sub, safe_file(tname))
        write_pb(onnx, numpy_helper, np.array(arr, order="C"), tname, os.path.join(d, f))
        lines.append("%s %s %s" % (kind, tname, f))

    for n, x in zip(in_names, run_inputs):
        put("input", "inputs", n, x.detach().numpy())
    for n, o, s in zip(out_names, outs, seeds):
        put("output", "outputs", n, o.detach().numpy())
        put("seed", "seeds", n, s)
    for (n, t), g in zip([(n, x) for n, x in float_ins] + wrt, grads):
        put("grad", "grads", n, (torch.zeros_like(t) if g is None else g).detach().numpy())
    with open(os.path.join(d, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def selftests(tmp, onnx, numpy_helper, np):
    """Copies of dynamic_batch with one reference element moved well past the
    tolerance, so a test can check that the runner notices."""
    for name, rel in (("selftest_bad_output", "outputs/y.pb"), ("selftest_bad_grad", "grads/conv.weight.pb")):
        d = os.path.join(tmp, name)
        shutil.copytree(os.path.join(tmp, "dynamic_batch"), d)
        t = onnx.TensorProto()
        with open(os.path.join(d, rel), "rb") as f:
            t.ParseFromString(f.read())
        a = numpy_helper.to_array(t).copy()
        a.flat[1] += np.float32(1e-3 * np.abs(a).max() + 1e-3)
        write_pb(onnx, numpy_helper, a, t.name, os.path.join(d, rel))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: gen_models.py DIR [MODEL...]")
    out = os.path.abspath(sys.argv[1])
    want = script_hash()
    stamp = os.path.join(out, STAMP)
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == want:
                return
    try:
        shutil.rmtree(out, ignore_errors=True)
        import torch
        import torchvision.models as tv
    except ImportError as e:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "NO_TORCH"), "w") as f:
            f.write("%s\n" % e)
        print("SKIP: python3-torch / python3-torchvision not available (%s); "
              "install them (tools/install-deps.sh) to run the model tests" % e)
        return
    import numpy as np
    import onnx
    from onnx import numpy_helper

    torch.set_num_threads(1)
    tmp = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    only = sys.argv[2:]
    for name, build in models(torch, tv).items():
        if only and name not in only:
            continue
        d = os.path.join(tmp, name)
        os.makedirs(d)
        generate(name, build(), d, torch, onnx, numpy_helper, np)
        print("generated", name, flush=True)
    if not only:
        selftests(tmp, onnx, numpy_helper, np)
    if only:
        print("partial generation in", tmp)
        return
    with open(os.path.join(tmp, STAMP), "w") as f:
        f.write(want + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
