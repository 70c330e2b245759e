/* SPDX-License-Identifier: MIT */
/* attrs.c — attribute constructors, IR copies, and parsing a node's
 * attributes once against its op's schema into a typed params struct. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

og_attr og_attr_int(const char *name, int64_t v) { return (og_attr){ .name = name, .type = OG_ATTR_INT, .i = v }; }
og_attr og_attr_float(const char *name, float v) { return (og_attr){ .name = name, .type = OG_ATTR_FLOAT, .f = v }; }
og_attr og_attr_string(const char *name, const char *v) { return (og_attr){ .name = name, .type = OG_ATTR_STRING, .s = v }; }
og_attr og_attr_ints(const char *name, int64_t count, const int64_t *v)
{
    return (og_attr){ .name = name, .type = OG_ATTR_INTS, .ints = v, .count = count };
}
og_attr og_attr_floats(const char *name, int64_t count, const float *v)
{
    return (og_attr){ .name = name, .type = OG_ATTR_FLOATS, .floats = v, .count = count };
}
og_attr og_attr_tensor(const char *name, const og_tensor *t) { return (og_attr){ .name = name, .type = OG_ATTR_TENSOR, .t = t }; }

static const char *attr_type_name(og_attr_type t)
{
    static const char *const names[] = { "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH",
                                         "FLOATS", "INTS", "STRINGS", "TENSORS", "GRAPHS",
                                         "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS" };
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "UNKNOWN";
}

void og_ir_attr_clear(og_ir_attr *a)
{
    og_free(a->name);
    og_free(a->s);
    og_free(a->floats);
    og_free(a->ints);
    if (a->strings)
        for (int64_t k = 0; k < a->count; k++)
            og_free(a->strings[k]);
    og_free(a->strings);
    og_tensor_free(a->t);
    og_free(a->doc_string);
    memset(a, 0, sizeof *a);
}

og_status og_ir_attr_copy(og_ir_attr *dst, const og_attr *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src->name || !src->name[0])
        return og_err(OG_ERR_ATTR, "attribute has no name");
    if (src->count < 0 || src->count > (INT64_C(1) << 31))
        return og_err(OG_ERR_ATTR, "attribute '%s' has an invalid element count %lld", src->name,
                      (long long)src->count);
    dst->type = src->type;
    if (!(dst->name = og_strdup(src->name)) || (src->doc_string && !(dst->doc_string = og_strdup(src->doc_string))))
        goto nomem;
    size_t n = (size_t)src->count;
    switch (src->type) {
    case OG_ATTR_FLOAT: dst->f = src->f; break;
    case OG_ATTR_INT: dst->i = src->i; break;
    case OG_ATTR_STRING:
        if (!src->s)
            return og_err(OG_ERR_ATTR, "attribute '%s' is a STRING with no value", src->name);
        dst->s_len = src->s_len ? src->s_len : strlen(src->s);
        if (!(dst->s = og_malloc(dst->s_len + 1)))
            goto nomem;
        memcpy(dst->s, src->s, dst->s_len);
        dst->s[dst->s_len] = '\0';
        break;
    case OG_ATTR_FLOATS:
        if (n && !src->floats)
            return og_err(OG_ERR_ATTR, "attribute '%s': FLOATS value is NULL", src->name);
        dst->count = src->count;
        if (!(dst->floats = og_calloc(n ? n : 1, sizeof(float))))
            goto nomem;
        if (n)
            memcpy(dst->floats, src->floats, n * sizeof(float));
        break;
    case OG_ATTR_INTS:
        if (n && !src->ints)
            return og_err(OG_ERR_ATTR, "attribute '%s': INTS value is NULL", src->name);
        dst->count = src->count;
        if (!(dst->ints = og_calloc(n ? n : 1, sizeof(int64_t))))
            goto nomem;
        if (n)
            memcpy(dst->ints, src->ints, n * sizeof(int64_t));
        break;
    case OG_ATTR_STRINGS:
        if (n && !src->strings)
            return og_err(OG_ERR_ATTR, "attribute '%s': STRINGS value is NULL", src->name);
        if (!(dst->strings = og_calloc(n ? n : 1, sizeof(char *))))
            goto nomem;
        dst->count = src->count;
        for (size_t k = 0; k < n; k++)
            if (!(dst->strings[k] = og_strdup(src->strings[k] ? src->strings[k] : "")))
                goto nomem;
        break;
    case OG_ATTR_TENSOR: {
        if (!src->t)
            return og_err(OG_ERR_ATTR, "attribute '%s' is a TENSOR with no value", src->name);
        og_status st = og_tensor_clone(src->t, &dst->t);
        if (st)
            return st;
        break;
    }
    default:
        return og_err(OG_ERR_UNSUPPORTED, "attribute '%s' has type %s, which onnxgrad does not support",
                      src->name, attr_type_name(src->type));
    }
    return OG_OK;
nomem:
    return og_err(OG_ERR_NOMEM, "out of memory copying attribute '%s'", src->name);
}

static const og_ir_attr *find_attr(const og_node *node, const char *name)
{
    for (int k = 0; k < node->n_attrs; k++)
        if (strcmp(node->attrs[k].name, name) == 0)
            return &node->attrs[k];
    return NULL;
}

static bool spec_in_version(const og_attr_spec *s, int opset)
{
    return (s->since_version == 0 || opset >= s->since_version) &&
           (s->until_version == 0 || opset <= s->until_version);
}

/* "A, B, C or D" */
static const char *choice_list(const char *const *choices, char *buf, size_t size)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int k = 0; choices[k] && at < size; k++) {
        const char *sep = k == 0 ? "" : choices[k + 1] ? ", " : " or ";
        at += (size_t)snprintf(buf + at, size - at, "%s%s", sep, choices[k]);
    }
    return buf;
}

