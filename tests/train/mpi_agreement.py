#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`onnxgrad train --distributed` against single-process training.

    mpi_agreement.py ONNXGRAD MPIEXEC WORK_DIR

Two small models built with onnx.helper (an MLP without BatchNormalization,
and one with BatchNormalization after its first layer) and a random .pb data
set of 82 train examples; every run trains 3 epochs with momentum, --batch 20
(so each epoch ends with a batch of 2: with 3 ranks, rank 2's shard of it is
empty) and compares the initializers of the -o models:

1. MLP, -np 2 vs one process: equal within 2e-6 (relative to the largest
   weight): the same gradients, summed in another order.
2. Two -np 2 runs: bit-identical weights.
3. MLP, -np 3 --oversubscribe (20 = 7 + 7 + 6, then 1 + 1 + 0) vs one
   process: within 2e-6; -np 1 --distributed: bit-identical to one process.
4. BatchNormalization model, -np 2 vs one process: each rank normalises its
   shard with the shard's own mean and variance (DDP without SyncBatchNorm),
   so the gradients are those of another loss: the weights differ (by more
   than 1e-5 of the largest) but stay close (within 10% of the largest);
   with every shard of one example per rank this would not hold.
   Against PyTorch computing exactly that (the shards in file order with
   --no-shuffle, per-shard batch statistics, size-weighted gradients): within
   1e-5, weights and rank 0's running mean.
5. A failing rank: --data DIR-%r gives rank 1 a corrupted train_x.pb (fails
   at setup), a train split of another size (the ranks disagree), or a label
   out of range (fails in the first step); rank 0 a corrupted test_x.pb
   (only rank 0 scores), or -o in a missing directory (fails after the
   last step): every rank exits non-zero within the timeout, naming the
   failed rank.
6. Under mpirun -np 1 without --distributed: bit-identical to one process.
7. -np 2 interrupted after 7 steps (ONNXGRAD_TEST_INTERRUPT_AT_STEP on every
   rank), resumed from rank 0's interrupted.onnx with -np 2: bit-identical
   to the uninterrupted -np 2 run; -np 3 interrupted just before a batch of
   2 and resumed (rank 2 starts on an empty shard): bit-identical to -np 3.
Exit 1 when any check fails.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch

N_TRAIN, N_TEST, FEAT, HID, CLASSES = 82, 20, 8, 16, 4
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
           OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_rmaps_base_oversubscribe="1")
TIMEOUT = 120
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def save_pb(arr, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr).SerializeToString())


def write_data(d, xs, ys, n_train=N_TRAIN):
    os.makedirs(d, exist_ok=True)
    save_pb(xs[:n_train], os.path.join(d, "train_x.pb"))
    save_pb(ys[:n_train], os.path.join(d, "train_y.pb"))
    save_pb(xs[N_TRAIN:], os.path.join(d, "test_x.pb"))
    save_pb(ys[N_TRAIN:], os.path.join(d, "test_y.pb"))


def make_model(path, bn, gen):
    w = lambda *s: (gen.standard_normal(s) * 0.4).astype(np.float32)
    inits = [numpy_helper.from_array(w(HID, FEAT), "W1"), numpy_helper.from_array(np.zeros(HID, np.float32), "b1"),
             numpy_helper.from_array(w(CLASSES, HID), "W2"),
             numpy_helper.from_array(np.zeros(CLASSES, np.float32), "b2")]
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1)]
    if bn:
        inits += [numpy_helper.from_array(np.ones(HID, np.float32), "bn_scale"),
                  numpy_helper.from_array(np.zeros(HID, np.float32), "bn_bias"),
                  numpy_helper.from_array(np.zeros(HID, np.float32), "bn_mean"),
                  numpy_helper.from_array(np.ones(HID, np.float32), "bn_var")]
        nodes.append(helper.make_node("BatchNormalization", ["h", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
                                      ["hn"], epsilon=1e-5, momentum=0.9))
    nodes += [helper.make_node("Tanh", ["hn" if bn else "h"], ["a"]),
              helper.make_node("Gemm", ["a", "W2", "b2"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "bn_mlp" if bn else "mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", FEAT])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", CLASSES])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]), path)


def weights(path, names=None):
    m = onnx.load(path)
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer if names is None or t.name in names}


def rel_diff(a, b, names):
    big = max(float(np.max(np.abs(a[k]))) for k in names)
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in names) / big


