# SPDX-License-Identifier: MIT
"""Inputs reach the library without a copy when numpy's layout allows it;
outputs are the library's tensors, viewed in place and freed with the
array."""
import os
import subprocess
import sys
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper

import onnxgrad
from onnxgrad import _as_array, _tensor_view
from common import scratch


def reduce_model(path, op="ReduceSum"):
    """y = op(x) for a float vector of any length."""
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], **({"keepdims": 0} if op == "ReduceSum" else {}))],
                          "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


# Run in a fresh interpreter so the peak RSS before the call is the
# current RSS: prints the growth of the peak (MiB) over one run on a
# 128 MiB array, given contiguous or as a strided view.
PEAK = r"""
import resource, sys, numpy as np, onnxgrad
m = onnxgrad.load(sys.argv[1])
m.run(x=np.ones(16, np.float32))                 # plan, pool and imports first
n = 64 << 20                                     # 64 Mi floats = 256 MiB
big = np.ones(2 * n if sys.argv[2] == "strided" else n, np.float32)
x = big[::2] if sys.argv[2] == "strided" else big
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y = m.run(x=x)["y"]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert float(y) == n, float(y)
print((after - before) / 1024)
"""


class ZeroCopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("zerocopy")
        cls.path = reduce_model(os.path.join(cls.dir, "sum.onnx"))

    def test_view_points_at_the_array(self):
        a = np.arange(1 << 20, dtype=np.float32).reshape(1024, 1024)
        b = _as_array(a, "x")
        self.assertIs(b, a)
        t = _tensor_view(b, "x")
        self.assertEqual(t.data, a.ctypes.data)
        self.assertEqual((t.rank, t.dims[0], t.dims[1], t.numel), (2, 1024, 1024, 1 << 20))
        # layouts the library cannot read are copied once
        for other in (a[:, ::2], a.T, a.astype(">f4")):
            c = _as_array(other, "x")
            self.assertTrue(c.flags.c_contiguous)
            self.assertNotEqual(c.ctypes.data, a.ctypes.data)
            np.testing.assert_array_equal(c, other)

    def test_no_copy_of_a_big_input(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        peak = {}
        for how in ("contiguous", "strided"):
            r = subprocess.run([sys.executable, "-c", PEAK, self.path, how], capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            peak[how] = float(r.stdout.split()[-1])
        # contiguous: no copy (the peak does not move); strided: one copy
        # of 128 MiB, which shows the measure would have seen one
        self.assertLess(peak["contiguous"], 16, peak)
        self.assertGreater(peak["strided"], 100, peak)

    def test_output_is_the_library_tensor(self):
        m = onnxgrad.load(reduce_model(os.path.join(self.dir, "id.onnx"), op="Identity"))
        x = np.arange(1000, dtype=np.float32)
        y = m.run(x=x)["y"]
        np.testing.assert_array_equal(y, x)
        owner = y.base
        self.assertEqual(type(owner).__name__, "_OwnedTensor")
        self.assertEqual(y.ctypes.data, owner._t.contents.data)   # no copy into numpy
        self.assertNotEqual(y.ctypes.data, x.ctypes.data)          # but not the input either

    def test_outputs_are_freed(self):
        import resource
        m = onnxgrad.load(reduce_model(os.path.join(self.dir, "id2.onnx"), op="Identity"))
        x = np.ones(16 << 20, np.float32)   # 64 MiB per output
        m.run(x=x)
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(20):
            y = m.run(x=x)["y"]
            view = y[10:20]          # a view keeps the tensor alive
            del y
            self.assertEqual(float(view.sum()), 10.0)
            del view
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024
        self.assertLess(grown, 3 * 64, f"peak grew {grown:.0f} MiB over 20 runs of 64 MiB outputs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
