/* SPDX-License-Identifier: MIT */
/* registry.c — the op table. The engine knows ops only through it. */
#include <string.h>
#include "internal.h"

#define OG_OP(n) extern const og_op og_op_##n;
#include "../ops/ops.def"
#undef OG_OP

static const og_op *const og_ops[] = {
#define OG_OP(n) &og_op_##n,
#include "../ops/ops.def"
#undef OG_OP
};

static bool default_domain(const char *d)
{
    return d == NULL || d[0] == '\0' || strcmp(d, "ai.onnx") == 0;
}

static bool same_domain(const char *a, const char *b)
{
    if (default_domain(a) || default_domain(b))
        return default_domain(a) && default_domain(b);
    return strcmp(a, b) == 0;
}

const og_op *og_op_find(const char *domain, const char *name)
{
    for (size_t k = 0; k < sizeof og_ops / sizeof og_ops[0]; k++)
        if (strcmp(og_ops[k]->name, name) == 0 && same_domain(og_ops[k]->domain, domain))
            return og_ops[k];
    return NULL;
}

#define OG_PATTERN(n) extern const og_pattern og_pattern_##n;
#include "../ops/patterns.def"
#undef OG_PATTERN

/* A pattern list may be empty; the NULL end keeps the array valid. */
static const og_pattern *const og_patterns[] = {
#define OG_PATTERN(n) &og_pattern_##n,
#include "../ops/patterns.def"
#undef OG_PATTERN
    NULL
};

const og_pattern *og_pattern_at(int k)
{
    return k >= 0 && k < (int)(sizeof og_patterns / sizeof og_patterns[0]) ? og_patterns[k] : NULL;
}

int og_op_count(void) { return (int)(sizeof og_ops / sizeof og_ops[0]); }

const og_op *og_op_at(int k)
{
    return (k >= 0 && k < og_op_count()) ? og_ops[k] : NULL;
}
