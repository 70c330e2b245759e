# SPDX-License-Identifier: MIT
"""The GIL is released while onnxgrad runs (ctypes.CDLL), and concurrent
calls from Python threads are safe and give the serial results."""
import os
import threading
import time
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import onnxgrad
from common import batch, convnet_model, scratch

SIZE, LAYERS = 384, 48


def matmul_chain(path):
    """y = x W W ... W (LAYERS MatMuls of SIZE x SIZE): a long run, some
    40 ms or more on one thread."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((SIZE, SIZE)) / np.sqrt(SIZE)).astype(np.float32)
    nodes, prev = [], "x"
    for k in range(LAYERS):
        nodes.append(helper.make_node("MatMul", [prev, "W"], [f"h{k}"]))
        prev = f"h{k}"
    nodes.append(helper.make_node("Identity", [prev], ["y"]))
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [SIZE, SIZE])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [SIZE, SIZE])],
                          [numpy_helper.from_array(w, "W")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


class GilTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = scratch("threads")
        cls.chain = onnxgrad.load(matmul_chain(os.path.join(cls.dir, "chain.onnx")), threads=1)
        cls.x = np.random.default_rng(1).standard_normal((SIZE, SIZE)).astype(np.float32)

    def test_python_runs_during_a_long_run(self):
        self.chain.run(x=self.x)   # plan and warm up
        stamps, stop = [], threading.Event()

        def ticker():   # pure Python: runs only while it holds the GIL
            while not stop.is_set():
                stamps.append(time.perf_counter())
                for _ in range(200):
                    pass

        th = threading.Thread(target=ticker)
        th.start()
        time.sleep(0.05)
        windows = []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.5 or len(windows) < 4:   # long enough whatever the machine
            a = time.perf_counter()
            self.chain.run(x=self.x)
            windows.append((a, time.perf_counter()))
        stop.set()
        th.join()
        stamps = np.array(stamps)
        # Had the GIL been held through the library call (ctypes.PyDLL
        # does: checked by hand), the ticker could stamp only between
        # calls, never in the middle half of one: no window would hold a
        # stamp. Released, it stamps while the library runs; on a loaded
        # machine it may get no core for a while, so most windows, not
        # all, must show it.
        inside = [np.count_nonzero((stamps > a + (b - a) / 4) & (stamps < b - (b - a) / 4)) for a, b in windows]
        with_stamps = sum(1 for n in inside if n > 0)
        self.assertGreaterEqual(with_stamps, len(windows) / 2, f"stamps in the middle half of each run: {inside}")
        self.assertGreater(sum(inside), 20, f"stamps in the middle half of each run: {inside}")

    def test_concurrent_runs(self):
        _, path = convnet_model(self.dir)
        a, b = onnxgrad.load(path), onnxgrad.load(path)
        xs = [batch(4, seed=s) for s in range(6)]
        want = [a.run(x=x, labels=l)["logits"] for x, l in xs]
        got, errors = {}, []

        def work(m, k):
            try:
                for _ in range(5):
                    x, l = xs[k]
                    got[(id(m), k)] = m.run(x=x, labels=l)["logits"]
                    m.grad(loss="loss", wrt=["fc.bias"], x=x, labels=l)
            except Exception as e:   # reported below
                errors.append(e)

        # two models at once, and one model from several threads (serialised by its lock)
        ths = [threading.Thread(target=work, args=(m, k)) for k in range(6) for m in (a, b)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        self.assertEqual(errors, [])
        for k in range(6):
            for m in (a, b):
                np.testing.assert_array_equal(got[(id(m), k)], want[k])

    def test_error_message_is_per_thread(self):
        _, path = convnet_model(self.dir)
        m = onnxgrad.load(path)
        x, l = batch(2)
        msgs = []

        def bad(k):
            try:
                m.run(x=np.zeros((2, 3, 8, 8 + k), np.float32), labels=l)
            except onnxgrad.Error as e:
                msgs.append((k, str(e)))

        ths = [threading.Thread(target=bad, args=(k,)) for k in range(1, 5)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        self.assertEqual(len(msgs), 4)
        for k, msg in msgs:
            self.assertIn(f"[2,3,8,{8 + k}]", msg)


if __name__ == "__main__":
    unittest.main(verbosity=2)
