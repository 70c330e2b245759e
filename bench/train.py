#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Training benchmark (issue 12): LeNet-5 on Fashion-MNIST, onnxgrad against
PyTorch 1.13, side by side, and ResNet-18's first steps against PyTorch.

    bench/train.py [--onnxgrad build/tools/onnxgrad] [--data /usr/share/datasets/fashion-mnist]
                   [--epochs 10] [--threads 1,2] [--optimizers momentum,adam] [--timing-epochs 1]
                   [--skip-accuracy] [--skip-resnet] [--json bench/results/train.json]

LeNet-5 (conv 6@5x5 pad 2, relu, maxpool 2, conv 16@5x5, relu, maxpool 2,
dense 120-84-10) gets PyTorch's default initialisation (torch.manual_seed(0))
and is exported with a dynamic batch; both frameworks start from those
weights with the same hyper-parameters (batch 64, momentum SGD lr 0.01
momentum 0.9, Adam lr 0.001), each with its own seeded shuffling.
- Accuracy: --epochs epochs per optimiser, test accuracy after each.
- Time per epoch: the training steps over the training set only (PyTorch
  iterating over tensors already in memory; `onnxgrad train --json`'s
  "seconds", which times the steps alone), at each thread count, runs
  interleaved; ratio = PyTorch s / onnxgrad s.
