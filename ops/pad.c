/* SPDX-License-Identifier: MIT */
/* Pad — grows (or, with negative pads, crops) each axis of `data`:
 * pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...] gives axis i
 * xi_begin new elements in front and xi_end at the back, so its size
 * becomes dim + xi_begin + xi_end (which must not be negative). The new
 * elements are, by `mode`: `constant` — constant_value (default 0);
 * `edge` — the nearest edge element; `reflect` — the axis mirrored about
 * its first and last elements (numpy.pad's reflect: [1,2,3] padded by 2
 * gives [3,2,1,2,3,2,1]).
 * https://github.com/onnx/onnx/blob/main/docs/Operators.md#Pad
 *
 * Versions: 2 (pads and the float `value` are attributes; float types),
 * 11 (pads become an int64 input, constant_value an optional input of the
 * data's type; integer types), 13 (bool, string, bfloat16). onnxgrad
 * implements 2, 11 and 13 (Pad-1 with its `paddings` attribute is not
 * implemented) for every type it holds; float16, bfloat16, string and
 * complex are refused. Pad-2's attribute form is forward-only: gradient
 * graphs use opset 17.
 *
 * Semantics where the spec leaves room: in constant mode output element o
 * of an axis is input element o - begin when that exists, else the
 * constant, whatever the signs of the pads (so over-cropping one side and
 * padding the other is fine while the size stays >= 0). In edge and
 * reflect modes negative pads crop first and the padding then mirrors or
 * repeats the cropped axis; an axis left empty cannot be padded there.
 * Pads much larger than the axis reflect again and again, as numpy does.
 * constant_value must hold one element (a scalar or [1]); other modes
 * ignore it. Errors in pads are OG_ERR_ATTR (attribute), OG_ERR_SHAPE
 * (wrong length, or a size going negative).
 *
 * Kernel: for each output row (all axes but the last) the outer indices
 * map to one input row, or to none (a constant row); the part of the row
 * that lies inside the input is one memcpy, the padding around it is
 * filled element by element.
 *
 * Backward (constant mode, pads known when the gradient graph is built):
 * dX = Pad(dY, -pads) with zeros, which crops where the forward padded and
 * pads where it cropped. constant_value gets no gradient. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct pad_params {
    const char *mode;
    og_ints pads;          /* opsets 2-10 */
    float value;           /* opsets 2-10 */
} pad_params;

static const char *const pad_modes[] = {"constant", "reflect", "edge", NULL};

static const og_attr_spec pad_attrs[] = {
    {.name = "mode", .type = OG_ATTR_STRING, .offset = offsetof(pad_params, mode),
     .def_s = "constant", .choices = pad_modes},
    {.name = "pads", .type = OG_ATTR_INTS, .offset = offsetof(pad_params, pads), .required = true,
     .since_version = 2, .until_version = 10, .to_input = true},
    {.name = "value", .type = OG_ATTR_FLOAT, .offset = offsetof(pad_params, value), .def_f = 0.0f,
     .since_version = 2, .until_version = 10, .to_input = true},
};

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } pad_mode;

static pad_mode pad_mode_of(const pad_params *p)
{
    return strcmp(p->mode, "reflect") == 0 ? PAD_REFLECT
         : strcmp(p->mode, "edge") == 0    ? PAD_EDGE
                                           : PAD_CONSTANT;
}

/* Per axis: pads, output size, and the output range [lo, hi) that comes
 * straight from the input (output o is input o - begin there). */
typedef struct pad_plan {
    int64_t begin[OG_MAX_RANK], end[OG_MAX_RANK], size[OG_MAX_RANK];
    int64_t lo[OG_MAX_RANK], hi[OG_MAX_RANK];
} pad_plan;

/* The pads, from the attribute or the input's data; v NULL when unknown. */
typedef struct pad_vec {
    bool from_attr;
    int64_t n;             /* -1 unknown */
    const int64_t *v;
    char label[160];       /* "attribute pads" / "input pads 'name'" */
} pad_vec;

