/* SPDX-License-Identifier: MIT */
/* test_cmd.c — `onnxgrad test`: runs ONNX backend test-data directories.
 *
 *     onnxgrad test DIR... [--atol F] [--rtol F] [--grad] [--json]
 *
 * Every directory under the DIRs that holds model.onnx and
 * test_data_set_<k>/ subdirectories (the layout of onnx/backend/test/data:
 * input_<k>.pb, output_<k>.pb) is a model; each of its sets is a case. A
 * set's input_<k>.pb binds to graph input k (or, when it is named after
 * another graph input, to that one); output_<k>.pb is compared with graph
 * output k, and one past the graph's outputs with the output it is named
 * after. Comparison: |got - expected| <= atol + rtol * |expected| for
 * floats, NaN equal to NaN and infinities equal to themselves; integers
 * and bools exactly. A model or tensor onnxgrad cannot load or run
 * (unsupported type or op, a limit) makes the case REFUSED with the
 * reason; a wrong dtype, shape or value, or a run that fails otherwise,
 * FAIL. Exit 1 when any case failed.
 *
 * --grad compares the gradients stored in each set as `onnxgrad grad`
 * writes them: grad_<k>.pb, each named after the input or initializer it
 * is the gradient of. What is differentiated: seed_<k>.pb upstream
 * gradients (named after their output, or unnamed for graph output k)
 * when the set has them, else the model's only output as a loss (one
 * element). A set without grad_<k>.pb is REFUSED. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "json.h"
#include "test_cmd.h"

const char HELP_TEST[] =
    "usage: onnxgrad test DIR... [--atol F] [--rtol F] [--grad] [--json]\n"
    "\n"
    "Runs every ONNX backend test case under the DIRs: each directory with\n"
    "model.onnx and test_data_set_<k>/ (input_<k>.pb, output_<k>.pb) runs each\n"
    "set and compares output_<k>.pb with graph output k (past the graph's\n"
    "outputs, with the output it is named after). Prints one line per case,\n"
    "PASS, FAIL with the worst error (tensor, index, got, expected) or\n"
    "REFUSED with the reason onnxgrad cannot run it (load error, unsupported\n"
    "type, missing op), then\n"
    "'N passed, N failed, N refused'. Exit 1 when any case failed.\n"
    "\n"
    "options:\n"
    "  --atol F      absolute tolerance (default 1e-5)\n"
    "  --rtol F      relative tolerance (default 1e-3): a float passes when\n"
    "                |got - expected| <= atol + rtol * |expected|; NaN equals\n"
    "                NaN; integers and bools must be equal\n"
    "  --grad        compare the stored gradients instead: grad_<k>.pb as\n"
    "                'onnxgrad grad' writes them (named after the tensor they\n"
    "                are the gradient of), seeded by seed_<k>.pb when the set\n"
    "                has them, else of the only output as a loss; a set\n"
    "                without grad_<k>.pb is REFUSED\n"
    "  --json        print {cases [{case, result (pass|fail|refused), message,\n"
    "                worst {tensor, index, got, expected}}], passed, failed,\n"
    "                refused} on stdout\n"
    "  --threads N   kernel threads (results do not depend on N)\n"
    "  --limit NAME=VALUE  raise or lower a limit (see 'onnxgrad help')\n"
    "  -h, --help    show this help\n";

enum { OPT_ATOL, OPT_RTOL, OPT_GRAD, OPT_JSON };

static const cli_option TEST_OPTS[] = {
    { "atol", 0, true, OPT_ATOL, NULL },
    { "rtol", 0, true, OPT_RTOL, NULL },
    { "grad", 0, false, OPT_GRAD, NULL },
    { "json", 0, false, OPT_JSON, NULL },
    { NULL, 0, false, 0, NULL },
};

typedef struct test_args {
    double atol, rtol;
    bool grad, json;
} test_args;

typedef enum { R_PASS, R_FAIL, R_REFUSED } result_kind;

typedef struct test_case {
    char *path;
    result_kind kind;
    char msg[1024];
    bool has_worst;
    char tensor[256];
    char index[128];
    double got, expected;
} test_case;

typedef struct case_list {
    test_case *c;
    int n, cap;
} case_list;

static int parse_tol(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno == ERANGE || !(x >= 0) || isinf(x))
        return cli_usage_error("test", "%s expects a number >= 0, got '%s'", opt, v);
    *out = x;
    return EXIT_OK;
}

static int take_test(void *user, int id, const char *opt, char *v)
{
    test_args *a = user;
    switch (id) {
    case OPT_ATOL: return parse_tol(opt, v, &a->atol);
    case OPT_RTOL: return parse_tol(opt, v, &a->rtol);
    case OPT_GRAD: a->grad = true; break;
    case OPT_JSON: a->json = true; break;
    }
    return EXIT_OK;
}

/* ---- finding the cases ---------------------------------------------------- */

