/* SPDX-License-Identifier: MIT */
/* dot_cmd.c — `onnxgrad dot`: a model's graph drawn through Graphviz.
 *
 *     onnxgrad dot MODEL.onnx [--gradient (--loss NAME | --seed-inputs NAMES) [--wrt NAMES]]
 *                  [--training] [--shapes] [--max-nodes N] -o graph.svg|.png|.pdf|.dot
 *
 * The picture is written as DOT text first (our own writer, so `.dot`
 * output needs no Graphviz at all and tests can read it), then parsed with
 * cgraph's agmemread, laid out with gvc's "dot" engine and rendered in
 * memory (gvRenderData: the file is written here, so an unwritable path is
 * our one-line error, not Graphviz's). No external `dot` program runs.
 * Only the CLI links Graphviz; built without it (pkg-config did not find
 * libcgraph/libgvc) `.dot` output still works and rendering is an error.
 *
 * Node kinds and their colours (the tests read the fills back from SVG):
 * forward op, backward op (a backward rule's nodes, autodiff.c names them
 * "grad/..."), fan-in sum (autodiff.c's "/fanin_Add_<n>"), training
 * algorithm op; graph inputs, initializers, outputs and values of the main
 * graph a training algorithm reads. In a gradient graph the first nodes,
 * as many as the model has, are the forward part (autodiff.h). */
#define _POSIX_C_SOURCE 200809L

#include "dot_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

#ifdef OG_HAVE_GRAPHVIZ
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#endif

const char HELP_DOT[] =
    "usage: onnxgrad dot MODEL.onnx -o graph.svg|.png|.pdf|.dot [--shapes]\n"
    "           [--max-nodes N] [--gradient (--loss NAME | --seed-inputs NAME,...)\n"
    "           [--wrt NAME,...] [--allow-unused]] [--training]\n"
    "\n"
    "Draws the graph of MODEL.onnx: one box per node (op type, name and its\n"
    "short attributes), graph inputs as ellipses, initializers as cylinders,\n"
    "outputs as double ellipses, with a legend. The format follows -o's\n"
    "extension; .dot writes the DOT text without laying it out. Rendering uses\n"
    "the Graphviz libraries (cgraph, gvc) linked into onnxgrad: no external\n"
    "'dot' program is needed.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        the picture to write (required): .svg, .png,\n"
    "                           .pdf, or .dot/.gv for DOT text\n"
    "  --shapes                 label every edge with its dtype and shape (off by\n"
    "                           default: edge labels double a large layout)\n"
    "  --max-nodes N            draw at most N nodes, in graph order (default\n"
    "                           500); a note in the picture and on stderr says\n"
    "                           how many were left out\n"
    "  --gradient               draw the gradient graph instead (as\n"
    "                           'onnxgrad gradient-graph' builds it): forward\n"
    "                           nodes, backward nodes and the fan-in sums that add\n"
    "                           up the gradients of a value used twice, coloured\n"
    "                           apart\n"
    "  --loss NAME              with --gradient: the scalar output to differentiate\n"
    "  --seed-inputs NAME,...   with --gradient: outputs seeded by graph inputs\n"
    "  --wrt NAME,...           with --gradient: the tensors differentiated with\n"
    "                           respect to (default: every float input and\n"
    "                           initializer)\n"
    "  --allow-unused           with --gradient: a --wrt tensor no output depends\n"
    "                           on gets a zero gradient\n"
    "  --training               draw the model's training algorithms\n"
    "                           (TrainingInfoProto): their nodes, the main-graph\n"
    "                           values they read, and each update binding as a red\n"
    "                           dashed edge back to the initializer it updates\n"
    "  --threads N              accepted by every command\n"
    "  -h, --help               show this help\n";

/* ---- colours (also the legend) ------------------------------------------ */

#define COL_FORWARD "#cfe2f3"
#define COL_BACKWARD "#f9cb9c"
#define COL_FANIN "#b6d7a8"
#define COL_ALGORITHM "#d9c6e9"
#define COL_INPUT "#fff2cc"
#define COL_INIT "#e6e6e6"
#define COL_OUTPUT "#ffe599"
#define COL_EXTERN "#ffffff"

