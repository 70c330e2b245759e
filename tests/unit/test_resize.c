/* SPDX-License-Identifier: MIT */
/* test_resize.c — Resize and Upsample: outputs and input gradients against
 * PyTorch's F.interpolate (torch 1.13, float64, the values below printed by
 * it) for the modes it exports (nearest -> asymmetric floor; bilinear with
 * align_corners False/True -> pytorch_half_pixel / align_corners; bicubic,
 * A = -0.75); float64 gradchecks of order 1 and 2 over random modes,
 * coordinate modes, nearest modes, cubic parameters, scales or sizes and
 * tf_crop_and_resize rois reaching outside the input; Upsample-7/9 and
 * Resize-10 agreeing; the inputs and attributes it must refuse. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "onnxgrad/onnxgrad.h"
#include "onnxgrad/autodiff.h"
#include "gradtest.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)); }
static double urand(void) { return (double)(rng() >> 11) / 9007199254740992.0; }

typedef struct rcase {
    int rank;
    int64_t xd[5];
    bool use_sizes;
    float scales[5];
    int64_t sizes[5];
    bool has_roi;
    float roi[10];
    int64_t roi_len;
    int64_t scales_len, sizes_len;   /* 0: given as "" */
    int na;
    og_attr at[6];
} rcase;

/* X (double, input) -> Resize-13 (roi, scales, sizes as initializers or
 * omitted) -> Y. Returns the status of finalize; *out the graph. */