def torch_ddp(model_path, xs, ys, ranks, epochs=3, batch=20, lr=0.1, momentum=0.9):
    """What DDP without SyncBatchNorm computes on the BatchNormalization model, in PyTorch: every
    global batch (file order) cut into `ranks` contiguous shards, each shard's mean-loss gradients
    through batch statistics of its own, summed weighted by the shard sizes over the global batch;
    rank 0's module keeps the running statistics of its shards. Returns its weights."""
    w = {k: torch.tensor(v) for k, v in weights(model_path).items()}
    fc1, fc2, bn = torch.nn.Linear(FEAT, HID), torch.nn.Linear(HID, CLASSES), torch.nn.BatchNorm1d(HID, 1e-5, 0.1)
    with torch.no_grad():
        for mod, a, b in ((fc1, "W1", "b1"), (fc2, "W2", "b2"), (bn, "bn_scale", "bn_bias")):
            mod.weight.copy_(w[a])
            mod.bias.copy_(w[b])
    params = list(fc1.parameters()) + list(bn.parameters()) + list(fc2.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    n = len(xs)
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    for _ in range(epochs):
        for start in range(0, n, batch):
            m = min(batch, n - start)
            sizes = [m // ranks + (1 if r < m % ranks else 0) for r in range(ranks)]
            total = [torch.zeros_like(p) for p in params]
            off = start
            for r, c in enumerate(sizes):
                xr, yr = x[off:off + c], y[off:off + c]
                off += c
                # only rank 0's running statistics matter (they are saved): the others' BN is a copy
                b = bn if r == 0 else torch.nn.BatchNorm1d(HID, 1e-5, 0.1)
                if r:
                    with torch.no_grad():
                        b.weight.copy_(bn.weight)
                        b.bias.copy_(bn.bias)
                opt.zero_grad()
                out = fc2(torch.tanh(torch.nn.functional.batch_norm(
                    fc1(xr), b.running_mean, b.running_var, bn.weight, bn.bias, True, 0.1, 1e-5)))
                torch.nn.functional.cross_entropy(out, yr).backward()
                for t_, p in zip(total, params):
                    t_ += c * p.grad
            for t_, p in zip(total, params):
                p.grad = t_ / m
            opt.step()
    return {"W1": fc1.weight, "b1": fc1.bias, "W2": fc2.weight, "b2": fc2.bias, "bn_scale": bn.weight,
            "bn_bias": bn.bias, "bn_mean": bn.running_mean}


def train_args(onnxgrad, model, data, out):
    return [onnxgrad, "train", model, "--data", data, "--loss-fn", "softmax-cross-entropy", "--optimizer",
            "momentum", "--lr", "0.1", "--epochs", "3", "--batch", "20", "--json", "-o", out]


def run(cmd, what):
    try:
        p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        check(False, f"{what}: no hang (timed out after {TIMEOUT} s)")
        return None
    return p


def train(onnxgrad, mpiexec, np_, model, data, out, distributed=True):
    cmd = train_args(onnxgrad, model, data, out)
    if np_:
        cmd = [mpiexec, "-np", str(np_), "--oversubscribe"] + cmd + (["--distributed"] if distributed else [])
    p = run(cmd, " ".join(cmd[:3]))
    if p is None:
        return None
    if p.returncode != 0:
        check(False, f"{' '.join(cmd)} exits 0 (got {p.returncode}): {p.stderr.strip()}")
        return None
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    check(len(lines) == 3, f"{np_} ranks: one JSON line per epoch from rank 0 alone (got {len(lines)})")
    return weights(out)


def main():
    onnxgrad, mpiexec, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gen = np.random.default_rng(11)
    xs = gen.standard_normal((N_TRAIN + N_TEST, FEAT)).astype(np.float32)
    ys = gen.integers(0, CLASSES, N_TRAIN + N_TEST).astype(np.int64)
    data = os.path.join(work, "data")
    write_data(data, xs, ys)
    mlp, bnm = os.path.join(work, "mlp.onnx"), os.path.join(work, "bn.onnx")
    make_model(mlp, False, gen)
    make_model(bnm, True, gen)
    o = lambda name: os.path.join(work, name + ".onnx")
    trainable = ["W1", "b1", "W2", "b2"]

    single = train(onnxgrad, mpiexec, 0, mlp, data, o("mlp-1"))
    d2 = train(onnxgrad, mpiexec, 2, mlp, data, o("mlp-np2"))
    d2b = train(onnxgrad, mpiexec, 2, mlp, data, o("mlp-np2b"))
    d3 = train(onnxgrad, mpiexec, 3, mlp, data, o("mlp-np3"))
    d1 = train(onnxgrad, mpiexec, 1, mlp, data, o("mlp-np1"))
    p1 = train(onnxgrad, mpiexec, 1, mlp, data, o("mlp-plain"), distributed=False)
    if single and d2:
        r = rel_diff(single, d2, trainable)
        check(r < 2e-6, f"MLP -np 2 vs one process: max |diff| / max |w| = {r:.3g} < 2e-6")
        check(any(not np.array_equal(single[k], single_k) for k, single_k in
                  weights(mlp, trainable).items()), "the MLP trained (its weights moved)")
    if d2 and d2b:
        check(all(np.array_equal(d2[k], d2b[k]) for k in d2), "two -np 2 runs: bit-identical initializers")
    # interrupted mid-epoch (the tests' Ctrl-C hook, the same step on every rank), then resumed
    ck = os.path.join(work, "ck")
    cmd = [mpiexec, "-np", "2", "--oversubscribe", "-x", "ONNXGRAD_TEST_INTERRUPT_AT_STEP=7"] + \
        train_args(onnxgrad, mlp, data, o("unused")) + ["--checkpoint-dir", ck, "--distributed"]
    p = run(cmd, "-np 2 interrupted at step 7")
    if p is not None:
        check(p.returncode == 130 and os.path.exists(os.path.join(ck, "interrupted.onnx")),
              f"-np 2 interrupted at step 7: exit 130 and rank 0's interrupted.onnx (exit {p.returncode})")
        cmd = [mpiexec, "-np", "2", "--oversubscribe"] + \
            train_args(onnxgrad, mlp, data, o("mlp-np2-resumed"))[:3] + \
            ["--data", data, "--epochs", "3", "--batch", "20", "--json", "-o", o("mlp-np2-resumed"),
             "--resume", os.path.join(ck, "interrupted.onnx"), "--distributed"]
        p = run(cmd, "-np 2 resumed")
        if p is not None and p.returncode == 0 and d2:
            r = weights(o("mlp-np2-resumed"))
            check(all(np.array_equal(d2[k], r[k]) for k in trainable),
                  "-np 2 interrupted and resumed with -np 2: bit-identical to the uninterrupted run")
        elif p is not None:
            check(False, f"-np 2 resume exits 0 (got {p.returncode}): {p.stderr.strip()[:300]}")
    if single and d3:
        r = rel_diff(single, d3, trainable)
        check(r < 2e-6, f"MLP -np 3 (uneven shards, an empty one) vs one process: {r:.3g} < 2e-6")
    # -np 3 interrupted after 4 steps, just before the epoch's last batch of 2 (shards 1, 1, 0):
    # resumed, rank 2 starts on an empty shard without gradients of its own yet
    ck3 = os.path.join(work, "ck3")
    cmd = [mpiexec, "-np", "3", "--oversubscribe", "-x", "ONNXGRAD_TEST_INTERRUPT_AT_STEP=4"] + \
        train_args(onnxgrad, mlp, data, o("unused")) + ["--checkpoint-dir", ck3, "--distributed"]
    p = run(cmd, "-np 3 interrupted at step 4")
    if p is not None:
        check(p.returncode == 130, f"-np 3 interrupted at step 4: exit 130 (got {p.returncode})")
        cmd = [mpiexec, "-np", "3", "--oversubscribe", onnxgrad, "train", mlp, "--data", data, "--epochs", "3",
               "--batch", "20", "--json", "-o", o("mlp-np3-resumed"), "--resume",
               os.path.join(ck3, "interrupted.onnx"), "--distributed"]
        p = run(cmd, "-np 3 resumed at the short batch")
        if p is not None and p.returncode == 0 and d3:
            r = weights(o("mlp-np3-resumed"))
            check(all(np.array_equal(d3[k], r[k]) for k in trainable),
                  "-np 3 resumed at a batch with an empty shard: bit-identical to the uninterrupted -np 3 run")
        elif p is not None:
            check(False, f"-np 3 resume exits 0 (got {p.returncode}): {p.stderr.strip()[:300]}")
    if single and d1:
        check(all(np.array_equal(single[k], d1[k]) for k in trainable),
              "-np 1 --distributed: bit-identical to one process")
    if single and p1:
        check(all(np.array_equal(single[k], p1[k]) for k in single),
              "mpirun -np 1 without --distributed: bit-identical to one process")

    # 80 examples: 4 batches of 20, shards of 10 (a batch of 2, split in shards of one example, would
    # leave batch statistics of a single example: a variance of 0 and a gradient of rounding noise)
    data80 = os.path.join(work, "data80")
    write_data(data80, xs, ys, 80)
    bn1 = train(onnxgrad, mpiexec, 0, bnm, data80, o("bn-1"))
    bn2 = train(onnxgrad, mpiexec, 2, bnm, data80, o("bn-np2"))
    # the same against PyTorch's DDP-without-SyncBatchNorm arithmetic, in file order
    cmd = [mpiexec, "-np", "2", "--oversubscribe"] + train_args(onnxgrad, bnm, data80, o("bn-np2-ord")) + \
        ["--no-shuffle", "--distributed"]
    p = run(cmd, "BatchNormalization model -np 2 --no-shuffle")
    if p is not None and p.returncode == 0:
        got = weights(o("bn-np2-ord"))
        ref = {k: v.detach().numpy() for k, v in torch_ddp(bnm, xs[:80], ys[:80], 2).items()}
        r = rel_diff(ref, got, list(ref))
        check(r < 1e-5, f"BatchNormalization model -np 2 = PyTorch DDP without SyncBatchNorm (weights, rank 0's "
                        f"running mean): {r:.3g} < 1e-5")
    elif p is not None:
        check(False, f"BatchNormalization -np 2 --no-shuffle exits 0: {p.stderr.strip()[:300]}")
    if bn1 and bn2:
        names = trainable + ["bn_scale", "bn_bias"]
        r = rel_diff(bn1, bn2, names)
        check(1e-5 < r < 0.1, f"BatchNormalization model -np 2 vs one process (per-shard batch statistics): "
                              f"1e-5 < {r:.3g} < 0.1")
        rs = rel_diff(bn1, bn2, ["bn_mean", "bn_var"])
        check(rs < 0.5, f"BatchNormalization running statistics (rank 0's) near the single process's: {rs:.3g}")

    # failing ranks: rank 1 reads DIR-1
    def failing(name, spoil, bad=1, out=None):
        base = os.path.join(work, "fail-" + name.split()[-1])
        write_data(base + "-0", xs, ys)
        write_data(base + "-1", xs, ys)
        spoil(base + "-%d" % bad)
        cmd = [mpiexec, "-np", "2", "--oversubscribe"] + \
            train_args(onnxgrad, mlp, base + "-%r", out or o("fail")) + ["--distributed"]
        what = f"rank {bad} {name}"
        p = run(cmd, what)
        if p is None:
            return
        check(p.returncode != 0, f"{what}: the run fails (exit {p.returncode})")
        err = p.stderr
        check(f"(rank {1 - bad}): stopping: rank {bad} failed" in err, f"{what}: rank {1 - bad} stops naming it")
        check(f"(rank {bad}):" in err, f"{what}: it reports its own error: {err.strip()[:300]!r}")

    def corrupt(d):
        with open(os.path.join(d, "train_x.pb"), "r+b") as f:
            f.truncate(100)
    def fewer(d):
        save_pb(xs[:N_TRAIN - 1], os.path.join(d, "train_x.pb"))
        save_pb(ys[:N_TRAIN - 1], os.path.join(d, "train_y.pb"))
    def bad_label(d):
        y = ys[:N_TRAIN].copy()
        y[:] = 99
        save_pb(y, os.path.join(d, "train_y.pb"))
    failing("with a corrupted train_x.pb", corrupt)
    failing("with a label out of range", bad_label)
    # rank 0 alone reads the test split and writes -o: its failures there stop rank 1 too
    failing("with a corrupted test_x.pb", lambda d: open(os.path.join(d, "test_x.pb"), "r+b").truncate(50), bad=0)
    failing("writing -o into a missing directory", lambda d: None, bad=0,
            out=os.path.join(work, "no-such-dir", "out.onnx"))
    # a split of another size: every rank sees the disagreement itself
    base = os.path.join(work, "fail-size")
    write_data(base + "-0", xs, ys)
    write_data(base + "-1", xs, ys)
    fewer(base + "-1")
    cmd = [mpiexec, "-np", "2", "--oversubscribe"] + train_args(onnxgrad, mlp, base + "-%r", o("fail")) + \
        ["--distributed"]
    p = run(cmd, "ranks with splits of different sizes")
    if p is not None:
        check(p.returncode != 0 and "the ranks disagree on the train split's size" in p.stderr,
              f"ranks with splits of different sizes: an error (exit {p.returncode}): {p.stderr.strip()[:300]!r}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