/* Output geometry for data of rank r with dims (-1: unknown); shared by
 * infer and run. */
static og_status pad_resolve(const char *node, pad_mode mode, int r, const int64_t *dims,
                             const pad_vec *pv, pad_plan *pl)
{
    if (pv->n >= 0 && r >= 0 && pv->n != 2 * (int64_t)r)
        return og_err(pv->from_attr ? OG_ERR_ATTR : OG_ERR_SHAPE, "node '%s' (Pad): %s has %lld "
                      "elements, expected %d (begin and end for each of the %d axes of data)",
                      node, pv->label, (long long)pv->n, 2 * r, r);
    for (int d = 0; d < r; d++) {
        pl->size[d] = -1;
        if (pv->v == NULL)
            continue;
        int64_t b = pv->v[d], e = pv->v[d + r], in_end, size;
        pl->begin[d] = b;
        pl->end[d] = e;
        if (dims[d] < 0)
            continue;
        if (!og_add_ok(dims[d], b, &in_end) || !og_add_ok(in_end, e, &size))
            return og_err(OG_ERR_LIMIT, "node '%s' (Pad): axis %d of size %lld with %s begin %lld "
                          "and end %lld overflows int64", node, d, (long long)dims[d], pv->label,
                          (long long)b, (long long)e);
        if (size < 0)
            return og_err(OG_ERR_SHAPE, "node '%s' (Pad): %s begin %lld and end %lld remove more "
                          "than axis %d of size %lld holds (size %lld); expected a size >= 0", node,
                          pv->label, (long long)b, (long long)e, d, (long long)dims[d],
                          (long long)size);
        pl->size[d] = size;
        pl->lo[d] = b > 0 ? b : 0;
        pl->hi[d] = in_end < size ? in_end : size;
        if (mode != PAD_CONSTANT && size > 0 && pl->hi[d] <= pl->lo[d])
            return og_err(OG_ERR_SHAPE, "node '%s' (Pad): mode %s cannot fill axis %d: with %s "
                          "begin %lld and end %lld nothing of its %lld elements is left to repeat",
                          node, mode == PAD_EDGE ? "edge" : "reflect", d, pv->label, (long long)b,
                          (long long)e, (long long)dims[d]);
    }
    return OG_OK;
}

static const char *pad_types(int opset)
{
    return opset >= 13 ? "any numeric type or bool"
         : opset >= 11 ? "a numeric type"
                       : "float or double";
}

static bool pad_type_ok(og_dtype t, int opset)
{
    if (t == OG_FLOAT || t == OG_DOUBLE)
        return true;
    if (opset < 11)
        return false;
    if (t == OG_BOOL)
        return opset >= 13;
    return og_dtype_size(t) != 0;
}

