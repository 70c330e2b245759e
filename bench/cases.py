# SPDX-License-Identifier: MIT
"""cases.py - the benchmark cases, shared by the driver (bench.py) and the
PyTorch worker (torch_bench.py). The C side (og_bench.c) rebuilds the same
graphs from the kind and the integer parameters sent on its command line.

A case is (name, kind, pass, params):
  conv    N C H W K R S sh sw ph pw dh dw group   passes fwd, dx, dw
  convt   N C H W K R S stride pad                pass fwd (W is [C, K, R, S])
  maxpool N C H W k s p                           passes fwd (with Indices), bwd
  relu    N C H W                                 passes fwd, bwd
  add     N C H W                                 pass fwd (Y = A + B, same shapes)
  batchnorm N C H W T                             pass fwd (T 0: inference, running statistics;
                                                  T 1: training mode, the batch's statistics)
  gemm    M K N                                   passes fwd, dA, dB
  lenet   N                                       pass train
  resblock N C H W                                pass train
  model   (the input's dims)                      passes fwd, train: a real model (bench/models.py),
                                                  named by the case (resnet18, mobilenet_v2,
                                                  transformer_layer), exported to ONNX
"""

import math

CONV_LAYERS = [
    # name, N, C, H, W, K, R, S, stride, pad, dilation, group
    ("caffe_lenet_conv1", 64, 1, 28, 28, 20, 5, 5, 1, 0, 1, 1),
    ("caffe_lenet_conv2", 64, 20, 12, 12, 50, 5, 5, 1, 0, 1, 1),
    ("r18_conv1", 8, 3, 224, 224, 64, 7, 7, 2, 3, 1, 1),
    ("r18_l1", 8, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1),
    ("r18_l2_down", 8, 64, 56, 56, 128, 3, 3, 2, 1, 1, 1),
    ("r18_l3", 8, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1),
    ("r18_l4", 8, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1),
    ("pointwise", 8, 256, 56, 56, 64, 1, 1, 1, 0, 1, 1),
    ("depthwise", 8, 128, 56, 56, 128, 3, 3, 1, 1, 1, 128),
    ("dilated", 8, 64, 56, 56, 64, 3, 3, 1, 2, 2, 1),
]
# Extra rows, not part of the targets.
EXTRA_CONV = [("r18_l1_b1", 1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1)]
LARGE_3X3 = ["r18_l1", "r18_l3", "r18_l4", "dilated"]
# Real models (kind "model"): name -> (input shape, output shape), as bench/models.py builds them.
MODELS = {
    "resnet18": ((8, 3, 64, 64), (8, 10)),
    "mobilenet_v2": ((8, 3, 64, 64), (8, 10)),
    "transformer_layer": ((8, 128, 256), (8, 128, 256)),
}


