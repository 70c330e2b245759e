/* SPDX-License-Identifier: MIT */
/* plot.c — training curves through gnuplot (plot.h).
 *
 * gnuplot is found on PATH first (so "missing" is told apart from
 * "failed"), then run with popen: the script and the data (a datablock)
 * go down the pipe, gnuplot's stderr goes to a temporary file that gives
 * the error message when it fails. The image is written to a mkstemp
 * file beside the target and renamed over it on success only. SIGPIPE is
 * ignored while writing, so a gnuplot dying early is an error, not the
 * end of the process. */
#define _POSIX_C_SOURCE 200809L
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEEDS "--plot needs gnuplot (Debian package gnuplot-nox)"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)   /* one line */
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return -1;
}

/* The first executable regular file "gnuplot" on PATH, into buf. */
static bool find_gnuplot(char *buf, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return false;
    const char *p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* an empty entry means the current directory */
        int n = len ? snprintf(buf, size, "%.*s/gnuplot", (int)len, p) : snprintf(buf, size, "./gnuplot");
        struct stat sb;
        if (n > 0 && (size_t)n < size && stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0)
            return true;
        if (!end)
            return false;
        p = end + 1;
    }
}

/* s in single quotes for sh ('\'' for a quote). */
static void sh_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

/* s as a gnuplot single-quoted string (no escapes inside; '' is a quote). */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void put_value(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.17g", v);
    else
        fputs(" NaN", f);
}

static void write_script(FILE *f, bool svg, const char *out, int n, const double *epoch, const double *loss,
                         const double *acc)
{
    if (svg)
        fputs("set terminal svg size 800,600 dynamic noenhanced font 'sans,11' background rgb 'white'\n", f);
    else
        fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
              "  set terminal pngcairo size 800,600 noenhanced font 'sans,10' background rgb 'white'\n"
              "} else {\n"
              "  set terminal png size 800,600 noenhanced background rgb 'white'\n"
              "}\n", f);
    fputs("set output ", f);
    gp_quote(f, out);
    fputs("\n$curves << EOD\n", f);
    for (int k = 0; k < n; k++) {
        put_value(f, epoch[k]);
        put_value(f, loss[k]);
        put_value(f, acc ? acc[k] : NAN);
        fputc('\n', f);
    }
    fputs("EOD\n"
          "set grid\n"
          "set key top right\n"
          "set xlabel 'epoch'\n"
          "set format x '%g'\n", f);
    if (n <= 20)
        fputs("set xtics 1\n", f);   /* whole epochs, not 0.5 steps */
    if (acc)
        fputs("set multiplot layout 2,1 title 'onnxgrad train: training curves'\n", f);
    fputs("set title 'Training loss per epoch'\n"
          "set ylabel 'train loss'\n"
          "plot $curves using 1:2 with linespoints lw 2 pt 7 ps 0.6 title 'train loss'\n", f);
    if (acc)
        fputs("set title 'Test accuracy per epoch'\n"
              "set ylabel 'test accuracy'\n"
              "set key bottom right\n"
              "plot $curves using 1:3 with linespoints lw 2 pt 7 ps 0.6 lc rgb '#d95f02' title 'test accuracy'\n"
              "unset multiplot\n", f);
    fputs("set output\n", f);   /* closes the file before gnuplot exits */
}

/* The line of gnuplot's stderr that says what failed: the first
 * "line N: ..." one, else the first non-blank one. */
static void gnuplot_message(const char *errpath, char *msg, size_t size)
{
    msg[0] = '\0';
    FILE *f = fopen(errpath, "r");
    if (!f)
        return;
    char line[1024], first[1024] = "";
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *s = line + strspn(line, " \t");
        if (!*s || strspn(s, "^ \t") == strlen(s))
            continue;
        if (strncmp(s, "line ", 5) == 0 && strchr(s, ':')) {
            snprintf(msg, size, "%s", s);
            fclose(f);
            return;
        }
        if (!first[0])
            snprintf(first, sizeof first, "%s", s);
    }
    fclose(f);
    snprintf(msg, size, "%s", first[0] ? first : "no message");
}

