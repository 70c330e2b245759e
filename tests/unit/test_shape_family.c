/* SPDX-License-Identifier: MIT */
/* test_shape_family.c — Concat, Split, Tile, Squeeze, Unsqueeze, Gather,
 * Cast/CastLike, Dropout and Range: random shapes and axes against naive
 * index-arithmetic references, negative axes, empty tensors, the views the
 * compiled plan makes (Squeeze, Unsqueeze, inference Dropout), Gather with
 * repeated and negative indices and its gradient adding (against numbers
 * from torch.nn.functional.embedding and torch.index_select autograd),
 * Dropout's numpy-compatible masks, errors for bad axes/indices/sizes,
 * and gradchecks of order 1 and 2 in float64 for every differentiable op. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "testutil.h"
#include "gradtest.h"

#define NODE "sf"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rndi(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static og_tensor *tens(og_dtype dt, int rank, const int64_t *dims, const void *data)
{
    og_tensor *t;
    if (data)
        OG_CHECK(og_tensor_create_from(dt, rank, dims, data, &t));
    else
        OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    return t;
}

/* A float tensor whose element i is i + 1 (distinct, so copies are traceable). */
static og_tensor *iota(int rank, const int64_t *dims)
{
    og_tensor *t = tens(OG_FLOAT, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++)
        ((float *)t->data)[i] = (float)(i + 1);
    return t;
}

static og_tensor *ints64(int64_t n, const int64_t *v)
{
    return tens(OG_INT64, 1, &n, v);
}

/* One node NODE(op) of opset `opset`: ins[k] non-NULL are graph inputs
 * "in<k>" (or initializers when init bit k is set), NULL ones are omitted;
 * outputs "y0".."y<n_out-1>" (an unwanted output when want bit k is clear). */
static og_status node_graph(og_graph **g, const char *op, int opset, int n_in, og_tensor *const *ins, unsigned init,
                            int n_out, unsigned want, int n_attrs, const og_attr *attrs)
{
    static const char *const in_names[] = { "in0", "in1", "in2", "in3", "in4", "in5" };
    static const char *const out_names[] = { "y0", "y1", "y2", "y3", "y4", "y5" };
    const char *ins_n[6], *outs_n[6];
    og_status st;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, "", opset)))
        return st;
    for (int k = 0; k < n_in; k++) {
        ins_n[k] = ins[k] ? in_names[k] : "";
        if (!ins[k])
            continue;
        st = (init >> k) & 1 ? og_graph_add_initializer(*g, in_names[k], ins[k])
                             : og_graph_add_input(*g, in_names[k], ins[k]->dtype, ins[k]->rank, ins[k]->dims, NULL);
        if (st)
            return st;
    }
    for (int k = 0; k < n_out; k++)
        outs_n[k] = (want >> k) & 1 ? out_names[k] : "";
    if ((st = og_graph_add_node(*g, op, NULL, NODE, n_in, ins_n, n_out, outs_n, n_attrs, attrs)))
        return st;
    for (int k = 0; k < n_out; k++)
        if ((want >> k) & 1 && (st = og_graph_add_output(*g, out_names[k])))
            return st;
    return og_graph_finalize(*g);
}

/* Builds, plans and runs; outs[] gets one tensor per wanted output. */
static og_status run_node(const char *op, int opset, int n_in, og_tensor *const *ins, unsigned init, int n_out,
                          unsigned want, int n_attrs, const og_attr *attrs, og_tensor **outs)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    const og_tensor *feeds[6];
    int nf = 0;
    og_status st = node_graph(&g, op, opset, n_in, ins, init, n_out, want, n_attrs, attrs);
    if (!st)
        st = og_plan_create(g, &p);
    for (int k = 0; k < n_in; k++)
        if (ins[k] && !((init >> k) & 1))
            feeds[nf++] = ins[k];
    if (!st)
        st = og_plan_run(p, nf, feeds, outs);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

#define ONE_OUT(op, opset, n_in, ins, init, n_attrs, attrs, y) run_node(op, opset, n_in, ins, init, 1, 1, n_attrs, attrs, y)

static void expect_fail_msg(og_status st, og_status code, const char *needle)
{
    const char *msg = og_errmsg();
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st), st ? msg : "");
    ck_assert_msg(strstr(msg, "'" NODE "'"), "message does not name the node: %s", msg);
    ck_assert_msg(strstr(msg, needle), "message lacks \"%s\": %s", needle, msg);
}

static void expect_dims(const og_tensor *t, int rank, const int64_t *dims)
{
    ck_assert_int_eq(t->rank, rank);
    for (int d = 0; d < rank; d++)
        ck_assert_msg(t->dims[d] == dims[d], "dim %d: %lld, expected %lld", d, (long long)t->dims[d],
                      (long long)dims[d]);
}

static void free_all(int n, og_tensor **t)
{
    for (int k = 0; k < n; k++)
        og_tensor_free(t[k]);
}

/* Row-major offset of idx in dims. */
static int64_t offset_of(int rank, const int64_t *dims, const int64_t *idx)
{
    int64_t o = 0;
    for (int a = 0; a < rank; a++)
        o = o * dims[a] + idx[a];
    return o;
}

static bool next_index(int rank, const int64_t *dims, int64_t *idx)
{
    for (int a = rank - 1; a >= 0; a--) {
        if (++idx[a] < dims[a])
            return true;
        idx[a] = 0;
    }
    return false;
}

/* ---- Concat ------------------------------------------------------------- */

START_TEST(concat_random)
{
    for (int it = 0; it < 60; it++) {
        int r = (int)rndi(1, 4), n = (int)rndi(1, 4);
        int64_t base[4], axis = rndi(-r, r - 1);
        int ax = (int)(axis < 0 ? axis + r : axis);
        for (int a = 0; a < r; a++)
            base[a] = rndi(1, 3);
        og_tensor *in[4];
        int64_t total = 0;
        for (int k = 0; k < n; k++) {
            int64_t d[4];
            memcpy(d, base, sizeof d);
            d[ax] = rndi(0, 3);   /* empty pieces take part */
            total += d[ax];
            in[k] = iota(r, d);
            for (int64_t i = 0; i < in[k]->numel; i++)
                ((float *)in[k]->data)[i] += 100.0f * (float)k;
        }
        og_attr at = og_attr_int("axis", axis);
        og_tensor *y;
        OG_CHECK(ONE_OUT("Concat", 13, n, in, 0, 1, &at, &y));
        int64_t want[4];
        memcpy(want, base, sizeof want);
        want[ax] = total;
        expect_dims(y, r, want);
        /* every output element from the input its axis position falls in */
        int64_t idx[4] = { 0 };
        if (y->numel > 0)
            do {
                int64_t pos = idx[ax], k = 0;
                while (pos >= in[k]->dims[ax]) {
                    pos -= in[k]->dims[ax];
                    k++;
                }
                int64_t src[4];
                memcpy(src, idx, sizeof src);
                src[ax] = pos;
                ck_assert_float_eq(((float *)y->data)[offset_of(r, want, idx)],
                                   ((float *)in[k]->data)[offset_of(r, in[k]->dims, src)]);
            } while (next_index(r, want, idx));
        og_tensor_free(y);
        free_all(n, in);
    }
}
END_TEST

