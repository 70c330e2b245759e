/* SPDX-License-Identifier: MIT */
/* test_optimizers.c — the ai.onnx.preview.training optimisers (ops/optimizers.c):
 * Momentum (standard, nesterov), Adam, Adagrad.
 *
 * - Random layouts (1..4 tensors, ranks 0..3, empty tensors, float and
 *   double, float or double R, random attributes), each at T = 0 and T > 0
 *   (Momentum's beta_adjusted, Adam's bias correction, Adagrad's decay),
 *   against the spec's formulas evaluated here in double.
 * - float32 bit for bit against the spec's own numpy reference (tables
 *   printed by tests/tools/optim_reference_values.py from onnx 1.12's
 *   apply_momentum/apply_nesterov/apply_adam/apply_adagrad).
 * - Four-step trajectories against torch.optim (torch 1.13, float64; tables
 *   from the same script): SGD(momentum, weight_decay) = Momentum standard
 *   with beta = 1 (and beta = 1 - dampening), SGD(nesterov=True) = nesterov,
 *   Adagrad(lr_decay, weight_decay, initial_accumulator_value, eps) =
 *   Adagrad with T = step - 1.
 * - Adam is not torch.optim.Adam. torch: X -= lr / (1 - b1^t) * V /
 *   (sqrt(H) / sqrt(1 - b2^t) + eps); ONNX: X -= R * sqrt(1 - beta^T) /
 *   (1 - alpha^T) * V / (sqrt(H) + epsilon): epsilon is added before the
 *   bias correction, not after. So ONNX at T = t with epsilon = eps *
 *   sqrt(1 - b2^t) (a different epsilon per step) is torch at step t, and
 *   with eps = 0 the two are the same; a constant epsilon = eps is not
 *   (checked to differ). Both checked here against torch, and ONNX's
 *   formula against the double reference.
 * - Errors: input/output counts, shapes, types, non-scalar R/T, mode,
 *   missing attributes, domain version, negative T, gradients through an
 *   optimiser.
 * - Bits identical at 1, 2 and 3 threads on large tensors, and with X_new
 *   in X's bytes (the compiled plan's in-place path) or not.
 * - A training step in one graph: Gradient (same domain) feeding Momentum;
 *   steps through state bindings equal chained runs. */
#include <math.h>
#include <stdint.h>
#include "testutil.h"

#define TD "ai.onnx.preview.training"
#define NODE "opt"

