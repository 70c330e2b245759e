/* SPDX-License-Identifier: MIT */
/* broadcast.c — numpy-style (multidirectional) broadcasting, shared by the
 * elementwise ops: the output shape of up to OG_BCAST_MAX shapes at
 * inference time, and a row iterator that hands kernels each operand's
 * offset. The ops' kernels live with the ops (ops/binary.c, ops/variadic.c).
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

void og_bcast_seek(og_bcast *it, int64_t r)
{
    it->row = r * it->dims[it->rank - 1];
    for (int k = 0; k < it->n; k++)
        it->off[k] = 0;
    for (int d = it->rank - 2; d >= 0; d--) {
        it->idx[d] = r % it->dims[d];
        r /= it->dims[d];
        for (int k = 0; k < it->n; k++)
            it->off[k] += it->idx[d] * it->strides[k][d];
    }
}
