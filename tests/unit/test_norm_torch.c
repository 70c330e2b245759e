/* SPDX-License-Identifier: MIT */
/* test_norm_torch.c — gradients of BatchNormalization (training and
 * inference), LayerNormalization, InstanceNormalization and MatMul against
 * values PyTorch 1.13 autograd computed in float64
 * (torch.nn.functional.batch_norm / layer_norm / instance_norm,
 * torch.matmul; epsilon 0.01 rounded to float, as the ONNX attribute holds
 * it), on fixed inputs x[i] = f(i) and upstream gradients dy[i] = g(i).
 * The tables were printed by PyTorch (tests/tools/norm_torch_values.py),
 * not by onnxgrad. */
#include <math.h>
#include "gradtest.h"

/* PyTorch's values, one table per line */
static const double bnt_x[12] = { 0, 1.9271163708343859, 1.0310027436429283, -1.3755323183679482, -1.7669093114403063, 0.43023997617563103, 1.99708669074921, 0.63819672469870425, -1.6556529381713074, -1.5239671678380642, 0.84033407365328183, 1.9735439285492267 };
static const double bnt_s[3] = { 0.5, 0.80000000000000004, 1.1000000000000001 };
static const double bnt_b[3] = { -0.10000000000000001, 0, 0.10000000000000001 };
static const double bnt_dy[12] = { 1, 0.7648421872844885, 0.16996714290024104, -0.50484610459985713, -0.94222234066865806, -0.93645668729079634, -0.4902608213407002, 0.18651236942257488, 0.77556587851024961, 0.9998586363834151, 0.7539022543433046, 0.15337386203786524 };
static const double bnt_dx[12] = { 0.13233022214236631, 0.39658521623861037, 0.048910459499042741, -0.66981452223277493, 0.03111878254569973, -0.57786603587027463, -0.32014566628597252, -0.20876977209500427, 0.22344147035883394, 0.39746259237489828, 0.67441426728403731, -0.12766701395946248 };
static const double bnt_ds[3] = { -1.2266721326710408, -0.60113372076234806, 1.8795294832938456 };
static const double bnt_db[3] = { 1.4610937353663633, 1.4405455531940485, -0.97140291157828451 };
static const double bni_m[3] = { -0.29999999999999999, -0.099999999999999978, 0.10000000000000003 };
static const double bni_v[3] = { 0.5, 0.90000000000000002, 1.3 };
static const double bni_dx[12] = { 0.70014004216742987, 0.53549664125679108, 0.14253918293212162, -0.423378013116122, -0.90554582952800555, -0.9000046073074397, -0.34325123212651665, 0.13058477819226882, 0.65041116033684476, 0.83850931801192952, 0.7245562038020249, 0.14740370200565386 };
static const double bni_ds[3] = { 1.4733834464289217, -1.8807240322297776, 2.005395816269532 };
static const double bni_db[3] = { 1.4610937353663633, 1.4405455531940485, -0.97140291157828451 };
static const double ln_x[6] = { 0.59600799238518365, 2.6736220801843062, 2.7278922804770449, 0.71774798764194592, -1.8355736728281578, -2.9997697726923027 };
static const double ln_w[3] = { 1, 0.59999999999999998, 0.19999999999999996 };
static const double ln_b[3] = { 0, 0.29999999999999999, 0.59999999999999998 };
static const double ln_dy[6] = { 1, 0.45359612142557731, -0.58850111725534582, -0.98747976990886488, -0.30733286997841935, 0.70866977429125999 };
static const double ln_dx[6] = { 0.0015173607207528139, 0.18276884899834589, -0.18428620971909893, -0.005221498100839328, 0.011633959292305263, -0.0064124611914656016 };
static const double ln_dw[3] = { -2.7334529236568805, 0.3981747808510045, -1.1711509342928601 };
static const double ln_db[3] = { 0.012520230091135121, 0.14626325144715796, 0.12016865703591417 };
static const double in_x[12] = { 1.682941969615793, 1.9949899732081089, 1.8185948536513634, 1.1969442882079131, 0.28224001611973443, -0.70156645537923967, -1.5136049906158564, -1.955060235330194, -1.9178485493262769, -1.4110806511407838, -0.55883099639785172, 0.43023997617563103 };
static const double in_s[2] = { 0.69999999999999996, 1.2 };
static const double in_b[2] = { -0.20000000000000001, 0.20000000000000001 };
static const double in_dy[12] = { 0.87758256189037276, 0.69670670934716539, 0.45359612142557731, 0.16996714290024104, -0.12884449429552464, -0.41614683654714241, -0.6662760212798241, -0.85688875336894732, -0.97095816514959055, -0.99829477579475312, -0.93645668729079634, -0.79096771191441684 };
static const double in_dx[12] = { 0.67673835082328471, 0.3002710375186346, -0.9770093883419193, 0.015974571815554322, -0.016620729517044571, 0.00064615770149027327, 0.11836590126438644, 0.14573941788425407, -0.26410531914864127, 0.016486231960277396, -0.036040738343193227, 0.019554506382916028 };
static const double in_ds[2] = { 0.15679665939763748, 0.96560592164205905 };
static const double in_db[2] = { -0.46623754713524646, -3.1007433629423922 };
static const double mm_a[3] = { 0.29552020666133955, 0.96355818541719296, 0.74570521217672026 };
static const double mm_b[12] = { 1, 0.69670670934716539, -0.029199522301288815, -0.73739371554124578, -0.99829477579475312, -0.65364362086361194, 0.087498983439447273, 0.77556587851025016, 0.99318491875819259, 0.60835131453225455, -0.14550003380861354, -0.81109301406165601 };
static const double mm_dy[4] = { 0.90929742682568171, 0.51550137182146416, -0.058374143427580086, -0.61185789094271892 };
static const double mm_da[3] = { 0.78880691032988315, -0.83687939358677588, -0.7399339532968312 };
static const double mm_db[12] = { 0.26871576349214971, 0.15234107193488314, 0.87616097859667663, 0.4967155664123637, 0.67806783060279074, 0.38441205985151528, -0.017250738929397144, -0.18081637037876364, -0.05624688371636203, -0.58956067912995702, -0.04352990301029791, -0.45626561838744079 };