/* ---- tables printed by tests/tools/optim_reference_values.py ------------ */
static const float np_x[7] = { 0.591040432f, 1.86407816f, 1.72641873f, 0.282240003f, -1.37553227f, -1.99232924f, -1.10137105f };
static const float np_g[7] = { 0.995004177f, -0.227202088f, -0.93645668f, 0.468516678f, 0.815725088f, -0.678720057f, -0.640826404f };
static const float np_v[7] = { 0.445603669f, 0.498747498f, 0.473150045f, 0.372852594f, 0.213689938f, 0.0207903311f, -0.175391614f };
static const float np_h[7] = { 1.04999995f, 0.875335634f, 0.412357748f, 0.2772021f, 0.787393689f, 1.03999245f, 0.946758389f };
static const float np_mom0_x[7] = { 0.520942569f, 1.85206258f, 1.75108659f, 0.241894677f, -1.42524683f, -1.95833266f, -1.06088638f };
static const float np_mom0_v[7] = { 1.40195787f, 0.240311444f, -0.49335745f, 0.806906402f, 0.994290709f, -0.679932058f, -0.809692562f };
static const float np_nes0_x[7] = { 0.477906585f, 1.86369216f, 1.79457951f, 0.222362265f, -1.46037388f, -1.92680013f, -1.03234291f };
static const float np_nes0_v[7] = { 1.40195787f, 0.240311444f, -0.49335745f, 0.806906402f, 0.994290709f, -0.679932058f, -0.809692562f };
static const float np_mom3_x[7] = { 0.535956264f, 1.84893417f, 1.73729873f, 0.248964772f, -1.41321731f, -1.96881235f, -1.07066405f };
static const float np_mom3_v[7] = { 1.1016835f, 0.30287984f, -0.21759972f, 0.665504694f, 0.75369978f, -0.47033903f, -0.614140511f };
static const float np_nes3_x[7] = { 0.491418958f, 1.86087668f, 1.7821703f, 0.228725344f, -1.44954729f, -1.93623185f, -1.0411427f };
static const float np_nes3_v[7] = { 1.1016835f, 0.30287984f, -0.21759972f, 0.665504694f, 0.75369978f, -0.47033903f, -0.614140511f };
static const float np_adam0_x[7] = { 0.56089133f, 1.82258606f, 1.68341064f, 0.243383393f, -1.37691665f, -1.96982014f, -1.07892537f };
static const float np_adam0_v[7] = { 0.501725793f, 0.429880679f, 0.335642189f, 0.382983476f, 0.271142423f, -0.0531453863f, -0.224137858f };
static const float np_adam0_h[7] = { 1.04963696f, 0.866943002f, 0.416368932f, 0.276678354f, 0.785732567f, 1.03475595f, 0.941684544f };
static const float np_adam5_x[7] = { 0.572026551f, 1.83308399f, 1.6952374f, 0.259937465f, -1.3699615f, -1.97100806f, -1.08417714f };
static const float np_adam5_v[7] = { 0.501725793f, 0.429880679f, 0.335642189f, 0.382983476f, 0.271142423f, -0.0531453863f, -0.224137858f };
static const float np_adam5_h[7] = { 1.04963696f, 0.866943002f, 0.416368932f, 0.276678354f, 0.785732567f, 1.03475595f, 0.941684544f };
static const float np_ada0_x[7] = { 0.556102812f, 1.87495697f, 1.76740682f, 0.248890504f, -1.40905762f, -1.96407092f, -1.07354283f };
static const float np_ada0_h[7] = { 2.05182981f, 0.918833435f, 1.2572726f, 0.499362618f, 1.43054914f, 1.52809501f, 1.37165391f };
static const float np_ada4_x[7] = { 0.566084981f, 1.8718487f, 1.75569594f, 0.258418918f, -1.39947891f, -1.97214472f, -1.08149374f };
static const float np_ada4_h[7] = { 2.05182981f, 0.918833435f, 1.2572726f, 0.499362618f, 1.43054914f, 1.52809501f, 1.37165391f };
static const double tr_x0[7] = { 1, 0.87758256189037276, 0.54030230586813977, 0.54030230586813977, 0.070737201667702906, -0.41614683654714241, -0.8011436155469337 };
static const double tr_g[28] = { 0.19866933079506122, 0.7833269096274833, 0.99957360304150522, 0.93203908596722629, 0.94630008768741447, 0.51550137182146449, -0.15774569414324821, 0.99749498660405445, 0.80849640381959009, 0.23924932921398198, 0.59847214410395655, -0.058374143427580086, -0.6877661591839741, -0.99369100363346441, 0.33498815015590466, -0.35078322768961984, -0.87157577241358819, -0.61185789094271925, -0.97753011766509701, -0.88345465572015314, -0.37387666483023685, -0.81827711106441081, -0.99616460883584057, -0.70554032557039126, -0.92581468232773212, -0.46460217941375659, 0.21511998808781641, 0.79366786384915311 };
static const double tr_sgd_x[28] = { 0.97913306694284563, 0.79837228838534957, 0.4398046432701978, 0.44655809497762572, -0.023963544301125149, -0.46728082690204331, -0.78456790253496889, 0.85962419598345019, 0.64543503146684944, 0.32499201177326303, 0.30189453491580731, -0.10333283552870516, -0.44405752026746986, -0.66949609297105139, 0.717707775776948, 0.54222439163842939, 0.30849323140021789, 0.23258122887532276, -0.076908851141487072, -0.33436702176768324, -0.52787430454602102, 0.67109300432135333, 0.54840905475765001, 0.36388986879037311, 0.26254814210054117, -0.0065901390321895697, -0.25682320752758819, -0.4792536104321885 };
static const double tr_sgd_momentum_buffer[7] = { 0.46614771455594695, -0.061846631192206458, -0.55396637390155212, -0.29966913225218395, -0.70318712109297499, -0.77543814240095044, -0.48620694113832541 };
static const double tr_sgd_damp_x[28] = { 0.98906653348259865, 0.83753863386672367, 0.48978332342227304, 0.493160049275987, 0.023351460083245578, -0.44150575831097011, -0.79245518724213126, 0.94217189825715708, 0.77455672186584923, 0.44002894953346611, 0.4326336680076972, -0.012385616965339061, -0.4356705357436032, -0.74764669048131327, 0.8913875049790313, 0.73674464502429271, 0.43257951959003821, 0.40683275793813345, -0.0043086104052684161, -0.39754605513613844, -0.69721878260203851, 0.88077684080225771, 0.74329859746021887, 0.4527533031229406, 0.42060495560056804, 0.019578808124821118, -0.37481531021429282, -0.68611608651655098 };
static const double tr_sgd_damp_momentum_buffer[7] = { 0.21221328353547214, -0.13107904871852283, -0.40347567065804746, -0.27544395324869186, -0.47774837060179065, -0.45461489843691233, -0.22205392170975133 };
static const double tr_sgd_nest_x[28] = { 0.96035282768891317, 0.72708304411934876, 0.34935674932810101, 0.36218830741119917, -0.10919421341522866, -0.51330141700232479, -0.76964976121939632, 0.75210189742264499, 0.50792695344588579, 0.22183249715586054, 0.17185763690000033, -0.17460325747555067, -0.42306910573190165, -0.56595981157456177, 0.59023818778076975, 0.44978927743558988, 0.29408544630983768, 0.17067496730261403, -0.052760876923567818, -0.23556073792601442, -0.40065184542887383, 0.6297378739858589, 0.55476868869894025, 0.41436482847198436, 0.2902785328411544, 0.057137070128542009, -0.18712012229367855, -0.4360685963472119 };
static const double tr_sgd_nest_momentum_buffer[7] = { 0.4637531981381976, -0.064585997790369887, -0.5557715152211844, -0.30214192210685931, -0.70427744349020194, -0.77463395061475504, -0.48388205315298172 };
static const double tr_adagrad_x[28] = { 0.94506830457272961, 0.78481887998728095, 0.44500365573873873, 0.44564388947824551, -0.024019422203733432, -0.50105563716069235, -0.75484752724369542, 0.85601376868022283, 0.71902140257311031, 0.42356052567074964, 0.39612467334874002, -0.018443401762258744, -0.42920552577076465, -0.66522657597771595, 0.82838451488818843, 0.74440404589897646, 0.48039958232564456, 0.43833038911041627, 0.045061037151143443, -0.36603291680608352, -0.63461423050546784, 0.87902675838117683, 0.79886022114872113, 0.51960333342725684, 0.48836816458021742, 0.07243107120523827, -0.38023291325540776, -0.6843165164920727 };
static const double tr_adagrad_sum[7] = { 1.9315969877988604, 2.4894697582962251, 2.4126777692997923, 2.560894699121941, 2.171621192900532, 1.6742174844890521, 1.8946336803087416 };
static const double tr_adam_x[28] = { 0.99004769414760252, 0.8675951705973638, 0.5303122464569584, 0.5303129618264617, 0.060747750107905361, -0.42612731825483152, -0.79120358299775773, 0.981432118065101, 0.85760138655631379, 0.52203621980242632, 0.52065295747605578, 0.05450818065400817, -0.42412672998862805, -0.78279817266750895, 0.97308068682722526, 0.85203384949167449, 0.52124191869443715, 0.5171474716496659, 0.055735534264110966, -0.41847655226946096, -0.77446315380273234, 0.97106673494396878, 0.85224527364105873, 0.52334272399812909, 0.51823718521693796, 0.058563866808720798, -0.41488291472921557, -0.77234258674174383 };
static const double tr_adam_exp_avg[7] = { 0.046988623535783973, -0.0056278347694504825, -0.054933250873097812, -0.029417629994787697, -0.069975411359362708, -0.07757667021456402, -0.048974641401555365 };
static const double tr_adam_exp_avg_sq[7] = { 0.018083450938297323, 0.023546472738172831, 0.022721194521609332, 0.024219139375863709, 0.020337476228480766, 0.01547690666121525, 0.017718192861796149 };
static const double tr_adam_eps0_x[28] = { 0.98999999999999999, 0.86758256189037275, 0.53030230586813976, 0.53030230586813976, 0.060737201667702911, -0.42614683654714242, -0.79114361554693369, 0.98137260724690023, 0.85757636012180738, 0.52201493850933622, 0.52063003725644552, 0.054488309230333008, -0.42414296126036266, -0.78272652368175755, 0.97300784966895537, 0.85200069568574077, 0.52121961849304588, 0.51711976248988201, 0.055717224810539617, -0.41848488046719007, -0.77437820208561148, 0.97099093188790353, 0.85221239578835972, 0.52332319196111343, 0.51821086798351124, 0.058549495648546376, -0.41488550766991922, -0.77225448101475092 };
static const double tr_adam_eps0_exp_avg[7] = { 0.046988458506597587, -0.0056279006601132244, -0.054933300378349682, -0.029417686963482674, -0.069975456097342889, -0.07757670896073024, -0.048974443392077391 };
static const double tr_adam_eps0_exp_avg_sq[7] = { 0.018083449235749307, 0.023546478963029256, 0.022721200819129567, 0.024219145969861657, 0.020337481891190529, 0.01547691181041895, 0.017718189026205259 };

/* ---- building and running one optimiser node ---------------------------- */
static const char *in_name(int k)
{
    static char names[32][8];
    snprintf(names[k], sizeof names[k], "i%d", k);
    return names[k];
}

static const char *out_name(int k)
{
    static char names[32][8];
    snprintf(names[k], sizeof names[k], "o%d", k);
    return names[k];
}

/* Graph inputs i0.. of the given tensors (the node's R, T, X..., G..., V...),
 * node NODE -> o0..o{n_out-1} (unwanted where want[k] is false; NULL: all
 * wanted), every wanted output a graph output. computed_x1: X_1 goes
 * through Sub(i2, zero) first, so it is computed and dies at the node (the
 * in-place case); `zero` is a further graph input, fed last. */
static og_status build_node(og_graph **g, const char *op, int domain_version, int n_in, og_tensor *const *in, int n_out,
                            const bool *want, int n_attrs, const og_attr *attrs, bool computed_x1)
{
    og_status st;
    const char *ins[32], *outs[32];
    *g = NULL;
    if ((st = og_graph_create(g)) || (st = og_graph_set_opset(*g, TD, domain_version)) ||
        (computed_x1 && (st = og_graph_set_opset(*g, "", 17))))
        return st;
    for (int k = 0; k < n_in; k++) {
        ins[k] = in_name(k);
        if ((st = og_graph_add_input(*g, ins[k], in[k]->dtype, in[k]->rank, in[k]->dims, NULL)))
            return st;
    }
    if (computed_x1) {
        if ((st = og_graph_add_input(*g, "zero", in[2]->dtype, 0, NULL, NULL)) ||
            (st = og_graph_add_node(*g, "Sub", NULL, "sub", 2, (const char *const[]){ "i2", "zero" }, 1,
                                    (const char *const[]){ "x1c" }, 0, NULL)))
            return st;
        ins[2] = "x1c";
    }
    for (int k = 0; k < n_out; k++)
        outs[k] = !want || want[k] ? out_name(k) : "";
    if ((st = og_graph_add_node(*g, op, TD, NODE, n_in, ins, n_out, outs, n_attrs, attrs)))
        return st;
    for (int k = 0; k < n_out; k++)
        if ((!want || want[k]) && (st = og_graph_add_output(*g, outs[k])))
            return st;
    return og_graph_finalize(*g);
}