START_TEST(concat_errors_and_types)
{
    og_tensor *a = iota(2, (int64_t[]){ 2, 3 }), *b = iota(2, (int64_t[]){ 3, 3 }), *y;
    og_attr ax = og_attr_int("axis", 1), bad = og_attr_int("axis", 2), neg = og_attr_int("axis", -1);
    expect_fail_msg(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ a, b }), 0, 1, &ax, &y), OG_ERR_SHAPE,
                    "differs from 2 on axis 0");
    expect_fail_msg(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ a, a }), 0, 1, &bad, &y), OG_ERR_ATTR,
                    "expected a value in [-2, 1]");
    expect_fail_msg(ONE_OUT("Concat", 10, 2, ((og_tensor *[]){ a, a }), 0, 1, &neg, &y), OG_ERR_ATTR,
                    "negative axes need opset >= 11");
    expect_fail_msg(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ a, a }), 0, 0, NULL, &y), OG_ERR_ATTR,
                    "'axis' is required");
    /* opset 1: axis defaults to 1 */
    OG_CHECK(ONE_OUT("Concat", 1, 2, ((og_tensor *[]){ a, a }), 0, 0, NULL, &y));
    expect_dims(y, 2, (int64_t[]){ 2, 6 });
    og_tensor_free(y);
    /* int64 and bool */
    og_tensor *i = ints64(2, (int64_t[]){ 7, -8 }), *bo = tens(OG_BOOL, 1, (int64_t[]){ 2 }, (bool[]){ true, false });
    og_attr z = og_attr_int("axis", 0);
    OG_CHECK(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ i, i }), 0, 1, &z, &y));
    ck_assert_int_eq(((int64_t *)y->data)[3], -8);
    og_tensor_free(y);
    OG_CHECK(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ bo, bo }), 0, 1, &z, &y));
    ck_assert(((bool *)y->data)[2] && !((bool *)y->data)[3]);
    expect_fail_msg(ONE_OUT("Concat", 13, 2, ((og_tensor *[]){ i, bo }), 0, 1, &z, &y), OG_ERR_SHAPE,
                    "expected int64");
    og_tensor_free(y);
    free_all(4, (og_tensor *[]){ a, b, i, bo });
}
END_TEST

/* ---- Split -------------------------------------------------------------- */

START_TEST(split_forms)
{
    og_tensor *x = iota(2, (int64_t[]){ 2, 6 }), *y[3];
    og_attr ax1 = og_attr_int("axis", 1), axm = og_attr_int("axis", -1);
    /* equal parts */
    OG_CHECK(run_node("Split", 13, 1, &x, 0, 3, 7, 1, &ax1, y));
    for (int k = 0; k < 3; k++) {
        expect_dims(y[k], 2, (int64_t[]){ 2, 2 });
        ck_assert_float_eq(((float *)y[k]->data)[2], (float)(6 + 2 * k + 1));
    }
    free_all(3, y);
    /* split as attribute (opset 11) and as input (13), negative axis */
    og_attr sp[2] = { axm, og_attr_ints("split", 3, (int64_t[]){ 1, 0, 5 }) };
    OG_CHECK(run_node("Split", 11, 1, &x, 0, 3, 7, 2, sp, y));
    expect_dims(y[1], 2, (int64_t[]){ 2, 0 });
    expect_dims(y[2], 2, (int64_t[]){ 2, 5 });
    ck_assert_float_eq(((float *)y[2]->data)[5], 8.0f);
    free_all(3, y);
    og_tensor *s = ints64(3, (int64_t[]){ 1, 0, 5 });
    OG_CHECK(run_node("Split", 13, 2, ((og_tensor *[]){ x, s }), 2, 3, 7, 1, &axm, y));
    expect_dims(y[2], 2, (int64_t[]){ 2, 5 });
    ck_assert_float_eq(((float *)y[0]->data)[1], 7.0f);
    free_all(3, y);
    /* split fed at run time (not an initializer) */
    OG_CHECK(run_node("Split", 13, 2, ((og_tensor *[]){ x, s }), 0, 3, 7, 1, &axm, y));
    expect_dims(y[2], 2, (int64_t[]){ 2, 5 });
    free_all(3, y);
    /* opset 1: split as an optional input */
    OG_CHECK(run_node("Split", 1, 2, ((og_tensor *[]){ x, s }), 2, 3, 7, 1, &ax1, y));
    expect_dims(y[0], 2, (int64_t[]){ 2, 1 });
    free_all(3, y);
    /* an unwanted middle output */
    OG_CHECK(run_node("Split", 13, 1, &x, 0, 3, 5, 1, &ax1, y));
    ck_assert_float_eq(((float *)y[1]->data)[0], 5.0f);   /* y2: columns 4, 5 */
    free_all(2, y);
    /* errors */
    og_attr ax0 = og_attr_int("axis", 0);
    expect_fail_msg(run_node("Split", 13, 1, &x, 0, 3, 7, 1, &ax0, y), OG_ERR_SHAPE,
                    "does not split into 3 equal parts");
    og_tensor *bad = ints64(3, (int64_t[]){ 1, 1, 1 });
    expect_fail_msg(run_node("Split", 13, 2, ((og_tensor *[]){ x, bad }), 2, 3, 7, 1, &ax1, y), OG_ERR_SHAPE,
                    "sum to 3, but the input has 6 on axis 1");
    expect_fail_msg(run_node("Split", 13, 2, ((og_tensor *[]){ x, s }), 2, 2, 3, 1, &ax1, y), OG_ERR_SHAPE,
                    "split has 3 values but the node has 2 outputs");
    og_attr ax5 = og_attr_int("axis", 5);
    expect_fail_msg(run_node("Split", 13, 1, &x, 0, 2, 3, 1, &ax5, y), OG_ERR_ATTR, "expected a value in [-2, 1]");
    og_tensor *negs = ints64(3, (int64_t[]){ 7, -1, 0 });
    expect_fail_msg(run_node("Split", 13, 2, ((og_tensor *[]){ x, negs }), 2, 3, 7, 1, &ax1, y), OG_ERR_SHAPE,
                    "split[1] is -1");
    free_all(4, (og_tensor *[]){ x, s, bad, negs });
}
END_TEST

/* ---- Tile --------------------------------------------------------------- */

