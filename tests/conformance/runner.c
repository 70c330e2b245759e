/* SPDX-License-Identifier: MIT */
/* runner.c — runs official ONNX node test cases against onnxgrad.
 *
 *     og_conformance_runner NODE_DIR CASES.txt
 *
 * For each case named in CASES.txt (one per line; '#' comments), loads
 * NODE_DIR/<case>/model.onnx, runs every test_data_set_<n>/input_<k>.pb and
 * compares the outputs with output_<k>.pb: dtype, shape and values (float:
 * |got - want| <= atol + rtol * |want|, NaN equals NaN; everything else
 * exact). A listed case with no data is a failure, never a skip, so a
 * typo in CASES.txt or a missing generator cannot pass silently.
 * A line "xfail <case> <reason>" lists a case onnxgrad cannot pass yet:
 * it still runs, prints "XFAIL <case>: <reason> (<what went wrong>)" and
 * counts as expected-failing, never as passed; if it passes, that is
 * "XPASS", a failure, so the list cannot go stale. A line
 * "refused <case> <fragment>" is a case onnxgrad must refuse (a type it
 * cannot hold): it passes as "REFUSED" only if loading or running fails
 * with a message containing the fragment.
 * Prints "PASS <case>" or "FAIL <case>: <reason>" per case and ends with
 * "<n> passed, <m> failed, <k> expected-failing"; exits 1 if anything
 * failed. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnxgrad/onnxgrad.h"

#define RTOL 1e-3
#define ATOL 1e-5
#define MAX_TENSORS 64

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Formats the failure reason into `why` (one line); returns 1. */
static int why_set(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    for (char *c = why; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    return 1;
}

static double elem_as_double(const og_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case OG_FLOAT: return ((const float *)t->data)[i];
    case OG_DOUBLE: return ((const double *)t->data)[i];
    default: return 0;
    }
}

/* Returns 0 when `got` matches `want`, else 1 with `why` set. */
static int compare(const og_tensor *got, const og_tensor *want, int k, char *why, size_t size)
{
    if (got->dtype != want->dtype)
        return why_set(why, size, "output %d: dtype %s, expected %s", k,
                       og_dtype_name(got->dtype), og_dtype_name(want->dtype));
    int same = got->rank == want->rank;
    for (int d = 0; same && d < got->rank; d++)
        same = got->dims[d] == want->dims[d];
    if (!same) {
        char gs[256] = "", ws[256] = "";
        for (int d = 0; d < got->rank && strlen(gs) < 200; d++)
            snprintf(gs + strlen(gs), sizeof gs - strlen(gs), d ? ",%lld" : "%lld", (long long)got->dims[d]);
        for (int d = 0; d < want->rank && strlen(ws) < 200; d++)
            snprintf(ws + strlen(ws), sizeof ws - strlen(ws), d ? ",%lld" : "%lld", (long long)want->dims[d]);
        return why_set(why, size, "output %d: shape [%s], expected [%s]", k, gs, ws);
    }
    size_t es = og_dtype_size(want->dtype);
    if (es == 0)
        return why_set(why, size, "output %d: dtype %s cannot be compared", k, og_dtype_name(want->dtype));
    if (want->dtype == OG_FLOAT || want->dtype == OG_DOUBLE) {
        for (int64_t i = 0; i < want->numel; i++) {
            double g = elem_as_double(got, i), w = elem_as_double(want, i);
            if (isnan(g) && isnan(w))
                continue;
            if (g == w)   /* also covers equal infinities */
                continue;
            if (!(fabs(g - w) <= ATOL + RTOL * fabs(w)))
                return why_set(why, size, "output %d: element %lld is %.9g, expected %.9g", k,
                               (long long)i, g, w);
        }
        return 0;
    }
    for (int64_t i = 0; i < want->numel; i++) {
        const unsigned char *g = (const unsigned char *)got->data + (size_t)i * es;
        const unsigned char *w = (const unsigned char *)want->data + (size_t)i * es;
        if (memcmp(g, w, es) != 0)
            return why_set(why, size, "output %d: element %lld differs (exact %s compare)", k,
                           (long long)i, og_dtype_name(want->dtype));
    }
    return 0;
}

static void free_tensors(og_tensor **t, int n)
{
    for (int k = 0; k < n; k++)
        og_tensor_free(t[k]);
}

