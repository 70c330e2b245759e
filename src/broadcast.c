/* broadcast.c — numpy-style (multidirectional) broadcasting, shared by the
 * elementwise ops: the output shape of up to three shapes at inference
 * time, and a row iterator that hands kernels each operand's offset.
 * https://github.com/onnx/onnx/blob/main/docs/Broadcasting.md
 *
 * Shapes align on the right; a missing leading dim counts as 1. Along each
 * axis the dims must be equal or 1, and the output takes the larger (so a
 * 0 against a 1 gives 0). */
#include <string.h>
#include <stdio.h>
#include "internal.h"
#include "kernel.h"

static const char *str_or(const char *const *v, int k, const char *dflt)
{
    return v && v[k] ? v[k] : dflt;
}

/* The dim of `s` at right-aligned position j (0 = last axis); 1 past its rank. */
static int64_t dim_from_right(const og_shape *s, int j)
{
    return j < s->rank ? s->dims[s->rank - 1 - j] : 1;
}

og_status og_broadcast_shape(const char *what, int n, const og_shape *const *in, const char *const *roles,
                             const char *const *names, og_shape *out)
{
    if (!what || !in || !out || n < 1 || n > OG_BCAST_MAX)
        return og_err(OG_ERR_INTERNAL, "og_broadcast_shape: bad arguments (n = %d)", n);
    int rank = 0;
    for (int k = 0; k < n; k++) {
        if (in[k]->rank < 0) {
            out->rank = -1;
            return OG_OK;
        }
        if (in[k]->rank > rank)
            rank = in[k]->rank;
    }
    og_shape y = {.rank = rank};   /* built aside: out may be one of the inputs */
    for (int j = 0; j < rank; j++) {
        /* the first known dim other than 1 decides; which input gave it is
         * kept for the message */
        int64_t d = 1;
        int from = -1;
        bool unknown = false;
        for (int k = 0; k < n; k++) {
            int64_t v = dim_from_right(in[k], j);
            if (v < 0) {
                unknown = true;
                continue;
            }
            if (v == 1)
                continue;
            if (from < 0) {
                d = v;
                from = k;
            } else if (v != d) {
                char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
                return og_err(OG_ERR_SHAPE, "%s: cannot broadcast %s '%s' of shape %s with %s '%s' of shape %s: "
                              "output axis %d of %d (shapes right-aligned) is %lld against %lld; expected equal dims or 1",
                              what, str_or(roles, from, "input"), str_or(names, from, "?"),
                              og_shape_str(in[from], b1, sizeof b1), str_or(roles, k, "input"),
                              str_or(names, k, "?"), og_shape_str(in[k], b2, sizeof b2), rank - 1 - j, rank,
                              (long long)d, (long long)v);
            }
        }
        /* only 1s and unknowns: the unknowns may be anything */
        y.dims[rank - 1 - j] = from < 0 && unknown ? -1 : d;
    }
    *out = y;
    return OG_OK;
}

static og_shape shape_of(const og_tensor *t)
{
    og_shape s = {.rank = t->rank};
    memcpy(s.dims, t->dims, sizeof s.dims);
    return s;
}

static og_status mismatch(const char *what, int k, const og_tensor *t, const og_tensor *out)
{
    char b1[OG_SHAPE_STR_MAX], b2[OG_SHAPE_STR_MAX];
    og_shape ts = shape_of(t), os = shape_of(out);
    return og_err(OG_ERR_INTERNAL, "%s: input %d of shape %s does not broadcast to the output's shape %s "
                  "(inference should have refused it)", what ? what : "broadcast", k,
                  og_shape_str(&ts, b1, sizeof b1), og_shape_str(&os, b2, sizeof b2));
}