START_TEST(tile_random)
{
    for (int it = 0; it < 40; it++) {
        int r = (int)rndi(0, 4);
        int64_t d[4], rep[4], yd[4];
        for (int a = 0; a < r; a++) {
            d[a] = rndi(0, 3);
            rep[a] = rndi(0, 3);
            yd[a] = d[a] * rep[a];
        }
        og_tensor *x = iota(r, d), *rp = ints64(r, rep), *y;
        OG_CHECK(ONE_OUT("Tile", 13, 2, ((og_tensor *[]){ x, rp }), it % 2 ? 2 : 0, 0, NULL, &y));
        expect_dims(y, r, yd);
        int64_t idx[4] = { 0 }, src[4];
        if (y->numel > 0)
            do {
                for (int a = 0; a < r; a++)
                    src[a] = idx[a] % d[a];
                ck_assert_float_eq(((float *)y->data)[offset_of(r, yd, idx)],
                                   ((float *)x->data)[offset_of(r, d, src)]);
            } while (next_index(r, yd, idx));
        free_all(3, (og_tensor *[]){ x, rp, y });
    }
}
END_TEST

START_TEST(tile_old_form_and_errors)
{
    og_tensor *x = iota(2, (int64_t[]){ 2, 2 }), *t = ints64(1, (int64_t[]){ 3 }), *a = ints64(1, (int64_t[]){ 1 });
    og_tensor *y;
    OG_CHECK(ONE_OUT("Tile", 1, 3, ((og_tensor *[]){ x, t, a }), 6, 0, NULL, &y));
    expect_dims(y, 2, (int64_t[]){ 2, 6 });
    ck_assert_float_eq(((float *)y->data)[5], 2.0f);
    ck_assert_float_eq(((float *)y->data)[6], 3.0f);
    og_tensor_free(y);
    og_tensor *short_rep = ints64(1, (int64_t[]){ 2 }), *neg = ints64(2, (int64_t[]){ 2, -1 });
    expect_fail_msg(ONE_OUT("Tile", 13, 2, ((og_tensor *[]){ x, short_rep }), 2, 0, NULL, &y), OG_ERR_SHAPE,
                    "has 1 values, expected 2");
    expect_fail_msg(ONE_OUT("Tile", 13, 2, ((og_tensor *[]){ x, neg }), 2, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "repeats[1] is -1");
    free_all(5, (og_tensor *[]){ x, t, a, short_rep, neg });
}
END_TEST

/* ---- Squeeze / Unsqueeze ------------------------------------------------ */

START_TEST(squeeze_unsqueeze_forms)
{
    og_tensor *x = iota(4, (int64_t[]){ 1, 3, 1, 2 }), *y;
    og_attr axes = og_attr_ints("axes", 2, (int64_t[]){ 0, -2 });
    OG_CHECK(ONE_OUT("Squeeze", 11, 1, &x, 0, 1, &axes, &y));
    expect_dims(y, 2, (int64_t[]){ 3, 2 });
    ck_assert_float_eq(((float *)y->data)[5], 6.0f);
    og_tensor_free(y);
    og_tensor *ax = ints64(1, (int64_t[]){ 2 });
    OG_CHECK(ONE_OUT("Squeeze", 13, 2, ((og_tensor *[]){ x, ax }), 2, 0, NULL, &y));
    expect_dims(y, 3, (int64_t[]){ 1, 3, 2 });
    og_tensor_free(y);
    /* no axes: every size-1 axis */
    OG_CHECK(ONE_OUT("Squeeze", 13, 1, &x, 0, 0, NULL, &y));
    expect_dims(y, 2, (int64_t[]){ 3, 2 });
    og_tensor_free(y);
    OG_CHECK(ONE_OUT("Squeeze", 1, 1, &x, 0, 0, NULL, &y));
    expect_dims(y, 2, (int64_t[]){ 3, 2 });
    og_tensor_free(y);
    og_attr three = og_attr_ints("axes", 1, (int64_t[]){ 1 }), negold = og_attr_ints("axes", 1, (int64_t[]){ -1 });
    expect_fail_msg(ONE_OUT("Squeeze", 11, 1, &x, 0, 1, &three, &y), OG_ERR_SHAPE, "axis 1 of input 'in0'");
    expect_fail_msg(ONE_OUT("Squeeze", 10, 1, &x, 0, 1, &negold, &y), OG_ERR_ATTR, "negative axes need opset >= 11");
    og_tensor *dup = ints64(2, (int64_t[]){ 0, -4 });
    expect_fail_msg(ONE_OUT("Squeeze", 13, 2, ((og_tensor *[]){ x, dup }), 2, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "lists axis 0 twice");

    /* Unsqueeze: axes of the output, unsorted and negative */
    og_tensor *v = iota(2, (int64_t[]){ 3, 2 });
    og_tensor *uax = ints64(3, (int64_t[]){ 4, 0, -3 });
    OG_CHECK(ONE_OUT("Unsqueeze", 13, 2, ((og_tensor *[]){ v, uax }), 2, 0, NULL, &y));
    expect_dims(y, 5, (int64_t[]){ 1, 3, 1, 2, 1 });
    ck_assert_float_eq(((float *)y->data)[4], 5.0f);
    og_tensor_free(y);
    og_attr ua = og_attr_ints("axes", 1, (int64_t[]){ 1 });
    OG_CHECK(ONE_OUT("Unsqueeze", 1, 1, &v, 0, 1, &ua, &y));
    expect_dims(y, 3, (int64_t[]){ 3, 1, 2 });
    og_tensor_free(y);
    og_tensor *oob = ints64(1, (int64_t[]){ 3 });
    expect_fail_msg(ONE_OUT("Unsqueeze", 13, 2, ((og_tensor *[]){ v, oob }), 2, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "axes[0] is 3, expected a value in [-3, 2]");
    expect_fail_msg(ONE_OUT("Unsqueeze", 11, 1, &v, 0, 0, NULL, &y), OG_ERR_ATTR, "axes attribute is required");
    /* empty tensors keep their 0 dims */
    og_tensor *e = tens(OG_FLOAT, 2, (int64_t[]){ 0, 1 }, NULL);
    OG_CHECK(ONE_OUT("Squeeze", 13, 1, &e, 0, 0, NULL, &y));
    expect_dims(y, 1, (int64_t[]){ 0 });
    og_tensor_free(y);
    free_all(7, (og_tensor *[]){ x, ax, dup, v, uax, oob, e });
}
END_TEST

/* The plan makes Squeeze, Unsqueeze and inference Dropout outputs views:
 * the step's kernel is "view" and the output shares the input's bytes. */
START_TEST(views_in_plan)
{
    og_graph *g = gt_graph();
    gt_input(g, "x", OG_FLOAT, 3, (int64_t[]){ 2, 1, 3 });
    gt_init(g, "ax", OG_INT64, 1, (int64_t[]){ 1 }, (int64_t[]){ 1 });
    gt_init(g, "tm", OG_BOOL, 0, NULL, (bool[]){ false });
    gt_node(g, "Relu", "r", GT_NAMES("x"), GT_NAMES("a"), 0, NULL);
    gt_node(g, "Squeeze", "sq", GT_NAMES("a", "ax"), GT_NAMES("b"), 0, NULL);
    gt_node(g, "Unsqueeze", "us", GT_NAMES("b", "ax"), GT_NAMES("c"), 0, NULL);
    OG_CHECK(og_graph_add_node(g, "Dropout", NULL, "dr", 3, (const char *const[]){ "c", "", "tm" }, 2,
                               (const char *const[]){ "d", "m" }, 0, NULL));
    OG_CHECK(og_graph_add_output(g, "a"));
    OG_CHECK(og_graph_add_output(g, "b"));
    OG_CHECK(og_graph_add_output(g, "d"));
    OG_CHECK(og_graph_add_output(g, "m"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    int views = 0;
    for (int k = 0; k < og_plan_num_steps(p); k++) {
        const char *node, *op, *kern;
        OG_CHECK(og_plan_step(p, k, &node, &op, &kern));
        if (strcmp(op, "Relu") != 0) {
            ck_assert_msg(strcmp(kern, "view") == 0, "%s: kernel %s", node, kern);
            views++;
        }
    }
    ck_assert_int_eq(views, 3);
    og_tensor *x = iota(3, (int64_t[]){ 2, 1, 3 });
    const og_tensor *outs[4];
    OG_CHECK(og_plan_run_borrowed(p, 1, (const og_tensor *const[]){ x }, outs));
    ck_assert_ptr_eq(outs[0]->data, outs[1]->data);
    ck_assert_ptr_eq(outs[0]->data, outs[2]->data);
    expect_dims(outs[1], 2, (int64_t[]){ 2, 3 });
    expect_dims(outs[2], 3, (int64_t[]){ 2, 1, 3 });
    ck_assert_float_eq(((float *)outs[2]->data)[4], 5.0f);
    /* the mask still gets written: all true */
    ck_assert_int_eq(outs[3]->dtype, OG_BOOL);
    for (int i = 0; i < 6; i++)
        ck_assert(((bool *)outs[3]->data)[i]);
    og_tensor_free(x);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* ---- Gather ------------------------------------------------------------- */

START_TEST(gather_random)
{
    for (int it = 0; it < 60; it++) {
        int r = (int)rndi(1, 3), q = (int)rndi(0, 2);
        int64_t d[3], id[2], axis = rndi(-r, r - 1);
        int ax = (int)(axis < 0 ? axis + r : axis);
        for (int a = 0; a < r; a++)
            d[a] = rndi(1, 4);
        for (int a = 0; a < q; a++)
            id[a] = rndi(0, 3);
        og_tensor *x = iota(r, d);
        bool i32 = it % 2;
        og_tensor *ind = tens(i32 ? OG_INT32 : OG_INT64, q, id, NULL);
        for (int64_t j = 0; j < ind->numel; j++) {
            int64_t v = rndi(-d[ax], d[ax] - 1);   /* negative and repeated */
            if (i32)
                ((int32_t *)ind->data)[j] = (int32_t)v;
            else
                ((int64_t *)ind->data)[j] = v;
        }
        og_attr at = og_attr_int("axis", axis);
        og_tensor *y;
        OG_CHECK(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, ind }), it % 3 == 0 ? 2 : 0, 1, &at, &y));
        int yr = r - 1 + q;
        int64_t yd[OG_MAX_RANK], m = 0;
        for (int a = 0; a < ax; a++)
            yd[m++] = d[a];
        for (int a = 0; a < q; a++)
            yd[m++] = id[a];
        for (int a = ax + 1; a < r; a++)
            yd[m++] = d[a];
        expect_dims(y, yr, yd);
        int64_t idx[OG_MAX_RANK] = { 0 };
        if (y->numel > 0)
            do {
                int64_t src[3], j = 0;
                for (int a = 0; a < q; a++)
                    j = j * id[a] + idx[ax + a];
                int64_t v = i32 ? ((int32_t *)ind->data)[j] : ((int64_t *)ind->data)[j];
                for (int a = 0; a < r; a++)
                    src[a] = a < ax ? idx[a] : a == ax ? (v < 0 ? v + d[ax] : v) : idx[a - 1 + q];
                ck_assert_float_eq(((float *)y->data)[offset_of(yr, yd, idx)], ((float *)x->data)[offset_of(r, d, src)]);
            } while (next_index(yr, yd, idx));
        free_all(3, (og_tensor *[]){ x, ind, y });
    }
}
END_TEST

START_TEST(gather_errors)
{
    og_tensor *x = iota(2, (int64_t[]){ 3, 2 }), *y;
    og_tensor *ind = tens(OG_INT64, 2, (int64_t[]){ 2, 2 }, (int64_t[]){ 0, 1, 2, 3 });
    expect_fail_msg(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, ind }), 0, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "indices[1,1] is 3, out of range for axis 0 of size 3: expected a value in [-3, 2]");
    og_tensor *neg = tens(OG_INT32, 1, (int64_t[]){ 1 }, (int32_t[]){ -4 });
    expect_fail_msg(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, neg }), 2, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "indices[0] is -4");
    og_attr ax = og_attr_int("axis", 2);
    expect_fail_msg(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, neg }), 2, 1, &ax, &y), OG_ERR_ATTR,
                    "expected a value in [-2, 1]");
    og_tensor *fl = iota(1, (int64_t[]){ 1 });
    expect_fail_msg(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, fl }), 0, 0, NULL, &y), OG_ERR_SHAPE,
                    "expected int32 or int64");
    /* an empty data axis: no index is valid; empty indices are fine */
    og_tensor *e = tens(OG_FLOAT, 2, (int64_t[]){ 0, 2 }, NULL), *z = tens(OG_INT64, 1, (int64_t[]){ 1 }, (int64_t[]){ 0 });
    expect_fail_msg(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ e, z }), 0, 0, NULL, &y), OG_ERR_INVALID_ARG,
                    "data has size 0 on axis 0");
    og_tensor *none = tens(OG_INT64, 1, (int64_t[]){ 0 }, NULL);
    OG_CHECK(ONE_OUT("Gather", 13, 2, ((og_tensor *[]){ x, none }), 0, 0, NULL, &y));
    expect_dims(y, 2, (int64_t[]){ 0, 2 });
    og_tensor_free(y);
    free_all(6, (og_tensor *[]){ x, ind, neg, fl, e, z });
    og_tensor_free(none);
}
END_TEST