typedef struct str_list {
    char **s;
    int n, cap;
} str_list;

static int str_push(str_list *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **p = realloc(l->s, (size_t)cap * sizeof *p);
        if (!p)
            return cli_fail("out of memory");
        l->s = p;
        l->cap = cap;
    }
    if (!(l->s[l->n] = strdup(s)))
        return cli_fail("out of memory");
    l->n++;
    return EXIT_OK;
}

static void str_free(str_list *l)
{
    for (int k = 0; k < l->n; k++)
        free(l->s[k]);
    free(l->s);
    *l = (str_list){ 0 };
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The subdirectory names of dir, sorted; depth-limited recursion below. */
static int subdirs(const char *dir, str_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return cli_fail("%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = EXIT_OK;
    while (rc == EXIT_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        if (cli_path_join(p, sizeof p, dir, e->d_name))
            continue;
        if (is_dir(p))
            rc = str_push(out, e->d_name);
    }
    closedir(d);
    if (out->n > 1)
        qsort(out->s, (size_t)out->n, sizeof *out->s, cmp_str);
    return rc;
}

/* Every directory holding model.onnx under dir (itself included). */
static int find_models(const char *dir, int depth, str_list *models)
{
    char p[4096];
    if (cli_path_join(p, sizeof p, dir, "model.onnx"))
        return EXIT_FAIL;
    if (is_file(p))
        return str_push(models, dir);
    if (depth > 16)
        return EXIT_OK;
    str_list sub = { 0 };
    int rc = subdirs(dir, &sub);
    for (int k = 0; k < sub.n && rc == EXIT_OK; k++) {
        if (cli_path_join(p, sizeof p, dir, sub.s[k]))
            rc = EXIT_FAIL;
        else
            rc = find_models(p, depth + 1, models);
    }
    str_free(&sub);
    return rc;
}

/* k of "<stem><k>.pb", else -1. */
static long file_index(const char *file, const char *stem)
{
    size_t n = strlen(stem);
    if (strncmp(file, stem, n) || !(file[n] >= '0' && file[n] <= '9'))
        return -1;
    char *end;
    long k = strtol(file + n, &end, 10);
    return strcmp(end, ".pb") == 0 ? k : -1;
}

/* set/<stem><k>.pb for k = 0, 1, ... in order (numeric, not by name). */
static int load_numbered(const char *set, const char *stem, cli_feeds *f, og_status *st_out)
{
    char **files = NULL;
    int n = 0, rc = cli_list_pb_files(set, &files, &n);
    long max = -1;
    for (int k = 0; k < n; k++) {
        long i = file_index(files[k], stem);
        if (i > max)
            max = i;
    }
    for (int k = 0; k < n; k++)
        free(files[k]);
    free(files);
    *st_out = OG_OK;
    for (long i = 0; i <= max && rc == EXIT_OK && *st_out == OG_OK; i++) {
        char file[64], p[4096];
        snprintf(file, sizeof file, "%s%ld.pb", stem, i);
        if (cli_path_join(p, sizeof p, set, file))
            return EXIT_FAIL;
        og_tensor *t;
        if ((*st_out = og_tensor_load_pb(p, &t)))
            break;
        rc = cli_feeds_push(f, t);
    }
    return rc;
}

/* ---- comparing ------------------------------------------------------------ */

static double elem(const og_tensor *t, int64_t k)
{
    switch (t->dtype) {
    case OG_FLOAT: return ((const float *)t->data)[k];
    case OG_DOUBLE: return ((const double *)t->data)[k];
    case OG_INT8: return ((const int8_t *)t->data)[k];
    case OG_INT16: return ((const int16_t *)t->data)[k];
    case OG_INT32: return ((const int32_t *)t->data)[k];
    case OG_INT64: return (double)((const int64_t *)t->data)[k];
    case OG_UINT8: case OG_BOOL: return ((const uint8_t *)t->data)[k];
    case OG_UINT16: return ((const uint16_t *)t->data)[k];
    case OG_UINT32: return ((const uint32_t *)t->data)[k];
    case OG_UINT64: return (double)((const uint64_t *)t->data)[k];
    default: return 0;
    }
}

static void shape_str(const og_tensor *t, char *buf, size_t size)
{
    size_t have = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->rank && have < size; d++)
        have += (size_t)snprintf(buf + have, size - have, "%s%lld", d ? "," : "", (long long)t->dims[d]);
    if (have < size)
        snprintf(buf + have, size - have, "]");
}

static void index_str(const og_tensor *t, int64_t flat, char *buf, size_t size)
{
    int64_t idx[OG_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->dims[d] ? flat % t->dims[d] : 0;
        flat = t->dims[d] ? flat / t->dims[d] : 0;
    }
    size_t have = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->rank && have < size; d++)
        have += (size_t)snprintf(buf + have, size - have, "%s%lld", d ? "," : "", (long long)idx[d]);
    if (have < size)
        snprintf(buf + have, size - have, "]");
}