og_status og_bcast_begin(og_bcast *it, const char *what, const og_tensor *out, int n, const og_tensor *const *in)
{
    if (!it || !out || !in || n < 1 || n > OG_BCAST_MAX)
        return og_err(OG_ERR_INTERNAL, "og_bcast_begin: bad arguments (n = %d)", n);
    memset(it, 0, sizeof *it);
    it->n = n;
    it->numel = out->numel;

    /* Each operand's element strides along the output's axes (0 where it
     * has size 1 or no axis at all), then the axes of size 1 dropped. */
    int64_t strides[OG_BCAST_MAX][OG_MAX_RANK];
    int r = out->rank;
    for (int k = 0; k < n; k++) {
        const og_tensor *t = in[k];
        if (t->rank > r)
            return mismatch(what, k, t, out);
        int64_t s = 1;
        for (int j = 0; j < r; j++) {
            int d = r - 1 - j;
            int64_t v = j < t->rank ? t->dims[t->rank - 1 - j] : 1;
            if (v != out->dims[d] && v != 1)
                return mismatch(what, k, t, out);
            strides[k][d] = v == 1 ? 0 : s;
            s *= v;   /* bounded by the tensor's numel */
        }
    }
    int m = 0;
    for (int d = 0; d < r; d++) {
        if (out->dims[d] == 1)
            continue;
        /* Merge into the previous kept axis when every operand steps across
         * the pair as across one axis: outer stride = inner stride * inner size
         * (two broadcast axes, 0 = 0 * size, merge too). */
        bool merge = m > 0;
        for (int k = 0; k < n && merge; k++)
            merge = it->strides[k][m - 1] == strides[k][d] * out->dims[d];
        if (merge) {
            it->dims[m - 1] *= out->dims[d];   /* bounded by out->numel */
            for (int k = 0; k < n; k++)
                it->strides[k][m - 1] = strides[k][d];
        } else {
            it->dims[m] = out->dims[d];
            for (int k = 0; k < n; k++)
                it->strides[k][m] = strides[k][d];
            m++;
        }
    }
    if (m == 0) {   /* a single element (or all-1 shape): one row of one */
        it->dims[0] = 1;
        m = 1;
    }
    it->rank = m;
    return OG_OK;
}

bool og_bcast_next_row(og_bcast *it)
{
    it->row += it->dims[it->rank - 1];
    for (int d = it->rank - 2; d >= 0; d--) {
        if (++it->idx[d] < it->dims[d]) {
            for (int k = 0; k < it->n; k++)
                it->off[k] += it->strides[k][d];
            return true;
        }
        /* this axis wraps: rewind it and carry into the next outer one */
        it->idx[d] = 0;
        for (int k = 0; k < it->n; k++)
            it->off[k] -= it->strides[k][d] * (it->dims[d] - 1);
    }
    return false;
}

og_status og_broadcast_binary_infer(og_infer_call *c, bool (*allowed)(og_dtype t, int opset), const char *expected,
                                    og_dtype out_dtype)
{
    static const char *const roles[2] = { "A", "B" };
    const char *node = c->node->name, *op = c->node->op_type;
    og_dtype t = OG_UNDEFINED;
    for (int k = 0; k < 2; k++) {
        og_dtype u = c->in[k]->dtype;
        const char *name = str_or(c->in_names, k, "?");
        if (u == OG_UNDEFINED)
            continue;
        if (u == OG_FLOAT16 || u == OG_BFLOAT16)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (%s): input %s '%s' has type %s, which onnxgrad "
                          "cannot hold", node, op, roles[k], name, og_dtype_name(u));
        if (!allowed(u, c->opset))
            return og_err(OG_ERR_SHAPE, "node '%s' (%s): input %s '%s' has type %s, expected %s at opset %d", node,
                          op, roles[k], name, og_dtype_name(u), expected, c->opset);
        if (t == OG_UNDEFINED)
            t = u;
        else if (u != t)
            return og_err(OG_ERR_SHAPE, "node '%s' (%s): inputs must share one type: A '%s' is %s, expected B '%s' "
                          "to be %s too, got %s", node, op, str_or(c->in_names, 0, "?"), og_dtype_name(t), name,
                          og_dtype_name(t), og_dtype_name(u));
    }
    char what[256];
    snprintf(what, sizeof what, "node '%s' (%s)", node, op);
    og_shape y;
    const og_shape *in[2] = { &c->in[0]->shape, &c->in[1]->shape };
    og_status st = og_broadcast_shape(what, 2, in, roles, c->in_names, &y);
    if (st != OG_OK)
        return st;
    c->workspace_bytes = 0;
    if (c->out[0] != NULL) {
        c->out[0]->dtype = out_dtype != OG_UNDEFINED ? out_dtype : t;
        c->out[0]->shape = y;
    }
    return OG_OK;
}

