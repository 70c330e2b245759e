# SPDX-License-Identifier: MIT
"""The ctypes declarations (python/onnxgrad/_capi.py) against the C
headers: every struct's size and field offsets as the C compiler lays them
out (abi_layout.c, built by ctest), and the Trainer's defaults against
OG_TRAIN_OPTIONS_INIT."""
import inspect
import os
import subprocess
import unittest

import onnxgrad
from onnxgrad import _capi as C

LAYOUT = os.environ.get("OG_PY_ABI_LAYOUT")


@unittest.skipUnless(LAYOUT, "OG_PY_ABI_LAYOUT (the abi_layout program) not given")
class AbiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lines = subprocess.run([LAYOUT], capture_output=True, text=True, check=True).stdout.splitlines()

    def test_struct_layouts(self):
        checked = 0
        for line in self.lines:
            what, kind, value = line.rsplit(" ", 2) if line.count(" ") >= 2 else (None, None, None)
            if kind == "size":
                self.assertEqual(ctypes_sizeof(getattr(C, what)), int(value), what)
                checked += 1
            elif kind == "offset":
                s, f = what.split(".")
                field = getattr(getattr(C, s), "pass_" if f == "pass" else f)
                self.assertEqual(field.offset, int(value), what)
                checked += 1
        self.assertGreater(checked, 60)

    def test_constants(self):
        d = dict(line.rsplit(" ", 1) for line in self.lines)
        self.assertEqual(int(d["OG_MAX_RANK"]), C.OG_MAX_RANK)
        self.assertEqual(d["version"], onnxgrad.__version__)

    def test_trainer_defaults(self):
        d = {k.split(" ", 1)[1]: v for k, v in (line.rsplit(" ", 1) for line in self.lines)
             if k.startswith("default ")}
        p = inspect.signature(onnxgrad.Trainer).parameters
        self.assertEqual(onnxgrad._LOSS_FNS[p["loss_fn"].default], int(d["loss_fn"]))
        self.assertEqual(onnxgrad._OPTIMIZERS[p["optimizer"].default], int(d["optimizer"]))
        self.assertEqual(onnxgrad._OG_OF[__import__("numpy").dtype(p["label_dtype"].default)], int(d["label_dtype"]))
        for k in ("lr", "beta1", "beta2", "epsilon", "gamma"):
            self.assertEqual(float(p[k].default), float(d[k]), k)
        for k in ("step_epochs", "epochs"):
            self.assertEqual(p[k].default, int(d[k]), k)
        self.assertEqual(float(d["momentum"]), 0.0)   # None: 0, or 0.9 for "momentum", as the CLI


def ctypes_sizeof(t):
    import ctypes
    return ctypes.sizeof(t)


if __name__ == "__main__":
    unittest.main(verbosity=2)


class PaddedTest(unittest.TestCase):
    def test_padded_copy_keeps_the_structs_strings_alive(self):
        """The copy's char * fields point into bytes the original struct
        holds; once the struct was dropped, fresh allocations of the same
        size overwrote the loss name (CI saw loss '' in concurrent runs)."""
        import gc
        name = "loss_" + "q" * 30
        o, keep = C.padded(C.og_grad_options(name.encode(), 0, None, 0, None, False))
        gc.collect()
        junk = [bytes([65 + k % 20]) * len(name) for k in range(10000)]
        self.assertEqual(o.contents.loss, name.encode())
        del junk, keep