/* The gradient of Gather adds where indices repeat. Expected values are
 * torch 1.13's: F.embedding(idx, W).backward(dY) with W [5,3], idx
 * [[0,2,0],[4,0,1]], dY = arange(18)/2 + 1; index_select(X [2,4], 1,
 * [3,1,3,3]).backward(arange(8) + 1). */
START_TEST(gather_grad_adds_like_torch)
{
    static const double emb_want[15] = { 12.0, 13.5, 15.0, 8.5, 9.0, 9.5, 2.5, 3.0, 3.5, 0, 0, 0, 5.5, 6.0, 6.5 };
    static const double sel_want[8] = { 0, 2, 0, 8, 0, 6, 0, 20 };
    for (int c = 0; c < 2; c++) {
        og_graph *g = gt_graph();
        bool emb = c == 0;
        int64_t wd[2] = { emb ? 5 : 2, emb ? 3 : 4 };
        gt_input(g, "w", OG_DOUBLE, 2, wd);
        if (emb)
            gt_init(g, "idx", OG_INT64, 2, (int64_t[]){ 2, 3 }, (int64_t[]){ 0, 2, 0, 4, 0, 1 });
        else
            gt_init(g, "idx", OG_INT32, 1, (int64_t[]){ 4 }, (int32_t[]){ 3, -3, 3, -1 });   /* -3 is 1, -1 is 3 */
        og_attr ax = og_attr_int("axis", emb ? 0 : 1);
        gt_node(g, "Gather", NODE, GT_NAMES("w", "idx"), GT_NAMES("y"), 1, &ax);
        OG_CHECK(og_graph_add_output(g, "y"));
        OG_CHECK(og_graph_finalize(g));
        og_tensor *w = tens(OG_DOUBLE, 2, wd, NULL);
        memset(w->data, 0, (size_t)w->numel * sizeof(double));
        og_tensor *dy = emb ? tens(OG_DOUBLE, 3, (int64_t[]){ 2, 3, 3 }, NULL) : tens(OG_DOUBLE, 2, (int64_t[]){ 2, 4 }, NULL);
        for (int64_t i = 0; i < dy->numel; i++)
            ((double *)dy->data)[i] = emb ? (double)i * 0.5 + 1 : (double)i + 1;
        og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "y" } };
        og_tensor *gw;
        OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const[]){ w }, (const og_tensor *const[]){ dy }, &gw));
        const double *want = emb ? emb_want : sel_want;
        for (int64_t i = 0; i < gw->numel; i++)
            ck_assert_msg(fabs(((double *)gw->data)[i] - want[i]) < 1e-12, "case %d element %lld: %g, torch %g", c,
                          (long long)i, ((double *)gw->data)[i], want[i]);
        free_all(3, (og_tensor *[]){ w, dy, gw });
        og_graph_free(g);
    }
}
END_TEST