/* Loads <dir>/<prefix>_0.pb, _1.pb, ... up to the first missing one. */
static int load_seq(const char *dir, const char *prefix, og_tensor **t, int *n, char *why, size_t size)
{
    *n = 0;
    for (int k = 0;; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, k);
        if (!exists(path))
            return 0;
        if (k == MAX_TENSORS)
            return why_set(why, size, "%s: more than %d %s files", dir, MAX_TENSORS, prefix);
        if (og_tensor_load_pb(path, &t[k]) != OG_OK)
            return why_set(why, size, "%s", og_errmsg());
        *n = k + 1;
    }
}

/* Runs one data set; returns 0 on a match, else 1 with `why` set. */
static int run_set(og_plan *p, int n_out, const char *set, char *why, size_t size)
{
    og_tensor *in[MAX_TENSORS], *want[MAX_TENSORS], *got[MAX_TENSORS] = {0};
    int n_in = 0, n_want = 0, bad;
    bad = load_seq(set, "input", in, &n_in, why, size);
    if (!bad)
        bad = load_seq(set, "output", want, &n_want, why, size);
    if (!bad && n_want != n_out)
        bad = why_set(why, size, "model has %d outputs, data set has %d", n_out, n_want);
    if (!bad && n_out > MAX_TENSORS)
        bad = why_set(why, size, "more than %d outputs", MAX_TENSORS);
    if (!bad && og_plan_run(p, n_in, (const og_tensor *const *)in, got) != OG_OK)
        bad = why_set(why, size, "run: %s", og_errmsg());
    for (int k = 0; !bad && k < n_want; k++)
        bad = compare(got[k], want[k], k, why, size);
    free_tensors(in, n_in);
    free_tensors(want, n_want);
    /* Slots stay NULL when the run failed or never happened. */
    free_tensors(got, n_out < MAX_TENSORS ? n_out : MAX_TENSORS);
    return bad;
}

/* Returns 0 when every data set of the case passes. */
static int run_case(const char *node_dir, const char *name, char *why, size_t size)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", node_dir, name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (!exists(path))
        return why_set(why, size, "no test data (%s missing)", path);

    og_graph *g = NULL;
    og_plan *p = NULL;
    int bad = 0;
    if (og_model_load_file(path, &g) != OG_OK)
        bad = why_set(why, size, "load: %s", og_errmsg());
    else if (og_plan_create(g, &p) != OG_OK)
        bad = why_set(why, size, "plan: %s", og_errmsg());
    int n_sets = 0;
    for (int s = 0; !bad; s++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, s);
        if (!exists(path))
            break;
        if (run_set(p, og_graph_num_outputs(g), path, why, size)) {
            /* Name the data set, keeping the detail. */
            char detail[2048];
            snprintf(detail, sizeof detail, "%s", why);
            bad = why_set(why, size, "test_data_set_%d: %s", s, detail);
        }
        n_sets++;
    }
    if (!bad && n_sets == 0)
        bad = why_set(why, size, "no test_data_set_* directories");
    og_plan_free(p);
    og_graph_free(g);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NODE_DIR CASES.txt\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    int passed = 0, failed = 0, xfailed = 0, n_refused = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e;
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strcspn(s, "#\r\n");
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        if (!*s)
            continue;
        /* "xfail <case> <reason>" / "refused <case> <message fragment>" */
        const char *reason = NULL;
        int refused = 0;
        for (int d = 0; d < 2; d++) {
            const char *word = d ? "refused" : "xfail";
            size_t n = strlen(word);
            if (strncmp(s, word, n) == 0 && (s[n] == ' ' || s[n] == '\t')) {
                refused = d;
                s += n + strspn(s + n, " \t");
                char *sp = s + strcspn(s, " \t");
                reason = *sp ? sp + 1 + strspn(sp + 1, " \t") : "";
                *sp = '\0';
                break;
            }
        }
        char why[2048] = "";
        int bad = run_case(argv[1], s, why, sizeof why);
        if (refused && bad && *reason && strstr(why, reason)) {
            printf("REFUSED %s: %s\n", s, why);
            n_refused++;
        } else if (refused) {
            printf("FAIL %s: expected a refusal containing '%s', got %s\n", s, reason, bad ? why : "a pass");
            failed++;
        } else if (reason && bad) {
            printf("XFAIL %s: %s (%s)\n", s, reason, why);
            xfailed++;
        } else if (reason) {
            printf("XPASS %s: listed as failing (%s) but passes; remove its xfail\n", s, reason);
            failed++;
        } else if (bad) {
            printf("FAIL %s: %s\n", s, why);
            failed++;
        } else {
            printf("PASS %s\n", s);
            passed++;
        }
        fflush(stdout);
    }
    fclose(f);
    printf("%d passed, %d refused as specified, %d failed, %d expected-failing\n", passed, n_refused, failed,
           xfailed);
    return failed ? 1 : 0;
}
