#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generates the official ONNX backend test data into DIR (once).

    /usr/bin/python3 gen_data.py DIR

Runs `python3 -m onnx.backend.test.cmd_tools generate-data -o DIR` from
Debian's python3-onnx (1.12); all ~900 node cases take a few seconds. The
data is written to a temporary sibling and renamed into place only when
complete, so an interrupted run never leaves a half-filled DIR that later
runs would trust; an existing complete DIR is reused.
"""
import os
import runpy
import shutil
import sys
import warnings

STAMP = ".complete"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_data.py DIR")
    out = os.path.abspath(sys.argv[1])
    if os.path.exists(os.path.join(out, STAMP)):
        return
    tmp = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)

    import numpy as np
    # onnx 1.12's generators still use the numpy aliases that numpy 1.24
    # (Debian 12) removed; restoring them is all the generator needs.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, alias in (("float", float), ("int", int), ("bool", bool),
                            ("object", object), ("complex", complex), ("str", str)):
            setattr(np, name, alias)

    argv = sys.argv
    sys.argv = ["onnx.backend.test.cmd_tools", "generate-data", "-o", tmp]
    try:
        runpy.run_module("onnx.backend.test.cmd_tools", run_name="__main__")
    finally:
        sys.argv = argv
    if not os.path.isfile(os.path.join(tmp, "node", "test_relu", "model.onnx")):
        shutil.rmtree(tmp, ignore_errors=True)
        sys.exit("gen_data.py: the generator wrote no node data to %s" % tmp)
    open(os.path.join(tmp, STAMP), "w").close()

    # A stale, incomplete DIR (no stamp) is replaced.
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
