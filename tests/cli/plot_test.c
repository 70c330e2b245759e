/* SPDX-License-Identifier: MIT */
/* plot_test.c — the training-curve plot (tools/plot.c) on its own.
 *
 *   og_plot_test TMPDIR PYTHON3 CHECK_PLOT_SVG.py
 *
 * Renders SVG (into a name with a quote and a space) and PNG with the real
 * gnuplot and reads them back: the SVG through check_plot_svg.py (parses
 * as XML, titles and labels, both curves with their points in the data's
 * order), the PNG by its signature and IHDR size. Then the failures: PATH
 * without gnuplot, a gnuplot that writes half a file and fails, unknown
 * extensions, no data. A failed plot must leave an existing target as it
 * was and no other file behind.
 *
 * Prints "not ok" per failed check and "N passed, N failed"; exits 1 on a
 * failure. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plot.h"

static int passed, failed;

static void check(int cond, const char *what, const char *detail)
{
    if (cond) {
        passed++;
    } else {
        failed++;
        printf("not ok - %s: %s\n", what, detail ? detail : "");
    }
}

static const double epoch[6] = { 1, 2, 3, 4, 5, 6 };
static const double loss[6] = { 2.3, 1.1, 0.7, 0.55, 0.5, 0.48 };
static const double acc[6] = { 0.41, 0.62, 0.71, 0.77, 0.8, 0.815 };

/* Entries of dir other than those in keep (NULL-terminated). */
static int others(const char *dir, const char *const *keep, char *first, size_t size)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    first[0] = '\0';
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        bool kept = false;
        for (int k = 0; keep[k]; k++)
            kept |= strcmp(e->d_name, keep[k]) == 0;
        if (!kept && n++ == 0)
            snprintf(first, size, "%s", e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static bool file_is(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: og_plot_test TMPDIR PYTHON3 CHECK_PLOT_SVG.py\n");
        return 2;
    }
    char dir[1024], p[8192], q[8192], err[512], extra[512];
    snprintf(dir, sizeof dir, "%s/plot", argv[1]);
    snprintf(p, sizeof p, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(p) != 0)
        return 2;

    /* SVG, into a name gnuplot and sh must both quote */
    snprintf(p, sizeof p, "%s/o'k curves.svg", dir);
    int rc = cli_plot_curves(p, 6, epoch, loss, acc, err, sizeof err);
    check(rc == 0, "svg renders", err);
    snprintf(q, sizeof q, "'%.2000s' '%.2000s' \"%.2000s\" 6", argv[2], argv[3], p);
    check(rc == 0 && system(q) == 0, "svg reads back (check_plot_svg.py)", q);
    struct stat sb;
    check(stat(p, &sb) == 0 && (sb.st_mode & 0044) != 0, "the image is readable by others (umask 022)", p);

    /* PNG */
    snprintf(q, sizeof q, "%s/curves.png", dir);
    rc = cli_plot_curves(q, 6, epoch, loss, acc, err, sizeof err);
    check(rc == 0, "png renders", err);
    unsigned char h[24] = { 0 };
    FILE *f = fopen(q, "rb");
    size_t got = f ? fread(h, 1, sizeof h, f) : 0;
    if (f)
        fclose(f);
    check(got == 24 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0, "png signature", q);
    uint32_t w = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19];
    uint32_t ht = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23];
    snprintf(extra, sizeof extra, "IHDR %.4s %ux%u", (const char *)h + 12, w, ht);
    check(memcmp(h + 12, "IHDR", 4) == 0 && w == 800 && ht == 600, "png IHDR is 800x600", extra);

    /* loss only, and gaps (NaN), still render */
    double gaps[6] = { 0.41, NAN, 0.71, 0.77, INFINITY, 0.815 };
    snprintf(q, sizeof q, "%s/loss-only.svg", dir);
    check(cli_plot_curves(q, 6, epoch, loss, NULL, err, sizeof err) == 0, "loss panel alone", err);
    snprintf(q, sizeof q, "%s/gaps.PNG", dir);
    check(cli_plot_curves(q, 6, epoch, loss, gaps, err, sizeof err) == 0, "non-finite values are gaps", err);
    const char *keep[] = { "o'k curves.svg", "curves.png", "loss-only.svg", "gaps.PNG", "empty", "fake", "target.svg",
                           NULL };
    check(others(dir, keep, extra, sizeof extra) == 0, "no temporary file left by successful plots", extra);

    /* an existing target that every failure below must leave alone */
    char target[2048];
    snprintf(target, sizeof target, "%s/target.svg", dir);
    write_text(target, "old", 0644);

    /* gnuplot missing from PATH */
    const char *old_path = getenv("PATH");
    char *saved_path = strdup(old_path ? old_path : "");
    snprintf(q, sizeof q, "%s/empty", dir);
    mkdir(q, 0777);
    setenv("PATH", q, 1);
    rc = cli_plot_curves(target, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strcmp(err, "--plot needs gnuplot (Debian package gnuplot-nox): gnuplot was not found on PATH") == 0,
          "missing gnuplot is one clear line", err);
    check(file_is(target, "old"), "missing gnuplot leaves the target", target);

    /* a gnuplot that writes half an image to its output, then fails */
    snprintf(q, sizeof q, "%s/fake", dir);
    mkdir(q, 0777);
    snprintf(p, sizeof p, "%s/fake/gnuplot", dir);
    write_text(p,
               "#!/bin/sh\n"
               "while IFS= read -r line; do\n"
               "  case \"$line\" in\n"
               "    \"set output '\"*) f=${line#set output \\'}; f=${f%\\'}; printf 'partial' > \"$f\";;\n"
               "  esac\n"
               "done\n"
               "echo '' >&2\n"
               "echo 'fake gnuplot: something broke' >&2\n"
               "exit 3\n",
               0755);
    snprintf(p, sizeof p, "%s/fake:%s", dir, saved_path);
    setenv("PATH", p, 1);
    rc = cli_plot_curves(target, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strcmp(err, "--plot: gnuplot failed (exit status 3): fake gnuplot: something broke") == 0,
          "a failing gnuplot is one line with its message", err);
    check(file_is(target, "old"), "a failed plot leaves the target", target);
    check(others(dir, keep, extra, sizeof extra) == 0, "a failed plot leaves no temporary file", extra);
    /* the fake gnuplot did write partial data to the temporary file: make
     * sure it was that file and not the target */
    snprintf(q, sizeof q, "%s/fresh.svg", dir);
    rc = cli_plot_curves(q, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && access(q, F_OK) != 0, "a failed plot creates no target", q);
    setenv("PATH", saved_path, 1);
    free(saved_path);

    /* real gnuplot again: a script error comes back as gnuplot's "line N:" message */
    double allnan[2] = { NAN, NAN };
    rc = cli_plot_curves(target, 2, epoch, allnan, NULL, err, sizeof err);
    check(rc != 0 && strncmp(err, "--plot: gnuplot failed (exit status 1): ", 40) == 0 && strstr(err, "line "),
          "gnuplot's own error is reported", err);
    check(file_is(target, "old"), "gnuplot's own error leaves the target", target);

    /* what is refused before gnuplot runs */
    snprintf(q, sizeof q, "%s/curves.pdf", dir);
    rc = cli_plot_curves(q, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strstr(err, "curves.pdf: unknown image format; the file name must end in .svg or .png"),
          "unknown extension", err);
    snprintf(q, sizeof q, "%s/curves.svg.d/x", dir);
    rc = cli_plot_curves(q, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strstr(err, "unknown image format"), "a dot in a directory name is no extension", err);
    snprintf(q, sizeof q, "%s/no-such-dir/x.svg", dir);
    rc = cli_plot_curves(q, 6, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strstr(err, "cannot create a file in its directory"), "missing directory", err);
    rc = cli_plot_curves(target, 0, epoch, loss, acc, err, sizeof err);
    check(rc != 0 && strcmp(err, "--plot: nothing to plot (no epochs)") == 0, "no epochs", err);
    check(file_is(target, "old"), "refusals leave the target", target);

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