/* bool is one byte holding 0 or 1 */
#define OG_COMPARE(T, OP) OG_BCAST_BINARY(&it, T, a->data, T, b->data, uint8_t, y->data, (uint8_t)(a OP b))
#define OG_COMPARE_TYPES(OP)                          \
    switch (a->dtype) {                               \
    case OG_FLOAT:  OG_COMPARE(float, OP); break;     \
    case OG_DOUBLE: OG_COMPARE(double, OP); break;    \
    case OG_INT8:   OG_COMPARE(int8_t, OP); break;    \
    case OG_INT16:  OG_COMPARE(int16_t, OP); break;   \
    case OG_INT32:  OG_COMPARE(int32_t, OP); break;   \
    case OG_INT64:  OG_COMPARE(int64_t, OP); break;   \
    case OG_UINT8:  OG_COMPARE(uint8_t, OP); break;   \
    case OG_UINT16: OG_COMPARE(uint16_t, OP); break;  \
    case OG_UINT32: OG_COMPARE(uint32_t, OP); break;  \
    case OG_UINT64: OG_COMPARE(uint64_t, OP); break;  \
    default:                                          \
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(a->dtype)); \
    }

og_status og_broadcast_compare_run(const og_kernel_call *k, og_compare cmp)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;
    if (y == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (%s)", k->node->name, k->node->op_type);
    if (a->dtype != b->dtype || y->dtype != OG_BOOL)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got types %s and %s -> %s, which inference should have refused",
                      what, og_dtype_name(a->dtype), og_dtype_name(b->dtype), og_dtype_name(y->dtype));
    if ((st = og_bcast_begin(&it, what, y, 2, (const og_tensor *const[]){ a, b })) != OG_OK)
        return st;
    if (cmp == OG_CMP_GREATER) {
        OG_COMPARE_TYPES(>)
    } else {
        OG_COMPARE_TYPES(<=)
    }
    return OG_OK;
}

/* Integers compute in the unsigned type U of at least their width, so
 * overflow wraps instead of being undefined behaviour. */
#define OG_ARITH_FLOAT(T, OP) OG_BCAST_BINARY(&it, T, a->data, T, b->data, T, y->data, a OP b)
#define OG_ARITH_INT(T, U, OP) OG_BCAST_BINARY(&it, T, a->data, T, b->data, T, y->data, (T)((U)a OP (U)b))
#define OG_ARITH_TYPES(OP)                                        \
    switch (y->dtype) {                                           \
    case OG_FLOAT:  OG_ARITH_FLOAT(float, OP); break;             \
    case OG_DOUBLE: OG_ARITH_FLOAT(double, OP); break;            \
    case OG_INT8:   OG_ARITH_INT(int8_t, uint32_t, OP); break;    \
    case OG_INT16:  OG_ARITH_INT(int16_t, uint32_t, OP); break;   \
    case OG_INT32:  OG_ARITH_INT(int32_t, uint32_t, OP); break;   \
    case OG_INT64:  OG_ARITH_INT(int64_t, uint64_t, OP); break;   \
    case OG_UINT8:  OG_ARITH_INT(uint8_t, uint32_t, OP); break;   \
    case OG_UINT16: OG_ARITH_INT(uint16_t, uint32_t, OP); break;  \
    case OG_UINT32: OG_ARITH_INT(uint32_t, uint32_t, OP); break;  \
    case OG_UINT64: OG_ARITH_INT(uint64_t, uint64_t, OP); break;  \
    default:                                                      \
        return og_err(OG_ERR_UNSUPPORTED, "%s: no kernel for type %s", what, og_dtype_name(y->dtype)); \
    }