static og_status resize_graph(const rcase *c, og_dtype dt, og_graph **out)
{
    og_graph *g = gt_graph();
    gt_input(g, "X", dt, c->rank, c->xd);
    const char *ins[4] = { "X", "", "", "" };
    if (c->has_roi) {
        gt_init(g, "roi", OG_FLOAT, 1, &c->roi_len, c->roi);
        ins[1] = "roi";
    }
    if (c->scales_len) {
        gt_init(g, "scales", OG_FLOAT, 1, &c->scales_len, c->scales);
        ins[2] = "scales";
    }
    if (c->sizes_len) {
        gt_init(g, "sizes", OG_INT64, 1, &c->sizes_len, c->sizes);
        ins[3] = "sizes";
    }
    const char *outs[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "Resize", NULL, "rs", 4, ins, 1, outs, c->na, c->at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    *out = g;
    return og_graph_finalize(g);
}

static void gradcheck_x(const og_graph *g, int order, uint64_t seed, const char *what)
{
    const char *wrt[1] = { "X" };
    og_gradcheck_options o = { .order = order, .seed = seed, .n_wrt = 1, .wrt = wrt, .max_elements = 60 };
    og_gradcheck_report *r;
    og_status st = og_gradcheck(g, &o, &r);
    ck_assert_msg(st == OG_OK, "%s: gradcheck could not run: %s", what, og_errmsg());
    for (int k = 0; k < r->n; k++)
        ck_assert_msg(r->entries[k].pass, "%s order %d: '%s' element %lld analytic %.10g numeric %.10g", what, order,
                      r->entries[k].name, (long long)r->entries[k].worst_index, r->entries[k].worst_analytic,
                      r->entries[k].worst_numeric);
    ck_assert(r->pass);
    og_gradcheck_report_free(r);
}

START_TEST(test_gradcheck_random)
{
    static const char *const modes[] = { "nearest", "linear", "cubic" };
    static const char *const coords[] = { "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                          "tf_half_pixel_for_nn", "tf_crop_and_resize" };
    static const char *const nmodes[] = { "round_prefer_floor", "round_prefer_ceil", "floor", "ceil" };
    static const float scale_set[] = { 0.5f, 0.6f, 1.0f, 1.5f, 2.0f, 2.5f, 3.0f };
    for (int it = 0; it < 40; it++) {
        rcase c;
        memset(&c, 0, sizeof c);
        c.rank = (int)rnd(3, 4);
        for (int d = 0; d < c.rank; d++)
            c.xd[d] = d < 2 ? rnd(1, 2) : rnd(1, 5);
        c.use_sizes = rng() % 2;
        for (int d = 0; d < c.rank; d++) {
            c.scales[d] = d < c.rank - 2 && rng() % 2 ? 1.0f : scale_set[rng() % 7];
            c.sizes[d] = d < c.rank - 2 && rng() % 2 ? c.xd[d] : rnd(1, 7);
        }
        if (c.use_sizes)
            c.sizes_len = c.rank;
        else
            c.scales_len = c.rank;
        bool ok = true;
        for (int d = 0; d < c.rank && !c.use_sizes; d++)
            ok = ok && floor(c.scales[d] * (double)c.xd[d]) >= 1;
        if (!ok)
            continue;
        const char *mode = modes[it % 3], *coord = coords[rng() % 6];
        c.at[c.na++] = og_attr_string("mode", mode);
        c.at[c.na++] = og_attr_string("coordinate_transformation_mode", coord);
        c.at[c.na++] = og_attr_string("nearest_mode", nmodes[rng() % 4]);
        c.at[c.na++] = og_attr_float("cubic_coeff_a", (float)(-0.5 - 0.25 * urand()));
        c.at[c.na++] = og_attr_int("exclude_outside", (int64_t)(rng() % 2));
        c.at[c.na++] = og_attr_float("extrapolation_value", 0.5f);
        if (strcmp(coord, "tf_crop_and_resize") == 0) {
            c.has_roi = true;
            c.roi_len = 2 * c.rank;
            for (int d = 0; d < c.rank; d++) {
                c.roi[d] = (float)(urand() * 0.6 - 0.2);
                c.roi[c.rank + d] = (float)(c.roi[d] + 0.3 + urand() * 0.8);
            }
        }
        og_graph *g;
        OG_CHECK(resize_graph(&c, OG_DOUBLE, &g));
        gradcheck_x(g, 1, 500 + it, mode);
        gradcheck_x(g, 2, 600 + it, mode);
        og_graph_free(g);
    }
}
END_TEST

/* X = ((arange(6) * 0.7 - 1.1)^2) as [1, 1, 2, 3], dY = arange * 0.25 - 1. */
typedef struct torch_case {
    const char *mode, *coord;
    int64_t oh, ow;
    double y[28], dx[6];
} torch_case;

static const torch_case torch_cases[] = {
    { "linear", "pytorch_half_pixel", 3, 5,
      { 1.21, 0.79, 0.16, 0.118, 0.09, 1.105, 1.273, 1.525, 2.365, 2.925, 1.0, 1.756, 2.89, 4.612, 5.76 },
      { -1.175, -0.225, 0.775, 2.825, 4.275, 4.775 } },
    { "linear", "half_pixel", 3, 5,
      { 1.21, 0.79, 0.16, 0.118, 0.09, 1.105, 1.273, 1.525, 2.365, 2.925, 1.0, 1.756, 2.89, 4.612, 5.76 },
      { -1.175, -0.225, 0.775, 2.825, 4.275, 4.775 } },
    { "linear", "align_corners", 3, 5,
      { 1.21, 0.685, 0.16, 0.125, 0.09, 1.105, 1.315, 1.525, 2.225, 2.925, 1.0, 1.945, 2.89, 4.325, 5.76 },
      { -1.125, -0.25, 0.75, 2.625, 4.75, 4.5 } },
    { "nearest", "asymmetric", 4, 6,
      { 1.21, 1.21, 0.16, 0.16, 0.09, 0.09, 1.21, 1.21, 0.16, 0.16, 0.09, 0.09,
        1.0, 1.0, 2.89, 2.89, 5.76, 5.76, 1.0, 1.0, 2.89, 2.89, 5.76, 5.76 },
      { -0.5, 1.5, 3.5, 11.5, 13.5, 15.5 } },
    { "nearest", "asymmetric", 1, 2, { 1.21, 0.16 }, { -1.0, -0.75, 0.0, 0.0, 0.0, 0.0 } },
    { "cubic", "align_corners", 3, 5,
      { 1.21, 0.6915625, 0.16, 0.0265625, 0.09, 1.105, 1.18375, 1.525, 2.264375, 2.925, 1.0, 1.6759375, 2.89,
        4.5021875, 5.76 },
      { -1.1484375, -0.2734375, 0.796875, 2.3671875, 5.1953125, 4.3125 } },
    { "cubic", "pytorch_half_pixel", 4, 7,
      { 1.3808450255, 1.0725773278, 0.4829567921, -0.1279296875, -0.4302447385, -0.4798652742, -0.5495615434,
        1.2043941327, 1.1081521046, 0.8771253189, 0.778515625, 0.9884773597, 1.297450574, 1.4397799745,
        0.9137691327, 1.1667458546, 1.5263440689, 2.271484375, 3.3251961097, 4.224794324, 4.7163424745,
        0.7373182398, 1.2023206314, 1.9205125957, 3.1779296875, 4.7439182079, 6.0021101722, 6.7056839923 },
      { -0.3159663698, 2.644320563, 5.3210598693, 16.4347710345, 20.3440176294, 22.0717972736 } },
};

START_TEST(test_matches_torch)
{
    for (size_t ci = 0; ci < sizeof torch_cases / sizeof torch_cases[0]; ci++) {
        const torch_case *tc = &torch_cases[ci];
        rcase c;
        memset(&c, 0, sizeof c);
        c.rank = 4;
        int64_t xd[4] = { 1, 1, 2, 3 };
        memcpy(c.xd, xd, sizeof xd);
        int64_t sz[4] = { 1, 1, tc->oh, tc->ow };
        memcpy(c.sizes, sz, sizeof sz);
        c.sizes_len = 4;
        c.at[c.na++] = og_attr_string("mode", tc->mode);
        c.at[c.na++] = og_attr_string("coordinate_transformation_mode", tc->coord);
        if (strcmp(tc->mode, "nearest") == 0)
            c.at[c.na++] = og_attr_string("nearest_mode", "floor");
        og_graph *g;
        OG_CHECK(resize_graph(&c, OG_DOUBLE, &g));
        double xv[6], dyv[28];
        for (int i = 0; i < 6; i++)
            xv[i] = (i * 0.7 - 1.1) * (i * 0.7 - 1.1);
        int64_t n = tc->oh * tc->ow;
        for (int64_t i = 0; i < n; i++)
            dyv[i] = (double)i * 0.25 - 1;
        og_tensor *x, *dy, *y, *dx;
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 4, xd, xv, &x));
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, 4, sz, dyv, &dy));
        og_plan *p;
        OG_CHECK(og_plan_create(g, &p));
        OG_CHECK(og_plan_run(p, 1, (const og_tensor *const *)&x, &y));
        og_plan_free(p);
        ck_assert_int_eq(y->numel, n);
        for (int64_t i = 0; i < n; i++)
            ck_assert_msg(fabs(((double *)y->data)[i] - tc->y[i]) < 1e-8, "%s %s: Y[%lld] = %.10g, torch %.10g",
                          tc->mode, tc->coord, (long long)i, ((double *)y->data)[i], tc->y[i]);
        const char *wrt[1] = { "X" }, *seeded[1] = { "Y" };
        og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
        OG_CHECK(og_gradients(g, &o, 1, (const og_tensor *const *)&x, (const og_tensor *const *)&dy, &dx));
        for (int i = 0; i < 6; i++)
            ck_assert_msg(fabs(((double *)dx->data)[i] - tc->dx[i]) < 1e-8, "%s %s: dX[%d] = %.10g, torch %.10g",
                          tc->mode, tc->coord, i, ((double *)dx->data)[i], tc->dx[i]);
        og_tensor_free(x);
        og_tensor_free(dy);
        og_tensor_free(y);
        og_tensor_free(dx);
        og_graph_free(g);
    }
}
END_TEST

