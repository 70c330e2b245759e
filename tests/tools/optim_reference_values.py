#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Prints the reference tables of tests/unit/test_optimizers.c:

    /usr/bin/python3 tests/tools/optim_reference_values.py

1. float32 outputs of the ONNX spec's own numpy reference (onnx 1.12,
   onnx/backend/test/case/node/{momentum,adam,adagrad}.py: apply_momentum,
   apply_nesterov, apply_adam, apply_adagrad) on fixed inputs, which
   onnxgrad must match bit for bit. Attributes are passed as the float32
   value an ONNX attribute holds.
2. float64 parameter trajectories of torch.optim (torch 1.13): SGD with
   momentum (dampening, nesterov, weight_decay), Adagrad and Adam, over four
   steps with fixed gradients; hyperparameters that become ONNX float
   attributes are rounded to float32 first, so both sides use one value.
"""
import math, sys
import numpy as np
import torch
sys.path.insert(0, '/usr/lib/python3/dist-packages')
from onnx.backend.test.case.node.momentum import apply_momentum, apply_nesterov
from onnx.backend.test.case.node.adam import apply_adam
from onnx.backend.test.case.node.adagrad import apply_adagrad

f32 = lambda v: float(np.float32(v))

def emit_f(name, a):
    v = np.asarray(a, dtype=np.float32).reshape(-1)
    print(f"static const float {name}[{len(v)}] = {{ " + ", ".join("%.9gf" % x for x in v) + " };")

def emit_d(name, a):
    v = np.asarray(a, dtype=np.float64).reshape(-1)
    print(f"static const double {name}[{len(v)}] = {{ " + ", ".join("%.17g" % x for x in v) + " };")

# ---- 1. the spec's numpy reference, float32 ------------------------------
N = 7
i = np.arange(N)
x = (np.sin(0.9 * i + 0.3) * 2).astype(np.float32)
g = (np.cos(1.7 * i + 0.1)).astype(np.float32)
v = (np.sin(0.4 * i + 1.1) * 0.5).astype(np.float32)
h = (np.abs(np.cos(0.6 * i)) + 0.05).astype(np.float32)
r = np.array(0.05, dtype=np.float32)
emit_f("np_x", x); emit_f("np_g", g); emit_f("np_v", v); emit_f("np_h", h)
for t in (0, 3):
    tt = np.array(t, dtype=np.int64)
    xn, vn = apply_momentum(r, tt, x, g, v, f32(0.01), f32(0.9), f32(0.7))
    emit_f(f"np_mom{t}_x", xn); emit_f(f"np_mom{t}_v", vn)
    xn, vn = apply_nesterov(r, tt, x, g, v, f32(0.01), f32(0.9), f32(0.7))
    emit_f(f"np_nes{t}_x", xn); emit_f(f"np_nes{t}_v", vn)
for t in (0, 5):
    tt = np.array(t, dtype=np.int64)
    xn, vn, hn = apply_adam(r, tt, x, g, v, h, f32(0.02), f32(0.01), f32(0.9), f32(0.99), f32(1e-4))
    emit_f(f"np_adam{t}_x", xn); emit_f(f"np_adam{t}_v", vn); emit_f(f"np_adam{t}_h", hn)
for t in (0, 4):
    tt = np.array(t, dtype=np.int64)
    xn, hn = apply_adagrad(r, tt, x, g, h, f32(0.01), f32(1e-5), f32(0.1))
    emit_f(f"np_ada{t}_x", xn); emit_f(f"np_ada{t}_h", hn)

# ---- 2. torch.optim trajectories, float64 --------------------------------
torch.set_default_dtype(torch.float64)
SIZES = (3, 4)      # two tensors
STEPS = 4

def x0(j, n):
    return torch.tensor([math.cos(0.5 * k + j) for k in range(n)])

def grad(j, n, s):
    return torch.tensor([math.sin(0.7 * k + 1.3 * s + 0.2 + j) for k in range(n)])

emit_d("tr_x0", torch.cat([x0(j, n) for j, n in enumerate(SIZES)]))
emit_d("tr_g", torch.cat([torch.cat([grad(j, n, s) for j, n in enumerate(SIZES)]) for s in range(STEPS)]))

def trajectory(name, make, state_keys):
    ps = [torch.nn.Parameter(x0(j, n)) for j, n in enumerate(SIZES)]
    opt = make(ps)
    xs = []
    for s in range(STEPS):
        for j, (p, n) in enumerate(zip(ps, SIZES)):
            p.grad = grad(j, n, s)
        opt.step()
        xs.append(torch.cat([p.detach() for p in ps]))
    emit_d(f"tr_{name}_x", torch.cat(xs))
    for key in state_keys:
        emit_d(f"tr_{name}_{key}", torch.cat([opt.state[p][key] for p in ps]))

trajectory("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=f32(0.9), weight_decay=f32(0.01)),
           ["momentum_buffer"])
trajectory("sgd_damp", lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=f32(0.8), dampening=0.25,
                                                  weight_decay=f32(0.02)), ["momentum_buffer"])
trajectory("sgd_nest", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=f32(0.9), nesterov=True,
                                                  weight_decay=f32(0.01)), ["momentum_buffer"])
trajectory("adagrad", lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=f32(0.05), weight_decay=f32(0.01),
                                                     initial_accumulator_value=0.1, eps=f32(1e-3)), ["sum"])
for name, eps in (("adam", 1e-3), ("adam_eps0", 0.0)):
    trajectory(name, lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(f32(0.9), f32(0.99)), eps=eps,
                                                 weight_decay=f32(0.01)), ["exp_avg", "exp_avg_sq"])