class Case:
    def __init__(self, name, kind, pas, params, in_target=True):
        self.name, self.kind, self.pas, self.params = name, kind, pas, list(params)
        self.in_target = in_target

    @property
    def id(self):
        return f"{self.name}.{self.pas}"

    # ---- shapes ---------------------------------------------------------
    def conv_geom(self):
        N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, g = self.params
        P = (H + 2 * ph - dh * (R - 1) - 1) // sh + 1
        Q = (W + 2 * pw - dw * (S - 1) - 1) // sw + 1
        return N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, g, P, Q

    def inputs(self):
        """Tensors the driver generates: list of (name, shape, scale)."""
        k, p = self.kind, self.params
        if k == "conv":
            N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, g, P, Q = self.conv_geom()
            ins = [("X", (N, C, H, W), 1.0), ("W", (K, C // g, R, S), 1.0 / math.sqrt(C // g * R * S))]
            if self.pas != "fwd":
                ins.append(("Y_grad", (N, K, P, Q), 1.0))
            return ins
        if k == "convt":
            N, C, H, W, K, R, S, s, pd = p
            return [("X", (N, C, H, W), 1.0), ("W", (C, K, R, S), 1.0 / math.sqrt(C * R * S / (s * s)))]
        if k == "maxpool":
            N, C, H, W, ks, s, pd = p
            ins = [("X", (N, C, H, W), 1.0)]
            if self.pas != "fwd":
                ins.append(("Y_grad", self.out_shape(), 1.0))
            return ins
        if k == "relu":
            N, C, H, W = p
            ins = [("X", (N, C, H, W), 1.0)]
            if self.pas != "fwd":
                ins.append(("Y_grad", (N, C, H, W), 1.0))
            return ins
        if k == "add":
            N, C, H, W = p
            return [("A", (N, C, H, W), 1.0), ("B", (N, C, H, W), 1.0)]
        if k == "batchnorm":
            N, C, H, W, tr = p
            # (name, shape, scale[, (lo, hi)]): the variance in [0.5, 1.5)
            return [("X", (N, C, H, W), 1.0), ("scale", (C,), 1.0), ("B", (C,), 1.0), ("mean", (C,), 1.0),
                    ("var", (C,), 1.0, (0.5, 1.5))]
        if k == "gemm":
            M, K, N = p
            ins = [("A", (M, K), 1.0), ("B", (K, N), 1.0 / math.sqrt(K))]
            if self.pas != "fwd":
                ins.append(("Y_grad", (M, N), 1.0))
            return ins
        if k == "lenet":
            N = p[0]
            return [("X", (N, 1, 32, 32), 1.0),
                    ("W1", (6, 1, 5, 5), 1 / 5.0), ("B1", (6,), 0.1),
                    ("W2", (16, 6, 5, 5), 1 / math.sqrt(150)), ("B2", (16,), 0.1),
                    ("W3", (120, 400), 1 / 20.0), ("B3", (120,), 0.1),
                    ("W4", (84, 120), 1 / math.sqrt(120)), ("B4", (84,), 0.1),
                    ("W5", (10, 84), 1 / math.sqrt(84)), ("B5", (10,), 0.1),
                    ("Y_grad", (N, 10), 1.0)]
        if k == "resblock":
            N, C, H, W = p
            s = 1 / math.sqrt(C * 9)
            return [("X", (N, C, H, W), 1.0), ("W1", (C, C, 3, 3), s), ("W2", (C, C, 3, 3), s),
                    ("Y_grad", (N, C, H, W), 1.0)]
        if k == "model":
            xs, ys = MODELS[self.name]
            return [("X", xs, 1.0)] + ([("Y_grad", ys, 1.0)] if self.pas == "train" else [])
        raise ValueError(k)

    def out_shape(self):
        k, p = self.kind, self.params
        if k == "maxpool":
            N, C, H, W, ks, s, pd = p
            return (N, C, (H + 2 * pd - ks) // s + 1, (W + 2 * pd - ks) // s + 1)
        raise ValueError(k)

    def outputs(self, d=None):
        """Names of the tensors compared between onnxgrad and PyTorch (for
        models, the train pass needs the case directory d: every parameter's
        gradient, named after its ONNX initializer, listed in d/params.txt)."""
        k, ps = self.kind, self.pas
        if k == "model":
            if ps == "fwd":
                return ["Y"]
            with open(d + "/params.txt") as f:
                return ["Y"] + [n.strip() + "_grad" for n in f if n.strip()]
        if k in ("lenet", "resblock"):
            return [n + "_grad" for n, _, _ in self.inputs() if n not in ("X", "Y_grad")]
        if ps == "fwd":
            return ["Y", "I"] if k == "maxpool" else ["Y"]
        if ps == "bwd" or ps == "dx":
            return ["X_grad"]
        if ps == "dw":
            return ["W_grad"]
        if ps == "dA":
            return ["A_grad"]
        if ps == "dB":
            return ["B_grad"]
        raise ValueError(ps)

    # ---- work -----------------------------------------------------------
    def flops(self):
        k, p = self.kind, self.params
        if k == "conv":
            N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, g, P, Q = self.conv_geom()
            return 2.0 * N * K * (C // g) * R * S * P * Q
        if k == "convt":
            N, C, H, W, K, R, S, s, pd = p
            return 2.0 * N * C * K * R * S * H * W
        if k == "gemm":
            M, K, N = p
            return 2.0 * M * K * N
        if k == "lenet":
            # forward + dW everywhere + dX wherever a weight lies below
            # (not for conv1: the image gets no gradient); Relu/MaxPool not counted
            N = p[0]
            c1, c2 = 2.0 * N * 6 * 25 * 28 * 28, 2.0 * N * 16 * 150 * 10 * 10
            fc = 2.0 * N * (400 * 120 + 120 * 84 + 84 * 10)
            return 2 * c1 + 3 * c2 + 3 * fc
        if k == "resblock":
            # conv1: forward + dW; conv2: forward + dX + dW
            N, C, H, W = p
            return 5 * (2.0 * N * C * C * 9 * H * W)
        return None

    def bytes(self):
        """Bytes a memory-bound pass must move at least once."""
        k, p = self.kind, self.params
        if k == "relu":
            n = p[0] * p[1] * p[2] * p[3]
            return 4.0 * n * (2 if self.pas == "fwd" else 3)   # fwd: X, Y; bwd: Y, dY, dX
        if k == "add":
            return 4.0 * p[0] * p[1] * p[2] * p[3] * 3   # A, B, Y
        if k == "batchnorm":
            return 4.0 * p[0] * p[1] * p[2] * p[3] * 2   # X, Y (the per-channel vectors are small)
        if k == "maxpool":
            N, C, H, W = p[:4]
            nx = N * C * H * W
            oN, oC, oH, oW = self.out_shape()
            ny = oN * oC * oH * oW
            # fwd: read X, write Y and int64 Indices; bwd: read dY and Indices, write dX
            return 4.0 * nx + 12.0 * ny
        return None

    def memory_bound(self):
        return self.kind in ("relu", "maxpool", "add", "batchnorm")


def all_cases():
    cases = []
    for (name, N, C, H, W, K, R, S, st, pd, dl, g) in CONV_LAYERS + EXTRA_CONV:
        extra = name in [e[0] for e in EXTRA_CONV]
        for ps in ("fwd", "dx", "dw"):
            cases.append(Case(name, "conv", ps, [N, C, H, W, K, R, S, st, st, pd, pd, dl, dl, g], not extra))
    cases.append(Case("convT_8x64x28", "convt", "fwd", [8, 64, 28, 28, 32, 4, 4, 2, 1], False))
    for ps in ("fwd", "bwd"):
        cases.append(Case("maxpool_3x3s2", "maxpool", ps, [8, 64, 112, 112, 3, 2, 1]))
    for ps in ("fwd", "bwd"):
        cases.append(Case("relu", "relu", ps, [8, 64, 112, 112]))
    cases.append(Case("add", "add", "fwd", [8, 64, 112, 112]))
    cases.append(Case("bn_infer", "batchnorm", "fwd", [8, 64, 112, 112, 0]))
    cases.append(Case("bn_train", "batchnorm", "fwd", [8, 64, 112, 112, 1]))
    for name, M, K, N in (("gemm_64x512x1000", 64, 512, 1000), ("gemm_16x9216x4096", 16, 9216, 4096)):
        for ps in ("fwd", "dA", "dB"):
            cases.append(Case(name, "gemm", ps, [M, K, N]))
    cases.append(Case("train_lenet5", "lenet", "train", [64]))
    cases.append(Case("train_resblock", "resblock", "train", [8, 64, 56, 56]))
    for name, (xs, ys) in MODELS.items():
        for ps in ("fwd", "train"):
            cases.append(Case(name, "model", ps, list(xs)))
    return cases


def select(cases, names):
    """--cases filter: a name matches a case name, a case id (name.pass), or a kind."""
    if not names:
        return cases
    want = set(names)
    return [c for c in cases if c.name in want or c.id in want or c.kind in want]