int cli_plot_curves(const char *path, int n, const double *epoch, const double *train_loss,
                    const double *test_acc, char *err, size_t errlen)
{
    if (!path || !epoch || !train_loss || n < 1)
        return fail(err, errlen, "--plot: nothing to plot (%s)", n < 1 ? "no epochs" : "no data");
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash) || (strcasecmp(dot, ".svg") != 0 && strcasecmp(dot, ".png") != 0))
        return fail(err, errlen, "--plot %s: unknown image format; the file name must end in .svg or .png", path);
    bool svg = strcasecmp(dot, ".svg") == 0;
    char gnuplot[4096];
    if (!find_gnuplot(gnuplot, sizeof gnuplot))
        return fail(err, errlen, NEEDS ": gnuplot was not found on PATH");

    /* the image's temporary file, beside the target so rename is atomic */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32), errpath[4096];
    if (!tmp)
        return fail(err, errlen, "--plot: out of memory");
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    snprintf(tmp, plen + 32, "%.*s.%s.tmp-XXXXXX", (int)dlen, path, path + dlen);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fail(err, errlen, "--plot %s: cannot create a file in its directory: %s", path, strerror(e));
    }
    /* mkstemp's 0600 would stay with the image: give it the usual mode */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    close(fd);
    const char *tdir = getenv("TMPDIR");
    snprintf(errpath, sizeof errpath, "%s/onnxgrad-gnuplot-XXXXXX", tdir && *tdir ? tdir : "/tmp");
    int efd = mkstemp(errpath);
    if (efd < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return fail(err, errlen, "--plot: cannot create a temporary file for gnuplot's messages: %s", strerror(e));
    }
    close(efd);

    char *cmd = NULL;
    size_t cmd_size = 0;
    FILE *cf = open_memstream(&cmd, &cmd_size);
    int rc = -1;
    if (!cf) {
        rc = fail(err, errlen, "--plot: out of memory");
        goto done;
    }
    fputs("exec ", cf);
    sh_quote(cf, gnuplot);
    fputs(" 2>", cf);
    sh_quote(cf, errpath);
    fclose(cf);

    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    fflush(NULL);   /* the child must not inherit unwritten stdio buffers */
    FILE *gp = popen(cmd, "w");
    if (!gp) {
        int e = errno;
        sigaction(SIGPIPE, &old, NULL);
        rc = fail(err, errlen, NEEDS ": cannot start %s: %s", gnuplot, strerror(e));
        goto done;
    }
    write_script(gp, svg, tmp, n, epoch, train_loss, test_acc);
    bool write_failed = fflush(gp) != 0 || ferror(gp);
    int status = pclose(gp);
    sigaction(SIGPIPE, &old, NULL);
    char msg[1024];
    if (status == -1) {
        rc = fail(err, errlen, "--plot: waiting for gnuplot: %s", strerror(errno));
    } else if (WIFSIGNALED(status)) {
        gnuplot_message(errpath, msg, sizeof msg);
        rc = fail(err, errlen, "--plot: gnuplot failed (killed by signal %d): %s", WTERMSIG(status), msg);
    } else if (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126) {
        gnuplot_message(errpath, msg, sizeof msg);
        rc = fail(err, errlen, NEEDS ": cannot run %s: %s", gnuplot, msg);
    } else if (WEXITSTATUS(status) != 0) {
        gnuplot_message(errpath, msg, sizeof msg);
        rc = fail(err, errlen, "--plot: gnuplot failed (exit status %d): %s", WEXITSTATUS(status), msg);
    } else {
        struct stat sb;
        gnuplot_message(errpath, msg, sizeof msg);
        if (write_failed)
            rc = fail(err, errlen, "--plot: gnuplot stopped reading its input: %s", msg);
        else if (stat(tmp, &sb) != 0 || sb.st_size == 0)
            rc = fail(err, errlen, "--plot: gnuplot wrote no image (%s)", msg);
        else if (rename(tmp, path) != 0)
            rc = fail(err, errlen, "--plot %s: cannot rename the image into place: %s", path, strerror(errno));
        else
            rc = 0;
    }
done:
    if (rc != 0)
        unlink(tmp);
    unlink(errpath);
    free(tmp);
    free(cmd);
    return rc;
}