og_status og_broadcast_arith_run(const og_kernel_call *k, og_arith op)
{
    const og_tensor *a = k->in[0], *b = k->in[1];
    og_tensor *y = k->out[0];
    og_bcast it;
    char what[256];
    og_status st;
    if (y == NULL)
        return OG_OK;
    snprintf(what, sizeof what, "node '%s' (%s)", k->node->name, k->node->op_type);
    if (a->dtype != y->dtype || b->dtype != y->dtype)
        return og_err(OG_ERR_INTERNAL, "%s: kernel got types %s and %s -> %s, which inference should have refused",
                      what, og_dtype_name(a->dtype), og_dtype_name(b->dtype), og_dtype_name(y->dtype));
    if ((st = og_bcast_begin(&it, what, y, 2, (const og_tensor *const[]){ a, b })) != OG_OK)
        return st;
    if (op == OG_ARITH_ADD) {
        OG_ARITH_TYPES(+)
    } else {
        OG_ARITH_TYPES(*)
    }
    return OG_OK;
}

/* ---- plan-time choice for Add and Mul ----------------------------------
 * Same-shape float32 operands run as one flat loop split into fixed chunks
 * across threads (memory bound; each element by one task, so any thread
 * count gives the same bits). Whenever the output has A's shape, the
 * kernels write element i only after reading A[i], so the output may take
 * A's bytes when A dies at the node. */
#define ARITH_CHUNK 32768

typedef struct arith_task {
    const float *a, *b;
    float *y;
    int64_t n;
    og_arith op;
} arith_task;

static void arith_chunk(void *arg, int64_t t, int worker)
{
    (void)worker;
    const arith_task *at = arg;
    int64_t lo = t * ARITH_CHUNK, hi = lo + ARITH_CHUNK < at->n ? lo + ARITH_CHUNK : at->n;
    const float *a = at->a, *b = at->b;
    float *y = at->y;
    if (at->op == OG_ARITH_ADD)
        for (int64_t i = lo; i < hi; i++)
            y[i] = a[i] + b[i];
    else
        for (int64_t i = lo; i < hi; i++)
            y[i] = a[i] * b[i];
}

static og_status arith_f32_flat(const og_kernel_call *k, og_arith op)
{
    arith_task at = { k->in[0]->data, k->in[1]->data, k->out[0]->data, k->out[0]->numel, op };
    og_parallel_for(k->n_threads, (at.n + ARITH_CHUNK - 1) / ARITH_CHUNK, arith_chunk, &at);
    return OG_OK;
}

static og_status add_f32_flat(const og_kernel_call *k) { return arith_f32_flat(k, OG_ARITH_ADD); }
static og_status mul_f32_flat(const og_kernel_call *k) { return arith_f32_flat(k, OG_ARITH_MUL); }

static bool same_shape(const og_shape *a, const og_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return false;
    return true;
}

og_status og_broadcast_arith_select(og_select_call *s, og_arith op, og_status (*reference)(const og_kernel_call *k))
{
    const og_tinfo *a = s->in[0], *b = s->in[1], *y = s->out[0];
    if (!a || !b || !y || !same_shape(&a->shape, &y->shape))
        return OG_OK;
    s->inplace_input = 0;
    if (y->dtype == OG_FLOAT && same_shape(&b->shape, &y->shape)) {
        s->run = op == OG_ARITH_ADD ? add_f32_flat : mul_f32_flat;
        s->kernel_name = op == OG_ARITH_ADD ? "add_f32_flat" : "mul_f32_flat";
    } else {
        s->run = reference;
        s->kernel_name = "reference (in place)";
    }
    return OG_OK;
}
