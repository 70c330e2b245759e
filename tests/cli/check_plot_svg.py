# SPDX-License-Identifier: MIT
"""Checks an SVG written by tools/plot.c (run by plot_test.c).

    check_plot_svg.py FILE.svg N_POINTS

The file must parse as XML; contain the panel titles and axis labels as
text; have one gnuplot plot group per curve, named by its key entry ("train
loss", "test accuracy"), whose path has the data points; and draw them where the data
says: the test data's loss falls every epoch (so its points go down the
page: SVG y grows) and its accuracy rises (y shrinks). Prints what is
wrong and exits 1."""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    root = ET.parse(path).getroot()
    if root.tag != NS + "svg":
        sys.exit("root element is %s, not svg" % root.tag)
    texts = {"".join(t.itertext()).strip() for t in root.iter(NS + "text")}
    for want in ("onnxgrad train: training curves", "Training loss per epoch", "Test accuracy per epoch",
                 "epoch", "train loss", "test accuracy"):
        if want not in texts:
            sys.exit("no text %r in %s (texts: %s)" % (want, path, sorted(texts)[:40]))
    curves = {}
    for g in root.iter(NS + "g"):
        if not g.get("id", "").startswith("gnuplot_plot_"):
            continue
        # the curve's name: its key entry (gnuplot's <title> is the id
        # itself in noenhanced mode)
        title = next(("".join(t.itertext()).strip() for t in g.iter(NS + "text")), None)
        if not title:
            continue
        ys = []
        for p in g.iter(NS + "path"):
            pts = re.findall(r"[ML]\s*([-\d.]+)\s*,\s*([-\d.]+)", p.get("d", ""))
            # the first segment is the key's sample line; the rest are data
            ys = [float(y) for _, y in pts[2:]]
            if ys:
                break
        curves[title] = ys
    for name, sign in (("train loss", 1), ("test accuracy", -1)):
        ys = curves.get(name)
        if ys is None:
            sys.exit("no plot group titled %r (groups: %s)" % (name, sorted(curves)))
        if len(ys) != n:
            sys.exit("%r: %d points drawn, expected %d" % (name, len(ys), n))
        if not all(sign * (b - a) > 0 for a, b in zip(ys, ys[1:])):
            sys.exit("%r: points not in the data's order: y = %s" % (name, ys))
    print("svg ok: %s" % path)


main()