/* Runs it at n_threads; out[k] gets each wanted output (others NULL). */
static og_status run_node(const char *op, int n_in, og_tensor *const *in, int n_out, const bool *want, int n_attrs,
                          const og_attr *attrs, int n_threads, bool computed_x1, og_tensor **out)
{
    og_graph *g = NULL;
    og_plan *p = NULL;
    og_tensor *res[32] = { 0 }, *zero = NULL;
    const og_tensor *feeds[33];
    og_status st = build_node(&g, op, 1, n_in, in, n_out, want, n_attrs, attrs, computed_x1);
    if (st)
        goto done;
    if ((st = og_plan_create_ex(g, &(og_plan_options){ .n_threads = n_threads }, &p)))
        goto done;
    for (int k = 0; k < n_in; k++)
        feeds[k] = in[k];
    if (computed_x1) {
        double z = 0;
        float zf = 0;
        if ((st = og_tensor_create_from(in[2]->dtype, 0, NULL, in[2]->dtype == OG_FLOAT ? (void *)&zf : (void *)&z,
                                        &zero)))
            goto done;
        feeds[n_in] = zero;
    }
    if ((st = og_plan_run(p, n_in + (computed_x1 ? 1 : 0), feeds, res)))
        goto done;
    for (int k = 0, j = 0; k < n_out; k++)
        out[k] = !want || want[k] ? res[j++] : NULL;
done:
    og_tensor_free(zero);
    og_plan_free(p);
    og_graph_free(g);
    return st;
}

static og_tensor *scalar_r(og_dtype dt, double r)
{
    og_tensor *t;
    float f = (float)r;
    OG_CHECK(og_tensor_create_from(dt, 0, NULL, dt == OG_FLOAT ? (const void *)&f : (const void *)&r, &t));
    return t;
}

static og_tensor *scalar_t(int64_t v)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create_from(OG_INT64, 0, NULL, &v, &t));
    return t;
}

static og_tensor *tensor_of(og_dtype dt, int rank, const int64_t *dims, const double *v)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    for (int64_t i = 0; i < t->numel; i++) {
        if (dt == OG_FLOAT)
            ((float *)t->data)[i] = (float)v[i];
        else
            ((double *)t->data)[i] = v[i];
    }
    return t;
}

static double at(const og_tensor *t, int64_t i)
{
    return t->dtype == OG_FLOAT ? (double)((const float *)t->data)[i] : ((const double *)t->data)[i];
}

static void free_all(int n, og_tensor **t)
{
    for (int k = 0; k < n; k++) {
        og_tensor_free(t[k]);
        t[k] = NULL;
    }
}

/* ---- the spec's formulas, in double ------------------------------------- */
typedef struct ref_attrs {
    double alpha, beta, eps, nc, ncp, decay;
    bool nesterov;
} ref_attrs;

static void ref_momentum(const ref_attrs *a, double r, int64_t t, double x, double g, double v, double *xo, double *vo)
{
    double gr = a->nc * x + g;
    double bt = t > 0 ? a->beta : 1;
    *vo = a->alpha * v + bt * gr;
    *xo = a->nesterov ? x - r * (gr + a->alpha * *vo) : x - r * *vo;
}

static void ref_adam(const ref_attrs *a, double r, int64_t t, double x, double g, double v, double h, double *xo,
                     double *vo, double *ho)
{
    double gr = a->nc * x + g;
    *vo = a->alpha * v + (1 - a->alpha) * gr;
    *ho = a->beta * h + (1 - a->beta) * gr * gr;
    double ra = t > 0 ? r * sqrt(1 - pow(a->beta, (double)t)) / (1 - pow(a->alpha, (double)t)) : r;
    *xo = (1 - a->ncp) * (x - ra * *vo / (sqrt(*ho) + a->eps));
}

static void ref_adagrad(const ref_attrs *a, double r, int64_t t, double x, double g, double h, double *xo, double *ho)
{
    double rr = r / (1 + (double)t * a->decay);
    double gr = a->nc * x + g;
    *ho = h + gr * gr;
    *xo = x - rr * gr / (sqrt(*ho) + a->eps);
}

/* ---- random layouts against the double reference ------------------------- */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static int irand(int n) { return (int)(urand() * n); }
/* The float an attribute holds. Through a volatile: GCC 12.2 at -O2 turned
 * two adjacent (double)(float) round trips of random_case's initialiser
 * into packed code that stored the unrounded doubles (seen in the
 * assembly), so the reference used values the node never got. */
static double f32(double v)
{
    volatile float f = (float)v;
    return f;
}

enum { K_MOMENTUM, K_ADAM, K_ADAGRAD };

/* One random case of kind `kind` at update count t, checked element by
 * element; the X_new values are returned in xs (for the T = 0 vs T > 0
 * comparison). */
