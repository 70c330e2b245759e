#!/usr/bin/python3
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
5. A failing rank: --data DIR-%r gives rank 1 a corrupted train_x.pb (fails
   at setup), a train split of another size (the ranks disagree), or a label
   out of range (fails in the first step): every rank exits non-zero within
   the timeout, naming rank 1.
6. Under mpirun -np 1 without --distributed: bit-identical to one process.
Exit 1 when any check fails.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

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
    if single and d3:
        r = rel_diff(single, d3, trainable)
        check(r < 2e-6, f"MLP -np 3 (uneven shards, an empty one) vs one process: {r:.3g} < 2e-6")
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
    if bn1 and bn2:
        names = trainable + ["bn_scale", "bn_bias"]
        r = rel_diff(bn1, bn2, names)
        check(1e-5 < r < 0.1, f"BatchNormalization model -np 2 vs one process (per-shard batch statistics): "
                              f"1e-5 < {r:.3g} < 0.1")
        rs = rel_diff(bn1, bn2, ["bn_mean", "bn_var"])
        check(rs < 0.5, f"BatchNormalization running statistics (rank 0's) near the single process's: {rs:.3g}")

    # failing ranks: rank 1 reads DIR-1
    def failing(name, spoil):
        base = os.path.join(work, "fail-" + name.split()[-1])
        write_data(base + "-0", xs, ys)
        write_data(base + "-1", xs, ys)
        spoil(base + "-1")
        cmd = [mpiexec, "-np", "2", "--oversubscribe"] + train_args(onnxgrad, mlp, base + "-%r", o("fail")) + \
            ["--distributed"]
        p = run(cmd, f"rank 1 {name}")
        if p is None:
            return
        check(p.returncode != 0, f"rank 1 {name}: the run fails (exit {p.returncode})")
        err = p.stderr
        check("(rank 0): stopping: rank 1 failed" in err, f"rank 1 {name}: rank 0 stops naming rank 1")
        check("(rank 1):" in err, f"rank 1 {name}: rank 1 reports its own error: {err.strip()[:300]!r}")

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
