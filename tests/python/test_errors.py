# SPDX-License-Identifier: MIT
"""Failures raise onnxgrad.Error carrying onnxgrad's message and status."""
import os
import unittest

import numpy as np

import onnxgrad
from common import batch, cli, convnet_model, save_pb, scratch


class ErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("errors")
        _, cls.path = convnet_model(cls.dir)
        cls.m = onnxgrad.load(cls.path)
        cls.x, cls.labels = batch(2)

    def assertFails(self, status_name, needle, fn, *args, **kw):
        with self.assertRaises(onnxgrad.Error) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.status_name, status_name, str(e))
        self.assertIn(needle, str(e))
        self.assertEqual(e.message, str(e))
        self.assertGreater(e.status, 0)
        return e

    def test_is_an_exception(self):
        self.assertTrue(issubclass(onnxgrad.Error, Exception))

    def test_missing_file(self):
        path = os.path.join(self.dir, "no-such-model.onnx")
        e = self.assertFails("OG_ERR_IO", "no-such-model.onnx", onnxgrad.load, path)
        self.assertEqual(e.status, 3)

    def test_bad_file(self):
        path = os.path.join(self.dir, "garbage.onnx")
        with open(path, "wb") as f:
            f.write(b"\x0a\xff\xff\xff\xff\x0fnot a model")
        e = self.assertFails("OG_ERR_PARSE", "garbage.onnx", onnxgrad.load, path)
        # the CLI says the same
        r = cli("info", path, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(str(e), r.stderr)
        self.assertFails("OG_ERR_PARSE", "", onnxgrad.load, b"\x0a\xff\xff\xff\xff\x0f")

    def test_wrong_input_name(self):
        e = self.assertFails("OG_ERR_INVALID_ARG", "'image' is not a graph input", self.m.run, image=self.x,
                             labels=self.labels)
        self.assertIn("inputs: x, labels", str(e))
        self.assertFails("OG_ERR_INVALID_ARG", "'image' is not a graph input", self.m.grad, loss="loss",
                         image=self.x, labels=self.labels)

    def test_missing_input(self):
        self.assertFails("OG_ERR_INVALID_ARG", "graph input 'labels' was not given", self.m.run, x=self.x)

    def test_wrong_dtype(self):
        e = self.assertFails("OG_ERR_SHAPE", "input 'x': got a double tensor, expected float", self.m.run,
                             x=self.x.astype(np.float64), labels=self.labels)
        d = scratch("err-cli")
        save_pb(self.x.astype(np.float64), "x", f"{d}/x.pb")
        save_pb(self.labels, "labels", f"{d}/labels.pb")
        r = cli("run", self.path, "-i", f"x={d}/x.pb", "-i", f"labels={d}/labels.pb", "-o", f"{d}/out", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(str(e), r.stderr)   # the library's own message, as the CLI prints it
        self.assertFails("OG_ERR_SHAPE", "input 'labels': got a int32 tensor, expected int64", self.m.run, x=self.x,
                         labels=self.labels.astype(np.int32))
        self.assertFails("OG_ERR_UNSUPPORTED", "numpy dtype <U1", self.m.run, x=np.array(["a"]), labels=self.labels)

    def test_wrong_shape(self):
        self.assertFails("OG_ERR_SHAPE", "input 'x': got shape [2,3,9,8], expected [?,3,8,8]", self.m.run,
                         x=np.zeros((2, 3, 9, 8), np.float32), labels=self.labels)
        self.assertFails("OG_ERR_SHAPE", "input 'x'", self.m.run, x=np.zeros((3, 8, 8), np.float32),
                         labels=self.labels)

    def test_grad_errors(self):
        self.assertFails("OG_ERR_INVALID_ARG", "logits", self.m.grad, loss="logits", x=self.x, labels=self.labels)
        self.assertFails("OG_ERR_INVALID_ARG", "nope", self.m.grad, loss="loss", wrt=["nope"], x=self.x,
                         labels=self.labels)
        self.assertFails("OG_ERR_INVALID_ARG", "name what to differentiate", self.m.gradient_graph)
        self.assertFails("OG_ERR_INVALID_ARG", "order must be 1 or 2", onnxgrad.gradcheck, self.m, order=3)

    def test_save_error(self):
        self.assertFails("OG_ERR_IO", "no-such-dir", self.m.save, os.path.join(self.dir, "no-such-dir", "m.onnx"))

    def test_model_still_works_after_errors(self):
        with self.assertRaises(onnxgrad.Error):
            self.m.run(x=self.x[:, :2], labels=self.labels)
        y = self.m.run(x=self.x, labels=self.labels)
        self.assertEqual(y["logits"].shape, (2, 5))


if __name__ == "__main__":
    unittest.main(verbosity=2)