/* ---- Cast --------------------------------------------------------------- */

START_TEST(cast_conversions)
{
    og_tensor *x = tens(OG_DOUBLE, 1, (int64_t[]){ 7 }, (double[]){ -1.75, 0.0, 2.9, 300.5, -1e300, NAN, 1e300 }), *y;
    og_attr to;
    to = og_attr_int("to", OG_INT32);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y));
    {
        const int32_t want[7] = { -1, 0, 2, 300, INT32_MIN, 0, INT32_MAX };   /* truncation, saturation, NaN -> 0 */
        ck_assert_mem_eq(y->data, want, sizeof want);
    }
    og_tensor_free(y);
    to = og_attr_int("to", OG_UINT8);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y));
    {
        const uint8_t want[7] = { 0, 0, 2, 255, 0, 0, 255 };
        ck_assert_mem_eq(y->data, want, sizeof want);
    }
    og_tensor_free(y);
    to = og_attr_int("to", OG_BOOL);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y));
    {
        const bool want[7] = { true, false, true, true, true, true, true };
        ck_assert_mem_eq(y->data, want, sizeof want);
    }
    og_tensor_free(y);
    to = og_attr_int("to", OG_FLOAT);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y));
    ck_assert_float_eq(((float *)y->data)[0], -1.75f);
    ck_assert(isinf(((float *)y->data)[6]));
    og_tensor_free(y);
    /* int64 -> double and uint64 -> float keep large values; int wraps like C */
    og_tensor *big = tens(OG_INT64, 1, (int64_t[]){ 2 }, (int64_t[]){ INT64_MAX, -300 });
    to = og_attr_int("to", OG_DOUBLE);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &big, 0, 1, &to, &y));
    ck_assert(((double *)y->data)[0] == (double)INT64_MAX && ((double *)y->data)[1] == -300.0);
    og_tensor_free(y);
    to = og_attr_int("to", OG_INT8);
    OG_CHECK(ONE_OUT("Cast", 13, 1, &big, 0, 1, &to, &y));
    ck_assert_int_eq(((int8_t *)y->data)[1], (int8_t)-300);
    og_tensor_free(y);
    /* bool -> float; Cast-1's string 'to'; CastLike */
    og_tensor *b = tens(OG_BOOL, 1, (int64_t[]){ 2 }, (bool[]){ true, false });
    og_attr tos = og_attr_string("to", "FLOAT");
    to = og_attr_int("to", OG_FLOAT);
    OG_CHECK(ONE_OUT("Cast", 9, 1, &b, 0, 1, &to, &y));
    ck_assert_float_eq(((float *)y->data)[0], 1.0f);
    ck_assert_float_eq(((float *)y->data)[1], 0.0f);
    og_tensor_free(y);
    OG_CHECK(ONE_OUT("Cast", 1, 1, &x, 0, 1, &tos, &y));
    ck_assert_int_eq(y->dtype, OG_FLOAT);
    og_tensor_free(y);
    og_tensor *like = tens(OG_INT16, 0, NULL, (int16_t[]){ 0 });
    OG_CHECK(ONE_OUT("CastLike", 15, 2, ((og_tensor *[]){ x, like }), 0, 0, NULL, &y));
    ck_assert_int_eq(y->dtype, OG_INT16);
    ck_assert_int_eq(((int16_t *)y->data)[3], 300);
    og_tensor_free(y);
    /* refused */
    to = og_attr_int("to", OG_FLOAT16);
    expect_fail_msg(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y), OG_ERR_UNSUPPORTED, "unsupported type");
    to = og_attr_int("to", OG_STRING);
    expect_fail_msg(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y), OG_ERR_UNSUPPORTED, "unsupported type");
    tos = og_attr_string("to", "BFLOAT16");
    expect_fail_msg(ONE_OUT("Cast", 5, 1, &x, 0, 1, &tos, &y), OG_ERR_UNSUPPORTED, "unsupported type");
    tos = og_attr_string("to", "FLOAT99");
    expect_fail_msg(ONE_OUT("Cast", 5, 1, &x, 0, 1, &tos, &y), OG_ERR_ATTR, "expected a type name");
    to = og_attr_int("to", 99);
    expect_fail_msg(ONE_OUT("Cast", 13, 1, &x, 0, 1, &to, &y), OG_ERR_ATTR, "[1, 16]");
    free_all(4, (og_tensor *[]){ x, big, b, like });
}
END_TEST

/* ---- Dropout ------------------------------------------------------------ */

