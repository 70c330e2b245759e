#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""torch_bench.py - the PyTorch side of the benchmark (bench/run.sh).

A long-lived worker driven by bench/bench.py with the same line protocol as
og_bench (stdin commands, one reply line each on the real stdout; anything a
library prints goes to stderr):

  info                              -> "ok {json}"  torch version, threads,
                                       OpenBLAS core, oneDNN ISA
  case NAME KIND PASS DIR P1 ...    load DIR/<tensor>.bin, run once -> "ok {json}"
                                       (json: the kernels oneDNN reported for it)
  warm N / run N                    -> "ok" / "ok T1 0 T2 0 ..." (ms)
  save NAME ...                     write DIR/pt_<NAME>.bin -> "ok"
  free, quit

What is timed (see bench/README.md): forward under no_grad; conv dX / dW
with torch.ops.aten.convolution_backward (output_mask [T,F,F] / [F,T,F]);
the other backward passes with torch.autograd.grad of the op's output (the
forward was run once at setup, retain_graph=True); training steps with
forward + torch.autograd.grad w.r.t. every parameter.

Threads: --threads T calls torch.set_num_threads(T); the driver also sets
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS and unsets OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE in this process's environment.
"""

import ctypes
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from cases import Case  # noqa: E402

PROTO = None
ONEDNN_ISA = None   # from oneDNN's verbose "info,cpu,isa:" line


def reply(s):
    PROTO.write(s + "\n")
    PROTO.flush()


# ---- capture of what native code prints to stdout (oneDNN verbose) -------
class CaptureStdout:
    def __enter__(self):
        sys.stdout.flush()
        self.f = tempfile.TemporaryFile(mode="w+b")
        self.saved = os.dup(1)
        os.dup2(self.f.fileno(), 1)
        return self

    def __exit__(self, *a):
        try:
            ctypes.CDLL(None).fflush(None)
        except Exception:
            pass
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        self.f.seek(0)
        self.text = self.f.read().decode("utf-8", "replace")
        self.f.close()


def onednn_run(fn):
    """Runs fn once with oneDNN verbose on; returns (kernels, isa line)."""
    kernels, isa = [], None
    try:
        with CaptureStdout() as cap:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                fn()
        text = cap.text
    except Exception:
        fn()
        return kernels, isa
    for line in text.splitlines():
        f = line.split(",")
        if len(f) > 4 and f[0].endswith("_verbose") and f[1] == "exec":
            if f[3] == "reorder":
                continue
            k = f"{f[3]}:{f[4]}" + (f":{f[5]}" if len(f) > 5 else "")
            if k not in kernels:
                kernels.append(k)
        m = re.search(r"isa:(.*)", line)
        if m and isa is None:
            isa = m.group(1).strip()
    global ONEDNN_ISA
    if isa and not ONEDNN_ISA:
        ONEDNN_ISA = isa
    return kernels, isa


def openblas_info():
    try:
        maps = open("/proc/self/maps").read()
    except OSError:
        return {"corename": "unknown"}
    libs = sorted(set(re.findall(r"(/\S*openblas\S*\.so[\S]*)", maps))) + \
        sorted(set(re.findall(r"(/\S*libblas\S*\.so[\S]*)", maps)))
    for lib in libs:
        try:
            L = ctypes.CDLL(lib)
            L.openblas_get_corename.restype = ctypes.c_char_p
            L.openblas_get_config.restype = ctypes.c_char_p
            return {"lib": lib, "corename": L.openblas_get_corename().decode(),
                    "config": L.openblas_get_config().decode(),
                    "threads": int(L.openblas_get_num_threads())}
        except Exception:
            continue
    return {"corename": "unknown"}


# ---- cases ---------------------------------------------------------------
class TorchCase:
    def __init__(self, c, d):
        self.c, self.d = c, d
        self.t = {}
        for spec in c.inputs():
            name, shape = spec[:2]
            a = np.fromfile(os.path.join(d, name + ".bin"), dtype=np.float32)
            self.t[name] = torch.from_numpy(a.reshape(shape))
        self.out = {}
        self.fn = self.make()

    def make(self):
        c, t, k, ps, p = self.c, self.t, self.c.kind, self.c.pas, self.c.params
        if k == "conv":
            N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, g, P, Q = c.conv_geom()
            x, w = t["X"], t["W"]
            if ps == "fwd":
                def fn():
                    with torch.no_grad():
                        self.out = {"Y": F.conv2d(x, w, None, (sh, sw), (ph, pw), (dh, dw), g)}
                return fn
            dy = t["Y_grad"]
            mask = [True, False, False] if ps == "dx" else [False, True, False]
            which = 0 if ps == "dx" else 1
            name = "X_grad" if ps == "dx" else "W_grad"

            def fn():
                r = torch.ops.aten.convolution_backward(dy, x, w, None, [sh, sw], [ph, pw], [dh, dw], False,
                                                        [0, 0], g, mask)
                self.out = {name: r[which]}
            return fn
        if k == "convt":
            N, C, H, W, K, R, S, s, pd = p
            x, w = t["X"], t["W"]

            def fn():
                with torch.no_grad():
                    self.out = {"Y": F.conv_transpose2d(x, w, None, s, pd)}
            return fn
        if k == "maxpool":
            N, C, H, W, ks, s, pd = p
            if ps == "fwd":
                x = t["X"]

                def fn():
                    with torch.no_grad():
                        y, i = F.max_pool2d(x, ks, s, pd, return_indices=True)
                    self.out = {"Y": y, "I": i}
                return fn
            x = t["X"].clone().requires_grad_(True)
            y = F.max_pool2d(x, ks, s, pd)
            dy = t["Y_grad"]

            def fn():
                self.out = {"X_grad": torch.autograd.grad(y, x, dy, retain_graph=True)[0]}
            return fn
        if k == "relu":
            if ps == "fwd":
                x = t["X"]

                def fn():
                    with torch.no_grad():
                        self.out = {"Y": torch.relu(x)}
                return fn
            x = t["X"].clone().requires_grad_(True)
            y = torch.relu(x)
            dy = t["Y_grad"]

            def fn():
                self.out = {"X_grad": torch.autograd.grad(y, x, dy, retain_graph=True)[0]}
            return fn
        if k == "add":
            a, b = t["A"], t["B"]

            def fn():
                with torch.no_grad():
                    self.out = {"Y": a + b}
            return fn
        if k == "batchnorm":
            x, sc, bb = t["X"], t["scale"], t["B"]
            mean, var = t["mean"].clone(), t["var"].clone()   # training mode updates them in place
            training = bool(p[4])

            def fn():
                with torch.no_grad():
                    self.out = {"Y": F.batch_norm(x, mean, var, sc, bb, training=training, momentum=0.1, eps=1e-5)}
            return fn
        if k == "gemm":
            if ps == "fwd":
                a, b = t["A"], t["B"]

                def fn():
                    with torch.no_grad():
                        self.out = {"Y": torch.mm(a, b)}
                return fn
            wrt = "A" if ps == "dA" else "B"
            a = t["A"].clone().requires_grad_(wrt == "A")
            b = t["B"].clone().requires_grad_(wrt == "B")
            y = torch.mm(a, b)
            dy = t["Y_grad"]
            v = a if wrt == "A" else b

            def fn():
                self.out = {wrt + "_grad": torch.autograd.grad(y, v, dy, retain_graph=True)[0]}
            return fn
        if k == "lenet":
            names = ["W1", "B1", "W2", "B2", "W3", "B3", "W4", "B4", "W5", "B5"]
            prm = [t[n].clone().requires_grad_(True) for n in names]
            x, dy = t["X"], t["Y_grad"]

            def fn():
                W1, B1, W2, B2, W3, B3, W4, B4, W5, B5 = prm
                h = F.max_pool2d(torch.relu(F.conv2d(x, W1, B1)), 2, 2)
                h = F.max_pool2d(torch.relu(F.conv2d(h, W2, B2)), 2, 2)
                h = torch.flatten(h, 1)
                h = torch.relu(F.linear(h, W3, B3))
                h = torch.relu(F.linear(h, W4, B4))
                y = F.linear(h, W5, B5)
                gr = torch.autograd.grad(y, prm, dy)
                self.out = {n + "_grad": gv for n, gv in zip(names, gr)}
            return fn
        if k == "resblock":
            prm = [t["W1"].clone().requires_grad_(True), t["W2"].clone().requires_grad_(True)]
            x, dy = t["X"], t["Y_grad"]

            def fn():
                W1, W2 = prm
                h = torch.relu(F.conv2d(x, W1, None, 1, 1))
                y = torch.relu(F.conv2d(h, W2, None, 1, 1) + x)
                gr = torch.autograd.grad(y, prm, dy)
                self.out = {"W1_grad": gr[0], "W2_grad": gr[1]}
            return fn
        if k == "model":
            import models
            m = models.load(c.name, self.d)
            prm = list(m.parameters())
            names = [n for n, _ in m.named_parameters()]
            x = t["X"]
            if ps == "fwd":
                def fn():
                    with torch.no_grad():
                        self.out = {"Y": m(x)}
                return fn
            dy = t["Y_grad"]

            def fn():
                y = m(x)
                gr = torch.autograd.grad(y, prm, dy)
                self.out = {"Y": y.detach(), **{n + "_grad": gv for n, gv in zip(names, gr)}}
            return fn
        raise ValueError(f"unknown kind {k}")

    def save(self, names):
        for n in names:
            v = self.out[n]
            if n == "I" and self.c.kind == "maxpool":
                # PyTorch: index within the (n, c) plane; ONNX: flat over the whole tensor
                N, C, H, W = self.c.params[:4]
                base = torch.arange(N * C, dtype=torch.int64).reshape(N, C, 1, 1) * (H * W)
                v = (v + base).contiguous()
            v.detach().contiguous().numpy().tofile(os.path.join(self.d, "pt_" + n + ".bin"))


def info(threads):
    cfg = torch.__config__.show()
    cap = re.search(r"CPU capability usage: (\S+)", cfg)
    d = {"torch": torch.__version__, "threads": torch.get_num_threads(),
         "cpu_capability": cap.group(1) if cap else "unknown",
         "mkldnn": bool(torch.backends.mkldnn.is_available()),
         "openblas": openblas_info(),
         "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE",
                                                 "OPENBLAS_L2_SIZE", "ATEN_CPU_CAPABILITY", "OMP_WAIT_POLICY",
                                                 "OPENBLAS_THREAD_TIMEOUT")}}
    d["onednn_isa"] = ONEDNN_ISA or "unknown"
    return d


def main():
    global PROTO
    threads = 1
    a = sys.argv[1:]
    if "--threads" in a:
        threads = int(a[a.index("--threads") + 1])
    torch.set_num_threads(threads)
    PROTO = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # a small conv under oneDNN verbose to learn the ISA oneDNN dispatches to
    x, w = torch.randn(2, 64, 32, 32), torch.randn(64, 64, 3, 3)
    onednn_run(lambda: F.conv2d(x, w, None, 1, 1))
    cur = None
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        cmd = f[0]
        try:
            if cmd == "quit":
                break
            elif cmd == "info":
                reply("ok " + json.dumps(info(threads)))
            elif cmd == "case":
                cur = None
                name, kind, pas, d = f[1:5]
                cur = TorchCase(Case(name, kind, pas, [int(v) for v in f[5:]]), d)
                kernels, _ = onednn_run(cur.fn)
                reply("ok " + json.dumps({"kernels": kernels}))
            elif cmd in ("warm", "run"):
                n = max(1, int(f[1]) if len(f) > 1 else 1)
                if cur is None:
                    reply("err no case is set up")
                    continue
                ts = []
                fn = cur.fn
                for _ in range(n):
                    t0 = time.perf_counter()
                    fn()
                    ts.append((time.perf_counter() - t0) * 1e3)
                reply("ok" if cmd == "warm" else "ok " + " ".join(f"{t:.6f} 0" for t in ts))
            elif cmd == "save":
                cur.save(f[1:])
                reply("ok")
            elif cmd == "free":
                cur = None
                reply("ok")
            else:
                reply(f"err unknown command '{cmd}'")
        except Exception as e:  # report and keep serving
            msg = f"{type(e).__name__}: {e}".replace("\n", " ")
            reply("err " + msg[:2000])


if __name__ == "__main__":
    main()