/* Upsample-7 (scales attribute), Upsample-9 (scales input) and Resize-10
 * give the same bits. */
static og_tensor *run_old(const char *op, int opset, const char *mode, const float *scales, const og_tensor *x)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, x->dims, NULL));
    int64_t four = 4;
    og_attr at[2] = { og_attr_string("mode", mode), og_attr_floats("scales", 4, scales) };
    const char *ins[2] = { "X", "scales" }, *outs[1] = { "Y" };
    if (opset >= 9)
        gt_init(g, "scales", OG_FLOAT, 1, &four, scales);
    OG_CHECK(og_graph_add_node(g, op, NULL, "up", opset >= 9 ? 2 : 1, ins, 1, outs, opset >= 9 ? 1 : 2, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    og_tensor *y;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_plan_run(p, 1, &x, &y));
    og_plan_free(p);
    og_graph_free(g);
    return y;
}

START_TEST(test_upsample_forms_agree)
{
    int64_t xd[4] = { 1, 2, 3, 4 };
    og_tensor *x;
    OG_CHECK(og_tensor_create(OG_FLOAT, 4, xd, &x));
    for (int i = 0; i < 24; i++)
        ((float *)x->data)[i] = (float)urand();
    const float scales[4] = { 1, 1, 2, 1.5f };
    static const char *const modes[2] = { "nearest", "linear" };
    for (int m = 0; m < 2; m++) {
        og_tensor *a = run_old("Upsample", 7, modes[m], scales, x), *b = run_old("Upsample", 9, modes[m], scales, x),
                  *c = run_old("Resize", 10, modes[m], scales, x);
        ck_assert_int_eq(a->numel, 1 * 2 * 6 * 6);
        ck_assert_int_eq(b->numel, a->numel);
        ck_assert_int_eq(c->numel, a->numel);
        ck_assert(memcmp(a->data, b->data, (size_t)a->numel * 4) == 0);
        ck_assert(memcmp(a->data, c->data, (size_t)a->numel * 4) == 0);
        /* nearest: Y[.., i, j] = X[.., floor(i/2), floor(j/1.5)] */
        if (m == 0)
            for (int ch = 0; ch < 2; ch++)
                for (int i = 0; i < 6; i++)
                    for (int j = 0; j < 6; j++)
                        ck_assert(((float *)a->data)[(ch * 6 + i) * 6 + j] ==
                                  ((float *)x->data)[(ch * 3 + i / 2) * 4 + (int)floor(j / 1.5)]);
        og_tensor_free(a);
        og_tensor_free(b);
        og_tensor_free(c);
    }
    og_tensor_free(x);
}
END_TEST