og_status og_parse_attrs(const og_op *op, const og_node *node, int opset, void *params)
{
    char *base = params;
    char list[256];
    for (int k = 0; k < node->n_attrs; k++) {
        const og_ir_attr *a = &node->attrs[k];
        const og_attr_spec *spec = NULL;
        for (int j = 0; j < op->n_attrs; j++)   /* one name may have a spec per version range (Cast's to) */
            if (strcmp(op->attrs[j].name, a->name) == 0 && (!spec || spec_in_version(&op->attrs[j], opset)))
                spec = &op->attrs[j];
        if (!spec)
            return og_err(OG_ERR_ATTR, "node '%s' (%s): unknown attribute '%s'", node->name, node->op_type, a->name);
        if (!spec_in_version(spec, opset))
            return og_err(OG_ERR_ATTR, "node '%s' (%s): attribute '%s' is not part of %s-%d (it exists in opsets %d..%d)",
                          node->name, node->op_type, a->name, op->name, opset,
                          spec->since_version ? spec->since_version : 1,
                          spec->until_version ? spec->until_version : 99);
        if (a->type != spec->type)
            return og_err(OG_ERR_ATTR, "node '%s' (%s): attribute '%s' has type %s, expected %s", node->name,
                          node->op_type, a->name, attr_type_name(a->type), attr_type_name(spec->type));
    }
    for (int j = 0; j < op->n_attrs; j++) {
        const og_attr_spec *spec = &op->attrs[j];
        const og_ir_attr *a = spec_in_version(spec, opset) ? find_attr(node, spec->name) : NULL;
        void *field = base + spec->offset;
        if (!a && spec->required && spec_in_version(spec, opset))
            return og_err(OG_ERR_ATTR, "node '%s' (%s): required attribute '%s' is missing", node->name,
                          node->op_type, spec->name);
        if (spec->track_present) {
            bool given = a != NULL;
            memcpy(base + spec->present_offset, &given, sizeof given);
        }
        switch (spec->type) {
        case OG_ATTR_INT: {
            int64_t v = a ? a->i : spec->def_i;
            if (a && spec->has_range && (v < spec->min_i || v > spec->max_i))
                return og_err(OG_ERR_ATTR, "node '%s' (%s): attribute '%s' is %lld, expected a value in [%lld, %lld]",
                              node->name, node->op_type, spec->name, (long long)v, (long long)spec->min_i,
                              (long long)spec->max_i);
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_FLOAT: {
            float v = a ? a->f : spec->def_f;
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_STRING: {
            const char *v = a ? a->s : spec->def_s;
            if (a && spec->choices) {
                bool ok = false;
                for (const char *const *c = spec->choices; *c; c++)
                    ok = ok || strcmp(*c, v) == 0;
                if (!ok)
                    return og_err(OG_ERR_ATTR, "node '%s' (%s): attribute '%s' is \"%s\", expected %s", node->name,
                                  node->op_type, spec->name, v, choice_list(spec->choices, list, sizeof list));
            }
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_INTS: {
            og_ints v = { 0, NULL, false };
            if (a)
                v = (og_ints){ a->count, a->ints, true };
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_FLOATS: {
            og_floats v = { 0, NULL, false };
            if (a)
                v = (og_floats){ a->count, a->floats, true };
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_STRINGS: {
            og_strings v = { 0, NULL, false };
            if (a)
                v = (og_strings){ a->count, (const char *const *)a->strings, true };
            memcpy(field, &v, sizeof v);
            break;
        }
        case OG_ATTR_TENSOR: {
            const og_tensor *v = a ? a->t : NULL;   /* no default: NULL when absent */
            memcpy(field, &v, sizeof v);
            break;
        }
        default:
            return og_err(OG_ERR_INTERNAL, "op %s: attribute spec '%s' has an unsupported type", op->name, spec->name);
        }
    }
    return OG_OK;
}