static void random_case(int kind, int iter)
{
    const char *op = kind == K_MOMENTUM ? "Momentum" : kind == K_ADAM ? "Adam" : "Adagrad";
    int ns = kind == K_ADAM ? 2 : 1, groups = 2 + ns;
    int n = 1 + irand(kind == K_ADAM ? 3 : 4);
    og_dtype dt = irand(2) ? OG_FLOAT : OG_DOUBLE;
    og_dtype rdt = irand(2) ? OG_FLOAT : OG_DOUBLE;
    ref_attrs a = { f32(0.05 + 0.9 * urand()), f32(0.05 + 0.95 * urand()), f32(1e-8 + 1e-2 * urand()),
                    f32(0.1 * urand()), f32(0.1 * urand()), f32(0.3 * urand()), irand(2) == 1 };
    og_attr attrs[6];
    int n_attrs = 0;
    if (kind == K_MOMENTUM) {
        attrs[n_attrs++] = og_attr_float("alpha", (float)a.alpha);
        attrs[n_attrs++] = og_attr_float("beta", (float)a.beta);
        attrs[n_attrs++] = og_attr_float("norm_coefficient", (float)a.nc);
        attrs[n_attrs++] = og_attr_string("mode", a.nesterov ? "nesterov" : "standard");
    } else if (kind == K_ADAM) {
        attrs[n_attrs++] = og_attr_float("alpha", (float)a.alpha);
        attrs[n_attrs++] = og_attr_float("beta", (float)a.beta);
        attrs[n_attrs++] = og_attr_float("epsilon", (float)a.eps);
        attrs[n_attrs++] = og_attr_float("norm_coefficient", (float)a.nc);
        attrs[n_attrs++] = og_attr_float("norm_coefficient_post", (float)a.ncp);
    } else {
        attrs[n_attrs++] = og_attr_float("decay_factor", (float)a.decay);
        attrs[n_attrs++] = og_attr_float("epsilon", (float)a.eps);
        attrs[n_attrs++] = og_attr_float("norm_coefficient", (float)a.nc);
    }
    double r = 0.001 + 0.5 * urand();
    double rused = rdt == OG_FLOAT ? f32(r) : r;
    int n_in = 2 + groups * n, n_out = (1 + ns) * n;
    og_tensor *in[16] = { 0 }, *out[16] = { 0 }, *out0[16] = { 0 };
    in[0] = scalar_r(rdt, r);
    for (int i = 0; i < n; i++) {
        int rank = irand(4);
        int64_t dims[3];
        for (int d = 0; d < rank; d++)
            dims[d] = irand(5);   /* 0: an empty tensor */
        double v[64];
        for (int grp = 0; grp < groups; grp++) {
            for (int e = 0; e < 64; e++)
                v[e] = grp >= 2 && !(kind == K_ADAM && grp == 2) ? 2 * urand() : 4 * urand() - 2;   /* H >= 0 */
            in[2 + grp * n + i] = tensor_of(dt, rank, dims, v);
        }
    }
    int64_t tpos = 1 + irand(7);
    for (int pass = 0; pass < 2; pass++) {
        int64_t t = pass == 0 ? 0 : tpos;
        in[1] = scalar_t(t);
        OG_CHECK(run_node(op, n_in, in, n_out, NULL, n_attrs, attrs, 1 + irand(3), false, pass ? out : out0));
        og_tensor **o = pass ? out : out0;
        double tol = dt == OG_FLOAT ? 2e-5 : 1e-12;
        for (int i = 0; i < n; i++) {
            const og_tensor *x = in[2 + i], *g = in[2 + n + i], *s0 = in[2 + 2 * n + i];
            const og_tensor *s1 = ns > 1 ? in[2 + 3 * n + i] : NULL;
            for (int j = 0; j < 1 + ns; j++) {
                ck_assert_int_eq(o[j * n + i]->dtype, dt);
                ck_assert_int_eq(o[j * n + i]->rank, x->rank);
                ck_assert_int_eq(o[j * n + i]->numel, x->numel);
            }
            for (int64_t e = 0; e < x->numel; e++) {
                double want[3], s1v = s1 ? at(s1, e) : 0;
                if (kind == K_MOMENTUM)
                    ref_momentum(&a, rused, t, at(x, e), at(g, e), at(s0, e), &want[0], &want[1]);
                else if (kind == K_ADAM)
                    ref_adam(&a, rused, t, at(x, e), at(g, e), at(s0, e), s1v, &want[0], &want[1], &want[2]);
                else
                    ref_adagrad(&a, rused, t, at(x, e), at(g, e), at(s0, e), &want[0], &want[1]);
                for (int j = 0; j < 1 + ns; j++) {
                    double got = at(o[j * n + i], e);
                    ck_assert_msg(fabs(got - want[j]) <= tol * (1 + fabs(want[j])),
                                  "%s iter %d %s T=%lld tensor %d output group %d element %lld: got %.17g, "
                                  "reference %.17g", op, iter, og_dtype_name(dt), (long long)t, i + 1, j,
                                  (long long)e, got, want[j]);
                }
            }
        }
        og_tensor_free(in[1]);
        in[1] = NULL;
    }
    /* the T branch matters: Momentum with beta != 1 changes V (and X);
     * Adam's bias correction and Adagrad's decay change X */
    bool differ = false, any = false;
    for (int i = 0; i < n; i++)
        for (int64_t e = 0; e < out[i]->numel; e++) {
            any = true;
            differ = differ || at(out[i], e) != at(out0[i], e);
        }
    bool should = kind == K_MOMENTUM ? a.beta != 1 : kind == K_ADAM ? true : a.decay > 0;
    if (any && should)
        ck_assert_msg(differ, "%s iter %d: X_new at T=0 and T=%lld are equal", op, iter, (long long)tpos);
    free_all(n_in, in);
    free_all(n_out, out);
    free_all(n_out, out0);
}

START_TEST(random_momentum)
{
    for (int it = 0; it < 40; it++)
        random_case(K_MOMENTUM, it);
}
END_TEST

START_TEST(random_adam)
{
    for (int it = 0; it < 40; it++)
        random_case(K_ADAM, it);
}
END_TEST

START_TEST(random_adagrad)
{
    for (int it = 0; it < 40; it++)
        random_case(K_ADAGRAD, it);
}
END_TEST

/* ---- float32 bit for bit against the spec's numpy reference --------------- */
static void expect_bits(const char *what, const og_tensor *got, const float *want)
{
    ck_assert_int_eq(got->dtype, OG_FLOAT);
    ck_assert_int_eq(got->numel, 7);
    for (int i = 0; i < 7; i++) {
        float g = ((const float *)got->data)[i];
        ck_assert_msg(memcmp(&g, &want[i], sizeof g) == 0, "%s[%d]: got %.9g, numpy reference %.9g", what, i, g,
                      want[i]);
    }
}

static void np_case(const char *op, int64_t t, int ns, int n_attrs, const og_attr *attrs, const float *wx,
                    const float *ws0, const float *ws1)
{
    int64_t dims[1] = { 7 };
    og_tensor *in[6], *out[3] = { 0 };
    float r = 0.05f;
    OG_CHECK(og_tensor_create_from(OG_FLOAT, 0, NULL, &r, &in[0]));
    in[1] = scalar_t(t);
    const float *data[4] = { np_x, np_g, ns == 2 || strcmp(op, "Momentum") == 0 ? np_v : np_h, np_h };
    for (int k = 0; k < 2 + ns; k++)
        OG_CHECK(og_tensor_create_from(OG_FLOAT, 1, dims, data[k], &in[2 + k]));
    OG_CHECK(run_node(op, 4 + ns, in, 1 + ns, NULL, n_attrs, attrs, 1, false, out));
    expect_bits("X_new", out[0], wx);
    expect_bits("state 1", out[1], ws0);
    if (ns == 2)
        expect_bits("state 2", out[2], ws1);
    free_all(4 + ns, in);
    free_all(1 + ns, out);
}

START_TEST(numpy_reference_bits)
{
    for (int nes = 0; nes < 2; nes++) {
        og_attr m[4] = { og_attr_float("alpha", 0.9f), og_attr_float("beta", 0.7f),
                         og_attr_float("norm_coefficient", 0.01f), og_attr_string("mode", nes ? "nesterov" : "standard") };
        np_case("Momentum", 0, 1, 4, m, nes ? np_nes0_x : np_mom0_x, nes ? np_nes0_v : np_mom0_v, NULL);
        np_case("Momentum", 3, 1, 4, m, nes ? np_nes3_x : np_mom3_x, nes ? np_nes3_v : np_mom3_v, NULL);
    }
    og_attr ad[5] = { og_attr_float("norm_coefficient", 0.02f), og_attr_float("norm_coefficient_post", 0.01f),
                      og_attr_float("alpha", 0.9f), og_attr_float("beta", 0.99f), og_attr_float("epsilon", 1e-4f) };
    np_case("Adam", 0, 2, 5, ad, np_adam0_x, np_adam0_v, np_adam0_h);
    np_case("Adam", 5, 2, 5, ad, np_adam5_x, np_adam5_v, np_adam5_h);
    og_attr ag[3] = { og_attr_float("norm_coefficient", 0.01f), og_attr_float("epsilon", 1e-5f),
                      og_attr_float("decay_factor", 0.1f) };
    np_case("Adagrad", 0, 1, 3, ag, np_ada0_x, np_ada0_h, NULL);
    np_case("Adagrad", 4, 1, 3, ag, np_ada4_x, np_ada4_h, NULL);
}
END_TEST

/* ---- torch.optim trajectories ---------------------------------------------
 * Two tensors, [3] and [2, 2] (7 elements, tr_x0), four steps with the
 * gradients tr_g (7 per step); after each step X matches tr_<name>_x, and
 * the last states torch's. t_offset: T of the first step (0 for SGD and
 * Adagrad, whose first step ONNX counts as 0; 1 for Adam, whose bias
 * correction uses torch's 1-based step). eps_map: Adam's epsilon per step
 * as eps * sqrt(1 - beta^T). */
typedef struct traj {
    const char *op;
    double lr;
    int ns;
    double s0_init;      /* initial V (or H) */
    int n_attrs;
    og_attr attrs[6];
    int64_t t_offset;
    double eps_map;      /* > 0: Adam's epsilon attribute set per step */
    double adam_beta;
} traj;