static void expect_error(rcase *c, og_status code, const char *needle)
{
    og_graph *g;
    og_status st = resize_graph(c, OG_FLOAT, &g);
    ck_assert_msg(st == code, "expected %s, got %s: %s", og_status_name(code), og_status_name(st),
                  st ? og_errmsg() : "ok");
    ck_assert_msg(strstr(og_errmsg(), "'rs'") && strstr(og_errmsg(), needle), "message lacks \"%s\": %s", needle,
                  og_errmsg());
    og_graph_free(g);
}

START_TEST(test_errors)
{
    rcase c;
    memset(&c, 0, sizeof c);
    c.rank = 4;
    int64_t xd[4] = { 1, 1, 2, 3 };
    memcpy(c.xd, xd, sizeof xd);
    float sc[4] = { 1, 1, 2, 2 };
    int64_t sz[4] = { 1, 1, 4, 6 };
    memcpy(c.scales, sc, sizeof sc);
    memcpy(c.sizes, sz, sizeof sz);

    c.scales_len = 4, c.sizes_len = 4;
    expect_error(&c, OG_ERR_INVALID_ARG, "exactly one");
    c.scales_len = 0, c.sizes_len = 0;
    expect_error(&c, OG_ERR_INVALID_ARG, "neither");
    c.sizes_len = 4;
    c.sizes[2] = -2;
    expect_error(&c, OG_ERR_INVALID_ARG, "sizes[2] is -2");
    c.sizes[2] = 4;
    c.sizes_len = 3;
    expect_error(&c, OG_ERR_SHAPE, "expected 4");
    c.sizes_len = 4;
    c.has_roi = true;
    c.roi_len = 6;
    c.at[c.na++] = og_attr_string("coordinate_transformation_mode", "tf_crop_and_resize");
    expect_error(&c, OG_ERR_SHAPE, "roi has 6 values");
    c.has_roi = false;
    expect_error(&c, OG_ERR_SHAPE, "roi has 0 values");
    c.na = 0;
    c.sizes_len = 0, c.scales_len = 4;
    c.scales[3] = -1;
    expect_error(&c, OG_ERR_INVALID_ARG, "scales[3]");
    c.scales[3] = 2;
    c.at[c.na++] = og_attr_string("mode", "bicubic");
    og_graph *g;
    ck_assert_int_ne(resize_graph(&c, OG_FLOAT, &g), OG_OK);   /* not a Resize mode */
    og_graph_free(g);
}
END_TEST

/* scales a graph input: the output shape waits for the run, and the
 * gradient (matrices built from the scales) is refused naming the node. */
START_TEST(test_grad_refused_dynamic_scales)
{
    og_graph *g = gt_graph(), *gg = NULL;
    int64_t xd[4] = { 1, 1, 2, 2 }, four = 4;
    gt_input(g, "X", OG_FLOAT, 4, xd);
    gt_input(g, "scales", OG_FLOAT, 1, &four);
    og_attr at = og_attr_string("mode", "linear");
    gt_node(g, "Resize", "rs", GT_NAMES("X", "", "scales"), GT_NAMES("Y"), 1, &at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    const char *wrt[1] = { "X" }, *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    ck_assert_int_eq(og_graph_build_gradient(g, &o, &gg), OG_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "node 'rs' (Resize)"));
    og_graph_free(gg);
    og_graph_free(g);
}
END_TEST

