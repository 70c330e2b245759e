# SPDX-License-Identifier: MIT
"""Model loading, inspection and Model.run against the CLI (`onnxgrad run`)
and PyTorch."""
import os
import unittest

import numpy as np

import onnxgrad
from common import batch, cli, convnet_model, read_pb, save_pb, scratch


class RunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("run")
        cls.net, cls.path = convnet_model(cls.dir)
        cls.m = onnxgrad.load(cls.path)

    def test_version(self):
        self.assertRegex(onnxgrad.__version__, r"^\d+\.\d+\.\d+$")
        out = cli("--version").stdout.split()
        self.assertEqual(out[-1], onnxgrad.__version__)

    def test_inputs_outputs(self):
        ins, outs = self.m.inputs, self.m.outputs
        self.assertEqual([v.name for v in ins], ["x", "labels"])
        self.assertEqual(ins[0].dtype, np.float32)
        self.assertEqual(ins[0].shape, ("N", 3, 8, 8))
        self.assertEqual(ins[1].dtype, np.int64)
        self.assertEqual(ins[1].onnx_type, "int64")
        self.assertEqual([v.name for v in outs], ["logits", "loss"])
        self.assertEqual(outs[0].shape, ("N", 5))
        self.assertEqual(outs[1].shape, ())
        name, dtype, shape, _ = ins[0]            # a tuple too
        self.assertEqual(name, "x")
        inits = self.m.initializers
        self.assertEqual(set(inits), {k for k, _ in self.net.named_parameters()})
        np.testing.assert_array_equal(inits["conv1.weight"], self.net.conv1.weight.detach().numpy())

    def test_run_matches_cli(self):
        x, labels = batch(4)
        d = scratch("run-cli")
        save_pb(x, "x", os.path.join(d, "x.pb"))
        save_pb(labels, "labels", os.path.join(d, "labels.pb"))
        cli("run", self.path, "-i", f"x={d}/x.pb", "-i", f"labels={d}/labels.pb", "-o", f"{d}/out")
        y = self.m.run(x=x, labels=labels)
        self.assertEqual(list(y), ["logits", "loss"])
        for k, name in enumerate(["logits", "loss"]):
            pb_name, want = read_pb(f"{d}/out/output_{k}.pb")
            self.assertEqual(pb_name, name)
            self.assertEqual(y[name].dtype, want.dtype)
            np.testing.assert_array_equal(y[name], want)   # the same library: bit for bit

    def test_run_matches_torch(self):
        import torch
        x, labels = batch(6, seed=3)
        y = self.m({"x": x, "labels": labels})
        with torch.no_grad():
            logits, loss = self.net(torch.from_numpy(x), torch.from_numpy(labels))
        np.testing.assert_allclose(y["logits"], logits.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(y["loss"], loss.numpy(), rtol=1e-4)

    def test_dynamic_batch_and_noncontiguous(self):
        x, labels = batch(8, seed=4)
        full = self.m.run(x=x, labels=labels)["logits"]
        # a strided view (copied once for the library) and another batch size
        part = self.m.run(x=x[::2], labels=labels[::2])["logits"]
        np.testing.assert_array_equal(part, self.m.run(x=np.ascontiguousarray(x[::2]), labels=labels[::2])["logits"])
        np.testing.assert_allclose(part, full[::2], rtol=1e-5, atol=1e-6)
        # Fortran order and big-endian arrays are converted, not misread
        xf = np.asfortranarray(x)
        np.testing.assert_array_equal(self.m.run(x=xf, labels=labels)["logits"], full)
        xb = x.astype(">f4")
        np.testing.assert_array_equal(self.m.run(x=xb, labels=labels)["logits"], full)

    def test_threads_bit_identical(self):
        x, labels = batch(8, seed=5)
        m = onnxgrad.load(self.path, threads=1)
        self.assertEqual(m.threads, 1)
        one = m.run(x=x, labels=labels)
        m.threads = 2
        self.assertEqual(m.threads, 2)
        two = m.run(x=x, labels=labels)
        for k in one:
            np.testing.assert_array_equal(one[k], two[k])

    def test_save_and_bytes_round_trip(self):
        d = scratch("save")
        self.m.save(f"{d}/copy.onnx")
        m2 = onnxgrad.load(f"{d}/copy.onnx")
        m3 = onnxgrad.load(self.m.to_bytes())
        x, labels = batch(3, seed=6)
        want = self.m.run(x=x, labels=labels)
        for other in (m2, m3):
            got = other.run(x=x, labels=labels)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k])
        # external data beside the model
        self.m.save(f"{d}/ext.onnx", external_data="ext.weights", external_min_bytes=64)
        self.assertTrue(os.path.exists(f"{d}/ext.weights"))
        got = onnxgrad.load(f"{d}/ext.onnx").run(x=x, labels=labels)
        np.testing.assert_array_equal(got["logits"], want["logits"])
        import onnx
        onnx.checker.check_model(onnx.load(f"{d}/copy.onnx"), full_check=True)

    def test_load_tensor(self):
        d = scratch("pb")
        x, _ = batch(2)
        save_pb(x, "x", f"{d}/x.pb")
        np.testing.assert_array_equal(onnxgrad.load_tensor(f"{d}/x.pb"), x)

    def test_load_warnings(self):
        import warnings
        from onnx import TensorProto, helper
        g = helper.make_graph([helper.make_node("Relu", ["a"], ["y"])], "w",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
        data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m = onnxgrad.load(data)
        self.assertEqual(len(w), 1)
        self.assertIs(w[0].category, RuntimeWarning)
        self.assertIn("output 'y' has shape [3], but the model declares [4]", str(w[0].message))
        self.assertEqual(m.outputs[0].shape, (3,))   # the inferred shape is used

    def test_outputs_own_their_memory(self):
        x, labels = batch(4, seed=7)
        y = self.m.run(x=x, labels=labels)
        logits = y["logits"]
        want = logits.copy()
        del y
        for _ in range(5):   # other runs must not reuse the returned buffer
            self.m.run(x=batch(4, seed=8)[0], labels=labels)
        np.testing.assert_array_equal(logits, want)
        self.assertTrue(logits.flags.writeable)
        self.assertEqual(type(logits.base).__name__, "_OwnedTensor")


if __name__ == "__main__":
    unittest.main(verbosity=2)
