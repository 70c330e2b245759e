#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`onnxgrad train` against PyTorch 1.13, step by step.

    torch_agreement.py ONNXGRAD WORK_DIR [CASE...]

For each case: a small network (conv, batch-norm, pooling, dense) with
PyTorch's default initialisation is exported to ONNX with a dynamic batch,
and random data is written as train_x.pb/train_y.pb/test_x.pb/test_y.pb.
PyTorch trains it with the case's optimiser; `onnxgrad train` trains the
exported model on the same data. One batch per epoch holds the whole train
split, so the seeded shuffle only permutes examples inside the batch, which
a mean loss and batch statistics do not see: the two runs take the same
steps. Checked: the loss of every step (--json), every trained weight and
running statistic (from the -o model), the -o model passing
onnx.checker.check_model(full_check=True), and `onnxgrad eval` scoring the
trained model with PyTorch's accuracy. Exit 1 when any case fails.
"""
import json
import os
import subprocess
import sys
import zlib

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

N_TRAIN, N_TEST, CLASSES = 48, 40, 4
EPOCHS = 6


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.flatten(x, 1))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 16)
        self.fc2 = nn.Linear(16, CLASSES)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(torch.flatten(x, 1))))


# name: (model, loss, onnxgrad options, torch optimiser factory, schedule factory or None, clip)
CASES = {
    "cnn_sgd_wd": (Cnn, "softmax-cross-entropy", ["--optimizer", "sgd", "--lr", "0.1", "--weight-decay", "0.001"],
                   lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.001), None, None),
    "cnn_momentum": (Cnn, "softmax-cross-entropy", ["--optimizer", "momentum", "--lr", "0.05", "--momentum", "0.9"],
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), None, None),
    "cnn_nesterov_step": (Cnn, "softmax-cross-entropy",
                          ["--optimizer", "momentum", "--lr", "0.05", "--momentum", "0.8", "--nesterov",
                           "--lr-schedule", "step:2:0.5"],
                          lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
                          lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5), None),
    "mlp_adam_cosine": (Mlp, "softmax-cross-entropy",
                        ["--optimizer", "adam", "--lr", "0.01", "--weight-decay", "0.01", "--lr-schedule", "cosine"],
                        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
                        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, EPOCHS), None),
    "mlp_adagrad": (Mlp, "softmax-cross-entropy", ["--optimizer", "adagrad", "--lr", "0.1"],
                    lambda p: torch.optim.Adagrad(p, lr=0.1), None, None),
    "mlp_mse_clip": (Mlp, "mse", ["--optimizer", "sgd", "--lr", "0.5", "--clip-norm", "0.05"],
                     lambda p: torch.optim.SGD(p, lr=0.5), None, 0.05),
    # (Adam on the CNN would compare noise: the conv bias before BatchNormalization has a gradient of 0
    # up to rounding, which Adam's m / sqrt(v) scales up to steps of lr either way.)
    "mlp_adam_clip": (Mlp, "softmax-cross-entropy", ["--optimizer", "adam", "--lr", "0.01", "--clip-norm", "0.5"],
                      lambda p: torch.optim.Adam(p, lr=0.01), None, 0.5),
}


def save_pb(arr, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr).SerializeToString())


def run_case(name, onnxgrad, work):
    make, loss_fn, opts, make_opt, make_sched, clip = CASES[name]
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(zlib.crc32(name.encode()) % 1000)
    gen = np.random.default_rng(7)
    xs = gen.standard_normal((N_TRAIN + N_TEST, 1, 8, 8)).astype(np.float32)
    ys = gen.integers(0, CLASSES, N_TRAIN + N_TEST).astype(np.int64)
    for split, sl in (("train", slice(0, N_TRAIN)), ("test", slice(N_TRAIN, None))):
        save_pb(xs[sl], os.path.join(d, split + "_x.pb"))
        save_pb(ys[sl], os.path.join(d, split + "_y.pb"))
    model = make()
    model.eval()
    onnx_path = os.path.join(d, "model.onnx")
    torch.onnx.export(model, torch.from_numpy(xs[:2]), onnx_path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=15, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)
    # PyTorch's run
    model.train()
    opt = make_opt(model.parameters())
    sched = make_sched(opt) if make_sched else None
    x, y = torch.from_numpy(xs[:N_TRAIN]), torch.from_numpy(ys[:N_TRAIN])
    losses = []
    onnx_running_var = {}
    for mod_name, mod in model.named_modules():
        if isinstance(mod, nn.BatchNorm2d):
            key = mod_name + ".running_var"
            onnx_running_var[key] = mod.running_var.detach().numpy().copy()

            def replay(m, inp, out, key=key):
                if m.training:
                    var = inp[0].detach().var(dim=(0, 2, 3), unbiased=False).numpy()
                    onnx_running_var[key] = (1 - m.momentum) * onnx_running_var[key] + m.momentum * var
            mod.register_forward_hook(replay)
    for _ in range(EPOCHS):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y) if loss_fn != "mse" else F.mse_loss(out, F.one_hot(y, CLASSES).float())
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched:
            sched.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(xs[N_TRAIN:])).argmax(1) == torch.from_numpy(ys[N_TRAIN:])).float().mean().item()
    want = {k: v.detach().numpy() for k, v in model.state_dict().items() if v.dtype != torch.int64}

    trained = os.path.join(d, "trained.onnx")
    cmd = [onnxgrad, "train", onnx_path, "--data", d, "--loss-fn", loss_fn, *opts, "--epochs", str(EPOCHS),
           "--batch", str(N_TRAIN), "--rng-seed", "3", "--json", "-o", trained]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return "onnxgrad train failed (%d): %s" % (r.returncode, r.stderr.strip())
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    got_losses = [row["train_loss"] for row in rows]
    problems = []
    if len(got_losses) != EPOCHS:
        return "expected %d JSON lines, got %d: %s" % (EPOCHS, len(got_losses), r.stdout)
    for k, (a, b) in enumerate(zip(got_losses, losses)):
        if abs(a - b) > 1e-4 * abs(b) + 1e-6:
            problems.append("step %d loss %.9g, PyTorch %.9g" % (k + 1, a, b))
    m = onnx.load(trained)
    onnx.checker.check_model(m, full_check=True)
    if len(m.training_info) != 1:
        problems.append("the trained model has %d training_info" % len(m.training_info))
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    # Adam's step is lr * m / sqrt(v): for a gradient near 0 it turns float-level differences into
    # differences of the order of lr, so Adam's weights get a looser bound than the other optimisers'.
    tol = 5e-3 if "adam" in name else 2e-4
    for k, v in want.items():
        if k not in inits:
            problems.append("no initializer %s in the trained model" % k)
            continue
        if k.endswith("running_var"):
            # ONNX's BatchNormalization updates it with the population variance (np.var in the
            # spec's reference), torch.nn.BatchNorm2d with the unbiased one: compare with the
            # update replayed from torch's batches with the population variance.
            v = onnx_running_var[k]
        err = np.max(np.abs(inits[k] - v)) / (np.max(np.abs(v)) + 1e-12)
        if err > tol:
            problems.append("%s differs from PyTorch by %.3g (relative to its max)" % (k, err))
    r = subprocess.run([onnxgrad, "eval", trained, "--data", d, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append("onnxgrad eval failed: " + r.stderr.strip())
    else:
        ev = json.loads(r.stdout)
        if abs(ev["accuracy"] - acc) > 1.5 / N_TEST:
            problems.append("eval accuracy %.4f, PyTorch %.4f" % (ev["accuracy"], acc))
        if sum(map(sum, ev["confusion"])) != N_TEST:
            problems.append("the confusion matrix does not count %d examples" % N_TEST)
    return "; ".join(problems)


def main():
    onnxgrad, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(CASES)
    failed = 0
    for name in names:
        msg = run_case(name, onnxgrad, work)
        print(("FAIL %s: %s" % (name, msg)) if msg else ("PASS %s" % name), flush=True)
        failed += bool(msg)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