static void trajectory(const traj *c, double *const *states_out, double *xs_out)
{
    static const int64_t d0[1] = { 3 }, d1[2] = { 2, 2 };
    const int64_t *dims[2] = { d0, d1 };
    int ranks[2] = { 1, 2 }, off[2] = { 0, 3 };
    og_tensor *x[2], *s[2][2] = { { 0 } };
    double init[7];
    for (int i = 0; i < 7; i++)
        init[i] = c->s0_init;
    for (int j = 0; j < 2; j++) {
        x[j] = tensor_of(OG_DOUBLE, ranks[j], dims[j], tr_x0 + off[j]);
        s[0][j] = tensor_of(OG_DOUBLE, ranks[j], dims[j], init);
        if (c->ns == 2)
            s[1][j] = tensor_of(OG_DOUBLE, ranks[j], dims[j], (double[7]){ 0 });
    }
    for (int step = 0; step < 4; step++) {
        int64_t T = step + c->t_offset;
        og_tensor *in[10], *out[6] = { 0 };
        og_attr attrs[7];
        int n_attrs = c->n_attrs;
        memcpy(attrs, c->attrs, sizeof(og_attr) * (size_t)n_attrs);
        if (c->eps_map > 0)
            attrs[n_attrs++] = og_attr_float("epsilon", (float)(c->eps_map * sqrt(1 - pow(c->adam_beta, (double)T))));
        in[0] = scalar_r(OG_DOUBLE, c->lr);
        in[1] = scalar_t(T);
        for (int j = 0; j < 2; j++) {
            in[2 + j] = x[j];
            in[4 + j] = tensor_of(OG_DOUBLE, ranks[j], dims[j], tr_g + 7 * step + off[j]);
            in[6 + j] = s[0][j];
            if (c->ns == 2)
                in[8 + j] = s[1][j];
        }
        OG_CHECK(run_node(c->op, 2 + 2 * (2 + c->ns), in, 2 * (1 + c->ns), NULL, n_attrs, attrs, 2, false, out));
        og_tensor_free(in[0]);
        og_tensor_free(in[1]);
        for (int j = 0; j < 2; j++) {
            og_tensor_free(in[4 + j]);
            og_tensor_free(x[j]);
            x[j] = out[j];
            for (int k = 0; k < c->ns; k++) {
                og_tensor_free(s[k][j]);
                s[k][j] = out[2 * (1 + k) + j];
            }
            for (int e = 0; e < x[j]->numel; e++)
                xs_out[7 * step + off[j] + e] = at(x[j], e);
        }
    }
    for (int j = 0; j < 2; j++) {
        for (int k = 0; k < c->ns; k++) {
            for (int e = 0; e < s[k][j]->numel; e++)
                states_out[k][off[j] + e] = at(s[k][j], e);
            og_tensor_free(s[k][j]);
        }
        og_tensor_free(x[j]);
    }
}

static double max_diff(int n, const double *a, const double *b)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / (1 + fabs(b[i])));
    return m;
}

static void expect_torch(const char *what, const traj *c, const double *want_x, const double *want_s0,
                         const double *want_s1, double tol)
{
    double xs[28], s0[7], s1[7];
    trajectory(c, (double *const[]){ s0, s1 }, xs);
    double dx = max_diff(28, xs, want_x), ds0 = max_diff(7, s0, want_s0), ds1 = want_s1 ? max_diff(7, s1, want_s1) : 0;
    ck_assert_msg(dx <= tol && ds0 <= tol && ds1 <= tol, "%s vs torch.optim: max relative difference X %.3g, "
                  "state %.3g / %.3g (tolerance %.3g)", what, dx, ds0, ds1, tol);
}

START_TEST(torch_sgd_momentum)
{
    /* SGD(lr 0.1, momentum 0.9, weight_decay 0.01): standard, beta = 1 */
    traj c = { "Momentum", 0.1, 1, 0, 4, { og_attr_float("alpha", 0.9f), og_attr_float("beta", 1.0f),
               og_attr_float("norm_coefficient", 0.01f), og_attr_string("mode", "standard") }, 0, 0, 0 };
    expect_torch("SGD momentum", &c, tr_sgd_x, tr_sgd_momentum_buffer, NULL, 1e-13);
    /* SGD(lr 0.05, momentum 0.8, dampening 0.25, weight_decay 0.02): beta = 1 - dampening */
    traj d = { "Momentum", 0.05, 1, 0, 4, { og_attr_float("alpha", 0.8f), og_attr_float("beta", 0.75f),
               og_attr_float("norm_coefficient", 0.02f), og_attr_string("mode", "standard") }, 0, 0, 0 };
    expect_torch("SGD momentum + dampening", &d, tr_sgd_damp_x, tr_sgd_damp_momentum_buffer, NULL, 1e-13);
}
END_TEST

START_TEST(torch_sgd_nesterov)
{
    traj c = { "Momentum", 0.1, 1, 0, 4, { og_attr_float("alpha", 0.9f), og_attr_float("beta", 1.0f),
               og_attr_float("norm_coefficient", 0.01f), og_attr_string("mode", "nesterov") }, 0, 0, 0 };
    expect_torch("SGD nesterov", &c, tr_sgd_nest_x, tr_sgd_nest_momentum_buffer, NULL, 1e-13);
}
END_TEST

START_TEST(torch_adagrad)
{
    /* Adagrad(lr 0.1, lr_decay 0.05, weight_decay 0.01, initial_accumulator_value 0.1, eps 1e-3) */
    traj c = { "Adagrad", 0.1, 1, 0.1, 3, { og_attr_float("decay_factor", 0.05f), og_attr_float("epsilon", 1e-3f),
               og_attr_float("norm_coefficient", 0.01f) }, 0, 0, 0 };
    expect_torch("Adagrad", &c, tr_adagrad_x, tr_adagrad_sum, NULL, 1e-13);
}
END_TEST

START_TEST(torch_adam)
{
    /* Adam(lr 0.01, betas (0.9, 0.99), weight_decay 0.01): with eps 0 the
     * same at T = step (1-based) */
    traj c = { "Adam", 0.01, 2, 0, 4, { og_attr_float("alpha", 0.9f), og_attr_float("beta", 0.99f),
               og_attr_float("norm_coefficient", 0.01f), og_attr_float("epsilon", 0.0f) }, 1, 0, 0 };
    expect_torch("Adam eps 0", &c, tr_adam_eps0_x, tr_adam_eps0_exp_avg, tr_adam_eps0_exp_avg_sq, 1e-12);
    /* eps 1e-3: ONNX's epsilon must be eps * sqrt(1 - beta^T) at each step
     * (the attribute, a float, rounds it: hence the looser tolerance) */
    traj m = { "Adam", 0.01, 2, 0, 3, { og_attr_float("alpha", 0.9f), og_attr_float("beta", 0.99f),
               og_attr_float("norm_coefficient", 0.01f) }, 1, 1e-3, (double)0.99f };
    expect_torch("Adam eps 1e-3 mapped", &m, tr_adam_x, tr_adam_exp_avg, tr_adam_exp_avg_sq, 1e-9);
    /* the same constant epsilon is a different optimiser */
    traj k = { "Adam", 0.01, 2, 0, 4, { og_attr_float("alpha", 0.9f), og_attr_float("beta", 0.99f),
               og_attr_float("norm_coefficient", 0.01f), og_attr_float("epsilon", 1e-3f) }, 1, 0, 0 };
    double xs[28], s0[7], s1[7];
    trajectory(&k, (double *const[]){ s0, s1 }, xs);
    ck_assert_msg(max_diff(28, xs, tr_adam_x) > 1e-6, "a constant epsilon should not match torch (%.3g)",
                  max_diff(28, xs, tr_adam_x));
}
END_TEST

