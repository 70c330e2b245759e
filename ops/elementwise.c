/* SPDX-License-Identifier: MIT */
/* elementwise.c — the elementwise families' shared type check (see
 * elementwise.h): one message for every op that declares its types. */
#include <stdio.h>
#include <string.h>
#include "elementwise.h"

static bool group_active(const ew_types *g, int opset)
{
    return opset >= g->since && (g->until == 0 || opset <= g->until);
}

bool ew_type_allowed(const ew_types *types, int opset, og_dtype t)
{
    if ((int)t < 0 || (int)t >= EW_NDT)
        return false;
    for (const ew_types *g = types; g->mask; g++)
        if ((g->mask & EW_T(t)) && group_active(g, opset))
            return true;
    return false;
}

/* The dtypes allowed at `opset`, in enum order: "float, double or int64". */
static void list_types(const ew_types *types, int opset, char *buf, size_t size)
{
    /* listed in the order readers expect: floats, signed, unsigned, bool */
    static const og_dtype order[] = { OG_FLOAT, OG_DOUBLE, OG_INT8, OG_INT16, OG_INT32, OG_INT64, OG_UINT8,
                                      OG_UINT16, OG_UINT32, OG_UINT64, OG_BOOL };
    const og_dtype *ok[16];
    int n = 0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        if (ew_type_allowed(types, opset, order[k]))
            ok[n++] = &order[k];
    size_t len = 0;
    buf[0] = '\0';
    if (n == 0)
        snprintf(buf, size, "no type onnxgrad holds");
    for (int k = 0; k < n && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k == 0 ? "" : k == n - 1 ? " or " : ", ",
                                og_dtype_name(*ok[k]));
}

og_status ew_check_type(const og_node *node, int opset, const ew_types *types, const char *role, const char *name,
                        og_dtype t)
{
    if (t == OG_UNDEFINED || ew_type_allowed(types, opset, t))
        return OG_OK;
    if (t == OG_FLOAT16 || t == OG_BFLOAT16 || t == OG_STRING)
        return og_node_err(node, OG_ERR_UNSUPPORTED, "input %s '%s' has type %s, which onnxgrad cannot hold", role,
                           name ? name : "?", og_dtype_name(t));
    char list[256];
    list_types(types, opset, list, sizeof list);
    for (const ew_types *g = types; g->mask; g++)
        if ((g->mask & EW_T(t)) && opset < g->since)
            return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has type %s, expected %s at opset %d (%s need "
                               "opset >= %d)", role, name ? name : "?", og_dtype_name(t), list, opset,
                               g->what ? g->what : og_dtype_name(t), g->since);
    return og_node_err(node, OG_ERR_SHAPE, "input %s '%s' has type %s, expected %s at opset %d", role,
                       name ? name : "?", og_dtype_name(t), list, opset);
}

const char *ew_what(const og_node *node, char *buf, size_t size)
{
    snprintf(buf, size, "node '%s' (%s)", node->name, node->op_type);
    return buf;
}