typedef struct tin_ { const char *name; int rank; int64_t dims[4]; const double *data; } tin_;

/* One node over the given inputs; og_gradients with seed dy on output
 * "Y" w.r.t. the first n_wrt inputs, compared with want[k]. */
static void check(const char *op, int opset, int n_in, const tin_ *in, int n_attrs, const og_attr *attrs,
                  int n_out, const char *const *outs, int yrank, const int64_t *ydims, const double *dy, int n_wrt,
                  const double *const *want)
{
    og_graph *g;
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", opset));
    const char *names[5];
    og_tensor *feeds[5], *seed, *grads[5];
    for (int k = 0; k < n_in; k++) {
        names[k] = in[k].name;
        gt_input(g, in[k].name, OG_DOUBLE, in[k].rank, in[k].dims);
        OG_CHECK(og_tensor_create_from(OG_DOUBLE, in[k].rank, in[k].dims, in[k].data, &feeds[k]));
    }
    OG_CHECK(og_graph_add_node(g, op, NULL, "n", n_in, names, n_out, outs, n_attrs, attrs));
    OG_CHECK(og_graph_add_output(g, "Y"));
    OG_CHECK(og_graph_finalize(g));
    OG_CHECK(og_tensor_create_from(OG_DOUBLE, yrank, ydims, dy, &seed));
    const char *seeded[1] = { "Y" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = n_wrt, .wrt = names };
    OG_CHECK(og_gradients(g, &o, n_in, (const og_tensor *const *)feeds, (const og_tensor *const *)&seed, grads));
    for (int k = 0; k < n_wrt; k++) {
        for (int64_t i = 0; i < grads[k]->numel; i++) {
            double got = ((double *)grads[k]->data)[i];
            ck_assert_msg(fabs(got - want[k][i]) <= 1e-10 * (1 + fabs(want[k][i])), "%s: d%s[%lld] = %.17g, "
                          "PyTorch %.17g", op, names[k], (long long)i, got, want[k][i]);
        }
        og_tensor_free(grads[k]);
    }
    for (int k = 0; k < n_in; k++)
        og_tensor_free(feeds[k]);
    og_tensor_free(seed);
    og_graph_free(g);
}

static const char *const y_only[1] = { "Y" };

START_TEST(batchnorm_training)
{
    tin_ in[5] = { { "x", 3, { 2, 3, 2 }, bnt_x }, { "s", 1, { 3 }, bnt_s }, { "b", 1, { 3 }, bnt_b },
                   { "m", 1, { 3 }, bni_m }, { "v", 1, { 3 }, bni_v } };
    og_attr at[2] = { og_attr_float("epsilon", 0.01f), og_attr_int("training_mode", 1) };
    const double *want[3] = { bnt_dx, bnt_ds, bnt_db };
    check("BatchNormalization", 15, 5, in, 2, at, 1, y_only, 3, in[0].dims, bnt_dy, 3, want);
}
END_TEST

START_TEST(batchnorm_inference)
{
    tin_ in[5] = { { "x", 3, { 2, 3, 2 }, bnt_x }, { "s", 1, { 3 }, bnt_s }, { "b", 1, { 3 }, bnt_b },
                   { "m", 1, { 3 }, bni_m }, { "v", 1, { 3 }, bni_v } };
    og_attr at[1] = { og_attr_float("epsilon", 0.01f) };
    const double *want[3] = { bni_dx, bni_ds, bni_db };
    check("BatchNormalization", 15, 5, in, 1, at, 1, y_only, 3, in[0].dims, bnt_dy, 3, want);
}
END_TEST

START_TEST(layernorm)
{
    tin_ in[3] = { { "x", 2, { 2, 3 }, ln_x }, { "w", 1, { 3 }, ln_w }, { "b", 1, { 3 }, ln_b } };
    og_attr at[1] = { og_attr_float("epsilon", 0.01f) };
    const double *want[3] = { ln_dx, ln_dw, ln_db };
    check("LayerNormalization", 17, 3, in, 1, at, 1, y_only, 2, in[0].dims, ln_dy, 3, want);
}
END_TEST

START_TEST(instancenorm)
{
    tin_ in[3] = { { "x", 3, { 2, 2, 3 }, in_x }, { "s", 1, { 2 }, in_s }, { "b", 1, { 2 }, in_b } };
    og_attr at[1] = { og_attr_float("epsilon", 0.01f) };
    const double *want[3] = { in_dx, in_ds, in_db };
    check("InstanceNormalization", 6, 3, in, 1, at, 1, y_only, 3, in[0].dims, in_dy, 3, want);
}
END_TEST

START_TEST(matmul_vector_batch)
{
    tin_ in[2] = { { "a", 1, { 3 }, mm_a }, { "b", 3, { 2, 3, 2 }, mm_b } };
    const double *want[2] = { mm_da, mm_db };
    check("MatMul", 13, 2, in, 0, NULL, 1, y_only, 2, (int64_t[]){ 2, 2 }, mm_dy, 2, want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_torch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, batchnorm_training);
    tcase_add_test(tc, batchnorm_inference);
    tcase_add_test(tc, layernorm);
    tcase_add_test(tc, instancenorm);
    tcase_add_test(tc, matmul_vector_batch);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