static og_status pad_infer(og_infer_call *c)
{
    const pad_params *p = c->params;
    const char *node = c->node->name;
    const og_tinfo *x = c->in[0];
    const char *xname = c->in_names[0] ? c->in_names[0] : "?";
    og_dtype t = x->dtype;
    pad_mode mode = pad_mode_of(p);
    pad_vec pv = {.n = -1};
    pad_plan pl;
    og_status st;
    char buf[OG_SHAPE_STR_MAX];

    c->workspace_bytes = 0;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16 || t == OG_STRING || t == OG_COMPLEX64 ||
        t == OG_COMPLEX128)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Pad): input data '%s' has type %s, which "
                      "onnxgrad cannot hold", node, xname, og_dtype_name(t));
    if (t != OG_UNDEFINED && !pad_type_ok(t, c->opset))
        return og_err(OG_ERR_SHAPE, "node '%s' (Pad): input data '%s' has type %s, expected %s at "
                      "opset %d", node, xname, og_dtype_name(t), pad_types(c->opset), c->opset);

    if (c->opset < 11) {
        if (c->n_in > 1)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (Pad): has %d inputs, expected 1 at "
                          "opset %d (pads and value are attributes before opset 11)", node,
                          c->n_in, c->opset);
        pv = (pad_vec){.from_attr = true, .n = p->pads.n, .v = p->pads.v};
        snprintf(pv.label, sizeof pv.label, "attribute pads");
    } else {
        const og_tinfo *pads = c->n_in > 1 ? c->in[1] : NULL;
        const og_tinfo *cv = c->n_in > 2 ? c->in[2] : NULL;
        if (pads == NULL)
            return og_err(OG_ERR_INVALID_GRAPH, "node '%s' (Pad): input pads is required from "
                          "opset 11, got none", node);
        const char *pn = c->in_names[1] ? c->in_names[1] : "?";
        if (pads->dtype != OG_UNDEFINED && pads->dtype != OG_INT64)
            return og_err(OG_ERR_SHAPE, "node '%s' (Pad): input pads '%s' has type %s, expected "
                          "int64", node, pn, og_dtype_name(pads->dtype));
        if (pads->shape.rank >= 0 && pads->shape.rank != 1)
            return og_err(OG_ERR_SHAPE, "node '%s' (Pad): input pads '%s' has shape %s, expected a "
                          "1-D tensor", node, pn, og_shape_str(&pads->shape, buf, sizeof buf));
        snprintf(pv.label, sizeof pv.label, "input pads '%s'", pn);
        const og_tensor *v = c->in_value[1];
        if (v != NULL && v->dtype == OG_INT64 && v->rank == 1) {
            pv.n = v->numel;
            pv.v = v->data;
        } else if (pads->shape.rank == 1) {
            pv.n = pads->shape.dims[0];
        }
        if (cv != NULL) {
            const char *cn = c->in_names[2] ? c->in_names[2] : "?";
            if (cv->dtype != OG_UNDEFINED && t != OG_UNDEFINED && cv->dtype != t)
                return og_err(OG_ERR_SHAPE, "node '%s' (Pad): input constant_value '%s' has type %s, "
                              "expected %s like data '%s'", node, cn, og_dtype_name(cv->dtype),
                              og_dtype_name(t), xname);
            if (cv->shape.rank > 1 ||
                (cv->shape.rank == 1 && cv->shape.dims[0] >= 0 && cv->shape.dims[0] != 1))
                return og_err(OG_ERR_SHAPE, "node '%s' (Pad): input constant_value '%s' has shape "
                              "%s, expected a scalar (or [1])", node, cn,
                              og_shape_str(&cv->shape, buf, sizeof buf));
        }
    }
    if (pv.n >= 0 && x->shape.rank < 0 && pv.n % 2 != 0)
        return og_err(pv.from_attr ? OG_ERR_ATTR : OG_ERR_SHAPE, "node '%s' (Pad): %s has %lld "
                      "elements, expected an even count (begin and end for each axis)", node,
                      pv.label, (long long)pv.n);
    if ((st = pad_resolve(node, mode, x->shape.rank, x->shape.dims, &pv, &pl)) != OG_OK)
        return st;

    og_tinfo *y = c->out[0];
    if (y == NULL)
        return OG_OK;
    y->dtype = t;
    y->shape.rank = x->shape.rank;
    if (y->shape.rank < 0 && pv.n >= 0 && pv.n / 2 <= OG_MAX_RANK) {
        /* the pads' length tells the rank */
        y->shape.rank = (int)(pv.n / 2);
        for (int d = 0; d < y->shape.rank; d++)
            y->shape.dims[d] = -1;
    }
    for (int d = 0; d < x->shape.rank; d++)
        y->shape.dims[d] = pl.size[d];
    return OG_OK;
}

/* Input index for output index o along axis d, or -1 for the constant. */
static int64_t pad_map(const pad_plan *pl, pad_mode mode, int d, int64_t o)
{
    int64_t lo = pl->lo[d], hi = pl->hi[d];
    if (o >= lo && o < hi)
        return o - pl->begin[d];
    if (mode == PAD_CONSTANT)
        return -1;
    /* j: position relative to what is left of the input after cropping */
    int64_t n = hi - lo, j = o - lo;
    if (mode == PAD_EDGE) {
        j = j < 0 ? 0 : n - 1;
    } else if (n == 1) {
        j = 0;
    } else {
        int64_t period = 2 * (n - 1), m = j % period;
        m = m < 0 ? m + period : m;
        j = m < n ? m : period - m;
    }
    return lo - pl->begin[d] + j;
}

