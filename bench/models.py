#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""models.py - the real models of the benchmark (cases of kind "model").

    /usr/bin/python3 bench/models.py NAME DIR

builds model NAME (torch.manual_seed fixed), exports it to DIR/model.onnx
with torch.onnx.export(opset 17, do_constant_folding=False, input "X",
output "Y") and writes what both workers read:

  DIR/model.onnx     the model onnxgrad loads (og_model_load_file)
  DIR/state.pt       the module's state_dict: the PyTorch worker loads it,
                     so both sides hold bit-identical weights
  DIR/X.bin          the input, raw float32 (numpy, fixed seed)
  DIR/Y_grad.bin     the fixed upstream gradient dY of the train pass
  DIR/params.txt     the parameters, one ONNX initializer name per line, in
                     named_parameters() order (the gradients compared)

Every model runs in eval mode (BatchNormalization on running statistics,
Dropout off). torch 1.13's eval export folds BatchNormalization into the
preceding Conv (its eval peephole pass, even with do_constant_folding=False),
so the CNNs are Conv+BN-fused in PyTorch first (torch.fx fuse, as the
exporter would): the ONNX initializers are then exactly the module's
parameters, and the PyTorch worker runs the same fused module, so both sides
compute the same function with the same weights. The export fails if a
float initializer is not a parameter of that name and value, or a parameter
has no initializer. Written into DIR.tmp and renamed, so an interrupted
export is never reused.
"""

import os
import shutil
import sys
import warnings
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
from cases import MODELS as SHAPES  # noqa: E402  (name -> input shape, output shape)


def build(name):
    """The eval-mode module of case NAME (fused where BN would be folded)."""
    import torch
    import torch.nn as nn
    torch.manual_seed(1234 + sorted(SHAPES).index(name))
    if name in ("resnet18", "mobilenet_v2"):
        import torchvision
        import torch.fx.experimental.optimization as opt
        m = getattr(torchvision.models, name)(num_classes=10).eval()
        m = opt.fuse(m, inplace=False).eval()
    elif name == "transformer_layer":
        class Enc(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, dropout=0.0,
                                                      batch_first=True)

            def forward(self, x):
                return self.enc(x)
        m = Enc().eval()
    else:
        raise ValueError(f"unknown model {name}")
    # The exporter merges initializers with equal values (zero biases, unit
    # LayerNorm weights), which would leave parameters without an initializer
    # of their own: give constant parameters small random values.
    g = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in m.parameters():
            if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                p.copy_(torch.rand(p.shape, generator=g) * 0.2 - 0.1)
    for p in m.parameters():
        p.requires_grad_(True)
    return m


def load(name, d):
    """The module of case NAME with the weights exported into DIR."""
    import torch
    m = build(name)
    m.load_state_dict(torch.load(os.path.join(d, "state.pt")))
    return m.eval()


def export(name, d):
    import onnx
    import torch
    from onnx import numpy_helper
    xs, ys = SHAPES[name]
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    m = build(name)
    rng = np.random.default_rng(zlib.crc32(f"{name}/X".encode()))
    x = rng.uniform(-1, 1, size=xs).astype(np.float32)
    rng = np.random.default_rng(zlib.crc32(f"{name}/Y_grad".encode()))
    dy = rng.uniform(-1, 1, size=ys).astype(np.float32)
    path = os.path.join(tmp, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.from_numpy(x),), path, export_params=True, do_constant_folding=False,
                          opset_version=17, input_names=["X"], output_names=["Y"])
    model = onnx.load(path)
    params = dict(m.named_parameters())
    seen = set()
    for t in model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind != "f":
            continue
        p = params.get(t.name)
        if p is None:
            raise SystemExit(f"{name}: float initializer {t.name!r} is not a parameter")
        if tuple(a.shape) != tuple(p.shape) or not np.array_equal(a, p.detach().numpy()):
            raise SystemExit(f"{name}: initializer {t.name!r} does not hold the parameter of that name")
        seen.add(t.name)
    missing = set(params) - seen
    if missing:
        raise SystemExit(f"{name}: parameters without an initializer: {sorted(missing)}")
    feeds = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if feeds != ["X"] or [o.name for o in model.graph.output] != ["Y"]:
        raise SystemExit(f"{name}: ONNX inputs {feeds}, outputs {[o.name for o in model.graph.output]}")
    with torch.no_grad():
        y = m(torch.from_numpy(x))
    if tuple(y.shape) != ys:
        raise SystemExit(f"{name}: output shape {tuple(y.shape)}, expected {ys}")
    torch.save(m.state_dict(), os.path.join(tmp, "state.pt"))
    x.tofile(os.path.join(tmp, "X.bin"))
    dy.tofile(os.path.join(tmp, "Y_grad.bin"))
    with open(os.path.join(tmp, "params.txt"), "w") as f:
        f.write("".join(n + "\n" for n in params))
    shutil.rmtree(d, ignore_errors=True)
    os.replace(tmp, d)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in SHAPES:
        sys.exit(f"usage: models.py {{{','.join(SHAPES)}}} DIR")
    export(sys.argv[1], sys.argv[2])
