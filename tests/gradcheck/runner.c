/* SPDX-License-Identifier: MIT */
/* runner.c — gradient checks over every conformance model.
 *
 *     og_gradcheck_runner NODE_DIR CASES.txt EXPECT.txt
 *
 * For each case in CASES.txt, loads NODE_DIR/<case>/model.onnx with the
 * inputs of test_data_set_0 and runs og_gradcheck in float64: first order,
 * then second order (the gradient graph differentiated again). EXPECT.txt
 * lists, per case and order, the cases that are not checked and why, as
 *     <case> <order> <status name> <message fragment>
 * (e.g. a model whose only output is bool has nothing to differentiate).
 * Such a case must fail to run with exactly that status and a message
 * containing the fragment; every other case must run and pass. A listed
 * case that passes is a failure too, so the list cannot go stale.
 * Status NONSMOOTH lists a case whose test data sit on a point where the
 * op is not differentiable (Floor at an integer, LeakyRelu at 0): it must
 * run and its finite differences must disagree (a one-sided kink or jump),
 * and it is reported as not checked; the rule there is tested in the unit
 * tests against PyTorch's subgradient.
 * Prints one line per case and order, then the counts; exits 1 on any
 * failure. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <onnxgrad/onnxgrad.h>

#define MAX_FEEDS 16
#define MAX_EXPECT 512

typedef struct expect {
    char name[128];
    int order;
    char status[32];
    char fragment[256];
    bool used;
} expect;

static expect expects[MAX_EXPECT];
static int n_expects;

static void read_expect(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        expect *e = &expects[n_expects];
        int used = 0;
        if (n_expects >= MAX_EXPECT || sscanf(line, "%127s %d %31s %n", e->name, &e->order, e->status, &used) < 3) {
            fprintf(stderr, "%s: bad line '%s'\n", path, line);
            exit(2);
        }
        snprintf(e->fragment, sizeof e->fragment, "%s", line + used);
        n_expects++;
    }
    fclose(f);
}

static expect *find_expect(const char *name, int order)
{
    for (int k = 0; k < n_expects; k++)
        if (expects[k].order == order && strcmp(expects[k].name, name) == 0)
            return &expects[k];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: og_gradcheck_runner NODE_DIR CASES.txt EXPECT.txt\n");
        return 2;
    }
    read_expect(argv[3]);
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    int passed = 0, expected = 0, failed = 0;
    double worst[3] = { 0 };
    char worst_case[3][160] = { "", "", "" };
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n \t")] = '\0';
        /* Cases the conformance runner expects to fail ("xfail <case>") are
         * not gradient-checked: their forward is already wrong; nor are
         * the ones it must refuse ("refused <case>"). */
        if (!line[0] || line[0] == '#' || strcmp(line, "xfail") == 0 || strcmp(line, "refused") == 0)
            continue;
        char path[4096];
        og_graph *g = NULL;
        og_tensor *feeds[MAX_FEEDS];
        int n_feeds = 0;
        snprintf(path, sizeof path, "%s/%s/model.onnx", argv[1], line);
        if (og_model_load_file(path, &g) != OG_OK) {
            printf("FAIL %s: load: %s\n", line, og_errmsg());
            failed++;
            continue;
        }
        for (int k = 0; k < MAX_FEEDS; k++) {
            snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", argv[1], line, k);
            if (access(path, R_OK) != 0 || og_tensor_load_pb(path, &feeds[n_feeds]) != OG_OK)
                break;
            n_feeds++;
        }
        for (int order = 1; order <= 2; order++) {
            og_gradcheck_options o = { .order = order, .seed = 1, .max_elements = order == 1 ? 64 : 16,
                                       .n_inputs = n_feeds, .inputs = (const og_tensor *const *)feeds };
            og_gradcheck_report *r = NULL;
            og_status st = og_gradcheck(g, &o, &r);
            expect *e = find_expect(line, order);
            if (e) {
                e->used = true;
                bool nonsmooth = strcmp(e->status, "NONSMOOTH") == 0;
                if (nonsmooth && st == OG_OK && !r->pass) {
                    printf("NOT CHECKED %s order %d (as listed): NONSMOOTH %s\n", line, order, e->fragment);
                    expected++;
                } else if (!nonsmooth && st != OG_OK && strcmp(og_status_name(st), e->status) == 0 &&
                           strstr(og_errmsg(), e->fragment)) {
                    printf("NOT CHECKED %s order %d (as listed): %s\n", line, order, og_errmsg());
                    expected++;
                } else {
                    printf("FAIL %s order %d: listed as '%s %s', got %s: %s\n", line, order, e->status, e->fragment,
                           og_status_name(st), st ? og_errmsg() : (r->pass ? "passed" : "failed"));
                    failed++;
                }
            } else if (st != OG_OK) {
                printf("FAIL %s order %d: %s: %s\n", line, order, og_status_name(st), og_errmsg());
                failed++;
            } else {
                double w = 0;
                int64_t checked = 0;
                for (int k = 0; k < r->n; k++) {
                    checked += r->entries[k].checked;
                    if (!r->entries[k].pass)
                        printf("  %s: element %lld analytic %.10g numeric %.10g (abs err %.3g)\n",
                               r->entries[k].name, (long long)r->entries[k].worst_index, r->entries[k].worst_analytic,
                               r->entries[k].worst_numeric, r->entries[k].max_abs_err);
                    if (r->entries[k].max_abs_err > w)
                        w = r->entries[k].max_abs_err;
                }
                printf("%s %s order %d: %d tensors, %lld elements, max abs err %.2e\n", r->pass ? "PASS" : "FAIL", line,
                       order, r->n, (long long)checked, w);
                if (r->pass) {
                    passed++;
                    if (w >= worst[order]) {
                        worst[order] = w;
                        snprintf(worst_case[order], sizeof worst_case[order], "%.150s", line);
                    }
                } else {
                    failed++;
                }
            }
            og_gradcheck_report_free(r);
        }
        for (int k = 0; k < n_feeds; k++)
            og_tensor_free(feeds[k]);
        og_graph_free(g);
    }
    fclose(f);
    for (int k = 0; k < n_expects; k++)
        if (!expects[k].used) {
            printf("FAIL %s order %d: listed in the expectations but not in the cases\n", expects[k].name,
                   expects[k].order);
            failed++;
        }
    printf("%d passed, %d not checked as listed, %d failed; largest error: order 1 %.2e (%s), order 2 %.2e (%s)\n",
           passed, expected, failed, worst[1], worst_case[1], worst[2], worst_case[2]);
    return failed ? 1 : 0;
}