/* numpy: np.random.seed(s); np.random.uniform(0, 1, 12) >= 0.4 */
START_TEST(dropout_training_matches_numpy)
{
    static const bool want3[12] = { 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1 };
    static const bool want4e9[12] = { 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1 };
    og_tensor *x = iota(2, (int64_t[]){ 3, 4 });
    og_tensor *r = tens(OG_FLOAT, 0, NULL, (float[]){ 0.4f }), *t = tens(OG_BOOL, 0, NULL, (bool[]){ true });
    for (int c = 0; c < 2; c++) {
        og_attr seed = og_attr_int("seed", c ? 4000000000ll : 3);
        const bool *want = c ? want4e9 : want3;
        og_tensor *y[2];
        OG_CHECK(run_node("Dropout", 13, 3, ((og_tensor *[]){ x, r, t }), c ? 0 : 6, 2, 3, 1, &seed, y));
        ck_assert_int_eq(y[1]->dtype, OG_BOOL);
        for (int i = 0; i < 12; i++) {
            ck_assert_msg(((bool *)y[1]->data)[i] == want[i], "seed case %d element %d", c, i);
            float expect = want[i] ? (float)(i + 1) * (1.0f / (1.0f - 0.4f)) : 0.0f;
            ck_assert_float_eq(((float *)y[0]->data)[i], expect);
        }
        free_all(2, y);
    }
    /* a large tensor keeps about 1 - ratio */
    og_tensor *big = iota(1, (int64_t[]){ 20000 }), *y[2];
    OG_CHECK(run_node("Dropout", 13, 3, ((og_tensor *[]){ big, r, t }), 6, 2, 3, 0, NULL, y));
    int64_t kept = 0;
    for (int64_t i = 0; i < 20000; i++)
        kept += ((bool *)y[1]->data)[i];
    ck_assert_msg(kept > 11600 && kept < 12400, "kept %lld of 20000", (long long)kept);
    free_all(2, y);
    /* opset 6 training by is_test = 0 with a float mask; opset 7 is inference */
    og_attr old[2] = { og_attr_float("ratio", 0.4f), og_attr_int("is_test", 0) };
    OG_CHECK(run_node("Dropout", 6, 1, &x, 0, 2, 3, 2, old, y));
    ck_assert_int_eq(y[1]->dtype, OG_FLOAT);
    ck_assert_float_eq(((float *)y[1]->data)[9], 0.0f);   /* seed 0: u[9] = 0.383 */
    ck_assert_float_eq(((float *)y[1]->data)[4], 1.0f);   /* u[4] = 0.424 */
    free_all(2, y);
    OG_CHECK(run_node("Dropout", 7, 1, &x, 0, 2, 3, 1, old, y));
    ck_assert_float_eq(((float *)y[0]->data)[2], 3.0f);
    ck_assert_float_eq(((float *)y[1]->data)[2], 1.0f);
    free_all(2, y);
    /* bad ratio in training */
    og_tensor *one = tens(OG_FLOAT, 0, NULL, (float[]){ 1.0f });
    expect_fail_msg(run_node("Dropout", 13, 3, ((og_tensor *[]){ x, one, t }), 0, 1, 1, 0, NULL, y),
                    OG_ERR_INVALID_ARG, "drop probability in [0, 1)");
    og_tensor *ix = ints64(2, (int64_t[]){ 1, 2 });
    expect_fail_msg(run_node("Dropout", 13, 1, &ix, 0, 1, 1, 0, NULL, y), OG_ERR_SHAPE, "expected float or double");
    free_all(6, (og_tensor *[]){ x, r, t, big, one, ix });
}
END_TEST

/* ---- Range -------------------------------------------------------------- */

START_TEST(range_values_and_errors)
{
    og_tensor *y;
    struct { int64_t s, l, d, n; } ic[] = { { 0, 10, 3, 4 }, { 10, -3, -4, 4 }, { 5, 5, 1, 0 }, { 5, 1, 2, 0 },
                                            { INT64_MIN, INT64_MAX, INT64_MAX, 3 } };
    for (size_t c = 0; c < sizeof ic / sizeof ic[0]; c++) {
        og_tensor *in[3] = { tens(OG_INT64, 0, NULL, &ic[c].s), tens(OG_INT64, 0, NULL, &ic[c].l),
                             tens(OG_INT64, 0, NULL, &ic[c].d) };
        OG_CHECK(ONE_OUT("Range", 11, 3, in, c % 2 ? 7 : 0, 0, NULL, &y));
        expect_dims(y, 1, &ic[c].n);
        for (int64_t i = 0; i < ic[c].n; i++)
            ck_assert_int_eq(((int64_t *)y->data)[i], (int64_t)((uint64_t)ic[c].s + (uint64_t)i * (uint64_t)ic[c].d));
        og_tensor_free(y);
        free_all(3, in);
    }
    og_tensor *f[3] = { tens(OG_DOUBLE, 0, NULL, (double[]){ 1.0 }), tens(OG_DOUBLE, 0, NULL, (double[]){ 2.0 }),
                        tens(OG_DOUBLE, 0, NULL, (double[]){ 0.3 }) };
    OG_CHECK(ONE_OUT("Range", 11, 3, f, 7, 0, NULL, &y));
    expect_dims(y, 1, (int64_t[]){ 4 });   /* ceil(1 / 0.3) */
    ck_assert(fabs(((double *)y->data)[3] - 1.9) < 1e-12);
    og_tensor_free(y);
    og_tensor_free(f[2]);
    f[2] = tens(OG_DOUBLE, 0, NULL, (double[]){ 0.0 });
    expect_fail_msg(ONE_OUT("Range", 11, 3, f, 7, 0, NULL, &y), OG_ERR_INVALID_ARG, "delta is 0");
    og_tensor_free(f[2]);
    f[2] = tens(OG_DOUBLE, 0, NULL, (double[]){ 1e-13 });
    expect_fail_msg(ONE_OUT("Range", 11, 3, f, 7, 0, NULL, &y), OG_ERR_LIMIT, "over onnxgrad's element limit");
    og_tensor *i32 = tens(OG_INT32, 0, NULL, (int32_t[]){ 1 });
    expect_fail_msg(ONE_OUT("Range", 11, 3, ((og_tensor *[]){ f[0], i32, f[2] }), 0, 0, NULL, &y), OG_ERR_SHAPE,
                    "expected double like the others");
    free_all(4, (og_tensor *[]){ f[0], f[1], f[2], i32 });
}
END_TEST

/* ---- gradchecks --------------------------------------------------------- */

/* x -> Mul(x, x) -> "x2" so the ops (linear in their data) have a second
 * derivative to check; then the node; "y*" outputs; order 1 and 2 over
 * the graph inputs named in wrt. */
static void check_both_orders(og_graph *g, int n_wrt, const char *const *wrt, const char *what)
{
    OG_CHECK(og_graph_finalize(g));
    for (int order = 1; order <= 2; order++) {
        og_gradcheck_options o = { .order = order, .seed = rnd(), .n_wrt = n_wrt, .wrt = wrt, .max_elements = 40 };
        og_gradcheck_report *r;
        og_status st = og_gradcheck(g, &o, &r);
        ck_assert_msg(st == OG_OK, "%s order %d: %s", what, order, og_errmsg());
        for (int k = 0; k < r->n; k++)
            ck_assert_msg(r->entries[k].pass && (r->entries[k].checked > 0 || r->entries[k].numel == 0), "%s order %d: '%s' element %lld analytic "
                          "%g numeric %g", what, order, r->entries[k].name, (long long)r->entries[k].worst_index,
                          r->entries[k].worst_analytic, r->entries[k].worst_numeric);
        ck_assert(r->pass);
        og_gradcheck_report_free(r);
    }
    og_graph_free(g);
}