typedef enum node_kind { K_FORWARD, K_BACKWARD, K_FANIN, K_ALGORITHM } node_kind;

static const char *const KIND_COLOUR[] = { COL_FORWARD, COL_BACKWARD, COL_FANIN, COL_ALGORITHM };

/* ---- options -------------------------------------------------------------- */

enum { O_OUTPUT, O_SHAPES, O_MAX_NODES, O_GRADIENT, O_LOSS, O_SEED_INPUTS, O_WRT, O_ALLOW_UNUSED, O_TRAINING };

static const cli_option DOT_OPTS[] = {
    { "output", 'o', true, O_OUTPUT, NULL },
    { "shapes", 0, false, O_SHAPES, NULL },
    { "max-nodes", 0, true, O_MAX_NODES, NULL },
    { "gradient", 0, false, O_GRADIENT, NULL },
    { "loss", 0, true, O_LOSS, NULL },
    { "seed-inputs", 0, true, O_SEED_INPUTS, NULL },
    { "wrt", 0, true, O_WRT, NULL },
    { "allow-unused", 0, false, O_ALLOW_UNUSED, NULL },
    { "training", 0, false, O_TRAINING, NULL },
    { NULL, 0, false, 0, NULL },
};


typedef struct dot_args {
    const char *out, *loss;
    bool shapes, gradient, training, allow_unused;
    long max_nodes;
    cli_names seeded, wrt;
} dot_args;

static int take_dot(void *user, int id, const char *opt, char *v)
{
    dot_args *a = user;
    switch (id) {
    case O_OUTPUT:
        a->out = v;
        break;
    case O_SHAPES:
        a->shapes = true;
        break;
    case O_MAX_NODES:
        return cli_parse_count("dot", opt, v, 1, 100000000, &a->max_nodes);
    case O_GRADIENT:
        a->gradient = true;
        break;
    case O_LOSS:
        if (a->loss)
            return cli_usage_error("dot", "--loss given twice");
        a->loss = v;
        break;
    case O_SEED_INPUTS:
        return cli_names_split("dot", opt, v, &a->seeded);
    case O_WRT:
        return cli_names_split("dot", opt, v, &a->wrt);
    case O_ALLOW_UNUSED:
        a->allow_unused = true;
        break;
    case O_TRAINING:
        a->training = true;
        break;
    }
    return EXIT_OK;
}

/* ---- a string -> int map (value names; graphs may be large) -------------- */

typedef struct smap {
    const char **key;
    int *val;
    size_t cap, n;
} smap;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void smap_free(smap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static int smap_put(smap *m, const char *key, int val);

static int smap_grow(smap *m)
{
    smap old = *m;
    size_t cap = old.cap ? 2 * old.cap : 64;
    m->key = calloc(cap, sizeof *m->key);
    m->val = calloc(cap, sizeof *m->val);
    m->cap = cap;
    m->n = 0;
    if (!m->key || !m->val) {
        free(m->key);
        free(m->val);
        *m = old;
        return cli_fail("out of memory");
    }
    for (size_t k = 0; k < old.cap; k++)
        if (old.key[k])
            smap_put(m, old.key[k], old.val[k]);
    smap_free(&old);
    return EXIT_OK;
}

/* Sets key (borrowed) to val; a key already there keeps its first value. */
static int smap_put(smap *m, const char *key, int val)
{
    if (!key || !*key)
        return EXIT_OK;
    if (2 * (m->n + 1) > m->cap && smap_grow(m))
        return EXIT_FAIL;
    for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) {
            m->key[i] = key;
            m->val[i] = val;
            m->n++;
            return EXIT_OK;
        }
        if (!strcmp(m->key[i], key))
            return EXIT_OK;
    }
}

/* The value of key, or -1. */
static int smap_get(const smap *m, const char *key)
{
    if (!m->cap || !key)
        return -1;
    for (size_t i = hash_str(key) & (m->cap - 1); m->key[i]; i = (i + 1) & (m->cap - 1))
        if (!strcmp(m->key[i], key))
            return m->val[i];
    return -1;
}