/* Compares got with exp (what) into c; returns false on a mismatch. The
 * worst element: the largest error relative to its tolerance. */
static bool compare(const test_args *a, const char *what, const og_tensor *got, const og_tensor *exp, test_case *c)
{
    char gs[256], es[256];
    if (got->dtype != exp->dtype) {
        c->kind = R_FAIL;
        snprintf(c->msg, sizeof c->msg, "%s: dtype %s, expected %s", what, og_dtype_name(got->dtype),
                 og_dtype_name(exp->dtype));
        return false;
    }
    bool same_shape = got->rank == exp->rank;
    for (int d = 0; same_shape && d < got->rank; d++)
        same_shape = got->dims[d] == exp->dims[d];
    if (!same_shape) {
        shape_str(got, gs, sizeof gs);
        shape_str(exp, es, sizeof es);
        c->kind = R_FAIL;
        snprintf(c->msg, sizeof c->msg, "%s: shape %s, expected %s", what, gs, es);
        return false;
    }
    bool fp = got->dtype == OG_FLOAT || got->dtype == OG_DOUBLE;
    double worst = 0;
    int64_t at = -1;
    for (int64_t k = 0; k < got->numel; k++) {
        double g = elem(got, k), e = elem(exp, k), score;
        if (!fp) {
            /* exact, also for int64 values a double cannot hold */
            size_t sz = og_dtype_size(got->dtype);
            if (memcmp((const char *)got->data + (size_t)k * sz, (const char *)exp->data + (size_t)k * sz, sz) == 0)
                continue;
            score = INFINITY;
        } else if ((isnan(g) && isnan(e)) || g == e) {
            continue;
        } else if (isnan(g) || isnan(e) || isinf(g) || isinf(e)) {
            score = INFINITY;
        } else {
            double err = fabs(g - e), tol = a->atol + a->rtol * fabs(e);
            if (err <= tol)
                continue;
            score = tol > 0 ? err / tol : INFINITY;
        }
        if (at < 0 || score > worst) {
            worst = score;
            at = k;
            if (isinf(score) && !fp)
                break;
        }
    }
    if (at < 0)
        return true;
    c->kind = R_FAIL;
    c->has_worst = true;
    snprintf(c->tensor, sizeof c->tensor, "%s", what);
    index_str(got, at, c->index, sizeof c->index);
    c->got = elem(got, at);
    c->expected = elem(exp, at);
    snprintf(c->msg, sizeof c->msg, "%s%s: got %.9g, expected %.9g (atol %g, rtol %g)", what, c->index, c->got,
             c->expected, a->atol, a->rtol);
    return false;
}

/* ---- running -------------------------------------------------------------- */

static void refuse(test_case *c, const char *what, og_status st)
{
    c->kind = R_REFUSED;
    const char *m = og_errmsg();
    snprintf(c->msg, sizeof c->msg, "%s%s%s", what, *what ? ": " : "", m && *m ? m : og_status_name(st));
}