static og_graph *squared_input(const char *name, int rank, const int64_t *dims, const char *sq)
{
    og_graph *g = gt_graph();
    gt_input(g, name, OG_FLOAT, rank, dims);
    gt_node(g, "Mul", sq, GT_NAMES(name, name), GT_NAMES(sq), 0, NULL);
    return g;
}

START_TEST(gradcheck_concat_split_tile)
{
    for (int it = 0; it < 6; it++) {
        /* Concat of three inputs, one squared, random axis */
        int r = (int)rndi(1, 3);
        int64_t axis = rndi(-r, r - 1);
        int ax = (int)(axis < 0 ? axis + r : axis);
        int64_t d[3][3];
        for (int k = 0; k < 3; k++)
            for (int a = 0; a < r; a++)
                d[k][a] = a == ax ? rndi(1, 3) : (k == 0 ? rndi(1, 3) : d[0][a]);
        og_graph *g = squared_input("a", r, d[0], "a2");
        gt_input(g, "b", OG_FLOAT, r, d[1]);
        gt_input(g, "c", OG_FLOAT, r, d[2]);
        og_attr at = og_attr_int("axis", axis);
        gt_node(g, "Concat", NODE, GT_NAMES("a2", "b", "c"), GT_NAMES("y"), 1, &at);
        OG_CHECK(og_graph_add_output(g, "y"));
        check_both_orders(g, 0, NULL, "Concat");

        /* Split into random sizes, one output unused, an output squared */
        int64_t dim = rndi(2, 5), xd[3];
        for (int a = 0; a < r; a++)
            xd[a] = a == ax ? dim : rndi(1, 3);
        int64_t s0 = rndi(0, dim), sizes[3] = { s0, rndi(0, dim - s0), 0 };
        sizes[2] = dim - s0 - sizes[1];
        g = squared_input("x", r, xd, "x2");
        gt_init(g, "s", OG_INT64, 1, (int64_t[]){ 3 }, sizes);
        OG_CHECK(og_graph_add_node(g, "Split", NULL, NODE, 2, (const char *const[]){ "x2", "s" }, 3,
                                   (const char *const[]){ "y0", "", "y2" }, 1, &at));
        gt_node(g, "Mul", "sq", GT_NAMES("y2", "y2"), GT_NAMES("y2sq"), 0, NULL);
        OG_CHECK(og_graph_add_output(g, "y0"));
        OG_CHECK(og_graph_add_output(g, "y2sq"));
        check_both_orders(g, 1, (const char *const[]){ "x" }, "Split");

        /* Tile with random repeats */
        int64_t rep[3];
        for (int a = 0; a < r; a++)
            rep[a] = rndi(1, 3);
        g = squared_input("x", r, xd, "x2");
        gt_init(g, "rep", OG_INT64, 1, (int64_t[]){ r }, rep);
        gt_node(g, "Tile", NODE, GT_NAMES("x2", "rep"), GT_NAMES("y"), 0, NULL);
        OG_CHECK(og_graph_add_output(g, "y"));
        check_both_orders(g, 1, (const char *const[]){ "x" }, "Tile");
    }
}
END_TEST

START_TEST(gradcheck_squeeze_unsqueeze_gather_cast)
{
    for (int it = 0; it < 4; it++) {
        og_graph *g = squared_input("x", 3, (int64_t[]){ 2, 1, 3 }, "x2");
        gt_init(g, "ax", OG_INT64, 1, (int64_t[]){ 1 }, (int64_t[]){ it % 2 ? -2 : 1 });
        gt_init(g, "uax", OG_INT64, 1, (int64_t[]){ 2 }, (int64_t[]){ 0, -1 });
        gt_node(g, "Squeeze", NODE, GT_NAMES("x2", "ax"), GT_NAMES("s"), 0, NULL);
        gt_node(g, "Unsqueeze", "us", GT_NAMES("s", "uax"), GT_NAMES("y"), 0, NULL);
        OG_CHECK(og_graph_add_output(g, "y"));
        check_both_orders(g, 1, (const char *const[]){ "x" }, "Squeeze/Unsqueeze");

        /* Gather with repeated, negative indices on a random axis */
        int64_t axis = rndi(-2, 1);
        int ax = (int)(axis < 0 ? axis + 2 : axis);
        int64_t xd[2] = { 3, 4 }, idx[6];
        for (int j = 0; j < 6; j++)
            idx[j] = rndi(-xd[ax], xd[ax] - 1);
        idx[1] = idx[0];
        g = squared_input("x", 2, xd, "x2");
        gt_init(g, "i", OG_INT64, 2, (int64_t[]){ 2, 3 }, idx);
        og_attr at = og_attr_int("axis", axis);
        gt_node(g, "Gather", NODE, GT_NAMES("x2", "i"), GT_NAMES("y"), 1, &at);
        OG_CHECK(og_graph_add_output(g, "y"));
        check_both_orders(g, 1, (const char *const[]){ "x" }, "Gather");

        /* Cast between float and double inside the graph */
        g = squared_input("x", 2, xd, "x2");
        og_attr to = og_attr_int("to", OG_DOUBLE);
        gt_node(g, "Cast", NODE, GT_NAMES("x2"), GT_NAMES("c"), 1, &to);
        gt_node(g, "Mul", "m", GT_NAMES("c", "c"), GT_NAMES("y"), 0, NULL);
        OG_CHECK(og_graph_add_output(g, "y"));
        check_both_orders(g, 0, NULL, "Cast");
    }
}
END_TEST

/* Dims unknown when the gradient graph is built: Concat's split sizes and
 * Gather's target shape come from Shape nodes at run time. */
