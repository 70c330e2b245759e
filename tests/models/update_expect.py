#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Rewrites tests/models/expect.txt from what really passes now.

    /usr/bin/python3 tests/models/update_expect.py BUILD_DIR

Runs every model of tests.cmake through BUILD_DIR's og_models_runner (the
data and onnxruntime-node must be there: run the models ctests once first)
and writes one "xfail <model> <stage>: <reason>" line per model that fails
(a load failure names every op onnxgrad lacks). Read the diff
before committing it: a model that used to pass and now fails is a
regression to fix, not a line to add.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

HEADER = """\
# Models that cannot pass yet: "xfail <model> <stage>: <reason>", the stage
# being load, forward, gradients or ort (see runner.c). Failing in an earlier
# stage than listed is a FAIL; a listed model that passes is an XPASS, also a
# failure: remove its line. update_expect.py rewrites this file from a build.
"""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    cm = open(os.path.join(HERE, "tests.cmake")).read()
    models = re.search(r"set\(OG_MODELS\s+(.*?)\)", cm, re.S).group(1).split()
    data = os.path.join(build, "models-data")
    runner = os.path.join(build, "tests", "og_models_runner")
    lines = [HEADER]
    for m in models:
        r = subprocess.run([runner, data, os.path.join(build, "tests", "models-work"), os.devnull, m, "node",
                            os.path.join(HERE, "ort_check.js"), os.path.join(build, "models-ort")],
                           capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "FAIL %s: no output" % m
        print(last[:200])
        if last.startswith("PASS"):
            continue
        why = last.split(": ", 1)[1] if ": " in last else last
        why = why.replace(os.path.join(data, m, "model.onnx") + ": ", "")
        lines.append("xfail %s %s\n" % (m, why[:400]))
    with open(os.path.join(HERE, "expect.txt"), "w") as f:
        f.write("".join(lines))


if __name__ == "__main__":
    main()