- ResNet-18 (torchvision, num_classes=10, 32x32 inputs, BatchNormalization
  in training mode): plain SGD (lr 0.01) at batch 16 from the same weights
  and batches for 20 steps; the loss of every step and its relative
  difference (target: within 1 %).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(dir_, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(dir_, name)
        if os.path.exists(p):
            return p
    sys.exit("bench/train.py: %s/%s(.gz) not found (Debian package dataset-fashion-mnist)" % (dir_, stem))


def load_fashion(dir_):
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = read_idx(find(dir_, prefix + "-images-idx3-ubyte")).astype(np.float32) / 255.0
        y = read_idx(find(dir_, prefix + "-labels-idx1-ubyte")).astype(np.int64)
        out[split] = (torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(y.copy()))
    return out


def torch_epoch(model, opt, x, y, batch, gen):
    """One epoch of steps over in-memory tensors; returns (seconds, mean loss)."""
    model.train()
    perm = torch.randperm(x.shape[0], generator=gen)
    total, t0 = 0.0, time.perf_counter()
    for s in range(0, x.shape[0], batch):
        idx = perm[s:s + batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        total += loss.item() * idx.shape[0]
    return time.perf_counter() - t0, total / x.shape[0]


def torch_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def make_opt(name, params):
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    return torch.optim.Adam(params, lr=0.001)


OG_OPT = {"momentum": ["--optimizer", "momentum", "--lr", "0.01", "--momentum", "0.9"],
          "adam": ["--optimizer", "adam", "--lr", "0.001"]}


def onnxgrad_train(args, model_path, opt, epochs, threads, out=None):
    cmd = [args.onnxgrad, "train", model_path, "--data", args.data, "--loss-fn", "softmax-cross-entropy",
           *OG_OPT[opt], "--epochs", str(epochs), "--batch", "64", "--rng-seed", "1", "--threads", str(threads),
           "--json"]
    if out:
        cmd += ["-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("bench/train.py: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def lenet(args, data, work, report):
    torch.manual_seed(0)
    init = LeNet5()
    model_path = os.path.join(work, "lenet5.onnx")
    torch.onnx.export(init, data["test"][0][:2], model_path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=15)
    xtr, ytr = data["train"]
    xte, yte = data["test"]
    report["lenet"] = {}
    for opt in args.optimizers:
        row = {}
        if not args.skip_accuracy:
            torch.set_num_threads(args.threads[-1])
            m = LeNet5()
            m.load_state_dict(init.state_dict())
            o = make_opt(opt, m.parameters())
            gen = torch.Generator().manual_seed(1)
            accs = []
            for e in range(args.epochs):
                torch_epoch(m, o, xtr, ytr, 64, gen)
                accs.append(torch_accuracy(m, xte, yte))
            og_rows = onnxgrad_train(args, model_path, opt, args.epochs, args.threads[-1],
                                     os.path.join(work, "lenet5_%s.onnx" % opt))
            row["torch_accuracy"] = accs
            row["onnxgrad_accuracy"] = [r["test_accuracy"] for r in og_rows]
            print("LeNet-5 %-8s %d epochs: test accuracy PyTorch %.2f %%, onnxgrad %.2f %%" %
                  (opt, args.epochs, 100 * accs[-1], 100 * row["onnxgrad_accuracy"][-1]), flush=True)
        for t in args.threads:
            torch.set_num_threads(t)
            m = LeNet5()
            m.load_state_dict(init.state_dict())
            o = make_opt(opt, m.parameters())
            gen = torch.Generator().manual_seed(1)
            pt, og = [], []
            for e in range(args.timing_epochs):   # interleaved: one epoch of each in turn
                pt.append(torch_epoch(m, o, xtr, ytr, 64, gen)[0])
                og.append(onnxgrad_train(args, model_path, opt, 1, t)[0]["seconds"])
            pts, ogs = min(pt), min(og)
            row["threads_%d" % t] = {"torch_seconds": pts, "onnxgrad_seconds": ogs, "ratio": pts / ogs,
                                     "torch_images_per_second": xtr.shape[0] / pts,
                                     "onnxgrad_images_per_second": xtr.shape[0] / ogs}
            print("LeNet-5 %-8s %d thread%s: epoch PyTorch %.2f s (%.0f img/s), onnxgrad %.2f s (%.0f img/s), "
                  "ratio %.2fx" % (opt, t, "" if t == 1 else "s", pts, xtr.shape[0] / pts, ogs,
                                   xtr.shape[0] / ogs, pts / ogs), flush=True)
        report["lenet"][opt] = row


def save_pb(arr, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr).SerializeToString())


def resnet(args, work, report):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    steps, batch = 20, 16
    gen = np.random.default_rng(0)
    x = gen.standard_normal((steps * batch, 3, 32, 32)).astype(np.float32)
    y = gen.integers(0, 10, steps * batch).astype(np.int64)
    d = os.path.join(work, "resnet18")
    os.makedirs(d, exist_ok=True)
    save_pb(x, os.path.join(d, "train_x.pb"))
    save_pb(y, os.path.join(d, "train_y.pb"))
    save_pb(x[:batch], os.path.join(d, "test_x.pb"))
    save_pb(y[:batch], os.path.join(d, "test_y.pb"))
    path = os.path.join(d, "resnet18.onnx")
    model.eval()
    torch.onnx.export(model, torch.from_numpy(x[:2]), path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}}, opset_version=15, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    import copy

    def torch_run(m, dtype=torch.float32):
        m = m.to(dtype)
        m.train()
        opt = torch.optim.SGD(m.parameters(), lr=0.01)
        out = []
        for s in range(steps):
            opt.zero_grad()
            loss = F.cross_entropy(m(torch.from_numpy(x[s * batch:(s + 1) * batch]).to(dtype)),
                                   torch.from_numpy(y[s * batch:(s + 1) * batch]))
            loss.backward()
            opt.step()
            out.append(loss.item())
        return out

    losses = torch_run(copy.deepcopy(model))
    # the noise floor: PyTorch against itself in float64, and from weights perturbed by 1e-7
    f64 = torch_run(copy.deepcopy(model), torch.float64)
    perturbed = copy.deepcopy(model)
    with torch.no_grad():
        gen_t = torch.Generator().manual_seed(1)
        for p in perturbed.parameters():
            p.mul_(1 + 1e-7 * torch.randn(p.shape, generator=gen_t))
    pert = torch_run(perturbed)
    cmd = [args.onnxgrad, "train", path, "--data", d, "--loss-fn", "softmax-cross-entropy", "--optimizer", "sgd",
           "--lr", "0.01", "--epochs", "1", "--batch", str(batch), "--no-shuffle", "--log-steps", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("bench/train.py: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    og = [json.loads(line)["loss"] for line in r.stdout.splitlines() if '"step"' in line]

    def rel(a):
        return [abs(u - v) / abs(v) for u, v in zip(a, losses)]
    report["resnet18"] = {"torch_loss": losses, "onnxgrad_loss": og, "torch_float64_loss": f64,
                          "torch_perturbed_loss": pert, "max_relative_difference": max(rel(og)),
                          "torch_float64_max_relative_difference": max(rel(f64)),
                          "torch_perturbed_max_relative_difference": max(rel(pert))}
    print("ResNet-18 batch 16 SGD lr 0.01, 20 steps, |loss - PyTorch's| / PyTorch's per step (target < 1e-2):")
    print("  step  PyTorch    onnxgrad  (diff)     PyTorch float64 (diff)  PyTorch, weights*(1+1e-7) (diff)")
    for k in range(steps):
        print("  %4d  %.6f  %.6f (%.1e)  %.6f (%.1e)      %.6f (%.1e)" %
              (k + 1, losses[k], og[k], rel(og)[k], f64[k], rel(f64)[k], pert[k], rel(pert)[k]))
    print("  max: onnxgrad %.1e, PyTorch float64 %.1e, PyTorch perturbed %.1e" %
          (max(rel(og)), max(rel(f64)), max(rel(pert))), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnxgrad", default=os.path.join(HERE, "..", "build", "tools", "onnxgrad"))
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--timing-epochs", type=int, default=1)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--optimizers", default="momentum,adam")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-resnet", action="store_true")
    p.add_argument("--json", default=os.path.join(HERE, "results", "train.json"))
    args = p.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    args.optimizers = args.optimizers.split(",")
    report = {"torch": torch.__version__}
    with tempfile.TemporaryDirectory() as work:
        lenet(args, load_fashion(args.data), work, report)
        if not args.skip_resnet:
            resnet(args, work, report)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print("wrote", args.json)


if __name__ == "__main__":
    main()