START_TEST(gradcheck_unknown_dims)
{
    og_tensor *a = iota(2, (int64_t[]){ 2, 3 }), *b = iota(2, (int64_t[]){ 4, 3 });
    ck_assert_int_eq(og_tensor_set_name(a, "a"), OG_OK);
    ck_assert_int_eq(og_tensor_set_name(b, "b"), OG_OK);
    for (int c = 0; c < 2; c++) {
        og_graph *g = gt_graph();
        gt_input(g, "a", OG_FLOAT, 2, (int64_t[]){ -1, 3 });
        gt_node(g, "Mul", "sq", GT_NAMES("a", "a"), GT_NAMES("a2"), 0, NULL);
        og_attr ax = og_attr_int("axis", 0);
        if (c == 0) {
            gt_input(g, "b", OG_FLOAT, 2, (int64_t[]){ -1, 3 });
            gt_node(g, "Concat", NODE, GT_NAMES("a2", "b"), GT_NAMES("y"), 1, &ax);
        } else {
            gt_init(g, "i", OG_INT64, 2, (int64_t[]){ 2, 2 }, (int64_t[]){ 1, -1, 1, 0 });
            gt_node(g, "Gather", NODE, GT_NAMES("a2", "i"), GT_NAMES("y"), 1, &ax);
        }
        OG_CHECK(og_graph_add_output(g, "y"));
        OG_CHECK(og_graph_finalize(g));
        for (int order = 1; order <= 2; order++) {
            og_gradcheck_options o = { .order = order, .seed = rnd(), .n_inputs = c == 0 ? 2 : 1,
                                       .inputs = (const og_tensor *const[]){ a, b } };
            og_gradcheck_report *r;
            OG_CHECK(og_gradcheck(g, &o, &r));
            for (int k = 0; k < r->n; k++)
                ck_assert_msg(r->entries[k].pass, "case %d order %d: '%s' analytic %g numeric %g", c, order,
                              r->entries[k].name, r->entries[k].worst_analytic, r->entries[k].worst_numeric);
            ck_assert(r->pass);
            og_gradcheck_report_free(r);
        }
        og_graph_free(g);
    }
    free_all(2, (og_tensor *[]){ a, b });
}
END_TEST

START_TEST(gradcheck_dropout)
{
    /* training (ratio and mode as initializers, a fixed seed), inference,
     * training_mode fed at run time (the Where path), ratio fed at run
     * time (the rule is a Dropout of dY) */
    for (int c = 0; c < 4; c++) {
        og_graph *g = squared_input("x", 2, (int64_t[]){ 3, 5 }, "x2");
        if (c == 3)
            gt_input(g, "r", OG_FLOAT, 0, NULL);
        else
            gt_init(g, "r", OG_FLOAT, 0, NULL, (float[]){ 0.3f });
        if (c != 2)
            gt_init(g, "t", OG_BOOL, 0, NULL, (bool[]){ c != 1 });
        else
            gt_input(g, "t", OG_BOOL, 0, NULL);
        og_attr seed = og_attr_int("seed", 17);
        OG_CHECK(og_graph_add_node(g, "Dropout", NULL, NODE, 3, (const char *const[]){ "x2", "r", "t" }, 2,
                                   (const char *const[]){ "y", "m" }, 1, &seed));
        OG_CHECK(og_graph_add_output(g, "y"));
        if (c < 2) {
            check_both_orders(g, 1, (const char *const[]){ "x" }, c == 0 ? "Dropout training" : "Dropout inference");
            continue;
        }
        /* gradcheck draws bools at random; check against the training rule by hand */
        OG_CHECK(og_graph_finalize(g));
        og_tensor *x = iota(2, (int64_t[]){ 3, 5 }), *t = tens(OG_BOOL, 0, NULL, (bool[]){ true });
        og_tensor *dy = iota(2, (int64_t[]){ 3, 5 }), *gx, *outs[2];
        og_tensor *r = tens(OG_FLOAT, 0, NULL, (float[]){ 0.3f });
        og_grad_options o = { .n_seeded = 1, .seeded = (const char *const[]){ "y" }, .n_wrt = 1,
                              .wrt = (const char *const[]){ "x" } };
        OG_CHECK(og_gradients(g, &o, 2, (const og_tensor *const[]){ x, c == 2 ? t : r }, (const og_tensor *const[]){ dy },
                              &gx));
        og_graph_free(g);
        /* the same node, run forward for its mask */
        og_tensor *x2 = iota(2, (int64_t[]){ 3, 5 });
        OG_CHECK(run_node("Dropout", 13, 3, ((og_tensor *[]){ x2, r, t }), 6, 2, 3, 1, &seed, outs));
        for (int i = 0; i < 15; i++) {
            float m = ((bool *)outs[1]->data)[i] ? 1.0f / (1.0f - 0.3f) : 0.0f;
            ck_assert_float_eq_tol(((float *)gx->data)[i], (float)(i + 1) * m * 2.0f * (float)(i + 1), 1e-3);
        }
        free_all(8, (og_tensor *[]){ x, t, dy, gx, outs[0], outs[1], r, x2 });
    }
}
END_TEST

/* Range and Cast to an integer have no gradient: asking is an error. */
START_TEST(no_gradient_ops)
{
    og_graph *g = gt_graph();
    gt_input(g, "s", OG_FLOAT, 0, NULL);
    gt_init(g, "l", OG_FLOAT, 0, NULL, (float[]){ 4 });
    gt_init(g, "d", OG_FLOAT, 0, NULL, (float[]){ 1 });
    gt_node(g, "Range", NODE, GT_NAMES("s", "l", "d"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_graph *gg;
    og_grad_options o = { .loss = NULL, .n_seeded = 1, .seeded = (const char *const[]){ "y" }, .n_wrt = 1,
                          .wrt = (const char *const[]){ "s" } };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o, &gg), OG_ERR_INVALID_ARG, "no differentiated output depends on it");
    og_graph_free(g);
    /* opset 6 training Dropout: refused rather than differentiated as inference */
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 6));
    gt_input(g, "x", OG_FLOAT, 1, (int64_t[]){ 4 });
    gt_node(g, "Dropout", NODE, GT_NAMES("x"), GT_NAMES("y"), 0, NULL);
    OG_CHECK(og_graph_add_output(g, "y"));
    OG_CHECK(og_graph_finalize(g));
    og_grad_options o2 = { .n_seeded = 1, .seeded = (const char *const[]){ "y" } };
    OG_CHECK_FAILS(og_graph_build_gradient(g, &o2, &gg), OG_ERR_UNSUPPORTED, "is_test = 0");
    og_graph_free(g);
}
END_TEST

static Suite *shape_family_suite(void)
{
    Suite *s = suite_create("shape_family");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concat_random);
    tcase_add_test(tc, concat_errors_and_types);
    tcase_add_test(tc, split_forms);
    tcase_add_test(tc, tile_random);
    tcase_add_test(tc, tile_old_form_and_errors);
    tcase_add_test(tc, squeeze_unsqueeze_forms);
    tcase_add_test(tc, views_in_plan);
    tcase_add_test(tc, gather_random);
    tcase_add_test(tc, gather_errors);
    tcase_add_test(tc, gather_grad_adds_like_torch);
    tcase_add_test(tc, cast_conversions);
    tcase_add_test(tc, dropout_training_matches_numpy);
    tcase_add_test(tc, range_values_and_errors);
    tcase_add_test(tc, gradcheck_concat_split_tile);
    tcase_add_test(tc, gradcheck_squeeze_unsqueeze_gather_cast);
    tcase_add_test(tc, gradcheck_unknown_dims);
    tcase_add_test(tc, gradcheck_dropout);
    tcase_add_test(tc, no_gradient_ops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(shape_family_suite());
}