/* ---- threads, in place, unwanted outputs ---------------------------------- */
static void big_inputs(int kind, og_dtype dt, int *n_in, int *n_out, og_tensor **in, int *n_attrs, og_attr *attrs,
                       const char **op)
{
    static const int64_t sizes[3] = { 100003, 2 * 32768 + 17, 5 };
    int ns = kind == K_ADAM ? 2 : 1, n = 3;
    *op = kind == K_MOMENTUM ? "Momentum" : kind == K_ADAM ? "Adam" : "Adagrad";
    *n_in = 2 + (2 + ns) * n;
    *n_out = (1 + ns) * n;
    in[0] = scalar_r(OG_FLOAT, 0.03);
    in[1] = scalar_t(3);
    double *v = malloc(sizeof(double) * (size_t)sizes[0]);
    for (int i = 0; i < n; i++)
        for (int grp = 0; grp < 2 + ns; grp++) {
            for (int64_t e = 0; e < sizes[i]; e++)
                v[e] = grp >= 2 ? urand() : 2 * urand() - 1;
            in[2 + grp * n + i] = tensor_of(dt, 1, &sizes[i], v);
        }
    free(v);
    *n_attrs = 0;
    if (kind == K_MOMENTUM) {
        attrs[(*n_attrs)++] = og_attr_float("alpha", 0.9f);
        attrs[(*n_attrs)++] = og_attr_float("beta", 0.5f);
        attrs[(*n_attrs)++] = og_attr_float("norm_coefficient", 0.01f);
        attrs[(*n_attrs)++] = og_attr_string("mode", "nesterov");
    } else if (kind == K_ADAM) {
        attrs[(*n_attrs)++] = og_attr_float("norm_coefficient", 0.01f);
        attrs[(*n_attrs)++] = og_attr_float("norm_coefficient_post", 0.001f);
    } else {
        attrs[(*n_attrs)++] = og_attr_float("decay_factor", 0.1f);
    }
}

START_TEST(threads_bit_identical)
{
    for (int kind = 0; kind < 3; kind++)
        for (int d = 0; d < 2; d++) {
            og_dtype dt = d ? OG_DOUBLE : OG_FLOAT;
            og_tensor *in[16] = { 0 }, *ref[16] = { 0 }, *out[16] = { 0 };
            og_attr attrs[6];
            int n_in, n_out, n_attrs;
            const char *op;
            big_inputs(kind, dt, &n_in, &n_out, in, &n_attrs, attrs, &op);
            OG_CHECK(run_node(op, n_in, in, n_out, NULL, n_attrs, attrs, 1, false, ref));
            for (int pass = 0; pass < 4; pass++) {
                int threads = pass < 3 ? pass + 1 : 3;
                bool inplace = pass >= 2;   /* 3 threads, X_1 computed: X_new_1 may take its bytes */
                OG_CHECK(run_node(op, n_in, in, n_out, NULL, n_attrs, attrs, threads, inplace, out));
                for (int k = 0; k < n_out; k++) {
                    ck_assert_int_eq(out[k]->numel, ref[k]->numel);
                    ck_assert_msg(memcmp(out[k]->data, ref[k]->data, (size_t)ref[k]->numel * og_dtype_size(dt)) == 0,
                                  "%s %s output %d differs at %d threads%s", op, og_dtype_name(dt), k, threads,
                                  inplace ? " (X_1 computed)" : "");
                }
                free_all(n_out, out);
            }
            /* and against the double reference, sampled */
            ref_attrs a = { 0.9, 0.5, 1e-6, 0.01, 0, 0, true };
            if (kind == K_ADAM)
                a = (ref_attrs){ (double)0.9f, (double)0.999f, (double)1e-6f, (double)0.01f, (double)0.001f, 0, false };
            if (kind == K_ADAGRAD)
                a = (ref_attrs){ 0, 0, (double)1e-6f, 0, 0, (double)0.1f, false };
            if (kind == K_MOMENTUM)
                a = (ref_attrs){ (double)0.9f, 0.5, 0, (double)0.01f, 0, 0, true };
            for (int64_t e = 0; e < in[2]->numel; e += 997) {
                double w[3];
                double r = f32(0.03);
                if (kind == K_MOMENTUM)
                    ref_momentum(&a, r, 3, at(in[2], e), at(in[5], e), at(in[8], e), &w[0], &w[1]);
                else if (kind == K_ADAM)
                    ref_adam(&a, r, 3, at(in[2], e), at(in[5], e), at(in[8], e), at(in[11], e), &w[0], &w[1], &w[2]);
                else
                    ref_adagrad(&a, r, 3, at(in[2], e), at(in[5], e), at(in[8], e), &w[0], &w[1]);
                double tol = dt == OG_FLOAT ? 2e-5 : 1e-12;
                ck_assert_msg(fabs(at(ref[0], e) - w[0]) <= tol * (1 + fabs(w[0])), "%s element %lld: %.17g vs %.17g",
                              op, (long long)e, at(ref[0], e), w[0]);
            }
            free_all(n_in, in);
            free_all(n_out, ref);
        }
}
END_TEST

START_TEST(inplace_kernel_chosen)
{
    og_tensor *in[16] = { 0 };
    og_attr attrs[6];
    int n_in, n_out, n_attrs;
    const char *op;
    big_inputs(K_ADAM, OG_FLOAT, &n_in, &n_out, in, &n_attrs, attrs, &op);
    og_graph *g;
    og_plan *p;
    OG_CHECK(build_node(&g, op, 1, n_in, in, n_out, NULL, n_attrs, attrs, true));
    OG_CHECK(og_plan_create(g, &p));
    bool found = false;
    for (int k = 0; k < og_plan_num_steps(p); k++) {
        const char *node, *type, *kernel;
        OG_CHECK(og_plan_step(p, k, &node, &type, &kernel));
        if (strcmp(node, NODE) == 0) {
            found = true;
            ck_assert_str_eq(kernel, "optimizer_inplace");
        }
    }
    ck_assert(found);
    og_plan_free(p);
    og_graph_free(g);
    free_all(n_in, in);
}
END_TEST

START_TEST(unwanted_outputs)
{
    og_tensor *in[16] = { 0 }, *all[16] = { 0 }, *some[16] = { 0 };
    og_attr attrs[6];
    int n_in, n_out, n_attrs;
    const char *op;
    big_inputs(K_ADAM, OG_DOUBLE, &n_in, &n_out, in, &n_attrs, attrs, &op);
    bool want[9] = { false, true, false, true, false, true, false, true, false };
    OG_CHECK(run_node(op, n_in, in, n_out, NULL, n_attrs, attrs, 2, false, all));
    OG_CHECK(run_node(op, n_in, in, n_out, want, n_attrs, attrs, 2, false, some));
    for (int k = 0; k < n_out; k++) {
        ck_assert(want[k] == (some[k] != NULL));
        if (some[k])
            ck_assert(memcmp(some[k]->data, all[k]->data, (size_t)all[k]->numel * sizeof(double)) == 0);
    }
    free_all(n_in, in);
    free_all(n_out, all);
    free_all(n_out, some);
}
END_TEST

/* ---- errors ---------------------------------------------------------------- */
typedef struct spec_in { og_dtype dt; int rank; int64_t dims[2]; } spec_in;

static og_status try_build(const char *op, int version, int n_in, const spec_in *s, int n_out, int n_attrs,
                           const og_attr *attrs)
{
    og_tensor *in[20];
    for (int k = 0; k < n_in; k++)
        OG_CHECK(og_tensor_create(s[k].dt, s[k].rank, s[k].dims, &in[k]));
    og_graph *g;
    og_status st = build_node(&g, op, version, n_in, in, n_out, NULL, n_attrs, attrs, false);
    og_graph_free(g);
    free_all(n_in, in);
    return st;
}

#define EXPECT_NODE_ERR(call, code, needle)                                                           \
    do {                                                                                              \
        OG_CHECK_FAILS(call, code, needle);                                                           \
        ck_assert_msg(strstr(og_errmsg(), "'" NODE "'") != NULL, "message lacks the node: %s", og_errmsg()); \
    } while (0)

