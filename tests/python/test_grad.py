# SPDX-License-Identifier: MIT
"""Model.grad, Model.gradient_graph and onnxgrad.gradcheck against the CLI
(`onnxgrad grad`, `onnxgrad gradient-graph`) and PyTorch autograd."""
import os
import unittest

import numpy as np

import onnxgrad
from common import batch, cli, convnet_model, export, read_pb, save_pb, scratch


class GradTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("grad")
        cls.net, cls.path = convnet_model(cls.dir, seed=2)
        cls.m = onnxgrad.load(cls.path)
        cls.params = [k for k, _ in cls.net.named_parameters()]

    def test_default_wrt(self):
        x, labels = batch(4)
        g = self.m.grad(loss="loss", x=x, labels=labels)
        # every float input, then every float initializer, in graph order
        self.assertEqual(list(g), ["x"] + self.params)
        self.assertEqual(g["x"].shape, x.shape)
        for k, v in self.net.named_parameters():
            self.assertEqual(g[k].shape, tuple(v.shape))
            self.assertEqual(g[k].dtype, np.float32)

    def test_grad_matches_torch(self):
        import torch
        x, labels = batch(6, seed=9)
        g, outs = self.m.grad(loss="loss", wrt=self.params, x=x, labels=labels, with_outputs=True)
        self.net.zero_grad()
        logits, loss = self.net(torch.from_numpy(x), torch.from_numpy(labels))
        loss.backward()
        np.testing.assert_allclose(outs["loss"], loss.detach().numpy(), rtol=1e-4)
        for k, p in self.net.named_parameters():
            np.testing.assert_allclose(g[k], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=k)

    def test_seeded_matches_torch(self):
        import torch
        x, labels = batch(3, seed=10)
        seed = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
        g = self.m.grad(seeds={"logits": seed}, wrt=["x", "conv2.weight"], x=x, labels=labels)
        xt = torch.from_numpy(x).requires_grad_()
        logits, _ = self.net(xt, torch.from_numpy(labels))
        gx, gw = torch.autograd.grad(logits, [xt, self.net.conv2.weight], torch.from_numpy(seed))
        np.testing.assert_allclose(g["x"], gx.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["conv2.weight"], gw.numpy(), rtol=1e-4, atol=1e-6)

    def test_grad_matches_cli(self):
        x, labels = batch(4, seed=11)
        d = scratch("grad-cli")
        save_pb(x, "x", f"{d}/x.pb")
        save_pb(labels, "labels", f"{d}/labels.pb")
        wrt = ["fc.bias", "conv1.weight", "x"]
        cli("grad", self.path, "-i", f"x={d}/x.pb", "-i", f"labels={d}/labels.pb", "--loss", "loss",
            "--wrt", ",".join(wrt), "-o", f"{d}/out")
        g = self.m.grad(loss="loss", wrt=wrt, x=x, labels=labels)
        self.assertEqual(list(g), wrt)
        for k, name in enumerate(wrt):
            pb_name, want = read_pb(f"{d}/out/grad_{k}.pb")
            self.assertEqual(pb_name, name)
            np.testing.assert_array_equal(g[name], want)
        # seeded, through --seed NAME=FILE
        seed = np.full((4, 5), 0.5, np.float32)
        save_pb(seed, "logits", f"{d}/seed.pb")
        cli("grad", self.path, "-i", f"x={d}/x.pb", "-i", f"labels={d}/labels.pb", "--seed", f"logits={d}/seed.pb",
            "--wrt", "conv1.bias", "-o", f"{d}/out2")
        g = self.m.grad(x=x, labels=labels, seeds={"logits": seed}, wrt="conv1.bias")
        np.testing.assert_array_equal(g["conv1.bias"], read_pb(f"{d}/out2/grad_0.pb")[1])

    def test_gradient_graph(self):
        d = scratch("gg")
        wrt = ["conv1.weight", "fc.weight"]
        gg = self.m.gradient_graph(loss="loss", wrt=wrt)
        self.assertEqual([v.name for v in gg.outputs], ["logits", "loss", "conv1.weight_grad", "fc.weight_grad"])
        gg.save(f"{d}/train.onnx")
        cli("gradient-graph", self.path, "--loss", "loss", "--wrt", ",".join(wrt), "-o", f"{d}/cli.onnx")
        x, labels = batch(5, seed=12)
        want = self.m.grad(loss="loss", wrt=wrt, x=x, labels=labels)
        for path in (f"{d}/train.onnx", f"{d}/cli.onnx"):
            out = onnxgrad.load(path).run(x=x, labels=labels)
            for k in wrt:
                np.testing.assert_array_equal(out[k + "_grad"], want[k])
        import onnx
        onnx.checker.check_model(onnx.load(f"{d}/train.onnx"), full_check=True)
        # seeded outputs become inputs "<output>_grad"
        gs = self.m.gradient_graph(seeded=["logits"], wrt=["x"])
        self.assertEqual([v.name for v in gs.inputs][-1], "logits_grad")
        # the gradient graph differentiates again (second order)
        g2 = gg.grad(loss="loss", wrt=["fc.bias"], x=x, labels=labels)
        self.assertEqual(g2["fc.bias"].shape, (5,))

    def test_square_of_a_value_released_once(self):
        # wrt a bias alone, the last reader of tanh's output is the Mul(t, t)
        # of its backward rule: the plan's memory budget used to release t
        # twice there and refuse the run ("needs 1844674407370955... bytes").
        x, labels = batch(4, seed=14)
        g = self.m.grad(loss="loss", wrt=["conv1.bias"], x=x, labels=labels)
        full = self.m.grad(loss="loss", x=x, labels=labels)
        np.testing.assert_array_equal(g["conv1.bias"], full["conv1.bias"])

    def test_allow_unused_and_simplify(self):
        x, labels = batch(4, seed=15)
        # b reaches no output: an error, or zeros with allow_unused
        from onnx import TensorProto, helper
        gr = helper.make_graph([helper.make_node("Tanh", ["a"], ["t"]), helper.make_node("ReduceSum", ["t"], ["y"],
                                                                                          keepdims=0)],
                               "u", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]),
                                     helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
        u = onnxgrad.load(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
        a, b = np.array([0.5, -1, 2], np.float32), np.ones(2, np.float32)
        with self.assertRaises(onnxgrad.Error) as cm:
            u.grad(loss="y", wrt=["a", "b"], a=a, b=b)
        self.assertIn("'b'", str(cm.exception))
        g = u.grad(loss="y", wrt=["a", "b"], allow_unused=True, a=a, b=b)
        np.testing.assert_array_equal(g["b"], np.zeros(2, np.float32))
        np.testing.assert_allclose(g["a"], 1 - np.tanh(a) ** 2, rtol=1e-6)
        full = self.m.gradient_graph(loss="loss")
        simple = self.m.gradient_graph(loss="loss", simplify=True)
        self.assertLess(simple.num_nodes, full.num_nodes)
        self.assertEqual([v.name for v in simple.outputs], [v.name for v in full.outputs])
        a, b = full.run(x=x, labels=labels), simple.run(x=x, labels=labels)
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-7, err_msg=k)
        g = self.m.grad(loss="loss", wrt=["fc.weight"], simplify=True, x=x, labels=labels)
        np.testing.assert_allclose(g["fc.weight"], a["fc.weight_grad"], rtol=1e-6, atol=1e-7)
        self.assertLessEqual(self.m.simplify().num_nodes, self.m.num_nodes)

    def test_grad_cache_and_repeat(self):
        x, labels = batch(4, seed=13)
        a = self.m.grad(loss="loss", wrt=["conv1.bias"], x=x, labels=labels)
        b = self.m.grad(loss="loss", wrt=["conv1.bias"], x=x, labels=labels)
        np.testing.assert_array_equal(a["conv1.bias"], b["conv1.bias"])


class GradcheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torch
        import torch.nn as nn

        class Small(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 2, 3)
                self.fc = nn.Linear(2 * 3 * 3, 3)

            def forward(self, x):
                return self.fc(torch.flatten(torch.tanh(self.conv(x)), 1)).sigmoid()

        torch.manual_seed(0)
        cls.dir = scratch("gradcheck")
        cls.path = export(Small().double(), (torch.rand(2, 1, 5, 5, dtype=torch.float64),),
                          os.path.join(cls.dir, "small64.onnx"), ["x"], ["y"], dynamic_batch=False)
        cls.m = onnxgrad.load(cls.path)

    def test_float64_model(self):
        self.assertEqual(self.m.inputs[0].dtype, np.float64)
        self.assertEqual(self.m.outputs[0].dtype, np.float64)

    def test_order_1_and_2(self):
        for order in (1, 2):
            r = onnxgrad.gradcheck(self.m, order=order)
            self.assertTrue(r.passed, repr(r))
            self.assertTrue(r)
            names = [e.name for e in r.entries]
            self.assertIn("conv.weight", names)
            if order == 2:   # the seed of the output is differentiated too
                self.assertIn("y_grad", names)
            for e in r.entries:
                self.assertEqual(e.checked, e.numel)
                self.assertLess(e.max_abs_err, 1e-5)

    def test_matches_cli(self):
        r = onnxgrad.gradcheck(self.m, order=2, wrt=["fc.weight"], seed=3)
        out = cli("gradcheck", self.path, "--order", "2", "--wrt", "fc.weight", "--rng-seed", "3", "--json").stdout
        import json
        j = json.loads(out)
        self.assertEqual(len(j["tensors"]), len(r.entries))
        for e, je in zip(r.entries, j["tensors"]):
            self.assertEqual(e.name, je["name"])
            self.assertEqual(e.checked, je["checked"])
            self.assertAlmostEqual(e.max_abs_err, je["max_abs_err"], delta=1e-15)

    def test_progress(self):
        calls = []
        r = onnxgrad.gradcheck(self.m, wrt=["fc.weight"], progress=lambda done, total: calls.append((done, total)))
        self.assertTrue(r.passed)
        self.assertTrue(calls)
        self.assertEqual([d for d, _ in calls], sorted(d for d, _ in calls))
        self.assertTrue(all(0 <= d <= t for d, t in calls))

    def test_seeds(self):
        y0 = np.zeros((2, 3))
        x = np.random.default_rng(2).uniform(-1, 1, (2, 1, 5, 5))
        r = onnxgrad.gradcheck(self.m, wrt=["fc.bias"], inputs={"x": x}, seeds={"y": y0})
        self.assertTrue(r.passed)
        self.assertEqual(r.entries[0].max_abs_err, 0.0)   # a zero upstream gradient: both sides are 0
        self.assertEqual(r.entries[0].worst_analytic, 0.0)
        r1 = onnxgrad.gradcheck(self.m, wrt=["fc.bias"], inputs={"x": x}, seeds={"y": np.ones((2, 3))})
        r2 = onnxgrad.gradcheck(self.m, wrt=["fc.bias"], inputs={"x": x}, seed=7, seeds={"y": np.ones((2, 3))})
        self.assertEqual(r1.entries[0].worst_analytic, r2.entries[0].worst_analytic)   # no random seed left
        with self.assertRaises(onnxgrad.Error) as cm:
            onnxgrad.gradcheck(self.m, wrt=["fc.bias"], seeds={"y": np.ones((2, 4))})
        self.assertIn("y", str(cm.exception))

    def test_interrupt(self):
        import signal
        import threading
        # a progress callback that raises: the check stops, the exception comes through with the partial report
        def stop_at_3(done, total):
            if done == 3:
                raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt) as cm:
            onnxgrad.gradcheck(self.m, progress=stop_at_3)
        rep = cm.exception.report
        self.assertTrue(rep.interrupted)
        self.assertEqual(rep.done, 3)
        self.assertLess(rep.done, rep.total)
        # a real Ctrl-C (SIGINT) while the library runs the check
        _, path = convnet_model(scratch("gc-int"), seed=6)
        m = onnxgrad.load(path)
        x, labels = batch(8, seed=3)
        timer = threading.Timer(0.05, lambda: signal.raise_signal(signal.SIGINT))
        started = []

        def start_once(done, total):
            if not started:
                started.append(total)
                timer.start()

        with self.assertRaises(KeyboardInterrupt) as cm:
            onnxgrad.gradcheck(m, wrt=["x"], inputs={"x": x, "labels": labels}, progress=start_once)
        timer.join()
        rep = cm.exception.report
        self.assertTrue(rep.interrupted)
        self.assertLess(rep.done, rep.total)
        self.assertEqual(rep.total, x.size)
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)   # restored

    def test_failure_is_reported(self):
        x = np.random.default_rng(1).uniform(-1, 1, (2, 1, 5, 5))
        r = onnxgrad.gradcheck(self.m, wrt=["conv.bias"], atol=0, rtol=0, inputs={"x": x})
        self.assertFalse(r.passed)   # finite differences never agree exactly
        self.assertFalse(r.entries[0].passed)
        with self.assertRaises(onnxgrad.Error) as cm:
            onnxgrad.gradcheck(self.m, wrt=["conv.bias"], atol=0, rtol=0, inputs={"x": x}, raise_on_failure=True)
        self.assertIn("conv.bias", str(cm.exception))

    def test_float32_model_is_checked_in_float64(self):
        _, path = convnet_model(scratch("gc32"), seed=4)
        x, labels = batch(2, seed=2)
        m = onnxgrad.load(path)
        # the batch dim is symbolic: without x there is nothing to check on
        with self.assertRaisesRegex(onnxgrad.Error, "'N'"):
            onnxgrad.gradcheck(m, wrt=["fc.bias"], inputs={"labels": labels})
        r = onnxgrad.gradcheck(m, wrt=["fc.bias", "conv2.bias"], inputs={"x": x, "labels": labels})
        self.assertTrue(r.passed, repr(r))
        self.assertEqual([e.name for e in r.entries], ["fc.bias", "conv2.bias"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
