# SPDX-License-Identifier: MIT
"""onnxgrad.Trainer against `onnxgrad train` (the same og_trainer under
the CLI) and PyTorch's optimisers, export and resume."""
import json
import os
import unittest

import numpy as np

import onnxgrad
from common import batch, classifier_model, cli, save_pb, scratch

N, BATCH, EPOCHS = 24, 8, 2


class TrainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("train")
        cls.net, cls.path = classifier_model(cls.dir, seed=5)
        cls.x, cls.y = batch(N, seed=21)
        cls.data = os.path.join(cls.dir, "data")
        os.makedirs(cls.data)
        xt, yt = batch(8, seed=22)
        for name, a in (("train_x", cls.x), ("train_y", cls.y), ("test_x", xt), ("test_y", yt)):
            save_pb(a, name, os.path.join(cls.data, name + ".pb"))

    def python_losses(self, t, epochs=EPOCHS):
        losses = []
        for e in range(epochs):
            t.set_epoch(e)
            for b in range(0, N, BATCH):
                losses.append(t.step(self.x[b:b + BATCH], self.y[b:b + BATCH]))
        return losses

    def cli_losses(self, opts, out):
        r = cli("train", self.path, "--data", self.data, "--loss-fn", "softmax-cross-entropy", *opts,
                "--epochs", EPOCHS, "--batch", BATCH, "--no-shuffle", "--json", "--log-steps", "-o", out)
        steps = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        return [s["loss"] for s in steps if "step" in s]

    def test_matches_cli(self):
        cases = [
            (dict(optimizer="adam", lr=1e-3), ["--optimizer", "adam", "--lr", "0.001"]),
            (dict(optimizer="momentum", lr=0.05, weight_decay=1e-3, schedule="step", step_epochs=1, gamma=0.5),
             ["--optimizer", "momentum", "--lr", "0.05", "--weight-decay", "0.001", "--lr-schedule", "step:1:0.5"]),
            (dict(optimizer="sgd", lr=0.1, clip_norm=0.5), ["--optimizer", "sgd", "--lr", "0.1", "--clip-norm", "0.5"]),
        ]
        for kw, opts in cases:
            with self.subTest(opts=opts):
                m = onnxgrad.load(self.path)
                t = onnxgrad.Trainer(m, loss_fn="softmax-cross-entropy", **kw)
                got = self.python_losses(t)
                self.assertEqual(t.num_steps, len(got))
                out = os.path.join(self.dir, f"cli-{kw['optimizer']}.onnx")
                want = self.cli_losses(opts, out)
                self.assertEqual(len(got), len(want))
                np.testing.assert_allclose(got, want, rtol=1e-12)   # the JSON's 17 digits; same bits underneath
                # the trained weights agree too, and predict runs the trained model
                mine, theirs = t.export().initializers, onnxgrad.load(out).initializers
                for k, _ in self.net.named_parameters():
                    np.testing.assert_array_equal(mine[k], theirs[k], err_msg=k)
                pred = t.predict(self.x[:5])
                np.testing.assert_array_equal(pred, onnxgrad.load(out).run(x=self.x[:5])["logits"])
                self.assertLess(got[N // BATCH], got[0])   # it learns: batch 0 again, in epoch 2

    def test_matches_torch_sgd(self):
        import torch
        import torch.nn.functional as F
        m = onnxgrad.load(self.path)
        t = onnxgrad.Trainer(m, optimizer="momentum", lr=0.05, momentum=0.9)
        got = self.python_losses(t, epochs=1)
        net = classifier_model(scratch("train-torch"), seed=5)[0]
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        want = []
        for b in range(0, N, BATCH):
            opt.zero_grad()
            loss = F.cross_entropy(net(torch.from_numpy(self.x[b:b + BATCH])), torch.from_numpy(self.y[b:b + BATCH]))
            loss.backward()
            opt.step()
            want.append(loss.item())
        np.testing.assert_allclose(got, want, rtol=1e-4)

    def test_export_and_resume(self):
        d = scratch("resume")
        m = onnxgrad.load(self.path)
        whole = onnxgrad.Trainer(m, optimizer="adam", lr=1e-2)
        losses = self.python_losses(whole)
        half = onnxgrad.Trainer(m, optimizer="adam", lr=1e-2)
        half.set_epoch(0)
        first = [half.step(self.x[b:b + BATCH], self.y[b:b + BATCH]) for b in range(0, N, BATCH)]
        ck = half.export(os.path.join(d, "ck.onnx"))
        self.assertIsInstance(ck, onnxgrad.Model)
        del half
        resumed = onnxgrad.Trainer.resume(onnxgrad.load(os.path.join(d, "ck.onnx")))
        self.assertEqual(resumed.num_steps, N // BATCH)
        self.assertEqual(resumed.options["optimizer"], "adam")
        self.assertEqual(resumed.options["lr"], 1e-2)
        resumed.set_epoch(1)
        second = [resumed.step(self.x[b:b + BATCH], self.y[b:b + BATCH]) for b in range(0, N, BATCH)]
        self.assertEqual(first + second, losses)   # bit for bit

    def test_model_computes_its_loss(self):
        from common import convnet_model
        _, path = convnet_model(scratch("train-loss"), seed=5)
        t = onnxgrad.Trainer(onnxgrad.load(path), loss="loss", optimizer="sgd", lr=0.1)
        self.assertEqual(t.options["loss_fn"], "model")
        l0 = t.step(self.x[:8], self.y[:8])
        l1 = t.step(self.x[:8], self.y[:8])
        self.assertLess(l1, l0)

    def test_errors(self):
        m = onnxgrad.load(self.path)
        with self.assertRaisesRegex(onnxgrad.Error, "optimizer must be one of sgd, momentum, adam, adagrad"):
            onnxgrad.Trainer(m, optimizer="rmsprop")
        with self.assertRaises(onnxgrad.Error) as cm:
            onnxgrad.Trainer(m, loss="no_such_output")
        self.assertIn("no_such_output", str(cm.exception))
        t = onnxgrad.Trainer(m)
        with self.assertRaises(onnxgrad.Error) as cm:     # float labels for cross-entropy
            t.step(self.x[:4], self.y[:4].astype(np.float32))
        self.assertEqual(t.num_steps, 0)                  # a failed step changes nothing
        with self.assertRaises(onnxgrad.Error):
            onnxgrad.Trainer.resume(m)                    # carries no training step


if __name__ == "__main__":
    unittest.main(verbosity=2)