static const spec_in R0 = { OG_FLOAT, 0, { 0 } }, T0 = { OG_INT64, 0, { 0 } }, F4 = { OG_FLOAT, 1, { 4 } };

START_TEST(errors)
{
    og_attr mom[4] = { og_attr_float("alpha", 0.9f), og_attr_float("beta", 1.0f),
                       og_attr_float("norm_coefficient", 0.0f), og_attr_string("mode", "standard") };
    spec_in ok[5] = { R0, T0, F4, F4, F4 };
    OG_CHECK(try_build("Momentum", 1, 5, ok, 2, 4, mom));
    /* counts */
    spec_in six[6] = { R0, T0, F4, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 6, six, 2, 4, mom), OG_ERR_INVALID_GRAPH,
                    "has 6 inputs; expected R, T, then n X, n G, n V (2 + 3n inputs, n >= 1)");
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, ok, 3, 4, mom), OG_ERR_INVALID_GRAPH,
                    "has 3 outputs for 1 optimised tensor (5 inputs); expected 2: the new X, then the new V");
    EXPECT_NODE_ERR(try_build("Adam", 1, 6, six, 4, 0, NULL), OG_ERR_INVALID_GRAPH,
                    "has 4 outputs for 1 optimised tensor (6 inputs); expected 3: the new X, then the new V, then the new H");
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 6, six, 2, 0, NULL), OG_ERR_INVALID_GRAPH, "then n X, n G, n H (2 + 3n");
    spec_in many[18];
    for (int k = 0; k < 18; k++)
        many[k] = k == 0 ? R0 : k == 1 ? T0 : F4;
    EXPECT_NODE_ERR(try_build("Adam", 1, 18, many, 12, 0, NULL), OG_ERR_UNSUPPORTED, "onnxgrad supports at most 16");
    /* shapes and types */
    spec_in badg[5] = { R0, T0, F4, { OG_FLOAT, 1, { 3 } }, F4 };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, badg, 2, 4, mom), OG_ERR_SHAPE,
                    "input G_1 'i3' has shape [3]; expected the shape of X_1 'i2', [4]");
    spec_in badr[8] = { R0, T0, F4, { OG_FLOAT, 2, { 2, 2 } }, F4, { OG_FLOAT, 2, { 2, 2 } }, F4, { OG_FLOAT, 1, { 5 } } };
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 8, badr, 4, 0, NULL), OG_ERR_SHAPE, "input H_2 'i7' has shape [5]; expected the shape of X_2 'i3', [2,2]");
    spec_in badt[5] = { R0, T0, F4, F4, { OG_DOUBLE, 1, { 4 } } };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, badt, 2, 4, mom), OG_ERR_SHAPE,
                    "input V_1 'i4' has type double; expected float, the type of G_1 'i3'");
    spec_in badx[8] = { R0, T0, F4, { OG_DOUBLE, 1, { 4 } }, F4, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 8, badx, 4, 0, NULL), OG_ERR_SHAPE, "input X_2 'i3' has type double");
    spec_in intx[5] = { R0, T0, { OG_INT32, 1, { 4 } }, F4, F4 };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, intx, 2, 4, mom), OG_ERR_SHAPE, "input X_1 'i2' has type int32, expected float or double");
    spec_in rvec[5] = { { OG_FLOAT, 1, { 2 } }, T0, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, rvec, 2, 4, mom), OG_ERR_SHAPE,
                    "input R 'i0' has shape [2]; expected a scalar (one element)");
    spec_in tvec[5] = { R0, { OG_INT64, 2, { 1, 3 } }, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 5, tvec, 2, 0, NULL), OG_ERR_SHAPE,
                    "input T 'i1' has shape [1,3]; expected a scalar (one element)");
    spec_in tflt[5] = { R0, { OG_FLOAT, 0, { 0 } }, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 5, tflt, 2, 0, NULL), OG_ERR_SHAPE, "input T 'i1' has type float, expected int64");
    spec_in rint[5] = { { OG_INT64, 0, { 0 } }, T0, F4, F4, F4 };
    EXPECT_NODE_ERR(try_build("Adagrad", 1, 5, rint, 2, 0, NULL), OG_ERR_SHAPE, "input R 'i0' has type int64");
    spec_in r1[5] = { { OG_DOUBLE, 1, { 1 } }, { OG_INT64, 1, { 1 } }, F4, F4, F4 };
    OG_CHECK(try_build("Adagrad", 1, 5, r1, 2, 0, NULL));   /* one element of any rank is a scalar */
    /* attributes, domain version */
    og_attr heavy[4] = { mom[0], mom[1], mom[2], og_attr_string("mode", "heavy") };
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, ok, 2, 4, heavy), OG_ERR_ATTR,
                    "attribute 'mode' is \"heavy\", expected standard or nesterov");
    EXPECT_NODE_ERR(try_build("Momentum", 1, 5, ok, 2, 3, mom + 1), OG_ERR_ATTR, "required attribute 'alpha' is missing");
    og_attr unknown[1] = { og_attr_float("momentum", 0.9f) };
    EXPECT_NODE_ERR(try_build("Adam", 1, 6, six, 3, 1, unknown), OG_ERR_ATTR, "unknown attribute 'momentum'");
    EXPECT_NODE_ERR(try_build("Momentum", 2, 5, ok, 2, 4, mom), OG_ERR_UNSUPPORTED,
                    "imports ai.onnx.preview.training opset 2; onnxgrad implements Momentum-1");
}
END_TEST

START_TEST(negative_count)
{
    int64_t d[1] = { 2 };
    og_tensor *in[5] = { scalar_r(OG_FLOAT, 0.1), scalar_t(-1) }, *out[2] = { 0 };
    for (int k = 2; k < 5; k++)
        in[k] = tensor_of(OG_FLOAT, 1, d, (double[2]){ 1, 2 });
    EXPECT_NODE_ERR(run_node("Adagrad", 5, in, 2, NULL, 0, NULL, 1, false, out), OG_ERR_INVALID_ARG,
                    "input T (the update count) is -1; expected >= 0");
    free_all(5, in);
}
END_TEST

START_TEST(not_differentiable)
{
    int64_t d[1] = { 4 };
    og_tensor *in[5] = { scalar_r(OG_DOUBLE, 0.1), scalar_t(0) };
    for (int k = 2; k < 5; k++)
        in[k] = tensor_of(OG_DOUBLE, 1, d, (double[4]){ 1, 2, 3, 4 });
    og_attr mom[4] = { og_attr_float("alpha", 0.9f), og_attr_float("beta", 1.0f),
                       og_attr_float("norm_coefficient", 0.0f), og_attr_string("mode", "standard") };
    og_graph *g;
    OG_CHECK(build_node(&g, "Momentum", 1, 5, in, 2, NULL, 4, mom, false));
    og_tensor *seed = tensor_of(OG_DOUBLE, 1, d, (double[4]){ 1, 1, 1, 1 }), *grads[1] = { NULL };
    const char *seeded[1] = { "o0" }, *wrt[1] = { "i2" };
    og_grad_options o = { .n_seeded = 1, .seeded = seeded, .n_wrt = 1, .wrt = wrt };
    og_status st = og_gradients(g, &o, 5, (const og_tensor *const *)in, (const og_tensor *const *)&seed, grads);
    ck_assert_msg(st != OG_OK, "a gradient through Momentum should be refused");
    ck_assert_msg(strstr(og_errmsg(), "i2") != NULL, "message should name the tensor: %s", og_errmsg());
    og_tensor_free(seed);
    og_graph_free(g);
    free_all(5, in);
}
END_TEST

/* ---- one training step in one graph: Gradient feeding Momentum -------------
 * loss = ReduceSum(W * W); dW = 2W; Momentum standard (beta 1, nc 0):
 * V_new = alpha * V + dW at T > 0 with beta 1; W_new = W - R * V_new. */