/* Refused (onnxgrad cannot do it) or failed (it did it wrong). */
static void run_error(test_case *c, og_status st)
{
    refuse(c, "", st);
    if (st != OG_ERR_UNSUPPORTED && st != OG_ERR_LIMIT && st != OG_ERR_NOMEM)
        c->kind = R_FAIL;
}

/* Names the set's input_<k> tensors after the graph inputs they bind to. */
static og_status bind_inputs(const og_graph *g, cli_feeds *in)
{
    int ni = og_graph_num_inputs(g);
    og_value_info vi;
    for (int k = 0; k < in->n; k++) {
        og_tensor *t = in->t[k];
        bool named_input = false;
        for (int j = 0; t->name && *t->name && j < ni && !named_input; j++)
            named_input = og_graph_input(g, j, &vi) == OG_OK && !strcmp(vi.name, t->name);
        if (named_input)
            continue;
        if (k >= ni)
            continue;   /* the callers check the count first */
        og_status st = og_graph_input(g, k, &vi);
        if (st || (st = og_tensor_set_name(t, vi.name)))
            return st;
    }
    return OG_OK;
}

/* The graph output expected tensor k (output_<k>.pb) is compared with: by
 * position, as the ONNX backend test runner matches them; past the graph's
 * outputs, the one the tensor's name names. -1: none. */
static int output_for(const og_graph *g, int k, const og_tensor *exp)
{
    int no = og_graph_num_outputs(g);
    og_value_info vi;
    if (k < no)
        return k;
    if (exp->name && *exp->name)
        for (int j = 0; j < no; j++)
            if (og_graph_output(g, j, &vi) == OG_OK && !strcmp(vi.name, exp->name))
                return j;
    return -1;
}

static void run_forward(const test_args *a, const og_graph *g, og_plan *p, const char *set, test_case *c)
{
    cli_feeds in = { 0 }, exp = { 0 };
    og_tensor **outs = NULL;
    int no = og_graph_num_outputs(g);
    og_status st;
    if (load_numbered(set, "input_", &in, &st) || load_numbered(set, "output_", &exp, &st) || st) {
        if (st)
            refuse(c, "", st);
        else
            snprintf(c->msg, sizeof c->msg, "cannot read the set"), c->kind = R_FAIL;
        goto done;
    }
    if (in.n > og_graph_num_inputs(g)) {
        c->kind = R_FAIL;
        snprintf(c->msg, sizeof c->msg, "%d input files, the model has %d inputs", in.n, og_graph_num_inputs(g));
        goto done;
    }
    if ((st = bind_inputs(g, &in))) {
        refuse(c, "", st);
        goto done;
    }
    if (!(outs = calloc((size_t)no + 1, sizeof *outs))) {
        snprintf(c->msg, sizeof c->msg, "out of memory"), c->kind = R_REFUSED;
        goto done;
    }
    if ((st = og_plan_run(p, in.n, (const og_tensor *const *)in.t, outs))) {
        run_error(c, st);
        goto done;
    }
    c->kind = R_PASS;
    for (int k = 0; k < exp.n; k++) {
        int j = output_for(g, k, exp.t[k]);
        char what[300];
        if (j < 0) {
            c->kind = R_FAIL;
            snprintf(c->msg, sizeof c->msg, "output_%d.pb has no graph output to compare with (the model has %d)", k,
                     no);
            break;
        }
        snprintf(what, sizeof what, "output '%s'", outs[j]->name ? outs[j]->name : "");
        if (!compare(a, what, outs[j], exp.t[k], c))
            break;
    }
done:
    for (int k = 0; outs && k < no; k++)
        og_tensor_free(outs[k]);
    free(outs);
    cli_feeds_free(&in);
    cli_feeds_free(&exp);
}

