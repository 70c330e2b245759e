/* SPDX-License-Identifier: MIT */
/* plot.h — training curves drawn by gnuplot, for `onnxgrad train --plot`.
 *
 * CLI side only: the library never depends on gnuplot. The curves are
 * handed to gnuplot (Debian package gnuplot-nox) through a pipe, data
 * inline, and gnuplot writes the image to a temporary file beside the
 * target, renamed over it only when gnuplot succeeded: a failed plot
 * leaves the target as it was and nothing else behind. */
#ifndef ONNXGRAD_PLOT_H
#define ONNXGRAD_PLOT_H

#include <stddef.h>

/* Draws two titled panels, train loss per epoch above and test accuracy
 * per epoch below (each with its axes labelled), as SVG (path ending in
 * ".svg") or PNG (".png"; pngcairo when gnuplot has it, else png), 800 x
 * 600. epoch, train_loss and test_acc hold n >= 1 values each; test_acc
 * may be NULL (no test set: the loss panel alone); a non-finite value is
 * a gap in its curve.
 *
 * Returns 0, or -1 with a one-line message in err (errlen bytes, may be
 * truncated) for the caller to prefix with its command ("onnxgrad
 * train: "): "--plot needs gnuplot (Debian package gnuplot-nox): gnuplot
 * was not found on PATH" when gnuplot is missing, "--plot: gnuplot failed
 * (exit status N): <gnuplot's message>" when it fails, or what else went
 * wrong (an unknown extension, a directory that cannot be written). */
int cli_plot_curves(const char *path, int n, const double *epoch, const double *train_loss,
                    const double *test_acc, char *err, size_t errlen);

#endif