START_TEST(gradient_then_momentum)
{
    og_graph *g;
    int64_t d[1] = { 3 };
    OG_CHECK(og_graph_create(&g));
    OG_CHECK(og_graph_set_opset(g, "", 17));
    OG_CHECK(og_graph_set_opset(g, TD, 1));
    OG_CHECK(og_graph_add_input(g, "W", OG_DOUBLE, 1, d, NULL));
    OG_CHECK(og_graph_add_input(g, "V", OG_DOUBLE, 1, d, NULL));
    OG_CHECK(og_graph_add_input(g, "R", OG_DOUBLE, 0, NULL, NULL));
    OG_CHECK(og_graph_add_input(g, "T", OG_INT64, 0, NULL, NULL));
    OG_CHECK(og_graph_add_node(g, "Mul", NULL, "sq", 2, (const char *const[]){ "W", "W" }, 1,
                               (const char *const[]){ "WW" }, 0, NULL));
    OG_CHECK(og_graph_add_node(g, "ReduceSum", NULL, "sum", 1, (const char *const[]){ "WW" }, 1,
                               (const char *const[]){ "loss" }, 1, (og_attr[]){ og_attr_int("keepdims", 0) }));
    const char *xs[1] = { "W" };
    og_attr ga[2] = { { .name = "xs", .type = OG_ATTR_STRINGS, .strings = xs, .count = 1 }, og_attr_string("y", "loss") };
    OG_CHECK(og_graph_add_node(g, "Gradient", TD, "grad", 1, (const char *const[]){ "W" }, 1,
                               (const char *const[]){ "dW" }, 2, ga));
    og_attr mom[4] = { og_attr_float("alpha", 0.5f), og_attr_float("beta", 1.0f),
                       og_attr_float("norm_coefficient", 0.0f), og_attr_string("mode", "standard") };
    OG_CHECK(og_graph_add_node(g, "Momentum", TD, NODE, 5, (const char *const[]){ "R", "T", "W", "dW", "V" }, 2,
                               (const char *const[]){ "W_new", "V_new" }, 4, mom));
    OG_CHECK(og_graph_add_output(g, "W_new"));
    OG_CHECK(og_graph_add_output(g, "V_new"));
    OG_CHECK(og_graph_finalize(g));
    og_plan *p;
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *w = tensor_of(OG_DOUBLE, 1, d, (double[3]){ 1, -2, 0.5 });
    og_tensor *v = tensor_of(OG_DOUBLE, 1, d, (double[3]){ 0.1, 0.2, -0.3 });
    og_tensor *r = scalar_r(OG_DOUBLE, 0.1), *t = scalar_t(2), *out[2];
    OG_CHECK(og_tensor_set_name(w, "W"));
    OG_CHECK(og_tensor_set_name(v, "V"));
    OG_CHECK(og_tensor_set_name(r, "R"));
    OG_CHECK(og_tensor_set_name(t, "T"));
    OG_CHECK(og_plan_run(p, 4, (const og_tensor *const[]){ w, v, r, t }, out));
    for (int i = 0; i < 3; i++) {
        double wi = at(w, i), vn = 0.5 * at(v, i) + 2 * wi;
        ck_assert_double_eq_tol(at(out[1], i), vn, 1e-15);
        ck_assert_double_eq_tol(at(out[0], i), wi - 0.1 * vn, 1e-15);
    }
    free_all(2, out);
    og_tensor *all[4] = { w, v, r, t };
    free_all(4, all);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

/* ---- several steps through state bindings ---------------------------------
 * X_1, X_2, H_1, H_2 bound to X_new/H_new (og_plan_bind_states), as a
 * training loop keeps them: three runs (T fed 0, 1, 2) must equal three
 * chained runs of a plain node, bit for bit. */
START_TEST(state_binding_steps)
{
    int64_t d0[1] = { 5 }, d1[2] = { 3, 4 };
    double xa[17], ga[12], ha[12];
    for (int i = 0; i < 17; i++)
        xa[i] = sin(0.3 * i + 1);
    for (int i = 0; i < 12; i++) {
        ga[i] = cos(0.7 * i);
        ha[i] = 0.1 + 0.05 * i;
    }
    og_tensor *in[8] = { scalar_r(OG_FLOAT, 0.2), scalar_t(0), tensor_of(OG_FLOAT, 1, d0, xa),
                         tensor_of(OG_FLOAT, 2, d1, xa + 5), tensor_of(OG_FLOAT, 1, d0, ga),
                         tensor_of(OG_FLOAT, 2, d1, ga), tensor_of(OG_FLOAT, 1, d0, ha),
                         tensor_of(OG_FLOAT, 2, d1, ha) };
    og_attr ag[2] = { og_attr_float("decay_factor", 0.1f), og_attr_float("norm_coefficient", 0.01f) };
    og_graph *g;
    og_plan *p;
    OG_CHECK(build_node(&g, "Adagrad", 1, 8, in, 4, NULL, 2, ag, false));
    OG_CHECK(og_plan_create(g, &p));
    og_tensor *state[4];
    const int slot[4] = { 2, 3, 6, 7 };   /* X_1, X_2, H_1, H_2 -> outputs 0..3 */
    og_state_binding b[4];
    for (int k = 0; k < 4; k++) {
        OG_CHECK(og_tensor_create_from(OG_FLOAT, in[slot[k]]->rank, in[slot[k]]->dims, in[slot[k]]->data, &state[k]));
        b[k] = (og_state_binding){ in_name(slot[k]), out_name(k), state[k] };
    }
    OG_CHECK(og_plan_bind_states(p, 4, b));
    og_tensor *chained[8];
    memcpy(chained, in, sizeof chained);
    for (int step = 0; step < 3; step++) {
        og_tensor *t = scalar_t(step), *out[4];
        OG_CHECK(og_tensor_set_name(t, "i1"));
        OG_CHECK(og_tensor_set_name(in[0], "i0"));
        OG_CHECK(og_tensor_set_name(in[4], "i4"));
        OG_CHECK(og_tensor_set_name(in[5], "i5"));
        OG_CHECK(og_plan_run(p, 4, (const og_tensor *const[]){ in[0], t, in[4], in[5] }, out));
        free_all(4, out);
        /* the same step through a plain node */
        og_tensor *next[4];
        chained[1] = t;
        OG_CHECK(run_node("Adagrad", 8, chained, 4, NULL, 2, ag, 1, false, next));
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(next[k]->numel, state[k]->numel);
            ck_assert_msg(memcmp(next[k]->data, state[k]->data, (size_t)next[k]->numel * sizeof(float)) == 0,
                          "step %d: bound state %d differs from the chained run", step, k);
            if (step > 0)
                og_tensor_free(chained[slot[k]]);
            chained[slot[k]] = next[k];
        }
        og_tensor_free(t);
    }
    for (int k = 0; k < 4; k++) {
        og_tensor_free(chained[slot[k]]);
        og_tensor_free(state[k]);
    }
    free_all(8, in);
    og_plan_free(p);
    og_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optimizers");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_momentum);
    tcase_add_test(tc, random_adam);
    tcase_add_test(tc, random_adagrad);
    tcase_add_test(tc, numpy_reference_bits);
    tcase_add_test(tc, torch_sgd_momentum);
    tcase_add_test(tc, torch_sgd_nesterov);
    tcase_add_test(tc, torch_adagrad);
    tcase_add_test(tc, torch_adam);
    tcase_add_test(tc, threads_bit_identical);
    tcase_add_test(tc, inplace_kernel_chosen);
    tcase_add_test(tc, unwanted_outputs);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, negative_count);
    tcase_add_test(tc, not_differentiable);
    tcase_add_test(tc, gradient_then_momentum);
    tcase_add_test(tc, state_binding_steps);
    suite_add_tcase(s, tc);
    return og_run_suite(s);
}