/* ---- DOT text -------------------------------------------------------------- */

/* Writes s as the inside of a DOT quoted string: quotes and backslashes
 * escaped, control characters as spaces, bytes that are not well-formed
 * UTF-8 as '?' (Graphviz reads UTF-8 and warns on anything else), at most
 * max bytes (then "..."; 0: no limit). */
static void put_text(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s), k = 0;
    if (max && n > max)
        n = max;
    while (k < n) {
        unsigned char c = (unsigned char)s[k];
        int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && k + (size_t)len <= n && !(len == 2 && c < 0xC2);
        for (int j = 1; ok && j < len; j++)
            ok = ((unsigned char)s[k + (size_t)j] & 0xC0) == 0x80;
        if (!ok) {
            fputc('?', f);
            k++;
            continue;
        }
        if (len > 1) {
            fwrite(s + k, 1, (size_t)len, f);
        } else if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else {
            fputc(c < 0x20 || c == 0x7F ? ' ' : c, f);
        }
        k += (size_t)len;
    }
    if (max && strlen(s) > max)
        fputs("...", f);
}

static void put_dims(FILE *f, const og_value_info *vi)
{
    if (vi->rank < 0) {
        fputs("[?...]", f);
        return;
    }
    fputc('[', f);
    for (int d = 0; d < vi->rank; d++) {
        if (d)
            fputc(',', f);
        if (vi->dim_params && vi->dim_params[d])
            put_text(f, vi->dim_params[d], 12);
        else if (vi->dims[d] < 0)
            fputc('?', f);
        else
            fprintf(f, "%" PRId64, vi->dims[d]);
    }
    fputc(']', f);
}

/* One attribute as "name=value", or nothing for kinds not worth a label
 * (graphs, sparse tensors, long lists). Returns whether it wrote. */
static bool put_attr(FILE *f, const og_attr *a)
{
    switch (a->type) {
    case OG_ATTR_INT:
        fprintf(f, "%s=%" PRId64, a->name, a->i);
        return true;
    case OG_ATTR_FLOAT:
        fprintf(f, "%s=%g", a->name, (double)a->f);
        return true;
    case OG_ATTR_STRING:
        fprintf(f, "%s=", a->name);
        put_text(f, a->s ? a->s : "", 16);
        return true;
    case OG_ATTR_INTS:
    case OG_ATTR_FLOATS:
        if (a->count > 8)
            return false;
        fprintf(f, "%s=[", a->name);
        for (int64_t k = 0; k < a->count; k++) {
            if (k)
                fputc(',', f);
            if (a->type == OG_ATTR_INTS)
                fprintf(f, "%" PRId64, a->ints[k]);
            else
                fprintf(f, "%g", (double)a->floats[k]);
        }
        fputc(']', f);
        return true;
    case OG_ATTR_TENSOR:
        if (!a->t)
            return false;
        fprintf(f, "%s=%s[", a->name, og_dtype_name(a->t->dtype));
        for (int d = 0; d < a->t->rank; d++)
            fprintf(f, d ? ",%" PRId64 : "%" PRId64, a->t->dims[d]);
        fputc(']', f);
        return true;
    default:
        return false;
    }
}

/* ---- drawing --------------------------------------------------------------- */

/* What a drawing of one graph needs. The DOT ids: "<p>n<k>" node k,
 * "<p>i<k>" input k, "<p>w<k>" initializer k, "<p>o<k>" output k, "<p>x<k>"
 * a value of `outer` (the main graph of a training algorithm). */
typedef struct drawing {
    FILE *f;
    const og_graph *g, *outer;
    const char *prefix;          /* "" or "t<k>" for training info k */
    bool shapes;
    int n_fwd;                   /* gradient graphs: the forward nodes; else -1 (no gradient) */
    bool training;               /* every node is an algorithm node */
    int n_draw;                  /* nodes drawn: 0..n_draw-1 */
    smap producer, input, init;  /* value name -> node / input / initializer index */
    smap outer_input, outer_init;
    bool *drawn_in, *drawn_init, *drawn_outer_in, *drawn_outer_init;
    smap ext;                    /* values of outer drawn as such -> id */
    int n_ext;
    int counts[4];               /* nodes drawn of each kind */
} drawing;