/* scales from a Constant node, as torch.onnx.export writes
 * F.interpolate(scale_factor=2): the output shape is static at finalize and
 * the gradient builds (and checks). */
START_TEST(test_constant_node_scales)
{
    og_graph *g = gt_graph();
    int64_t xd[4] = { 1, 2, 3, 4 }, four = 4;
    const float sc[4] = { 1, 1, 2, 2 };
    gt_input(g, "X", OG_DOUBLE, 4, xd);
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, &four, sc, &t));
    og_attr v = og_attr_tensor("value", t);
    gt_node(g, "Constant", "c", (const char *const[]){ NULL }, GT_NAMES("scales"), 1, &v);
    og_tensor_free(t);
    og_attr at[2] = { og_attr_string("mode", "linear"), og_attr_string("coordinate_transformation_mode",
                                                                         "pytorch_half_pixel") };
    gt_node(g, "Resize", "rs", GT_NAMES("X", "", "scales"), GT_NAMES("Y"), 2, at);
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    og_value_info vi;
    OG_CHECK(og_graph_value(g, "Y", &vi));
    ck_assert_int_eq(vi.rank, 4);
    ck_assert_int_eq(vi.dims[2], 6);
    ck_assert_int_eq(vi.dims[3], 8);
    gradcheck_x(g, 1, 901, "Constant scales");
    gradcheck_x(g, 2, 902, "Constant scales");
    og_graph_free(g);
}
END_TEST

/* Resize-11 form: roi and scales required inputs, given empty, with sizes. */
START_TEST(test_resize11_empty_inputs)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 11));
    int64_t xd[4] = { 1, 1, 2, 2 }, zero = 0, four = 4, sz[4] = { 1, 1, 3, 1 };
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, xd, NULL));
    gt_init(g, "roi", OG_FLOAT, 1, &zero, NULL);
    gt_init(g, "scales", OG_FLOAT, 1, &zero, NULL);
    gt_init(g, "sizes", OG_INT64, 1, &four, sz);
    og_attr at[2] = { og_attr_string("mode", "linear"), og_attr_string("coordinate_transformation_mode",
                                                                         "align_corners") };
    const char *ins[4] = { "X", "roi", "scales", "sizes" }, *outs[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "Resize", NULL, "rs", 4, ins, 1, outs, 2, at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    const float xv[4] = { 1, 2, 3, 4 };
    og_tensor *x, *y;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 4, xd, xv, &x));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    OG_CHECK(og_plan_run(p, 1, (const og_tensor *const *)&x, &y));
    /* rows 0, 0.5, 1 (align_corners 2 -> 3); one column: align_corners with L = 1 takes column 0 */
    const float want[3] = { 1, 2, 3 };
    ck_assert_int_eq(y->numel, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(((float *)y->data)[i] == want[i], "Y[%d] = %g, expected %g", i, ((float *)y->data)[i],
                      want[i]);
    og_plan_free(p);
    og_tensor_free(x);
    og_tensor_free(y);
    og_graph_free(g);
}
END_TEST

/* Resize-10 defines nearest and linear only. */
START_TEST(test_resize10_refuses_cubic)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 10));
    int64_t xd[4] = { 1, 1, 2, 2 }, four = 4;
    const float sc[4] = { 1, 1, 2, 2 };
    OG_CHECK(og_graph_add_input(g, "X", OG_FLOAT, 4, xd, NULL));
    gt_init(g, "scales", OG_FLOAT, 1, &four, sc);
    og_attr at = og_attr_string("mode", "cubic");
    const char *ins[2] = { "X", "scales" }, *outs[1] = { "Y" };
    OG_CHECK(og_graph_add_node(g, "Resize", NULL, "rs", 2, ins, 1, outs, 1, &at));
    OG_CHECK(og_graph_add_output(g, "Y"));
    ck_assert_int_eq(og_graph_finalize(g), OG_ERR_ATTR);
    ck_assert_ptr_nonnull(strstr(og_errmsg(), "cubic"));
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resize");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_gradcheck_random);
    tcase_add_test(tc, test_matches_torch);
    tcase_add_test(tc, test_upsample_forms_agree);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_resize10_refuses_cubic);
    tcase_add_test(tc, test_grad_refused_dynamic_scales);
    tcase_add_test(tc, test_constant_node_scales);
    tcase_add_test(tc, test_resize11_empty_inputs);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