static void run_grad(const test_args *a, const og_graph *g, const char *set, test_case *c)
{
    cli_feeds in = { 0 }, exp = { 0 }, seeds = { 0 };
    og_tensor **grads = NULL;
    const char **wrt = NULL, **seeded = NULL;
    og_status st;
    if (load_numbered(set, "input_", &in, &st) || st || load_numbered(set, "grad_", &exp, &st) || st ||
        load_numbered(set, "seed_", &seeds, &st) || st) {
        if (st)
            refuse(c, "", st);
        goto done;
    }
    if (in.n > og_graph_num_inputs(g)) {
        c->kind = R_FAIL;
        snprintf(c->msg, sizeof c->msg, "%d input files, the model has %d inputs", in.n, og_graph_num_inputs(g));
        goto done;
    }
    if (exp.n == 0) {
        c->kind = R_REFUSED;
        snprintf(c->msg, sizeof c->msg, "no stored gradients (grad_<k>.pb) in the set");
        goto done;
    }
    if ((st = bind_inputs(g, &in))) {
        refuse(c, "", st);
        goto done;
    }
    wrt = calloc((size_t)exp.n, sizeof *wrt);
    seeded = calloc((size_t)seeds.n + 1, sizeof *seeded);
    grads = calloc((size_t)exp.n, sizeof *grads);
    if (!wrt || !seeded || !grads) {
        snprintf(c->msg, sizeof c->msg, "out of memory"), c->kind = R_REFUSED;
        goto done;
    }
    for (int k = 0; k < exp.n; k++) {
        if (!exp.t[k]->name || !*exp.t[k]->name) {
            c->kind = R_REFUSED;
            snprintf(c->msg, sizeof c->msg, "grad_%d.pb is unnamed; it must be named after the tensor it is the "
                     "gradient of", k);
            goto done;
        }
        wrt[k] = exp.t[k]->name;
    }
    og_value_info vi;
    for (int k = 0; k < seeds.n; k++) {
        if ((!seeds.t[k]->name || !*seeds.t[k]->name) &&
            ((st = og_graph_output(g, k, &vi)) || (st = og_tensor_set_name(seeds.t[k], vi.name)))) {
            refuse(c, "seed", st);
            goto done;
        }
        seeded[k] = seeds.t[k]->name;
    }
    og_grad_options o = { .n_wrt = exp.n, .wrt = wrt, .n_seeded = seeds.n, .seeded = seeded };
    if (seeds.n == 0) {
        if (og_graph_num_outputs(g) != 1 || og_graph_output(g, 0, &vi)) {
            c->kind = R_REFUSED;
            snprintf(c->msg, sizeof c->msg, "no seed_<k>.pb in the set, and the model has %d outputs (one loss "
                     "needed)", og_graph_num_outputs(g));
            goto done;
        }
        o.loss = vi.name;
    }
    if ((st = og_gradients(g, &o, in.n, (const og_tensor *const *)in.t, (const og_tensor *const *)seeds.t,
                           grads))) {
        run_error(c, st);
        goto done;
    }
    c->kind = R_PASS;
    for (int k = 0; k < exp.n; k++) {
        char what[300];
        snprintf(what, sizeof what, "gradient of '%s'", wrt[k]);
        if (!compare(a, what, grads[k], exp.t[k], c))
            break;
    }
done:
    for (int k = 0; grads && k < exp.n; k++)
        og_tensor_free(grads[k]);
    free(grads);
    free(wrt);
    free(seeded);
    cli_feeds_free(&in);
    cli_feeds_free(&exp);
    cli_feeds_free(&seeds);
}

static int case_push(case_list *l, const char *path, test_case **out)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        test_case *p = realloc(l->c, (size_t)cap * sizeof *p);
        if (!p)
            return cli_fail("out of memory");
        l->c = p;
        l->cap = cap;
    }
    test_case *c = &l->c[l->n];
    *c = (test_case){ 0 };
    if (!(c->path = strdup(path)))
        return cli_fail("out of memory");
    l->n++;
    *out = c;
    return EXIT_OK;
}

static void print_case(const test_case *c)
{
    static const char *const word[] = { "PASS", "FAIL", "REFUSED" };
    char pre[4200];
    snprintf(pre, sizeof pre, "%-7s %s%s", word[c->kind], c->path, c->kind == R_PASS ? "" : ": ");
    cli_print_line(stdout, pre, c->kind == R_PASS ? "" : c->msg);
    fflush(stdout);
}