static void drawing_free(drawing *d)
{
    smap_free(&d->producer);
    smap_free(&d->input);
    smap_free(&d->init);
    smap_free(&d->outer_input);
    smap_free(&d->outer_init);
    smap_free(&d->ext);
    free(d->drawn_in);
    free(d->drawn_init);
    free(d->drawn_outer_in);
    free(d->drawn_outer_init);
}

static int map_values(const og_graph *g, smap *inputs, smap *inits, bool **drawn_in, bool **drawn_init)
{
    int ni = og_graph_num_inputs(g), nw = og_graph_num_initializers(g);
    *drawn_in = calloc((size_t)ni + 1, 1);
    *drawn_init = calloc((size_t)nw + 1, 1);
    if (!*drawn_in || !*drawn_init)
        return cli_fail("out of memory");
    for (int k = 0; k < ni; k++) {
        og_value_info vi;
        if (og_graph_input(g, k, &vi) == OG_OK && smap_put(inputs, vi.name, k))
            return EXIT_FAIL;
    }
    for (int k = 0; k < nw; k++) {
        const og_tensor *t;
        const char *name = NULL;
        /* og_graph_initializer's tensor may be unnamed: its value's name is
         * the initializer's (read back through the value lookup). */
        if (og_graph_initializer(g, k, &t) == OG_OK)
            name = t->name;
        if (name && smap_put(inits, name, k))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

static node_kind kind_of(const drawing *d, int k, const char *name)
{
    if (d->training)
        return K_ALGORITHM;
    if (d->n_fwd < 0 || k < d->n_fwd)
        return K_FORWARD;
    const char *last = name ? strrchr(name, '/') : NULL;
    return last && !strncmp(last + 1, "fanin_", 6) ? K_FANIN : K_BACKWARD;
}

static void put_value_label(FILE *f, const og_value_info *vi)
{
    put_text(f, vi->name ? vi->name : "", 40);
    fprintf(f, "\\n%s ", og_dtype_name(vi->dtype));
    put_dims(f, vi);
}

static void put_tensor_label(FILE *f, const og_tensor *t)
{
    put_text(f, t->name ? t->name : "", 40);
    fprintf(f, "\\n%s [", og_dtype_name(t->dtype));
    for (int k = 0; k < t->rank; k++)
        fprintf(f, k ? ",%" PRId64 : "%" PRId64, t->dims[k]);
    fputc(']', f);
}

/* The DOT id of the node a value comes from, drawing an input,
 * initializer or outer value node the first time; NULL when its producer is
 * not drawn (cut by --max-nodes). */
static const char *source_id(drawing *d, const char *value, char *buf, size_t size)
{
    int k = smap_get(&d->producer, value);
    if (k >= 0) {
        if (k >= d->n_draw)
            return NULL;
        snprintf(buf, size, "%sn%d", d->prefix, k);
        return buf;
    }
    if ((k = smap_get(&d->input, value)) >= 0) {
        snprintf(buf, size, "%si%d", d->prefix, k);
        if (!d->drawn_in[k]) {
            og_value_info vi;
            d->drawn_in[k] = true;
            if (og_graph_input(d->g, k, &vi) == OG_OK) {
                fprintf(d->f, "  \"%s\" [shape=ellipse, fillcolor=\"" COL_INPUT "\", label=\"", buf);
                put_value_label(d->f, &vi);
                fputs("\"];\n", d->f);
            }
        }
        return buf;
    }
    if ((k = smap_get(&d->init, value)) >= 0) {
        snprintf(buf, size, "%sw%d", d->prefix, k);
        if (!d->drawn_init[k]) {
            const og_tensor *t;
            d->drawn_init[k] = true;
            if (og_graph_initializer(d->g, k, &t) == OG_OK) {
                fprintf(d->f, "  \"%s\" [shape=cylinder, fillcolor=\"" COL_INIT "\", label=\"", buf);
                put_tensor_label(d->f, t);
                fputs("\"];\n", d->f);
            }
        }
        return buf;
    }
    if (!d->outer)
        return NULL;
    /* A training algorithm reads the main graph's inputs, initializers and
     * node outputs by name: those are drawn once, shared by every training
     * info (prefix ""). */
    if ((k = smap_get(&d->outer_init, value)) >= 0) {
        snprintf(buf, size, "w%d", k);
        if (!d->drawn_outer_init[k]) {
            const og_tensor *t;
            d->drawn_outer_init[k] = true;
            if (og_graph_initializer(d->outer, k, &t) == OG_OK) {
                fprintf(d->f, "  \"%s\" [shape=cylinder, fillcolor=\"" COL_INIT "\", label=\"", buf);
                put_tensor_label(d->f, t);
                fputs("\"];\n", d->f);
            }
        }
        return buf;
    }
    if ((k = smap_get(&d->outer_input, value)) >= 0) {
        snprintf(buf, size, "i%d", k);
        if (!d->drawn_outer_in[k]) {
            og_value_info vi;
            d->drawn_outer_in[k] = true;
            if (og_graph_input(d->outer, k, &vi) == OG_OK) {
                fprintf(d->f, "  \"%s\" [shape=ellipse, fillcolor=\"" COL_INPUT "\", label=\"", buf);
                put_value_label(d->f, &vi);
                fputs("\"];\n", d->f);
            }
        }
        return buf;
    }
    if ((k = smap_get(&d->ext, value)) < 0) {
        k = d->n_ext++;
        if (smap_put(&d->ext, value, k))
            return NULL;
        fprintf(d->f, "  \"%sx%d\" [shape=ellipse, style=\"dashed,filled\", fillcolor=\"" COL_EXTERN "\", label=\"",
                d->prefix, k);
        put_text(d->f, value, 40);
        fputs("\\n(main graph)\"];\n", d->f);
    }
    snprintf(buf, size, "%sx%d", d->prefix, k);
    return buf;
}

static void put_edge_label(drawing *d, const char *value)
{
    og_value_info vi;
    if (!d->shapes)
        return;
    if (og_graph_value(d->g, value, &vi) != OG_OK || (vi.dtype == OG_UNDEFINED && vi.rank < 0)) {
        if (!d->outer || og_graph_value(d->outer, value, &vi) != OG_OK)
            return;
    }
    fprintf(d->f, " [label=\"%s ", og_dtype_name(vi.dtype));
    put_dims(d->f, &vi);
    fputs("\"]", d->f);
}

static void put_node(drawing *d, int k, const char *op, const char *name, int n_attrs)
{
    node_kind kind = kind_of(d, k, name);
    d->counts[kind]++;
    fprintf(d->f, "  \"%sn%d\" [fillcolor=\"%s\", label=\"", d->prefix, k, KIND_COLOUR[kind]);
    put_text(d->f, op, 40);
    if (name && *name) {
        fputs("\\n", d->f);
        put_text(d->f, name, 40);
    }
    /* At most four short attributes, two to a line. */
    int shown = 0;
    for (int j = 0; j < n_attrs && shown < 4; j++) {
        og_attr a;
        if (og_graph_node_attr(d->g, k, j, &a) != OG_OK)
            continue;
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m)
            continue;
        bool wrote = put_attr(m, &a);
        fclose(m);
        if (wrote && len <= 40) {
            fputs(shown % 2 ? ", " : "\\n", d->f);
            put_text(d->f, text, 0);
            shown++;
        }
        free(text);
    }
    fputs("\"];\n", d->f);
}

/* Draws d->g's first d->n_draw nodes, their edges and the graph outputs
 * they produce. */
static int draw_graph(drawing *d)
{
    const og_graph *g = d->g;
    int n = og_graph_num_nodes(g);
    if (map_values(g, &d->input, &d->init, &d->drawn_in, &d->drawn_init))
        return EXIT_FAIL;
    if (d->outer && map_values(d->outer, &d->outer_input, &d->outer_init, &d->drawn_outer_in, &d->drawn_outer_init))
        return EXIT_FAIL;
    for (int k = 0; k < n; k++) {
        int n_out = 0;
        og_graph_node_io(g, k, NULL, &n_out, NULL);
        for (int j = 0; j < n_out; j++)
            if (smap_put(&d->producer, og_graph_node_output(g, k, j), k))
                return EXIT_FAIL;
    }
    for (int k = 0; k < d->n_draw; k++) {
        const char *op, *name;
        int n_in = 0, n_attrs = 0;
        og_status st = og_graph_node(g, k, &op, &name);
        if (!st)
            st = og_graph_node_io(g, k, &n_in, NULL, &n_attrs);
        if (st)
            return cli_fail_og(st);
        put_node(d, k, op, name, n_attrs);
        for (int j = 0; j < n_in; j++) {
            const char *v = og_graph_node_input(g, k, j);
            char buf[64];
            const char *src = v && *v ? source_id(d, v, buf, sizeof buf) : NULL;
            if (!src)
                continue;
            fprintf(d->f, "  \"%s\" -> \"%sn%d\"", src, d->prefix, k);
            put_edge_label(d, v);
            fputs(";\n", d->f);
        }
    }
    for (int k = 0; k < og_graph_num_outputs(g); k++) {
        og_value_info vi;
        char buf[64];
        if (og_graph_output(g, k, &vi) != OG_OK)
            continue;
        const char *src = source_id(d, vi.name, buf, sizeof buf);
        if (!src)
            continue;
        fprintf(d->f, "  \"%so%d\" [shape=ellipse, peripheries=2, fillcolor=\"" COL_OUTPUT "\", label=\"", d->prefix, k);
        put_value_label(d->f, &vi);
        fprintf(d->f, "\"];\n  \"%s\" -> \"%so%d\"", src, d->prefix, k);
        put_edge_label(d, vi.name);
        fputs(";\n", d->f);
    }
    return EXIT_OK;
}

static void put_legend(FILE *f, bool gradient, bool training)
{
    fputs("  subgraph cluster_legend {\n    label=\"legend\"; fontsize=10; color=\"#999999\";\n", f);
    struct { const char *id, *label, *shape, *colour; bool show; } items[] = {
        { "legend_forward", gradient ? "forward op" : "op", "box", COL_FORWARD, !training },
        { "legend_backward", "backward op", "box", COL_BACKWARD, gradient },
        { "legend_fanin", "fan-in sum", "box", COL_FANIN, gradient },
        { "legend_algorithm", "training algorithm op", "box", COL_ALGORITHM, training },
        { "legend_input", "graph input", "ellipse", COL_INPUT, true },
        { "legend_init", "initializer", "cylinder", COL_INIT, true },
        { "legend_output", "graph output", "ellipse", COL_OUTPUT, true },
    };
    const char *prev = NULL;
    for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
        if (!items[k].show)
            continue;
        fprintf(f, "    \"%s\" [shape=%s, fillcolor=\"%s\", label=\"%s\"%s];\n", items[k].id, items[k].shape,
                items[k].colour, items[k].label, !strcmp(items[k].id, "legend_output") ? ", peripheries=2" : "");
        if (prev)
            fprintf(f, "    \"%s\" -> \"%s\" [style=invis];\n", prev, items[k].id);
        prev = items[k].id;
    }
    if (training)
        fputs("    \"legend_u0\" [shape=point, width=0.05]; \"legend_u1\" [shape=point, width=0.05];\n"
              "    \"legend_u0\" -> \"legend_u1\" [color=red, style=dashed, label=\"update binding\", fontcolor=red];\n",
              f);
    fputs("  }\n", f);
}