/* n elements of es bytes, each `value`: memset for an all-zero value (the
 * gradient's zeros), else doubling copies of the first element, so a wide
 * padding costs what a memcpy does rather than one call per element. */
static void fill_const(char *dst, int64_t n, const unsigned char *value, size_t es)
{
    if (n <= 0)
        return;
    bool zero = true;
    for (size_t b = 0; b < es; b++)
        zero = zero && value[b] == 0;
    size_t total = (size_t)n * es;
    if (zero) {
        memset(dst, 0, total);
        return;
    }
    memcpy(dst, value, es);
    for (size_t done = es; done < total;) {
        size_t chunk = done < total - done ? done : total - done;
        memcpy(dst + done, dst, chunk);
        done += chunk;
    }
}

static og_status pad_run(const og_kernel_call *k)
{
    const pad_params *p = k->params;
    const og_tensor *in = k->in[0];
    og_tensor *out = k->out[0];
    const char *node = k->node->name;
    pad_mode mode = pad_mode_of(p);
    pad_vec pv = {.from_attr = k->opset < 11};
    pad_plan pl;
    og_status st;

    if (out == NULL)
        return OG_OK;
    if (k->opset < 11) {
        pv.n = p->pads.n;
        pv.v = p->pads.v;
        snprintf(pv.label, sizeof pv.label, "attribute pads");
    } else {
        const og_tensor *pads = k->in[1];
        if (pads == NULL || pads->dtype != OG_INT64 || pads->rank != 1)
            return og_err(OG_ERR_INTERNAL, "node '%s' (Pad): pads reached the kernel missing or not "
                          "1-D int64", node);
        pv.n = pads->numel;
        pv.v = pads->data;
        snprintf(pv.label, sizeof pv.label, "input pads");
    }
    if ((st = pad_resolve(node, mode, in->rank, in->dims, &pv, &pl)) != OG_OK)
        return st;
    int r = in->rank;
    bool agree = out->dtype == in->dtype && out->rank == r;
    for (int d = 0; d < r && agree; d++)
        agree = out->dims[d] == pl.size[d];
    if (!agree)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Pad): the output's type or shape differs from "
                      "what the pads give", node);

    /* the constant as bytes of the element type */
    size_t es = og_dtype_size(in->dtype);
    unsigned char cval[16] = {0};
    const og_tensor *cv = k->opset >= 11 && k->n_in > 2 ? k->in[2] : NULL;
    if (cv != NULL) {
        if (cv->dtype != in->dtype || cv->numel != 1)
            return og_err(OG_ERR_INTERNAL, "node '%s' (Pad): constant_value reached the kernel as %lld "
                          "%s elements, expected one %s", node, (long long)cv->numel,
                          og_dtype_name(cv->dtype), og_dtype_name(in->dtype));
        memcpy(cval, cv->data, es);
    } else if (k->opset < 11) {
        float f = p->value;
        double dbl = p->value;
        if (in->dtype == OG_FLOAT)
            memcpy(cval, &f, sizeof f);
        else
            memcpy(cval, &dbl, sizeof dbl);
    }

    if (out->numel == 0)
        return OG_OK;
    if (r == 0) {
        memcpy(out->data, in->data, es);
        return OG_OK;
    }
    int64_t istride[OG_MAX_RANK], s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istride[d] = s;
        s *= in->dims[d];   /* bounded by numel */
    }
    const char *src = in->data;
    char *dst = out->data;
    int last = r - 1;
    int64_t width = pl.size[last], rows = out->numel / width;
    int64_t lo = pl.lo[last], hi = pl.hi[last];
    int64_t idx[OG_MAX_RANK] = {0};
    for (int64_t row = 0; row < rows; row++, dst += (size_t)width * es) {
        int64_t base = 0;
        for (int d = 0; d < last && base >= 0; d++) {
            int64_t i = pad_map(&pl, mode, d, idx[d]);
            base = i < 0 ? -1 : base + i * istride[d];
        }
        for (int d = last - 1; d >= 0 && ++idx[d] == pl.size[d]; d--)
            idx[d] = 0;
        if (base < 0 || hi <= lo) {
            /* a row (or last axis) wholly outside the input: constant mode only */
            fill_const(dst, width, cval, es);
            continue;
        }
        memcpy(dst + (size_t)lo * es, src + (size_t)(base + lo - pl.begin[last]) * es,
               (size_t)(hi - lo) * es);
        if (mode == PAD_CONSTANT) {   /* the rest of the row is the constant */
            fill_const(dst, lo, cval, es);
            fill_const(dst + (size_t)hi * es, width - hi, cval, es);
            continue;
        }
        for (int64_t o = 0; o < width; o++) {
            if (o == lo)
                o = hi;   /* skip the part copied above */
            if (o >= width)
                break;
            int64_t i = pad_map(&pl, mode, last, o);
            if (i >= 0)
                memcpy(dst + (size_t)o * es, src + (size_t)(base + i) * es, es);
            else
                memcpy(dst + (size_t)o * es, cval, es);
        }
    }
    return OG_OK;
}