/* Runs each set of the model in dir. */
static int test_model(const test_args *a, const char *dir, case_list *cases)
{
    str_list sub = { 0 };
    int rc = subdirs(dir, &sub);
    char model[4096];
    if (rc || cli_path_join(model, sizeof model, dir, "model.onnx")) {
        str_free(&sub);
        return EXIT_FAIL;
    }
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_status load_st = og_model_load_file(model, &g);
    char load_err[1024] = "";
    if (!load_st && !a->grad)
        load_st = og_plan_create(g, &p);
    if (load_st)
        snprintf(load_err, sizeof load_err, "%s", og_errmsg());
    for (int k = 0; k < sub.n && rc == EXIT_OK; k++) {
        if (strncmp(sub.s[k], "test_data_set_", 14))
            continue;
        char set[4096];
        test_case *c = NULL;
        if ((rc = cli_path_join(set, sizeof set, dir, sub.s[k])) || (rc = case_push(cases, set, &c)))
            break;
        if (load_st) {
            c->kind = R_REFUSED;
            snprintf(c->msg, sizeof c->msg, "%s", load_err[0] ? load_err : og_status_name(load_st));
        } else if (a->grad) {
            run_grad(a, g, set, c);
        } else {
            run_forward(a, g, p, set, c);
        }
        if (!a->json)
            print_case(c);
    }
    og_plan_free(p);
    og_graph_free(g);
    str_free(&sub);
    return rc;
}

static void print_json(const case_list *l, int passed, int failed, int refused)
{
    static const char *const word[] = { "pass", "fail", "refused" };
    json_writer w;
    json_init(&w, stdout);
    json_begin_object(&w);
    json_key(&w, "cases");
    json_begin_array(&w);
    for (int k = 0; k < l->n; k++) {
        const test_case *c = &l->c[k];
        json_begin_object(&w);
        json_key_string(&w, "case", c->path);
        json_key_string(&w, "result", word[c->kind]);
        json_key_string(&w, "message", c->kind == R_PASS ? "" : c->msg);
        if (c->has_worst) {
            json_key(&w, "worst");
            json_begin_object(&w);
            json_key_string(&w, "tensor", c->tensor);
            json_key_string(&w, "index", c->index);
            json_key_number(&w, "got", c->got);
            json_key_number(&w, "expected", c->expected);
            json_end_object(&w);
        }
        json_end_object(&w);
    }
    json_end_array(&w);
    json_key_int(&w, "passed", passed);
    json_key_int(&w, "failed", failed);
    json_key_int(&w, "refused", refused);
    json_end_object(&w);
}

int cmd_test(int argc, char **argv)
{
    static const cli_command c = { "test", HELP_TEST, TEST_OPTS, 1, 1 << 20, "missing the test directory" };
    test_args a = { .atol = 1e-5, .rtol = 1e-3 };
    char **args;
    int n_args;
    bool help;
    int rc = cli_parse(&c, argc, argv, take_test, &a, &args, &n_args, &help);
    if (rc || help)
        return rc;
    str_list models = { 0 };
    for (int k = 0; k < n_args && rc == EXIT_OK; k++) {
        if (!is_dir(args[k]))
            rc = cli_fail("%s: not a directory", args[k]);
        else
            rc = find_models(args[k], 0, &models);
    }
    case_list cases = { 0 };
    for (int k = 0; k < models.n && rc == EXIT_OK; k++)
        rc = test_model(&a, models.s[k], &cases);
    if (rc == EXIT_OK && cases.n == 0)
        rc = cli_fail("no test cases (model.onnx with test_data_set_<k>/ directories) under %s%s", args[0],
                      n_args > 1 ? " ..." : "");
    if (rc == EXIT_OK) {
        int count[3] = { 0 };
        for (int k = 0; k < cases.n; k++)
            count[cases.c[k].kind]++;
        if (a.json)
            print_json(&cases, count[R_PASS], count[R_FAIL], count[R_REFUSED]);
        else
            printf("%d passed, %d failed, %d refused\n", count[R_PASS], count[R_FAIL], count[R_REFUSED]);
        if (count[R_FAIL]) {
            if (a.json)
                cli_json_printed();
            rc = cli_fail("%d of %d cases failed", count[R_FAIL], cases.n);
        }
    }
    for (int k = 0; k < cases.n; k++)
        free(cases.c[k].path);
    free(cases.c);
    str_free(&models);
    return rc;
}