/* ---- the command ---------------------------------------------------------- */

static const char *ext_of(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

/* Writes the DOT text or the rendered picture to path. */
static int write_output(const char *path, const char *fmt, const char *text, size_t len)
{
    if (!strcmp(fmt, "dot")) {
        FILE *f = fopen(path, "wb");
        if (!f)
            return cli_fail("cannot write %s: %s", path, strerror(errno));
        size_t w = fwrite(text, 1, len, f);
        if (fclose(f) != 0 || w != len)
            return cli_fail("cannot write %s: %s", path, strerror(errno));
        return EXIT_OK;
    }
#ifdef OG_HAVE_GRAPHVIZ
    /* Graphviz reports through agerr; its messages (one line kept) become
     * our failure line. */
    agseterr(AGMAX);
    GVC_t *gvc = gvContext();
    if (!gvc)
        return cli_fail("Graphviz: cannot create a context");
    Agraph_t *G = agmemread(text);
    int rc = EXIT_OK;
    char *data = NULL;
    unsigned int n = 0;
    if (!G)
        rc = cli_fail("Graphviz could not read the DOT text of the graph: %s", aglasterr() ? aglasterr() : "");
    else if (gvLayout(gvc, G, "dot") != 0)
        rc = cli_fail("Graphviz could not lay the graph out: %s", aglasterr() ? aglasterr() : "");
    else if (gvRenderData(gvc, G, fmt, &data, &n) != 0 || !data)
        rc = cli_fail("Graphviz could not render %s (format %s; is its plugin installed?)", path, fmt);
    if (!rc) {
        FILE *f = fopen(path, "wb");
        if (!f)
            rc = cli_fail("cannot write %s: %s", path, strerror(errno));
        else if (fwrite(data, 1, n, f) != n || fclose(f) != 0)
            rc = cli_fail("cannot write %s: %s", path, strerror(errno));
    }
    if (data)
        gvFreeRenderData(data);
    if (G) {
        gvFreeLayout(gvc, G);
        agclose(G);
    }
    gvFreeContext(gvc);
    return rc;
#else
    (void)len;
    return cli_fail("this onnxgrad was built without Graphviz (libcgraph, libgvc); write .dot and render it with "
                    "'dot -T%s', or rebuild with libgraphviz-dev installed", fmt);
#endif
}

static int draw(const dot_args *a, const char *model, const char *fmt)
{
    og_load_options lo = OG_LOAD_OPTIONS_INIT;
    lo.unfinalized = true;
    og_graph *g = NULL, *gg = NULL;
    og_status st = og_model_load_file_ex(model, &lo, &g);
    if (st)
        return cli_fail_og(st);
    int rc = EXIT_OK;
    if ((st = og_graph_finalize(g))) {
        if (a->gradient) {
            rc = cli_fail_og_in(model, st);
            goto done;
        }
        cli_note("%s: onnxgrad cannot run this model, drawn as stored: %s", model, og_errmsg());
    }
    if (a->gradient) {
        og_grad_options o = { .loss = a->loss, .n_seeded = a->seeded.n, .seeded = a->seeded.v,
                              .n_wrt = a->wrt.n, .wrt = a->wrt.v, .allow_unused = a->allow_unused };
        if ((st = og_graph_build_gradient(g, &o, &gg))) {
            rc = cli_fail_og_in(model, st);
            goto done;
        }
    }
    int n_ti = og_graph_num_training_infos(g);
    if (a->training && n_ti == 0) {
        rc = cli_fail("%s has no training info (TrainingInfoProto) to draw", model);
        goto done;
    }

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        rc = cli_fail("out of memory");
        goto done;
    }
    fputs("digraph onnx {\n"
          "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=11, labelloc=b];\n"
          "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
          "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n", f);
    int total = 0, drawn = 0, counts[4] = { 0 };
    long budget = a->max_nodes;
    const og_graph *shown = gg ? gg : g;
    for (int t = 0; rc == EXIT_OK && t < (a->training ? n_ti : 1); t++) {
        drawing d = { .f = f, .g = shown, .prefix = "", .shapes = a->shapes, .n_fwd = gg ? og_graph_num_nodes(g) : -1 };
        char prefix[32];
        og_training_info ti;
        if (a->training) {
            if ((st = og_graph_get_training_info(g, t, &ti))) {
                rc = cli_fail_og(st);
                break;
            }
            snprintf(prefix, sizeof prefix, "t%d", t);
            d.g = ti.algorithm;
            d.outer = g;
            d.prefix = prefix;
            d.training = true;
            fprintf(f, "  subgraph cluster_%s {\n  label=\"training_info[%d]: algorithm\"; color=\"#8e7cc3\";\n",
                    prefix, t);
        }
        int n = og_graph_num_nodes(d.g);
        d.n_draw = n < budget ? n : (int)budget;
        budget -= d.n_draw;
        total += n;
        drawn += d.n_draw;
        rc = draw_graph(&d);
        if (a->training) {
            fputs("  }\n", f);
            /* The update bindings: value -> the initializer it is stored into. */
            for (int b = 0; rc == EXIT_OK && b < ti.n_update_bindings; b++) {
                char kb[64], vb[64];
                const char *key = source_id(&d, ti.update_bindings[b].key, kb, sizeof kb);
                const char *val = source_id(&d, ti.update_bindings[b].value, vb, sizeof vb);
                if (key && val)
                    fprintf(f, "  \"%s\" -> \"%s\" [color=red, fontcolor=red, style=dashed, constraint=false, "
                            "label=\"update\"];\n", val, key);
            }
        }
        for (int k = 0; k < 4; k++)
            counts[k] += d.counts[k];
        drawing_free(&d);
    }
    put_legend(f, gg != NULL, a->training);
    if (drawn < total) {
        fprintf(f, "  label=\"%d of %d nodes drawn (--max-nodes %ld): %d left out\";\n", drawn, total, a->max_nodes,
                total - drawn);
        cli_note("%d of %d nodes drawn (--max-nodes %ld): %d left out", drawn, total, a->max_nodes, total - drawn);
    }
    fputs("}\n", f);
    if (fclose(f) != 0 && rc == EXIT_OK)
        rc = cli_fail("out of memory");
    if (rc == EXIT_OK)
        rc = write_output(a->out, fmt, text, len);
    free(text);
done:
    og_graph_free(gg);
    og_graph_free(g);
    return rc;
}