/* Constant mode: output o of an axis is input o - begin or the constant,
 * so the adjoint sends dY[o] back to dX[o - begin]: dX = Pad(dY, -pads)
 * with zeros, which crops where the forward padded and pads (with zero
 * gradient) where it cropped. The pads must be known when the graph is
 * built. Edge and reflect modes would need a scatter-add: refused. */
static og_status pad_backward(og_backward_call *b)
{
    const pad_params *p = b->params;
    const char *node = b->node->name;
    const int64_t *pads;
    int64_t n;

    if (!b->need[0])
        return OG_OK;
    if (pad_mode_of(p) != PAD_CONSTANT)
        return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Pad): the gradient of mode %s is not implemented "
                      "(constant mode only)", node, p->mode);
    if (b->opset < 11) {
        pads = p->pads.v;
        n = p->pads.n;
    } else {
        const og_tensor *v = b->in_value[1];
        if (v == NULL || v->dtype != OG_INT64 || v->rank != 1)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Pad): the gradient needs pads '%s' known when "
                          "the gradient graph is built (an initializer or a constant)", node, b->in[1]);
        pads = v->data;
        n = v->numel;
    }
    int64_t neg[2 * OG_MAX_RANK];
    if (n > 2 * OG_MAX_RANK)
        return og_err(OG_ERR_INTERNAL, "node '%s' (Pad): %lld pads for at most %d axes", node, (long long)n,
                      OG_MAX_RANK);
    for (int64_t i = 0; i < n; i++) {
        if (pads[i] == INT64_MIN)
            return og_err(OG_ERR_UNSUPPORTED, "node '%s' (Pad): the gradient negates the pads, and "
                          "pads[%lld] is INT64_MIN", node, (long long)i);
        neg[i] = -pads[i];
    }
    const char *ins[2] = {b->dout[0], NULL};
    og_status st = og_grad_const_ints(b, n, neg, &ins[1]);
    return st ? st : og_grad_emit(b, "Pad", 2, ins, 1, &b->din[0], 0, NULL);
}

const og_op og_op_pad = {
    .name = "Pad",
    .domain = "",
    .since_version = 2,
    .min_inputs = 1, .max_inputs = 3,
    .min_outputs = 1, .max_outputs = 1,
    .diff_inputs = 0x1,
    .diff_outputs = 0x1,
    .attrs = pad_attrs,
    .n_attrs = (int)(sizeof pad_attrs / sizeof pad_attrs[0]),
    .params_size = sizeof(pad_params),
    .infer = pad_infer,
    .run = pad_run,
    .backward = pad_backward,
    .cost = og_cost_zero,
};