int cmd_dot(int argc, char **argv)
{
    static const cli_command c = { "dot", HELP_DOT, DOT_OPTS, 1, 1, "missing the model" };
    dot_args a = { .max_nodes = 500 };
    char **args;
    int n_args;
    bool help;
    int rc = cli_parse(&c, argc, argv, take_dot, &a, &args, &n_args, &help);
    if (rc || help)
        goto done;
    const char *ext = a.out ? ext_of(a.out) : "";
    const char *fmt = !strcmp(ext, "gv") ? "dot" : ext;
    bool any_grad_opt = a.loss || a.seeded.n || a.wrt.n || a.allow_unused;
    if (!a.out)
        rc = cli_usage_error("dot", "missing -o graph.svg|.png|.pdf|.dot");
    else if (strcmp(fmt, "svg") && strcmp(fmt, "png") && strcmp(fmt, "pdf") && strcmp(fmt, "dot"))
        rc = cli_usage_error("dot", "-o %s: the extension must be .svg, .png, .pdf, .dot or .gv", a.out);
    else if (a.gradient && a.training)
        rc = cli_usage_error("dot", "--gradient and --training draw different graphs; give one");
    else if (any_grad_opt && !a.gradient)
        rc = cli_usage_error("dot", "--loss, --seed-inputs, --wrt and --allow-unused need --gradient");
    else if (a.gradient && a.loss && a.seeded.n > 0)
        rc = cli_usage_error("dot", "--loss cannot be combined with --seed-inputs");
    else if (a.gradient && !a.loss && a.seeded.n == 0)
        rc = cli_usage_error("dot", "--gradient: name what to differentiate: --loss NAME or --seed-inputs NAME,...");
    if (!rc)
        rc = draw(&a, args[0], fmt);
done:
    free(a.seeded.v);
    free(a.wrt.v);
    return rc;
}
