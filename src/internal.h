/* SPDX-License-Identifier: MIT */
/* internal.h — the engine's private contracts: allocation, errors, graph IR,
 * op descriptors and the calls an op's infer/run functions receive.
 * Not installed; ops/ and src/ include it, users never do. */
#ifndef ONNXGRAD_INTERNAL_H
#define ONNXGRAD_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onnxgrad/onnxgrad.h"

/* ---- allocation (src/alloc.c): every byte goes through the hook -------- */
void *og_malloc(size_t n);
void *og_calloc(size_t count, size_t size);   /* overflow-checked, zeroed */
void *og_realloc(void *p, size_t n);
char *og_strdup(const char *s);               /* NULL in -> NULL out */
/* Grows *arr (elements of elem_size) so index `need-1` fits; doubles. */
og_status og_grow(void **arr, int *cap, int need, size_t elem_size);
/* Allocations that failed so far in this thread (see alloc.c). */
unsigned long og_alloc_failures(void);

/* Parse-memory budget of the calling thread: between begin and end, every
 * allocation request counts against `bytes` and one that does not fit
 * fails (returns NULL) as if out of memory. grant() adds to it (external
 * data, whose size the file does not bound). end() says whether any
 * request was refused, so the caller can report OG_ERR_LIMIT. */
void og_alloc_budget_begin(size_t bytes);
void og_alloc_budget_grant(size_t bytes);
bool og_alloc_budget_end(void);

/* The current value of a limit (onnxgrad/limits.h), read atomically. */
int64_t og_limit_get(og_limit_id id);
/* What a limit's message ends with: the limit's name and how to raise it,
 * from the CLI, the environment or C (string literals, for a format). */
#define OG_LIMIT_HINT(kebab, NAME)                                                                   \
    "(" kebab "); raise it with --limit " kebab "=N or OG_LIMIT_" NAME "=N (og_limit(OG_LIMIT_" NAME \
    ", N) in C)"
/* OG_ERR_LIMIT, with a message starting "<what>: ", when a tensor's rank
 * or element count is over OG_LIMIT_RANK / OG_LIMIT_TENSOR_ELEMENTS. */
og_status og_check_rank_limit(int rank, const char *what);
og_status og_check_numel_limit(int64_t numel, const char *what);
/* The hook as a protobuf-c allocator (its allocator_data is unused). */
struct ProtobufCAllocator;
struct ProtobufCAllocator *og_protobuf_allocator(void);

/* ---- errors (src/status.c) ----------------------------------------------
 * og_err records code + message for og_errmsg() and returns the code, so:
 *     return og_err(OG_ERR_SHAPE, "node '%s' (Conv): X has rank %d, expected >= 3", ...);
 * og_err_prefix prepends context ("model.onnx: ") to the current message
 * and returns the current code. */
og_status og_err(og_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
og_status og_err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Raises a warning (og_set_warning_handler): kept on g when g is not NULL
 * (at most OG_MAX_WARNINGS per graph), and passed to the handler. */
#define OG_MAX_WARNINGS 256
struct og_graph;
void og_warn(struct og_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* og_err with the "node '<name>' (<OpType>): " prefix every node message
 * starts with. */
struct og_node;
og_status og_node_err(const struct og_node *node, og_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void og_err_clear(void);

/* ---- a set of borrowed strings (src/strset.c): linear duplicate checks -- */
typedef struct og_strset { const char **slots; size_t cap, n; } og_strset;
/* Adds `key` (not copied: it must outlive the set) unless present. */
og_status og_strset_add(og_strset *set, const char *key, bool *was_present);
const char *og_strset_get(const og_strset *set, const char *key);   /* the stored key, or NULL */
void og_strset_clear(og_strset *set);

/* ---- checked integer arithmetic ----------------------------------------- */
static inline bool og_mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool og_add_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }

/* ---- shapes ------------------------------------------------------------- */
typedef struct og_shape {
    int rank;                    /* -1: unknown rank */
    int64_t dims[OG_MAX_RANK];   /* -1: unknown dim */
} og_shape;

/* Type and shape of one value, as inference sees it. */
typedef struct og_tinfo {
    og_dtype dtype;              /* OG_UNDEFINED: unknown */
    og_shape shape;
} og_tinfo;

/* "[2,3,?]" into buf; returns buf. */
const char *og_shape_str(const og_shape *s, char *buf, size_t size);
#define OG_SHAPE_STR_MAX 400
bool og_shape_known(const og_shape *s);   /* rank and every dim known */

/* ---- graph IR (src/graph.c) -------------------------------------------- */
typedef struct og_ir_attr {
    char *name;
    og_attr_type type;
    float f;
    int64_t i;
    char *s;              /* STRING: NUL-terminated copy */
    size_t s_len;         /* STRING: bytes, excluding the NUL */
    float *floats;        /* FLOATS */
    int64_t *ints;        /* INTS */
    char **strings;       /* STRINGS */
    int64_t count;        /* elements of floats/ints/strings */
    og_tensor *t;         /* TENSOR */
    char *doc_string;
} og_ir_attr;

/* A value's type is stored compactly (a graph may hold millions of
 * values): dims of rank <= OG_VALUE_INLINE_RANK live in the struct, larger
 * ones in an owned array. Read and write it with og_value_get/og_value_set. */
#define OG_VALUE_INLINE_RANK 4

typedef struct og_value {
    char *name;
    og_dtype dtype;                     /* declared or inferred; OG_UNDEFINED: unknown */
    int rank;                           /* -1: unknown */
    int64_t small_dims[OG_VALUE_INLINE_RANK]; /* dims when rank <= OG_VALUE_INLINE_RANK */
    int64_t *big_dims;                  /* owned; dims when rank > OG_VALUE_INLINE_RANK */
    char **dim_param;                   /* NULL, or OG_MAX_RANK symbolic dim names (owned, may be NULL) */
    uint32_t dim_param_inferred;        /* bit k: dim_param[k] was set by og_infer_symbols, not declared */
    int producer;                       /* node index; -1 for graph inputs/initializers */
    int producer_slot;                  /* output slot in the producer */
    og_tensor *initializer;             /* owned; NULL if not an initializer */
    og_tensor *folded;                  /* owned; the value when finalize could compute it from
                                         * constants (small int64 data such as shapes), else NULL */
    bool is_input;                      /* declared in graph.input */
    bool is_output;                     /* listed in graph.output */
    bool declared;                      /* type/shape came from the model (input/value_info/output) */
    char *doc_string;
} og_value;

struct og_op;
typedef struct og_node {
    char *name;                 /* never NULL; for an unnamed node a label "#<index>-><first output>"
                                 * so messages can point at it (saved as "") */
    bool unnamed;
    const char *op_type;        /* interned: owned by the graph (og_graph.interned) */
    const char *domain;         /* interned; "" for the default domain */
    char *doc_string;
    int n_inputs;
    int *inputs;                /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;               /* value indices; -1 for an unwanted output */
    int n_attrs;
    og_ir_attr *attrs;
    /* set by og_graph_finalize: */
    const struct og_op *op;
    int opset;                  /* version of the node's domain imported by the model */
    void *params;               /* op->params_size bytes, parsed from attrs */
} og_node;

typedef struct og_opset_id { char *domain; int64_t version; } og_opset_id;
typedef struct og_kv { char *key; char *value; } og_kv;

struct og_graph {
    int64_t ir_version;
    char *producer_name, *producer_version, *model_domain, *model_doc;
    int64_t model_version;
    char *graph_name, *graph_doc;
    og_opset_id *opsets; int n_opsets, cap_opsets;
    og_kv *meta; int n_meta, cap_meta;
    og_strset opset_domains, meta_keys;  /* borrow opsets[].domain, meta[].key */
    char **interned; int n_interned, cap_interned;  /* one copy of each op type and node domain */
    og_strset interned_set;             /* borrows interned[] */
    og_value *values; int n_values, cap_values;
    int *hash; int hash_cap;            /* open addressing, value index + 1, 0 = empty */
    og_node *nodes; int n_nodes, cap_nodes;
    int *inputs; int n_inputs, cap_inputs;       /* value indices, graph.input order */
    int *inits; int n_inits, cap_inits;          /* value indices, initializer order */
    int *outputs; int n_outputs, cap_outputs;    /* value indices */
    int *order;                                  /* topological node order (finalized) */
    bool finalized;
    char **warnings; int n_warnings, cap_warnings;   /* raised by finalize (og_warn) */
    struct og_training_set *training;   /* ModelProto.training_info; NULL when none (src/training_info.c) */
};

/* ---- training infos (src/training_info.c) -------------------------------- */
typedef struct og_training_rec {
    og_graph *init, *alg;                /* owned, not finalized; init NULL when absent */
    og_binding *ib, *ub; int n_ib, n_ub; /* owned strings */
} og_training_rec;
typedef struct og_training_set {
    og_training_rec *recs; int n, cap;
    og_strset ukeys;    /* every update key (borrows recs[].ub[].key), rebuilt when !ukeys_valid */
    bool ukeys_valid;
} og_training_set;
void og_training_free_all(og_graph *g);
/* og_graph_add_training_info without the copies: takes ownership of init
 * (may be NULL) and alg, which are freed on failure. Errors name the
 * binding or value prefixed by `where` ("training_info[0]"). The loader's
 * path: unlike the builder, an algorithm initializer that g also has is an
 * error (a file must not hold two tensors of one name). */
og_status og_training_adopt(og_graph *g, og_graph *init, og_graph *alg, int n_ib, const og_binding *ib, int n_ub,
                            const og_binding *ub, const char *where);
/* Copies src's training infos into dst (whose initializers must be there),
 * converting float to double when to_double. */
og_status og_training_copy(og_graph *dst, const og_graph *src, bool to_double);

/* Index of the value named `name`, or -1. */
/* og_graph_add_initializer without the copy: takes ownership of t, which
 * is freed on failure. */
og_status og_graph_adopt_initializer(og_graph *g, const char *name, og_tensor *t);
/* The value's type as inference sees it, and back. og_value_set may
 * allocate (OG_ERR_NOMEM). og_value_dims points into the value. */
void og_value_get(const og_value *v, og_tinfo *ti);
og_status og_value_set(og_value *v, const og_tinfo *ti);
static inline const int64_t *og_value_dims(const og_value *v)
{
    return v->rank > OG_VALUE_INLINE_RANK ? v->big_dims : v->small_dims;
}
int og_graph_find_value(const og_graph *g, const char *name);
/* Removes every graph output (the values stay), to list new ones. */
void og_graph_clear_outputs(og_graph *g);
/* Lowers ai.onnx.preview.training Gradient nodes (src/lower_gradient.c);
 * og_graph_finalize calls it first. */
og_status og_lower_gradient(og_graph *g);
/* The value's data when it is fixed before running: an initializer that is
 * not a graph input (those may be overridden), or what finalize folded. */
static inline const og_tensor *og_value_data(const og_value *v)
{
    return v->initializer && !v->is_input ? v->initializer : v->folded;
}
/* Index of the value named `name`, creating an empty one if needed. */
og_status og_graph_intern_value(og_graph *g, const char *name, int *index);
/* Deep copy of attributes into IR form and back out again. */
og_status og_ir_attr_copy(og_ir_attr *dst, const og_attr *src);
void og_ir_attr_clear(og_ir_attr *a);

/* ---- op descriptors (one file per op in ops/, registered in ops/ops.def) ----------------
 * Each op file ends in one `const og_op og_op_<name>` descriptor. The engine
 * parses a node's attributes against `attrs` once, into a zeroed params
 * struct of params_size bytes (fields at the given offsets):
 *   OG_ATTR_INT    -> int64_t           OG_ATTR_FLOAT  -> float
 *   OG_ATTR_STRING -> const char *      OG_ATTR_INTS   -> og_ints
 *   OG_ATTR_FLOATS -> og_floats         OG_ATTR_STRINGS -> og_strings
 *   OG_ATTR_TENSOR -> const og_tensor * (NULL when absent)
 * Pointers in params point into the node's attributes or at the spec's
 * default, and live as long as the node. */
typedef struct og_ints { int64_t n; const int64_t *v; bool present; } og_ints;
typedef struct og_floats { int64_t n; const float *v; bool present; } og_floats;
typedef struct og_strings { int64_t n; const char *const *v; bool present; } og_strings;

typedef struct og_attr_spec {
    const char *name;
    og_attr_type type;
    size_t offset;              /* offsetof(params struct, field) */
    bool required;
    int64_t def_i;              /* INT default */
    float def_f;                /* FLOAT default */
    const char *def_s;          /* STRING default */
    bool has_range;             /* INT: value must lie in [min_i, max_i] */
    int64_t min_i, max_i;
    int since_version;          /* first opset with the attribute (0: all) */
    int until_version;          /* last opset with the attribute (0: still there) */
    const char *const *choices; /* STRING: NULL-terminated list of allowed values, or NULL */
    bool track_present;         /* also store whether the node gave the attribute, as a */
    size_t present_offset;      /* bool at this offset (INT/FLOAT have no other tell) */
    bool to_input;              /* after until_version the value became an input (ReduceSum's
                                 * axes): a copy raised past it must not silently drop it */
} og_attr_spec;

#define OG_MAX_IO 16

/* What infer receives: input types/shapes (NULL for an omitted optional
 * input) and the outputs to fill (NULL for an unwanted output). At load time
 * dims may be unknown (-1); at run time they are all known. infer checks the
 * op's contract (dtypes, ranks, attribute lengths and values) and reports
 * violations naming the node, tensors, expected and got. When every input
 * shape is known it sets workspace_bytes to the scratch the kernel needs. */
typedef struct og_infer_call {
    const og_node *node;        /* node->name, node->op_type for messages */
    const void *params;
    int opset;
    int n_in;
    const og_tinfo *in[OG_MAX_IO];
    const char *in_names[OG_MAX_IO];
    /* Input data when known: at run time always; at load time for
     * initializers that cannot be overridden and values finalize folded
     * (Constant outputs, shapes). Ops whose output shape depends on an
     * input's data (Reshape, Slice, ...) read it here and leave the dims
     * unknown when it is NULL. */
    const og_tensor *in_value[OG_MAX_IO];
    int n_out;
    og_tinfo *out[OG_MAX_IO];
    const char *out_names[OG_MAX_IO];
    size_t workspace_bytes;
} og_infer_call;

/* What run receives: inputs (NULL when omitted), outputs already allocated
 * with the shapes infer gave (NULL when unwanted) (NOT zero-filled: a kernel writes every element), and the
 * scratch memory (at least the workspace_bytes infer asked for, 64-byte
 * aligned). A kernel never allocates. */
typedef struct og_kernel_call {
    const og_node *node;
    const void *params;
    int opset;
    int n_in;
    const og_tensor *in[OG_MAX_IO];
    int n_out;
    og_tensor *out[OG_MAX_IO];
    void *workspace;
    size_t workspace_bytes;
    /* Threads the kernel may use through og_parallel_for (kernel.h), each
     * worker w with its own workspace_stride bytes at workspace + w *
     * workspace_stride (the per-worker size select or infer asked for). */
    int n_threads;
    size_t workspace_stride;
    void *state;                /* og_select_call.state, else NULL */
    /* og_plan_set_run_seed's value (0 unless set): random ops (Dropout in
     * training) mix it into their seed, so each training step draws anew
     * while a run stays a function of its inputs and this seed. */
    uint64_t run_seed;
} og_kernel_call;

struct og_backward_call;

/* Plan-time kernel choice. og_plan_create calls an op's `select` (and every
 * pattern rooted at the node's op type, ops/patterns.def) once per node,
 * with static shapes, before any run. It may pick a faster kernel than
 * op->run for these shapes, attributes and the ISA, and may fuse: set
 * inputs[k] to any value the node depends on (a value computed earlier, an
 * input or an initializer) and n_in accordingly, and the kernel then gets
 * those tensors in in[]; nodes whose outputs nobody reads any more are
 * dropped from the plan. A matcher checks every attribute it relies on and
 * returns OG_OK without setting `run` when it does not apply, so the plain
 * kernel runs. */
typedef struct og_select_call {
    const og_graph *g;
    const og_node *node;
    const void *params;
    int opset;
    int n_in;
    const og_tinfo *in[OG_MAX_IO];        /* static types of the node's inputs (NULL: omitted) */
    const og_tensor *in_value[OG_MAX_IO]; /* data fixed before running (initializers, folded), else NULL */
    int n_out;
    const og_tinfo *out[OG_MAX_IO];
    int n_threads;
    const int *readers;          /* per value: nodes reading it, +1 for a graph output */
    /* set by select: */
    og_status (*run)(const og_kernel_call *k);   /* NULL: not applicable */
    const char *kernel_name;     /* for OG_LOG=plan: "conv_dw_avx512" */
    size_t workspace_bytes;      /* scratch per worker */
    void *state;                 /* kernel's planned data (og_kernel_call.state); freed with og_free */
    int inplace_input;           /* k >= 0: the kernel is correct when out[0] is in[k]'s storage (k
                                  * after any rewiring), and the plan reuses in[k]'s bytes when it
                                  * dies at this node; -1 (the default): never */
    int new_n_in;                /* inputs the kernel gets; 0: the node's own */
    int new_inputs[OG_MAX_IO];   /* value indices, -1 omitted */
} og_select_call;

/* Matchers' view of the graph: the node producing value v (NULL for inputs
 * and initializers, and for v < 0). */
static inline const og_node *og_value_producer(const og_graph *g, int v)
{
    return v >= 0 && g->values[v].producer >= 0 ? &g->nodes[g->values[v].producer] : NULL;
}

/* The axes a Transpose node takes for an input of rank r (output axis i
 * is input axis perm[i]; no perm attribute: reversed); false when n is not
 * a finalized Transpose or its perm is not one of rank r (ops/transpose.c). */
bool og_transpose_node_perm(const og_node *n, int r, int *perm);

typedef struct og_pattern {
    const char *root_op;         /* op type of the node the pattern ends in */
    const char *name;
    og_status (*select)(og_select_call *s);
} og_pattern;

/* The k-th registered pattern, NULL past the end. */
const og_pattern *og_pattern_at(int k);

struct og_training_form;
struct og_node_copy;   /* src/clone.h */
struct og_cost_call;

typedef struct og_op {
    const char *name;
    const char *domain;         /* "" for the default ONNX domain */
    int since_version;          /* oldest opset version implemented */
    int min_inputs, max_inputs;
    int min_outputs, max_outputs;
    uint32_t diff_inputs;       /* bit k: input k is differentiable */
    uint32_t diff_outputs;      /* bit k: output k carries a gradient */
    const og_attr_spec *attrs;
    int n_attrs;
    size_t params_size;
    og_status (*infer)(og_infer_call *c);
    og_status (*run)(const og_kernel_call *k);
    /* Reverse-mode rule (see og_backward_call below): emits standard ONNX
     * nodes computing the input gradients from the output gradients. NULL:
     * the op has no backward rule, and a gradient through it is an error. */
    og_status (*backward)(struct og_backward_call *b);
    /* Optional plan-time choice of a faster kernel (og_select_call). */
    og_status (*select)(og_select_call *s);
    /* Output 0 is input 0's data under a new shape (Reshape, Flatten,
     * Identity): the plan makes it a view, no copy. */
    bool alias_out0_in0;
    /* Optional, with alias_out0_in0: whether this node is such a view,
     * given the input data fixed before running (NULL where not known);
     * NULL: always. When the node has other wanted outputs (inference
     * Dropout's mask), its kernel still runs for them, with out[0] NULL. */
    bool (*alias_when)(const og_node *node, const og_tensor *const *in_value);
    /* The outputs depend on the inputs' types and shapes only, never their
     * data (Shape, Size): finalize computes them once the shapes are
     * static, so shape subgraphs fold away. */
    bool reads_shape_only;
    /* Output 0 is input 0, unchanged in type, shape and data (Identity):
     * og_graph_simplify removes such nodes. */
    bool is_identity;
    /* Optional: the op's row in a table-driven family (ops/elementwise.h),
     * which its shared infer/run/backward read through node->op->impl;
     * NULL for ops with their own functions. The engine never reads it. */
    const void *impl;
    /* Optional: a copy of node n of graph g raised to `opset` (gradient
     * graphs use 17) keeps its attributes, less those retired by then; this
     * edits the copy c where the newer opset spells the node differently
     * (BatchNormalization's old training form), or returns an error when no
     * copy computes the same (Softmax-11's 2-D form). */
    og_status (*raise)(const og_graph *g, const og_node *n, int opset, struct og_node_copy *c);
    /* Optional: how the node (at default-domain opset 17, where training
     * graphs live) changes for training — BatchNormalization's batch
     * statistics, Dropout's random mask. NULL: it computes the same in
     * training and inference. */
    og_status (*training_form)(const og_node *n, struct og_training_form *f);
    /* Optional: the node's FLOPs for static shapes (og_cost_call), for
     * profiles and `onnxgrad info`. NULL: unknown. */
    og_status (*cost)(struct og_cost_call *c);
} og_op;

/* What og_op.cost receives: the node, its static input and output types
 * (every shape known; NULL for an omitted input or unwanted output); it
 * sets flops (multiply and add count as one each). Shared costs live in
 * src/profile.c. */
typedef struct og_cost_call {
    const og_node *node;
    const void *params;
    int opset;
    int n_in;
    const og_tinfo *in[OG_MAX_IO];
    int n_out;
    const og_tinfo *out[OG_MAX_IO];
    int64_t flops;
} og_cost_call;
/* Elements of a known shape (saturating at INT64_MAX). */
int64_t og_cost_numel(const og_shape *s);
/* a * b and a + b, saturating (FLOP counts never wrap). */
int64_t og_cost_mul(int64_t a, int64_t b);
int64_t og_cost_add(int64_t a, int64_t b);
/* One FLOP per element of output 0: elementwise ops. */
og_status og_cost_per_output(og_cost_call *c);
/* One FLOP per element of input 0: reductions, global pooling. */
og_status og_cost_per_input(og_cost_call *c);
/* No arithmetic: data movement (Transpose, Reshape, Concat, Gather, ...). */
og_status og_cost_zero(og_cost_call *c);

/* ---- profiling hooks (src/profile.c; the executor calls them) --------- */
struct og_profiler;
struct og_plan;
/* The profiler attached to the calling thread, or NULL. */
struct og_profiler *og_profile_thread(void);
int64_t og_profile_now_ns(void);
/* A run of plan p starts: returns its run index. */
int og_profile_run_begin(struct og_profiler *prof);
/* Step k of plan p ran from t0 to now in run `run`. Never fails (an event
 * that cannot be stored is counted as dropped). */
void og_profile_record(struct og_profiler *prof, const struct og_plan *p, int k, int run, int64_t t0);
/* What profile.c needs of a compiled plan (src/exec.c): its graph, a
 * unique id (plans freed and made again may share an address), and step
 * k's node, the values its kernel reads, and whether it is a view. */
const og_graph *og_plan_graph(const struct og_plan *p);
uint64_t og_plan_id(const struct og_plan *p);
void og_plan_step_detail(const struct og_plan *p, int k, const og_node **node, int *n_in, const int **in, bool *view);

/* What og_op.training_form fills in (src/train_build.c applies it when it
 * copies the model into a training step): attributes to set, an input to
 * set to a constant `true` (Dropout's training_mode), and state: inputs
 * the step reads whose new value the node writes to an output (running
 * mean and variance), made outputs and bound back by the step. */
#define OG_TRAINING_MAX_STATES 4
typedef struct og_training_form {
    int n_set_attrs;
    og_attr set_attrs[2];
    int true_input;                           /* -1: none */
    int n_states;
    int state_input[OG_TRAINING_MAX_STATES];  /* input index of the state */
    int state_output[OG_TRAINING_MAX_STATES]; /* output index holding its update */
} og_training_form;

/* Registry (src/registry.c): the op implementing (domain, name) — domain ""
 * and "ai.onnx" are the same — or NULL. */
const og_op *og_op_find(const char *domain, const char *name);
int og_op_count(void);
const og_op *og_op_at(int k);

/* Parses node attributes into params per the op's schema. */
og_status og_parse_attrs(const og_op *op, const og_node *node, int opset, void *params);

/* Runs inference for one node on given input infos (used by finalize and by
 * the executor with concrete shapes). */
og_status og_node_infer(const og_graph *g, const og_node *node, const og_tinfo *const *in,
                        const og_tensor *const *in_values, og_tinfo *const *out, size_t *workspace_bytes);

/* og_node_infer without the element-count limit check when check_limits is
 * false (src/symdims.c probes with large dims that no tensor will have). */
og_status og_node_infer_ex(const og_graph *g, const og_node *node, const og_tinfo *const *in,
                           const og_tensor *const *in_values, og_tinfo *const *out, size_t *workspace_bytes,
                           bool check_limits);
/* Computes node n's outputs at finalize when its inputs are fixed and its
 * outputs small (src/finalize.c); folded[k] receives output k's tensor
 * (owned by the caller) or stays NULL. */
og_status og_fold_node(const og_node *n, const og_tensor *const *in_values, const og_tinfo *const *in,
                       og_tinfo *const *out, size_t ws, og_tensor **folded);
/* Names the unknown dims of inferred values that equal a graph input's
 * symbolic dim (dim_param), src/symdims.c; finalize calls it last. */
og_status og_infer_symbols(og_graph *g);

/* ---- backward rules (src/autodiff.c) ------------------------------------
 * og_graph_build_gradient copies the forward graph into a new graph, then
 * visits the nodes that lie between the differentiated outputs and the
 * tensors wanted, in reverse topological order, and calls each op's
 * backward rule once. The rule emits standard ONNX nodes (opset 17) into the
 * new graph through the og_grad_* calls below and names the gradient of
 * every input it was asked for in din[]. Every name is a value of the new
 * graph, which holds each forward value under its forward name. The engine
 * sums gradients that fan in and checks each gradient's shape. */
typedef struct og_grad_ctx og_grad_ctx;

typedef struct og_backward_call {
    og_grad_ctx *ctx;
    const og_node *node;             /* the forward node: name, op_type, attrs */
    const void *params;              /* its parsed attributes */
    int opset;                       /* its opset in the forward graph */
    int n_in, n_out;
    const char *in[OG_MAX_IO];       /* forward input names; NULL when omitted */
    og_tinfo in_info[OG_MAX_IO];     /* their inferred types (dims may be -1) */
    const og_tensor *in_value[OG_MAX_IO]; /* input data known at build time, else NULL */
    const char *out[OG_MAX_IO];      /* forward output names; NULL when unwanted */
    og_tinfo out_info[OG_MAX_IO];    /* their inferred types (unwanted: OG_UNDEFINED, rank -1) */
    const char *dout[OG_MAX_IO];     /* gradient flowing into output k; NULL: none (zero) */
    bool need[OG_MAX_IO];            /* input k needs a gradient */
    const char *din[OG_MAX_IO];      /* set by the rule for each needed input; NULL: zero */
    og_status status;                /* first failure of an og_gb_* call (sticky) */
} og_backward_call;

/* Adds a default-domain node of `op_type` to the gradient graph. Inputs are
 * value names ("" or NULL: omitted). Each of the n_out outputs gets a fresh
 * unique name, returned in outs[k] (owned by the gradient graph, valid
 * while it lives); pass n_out 0 / outs NULL for none. Attributes are
 * copied. */
og_status og_grad_emit(og_backward_call *b, const char *op_type, int n_in, const char *const *ins, int n_out,
                       const char **outs, int n_attrs, const og_attr *attrs);
/* A Constant node holding a 1-D int64 tensor of n values. */
og_status og_grad_const_ints(og_backward_call *b, int64_t n, const int64_t *v, const char **out);
/* Transpose of x (rank `rank`) by perm; the swap of axes 0 and 1; a
 * Reshape of x to the constant shape dims (0 and -1 as Reshape reads them). */
og_status og_grad_transpose(og_backward_call *b, const char *x, int rank, const int64_t *perm, const char **out);
og_status og_grad_swap01(og_backward_call *b, const char *x, int rank, const char **out);
og_status og_grad_reshape(og_backward_call *b, const char *x, int rank, const int64_t *dims, const char **out);
/* A Constant node holding a rank-0 tensor of dtype (float or double). */
og_status og_grad_const_scalar(og_backward_call *b, og_dtype dtype, double v, const char **out);
/* The shape of value `name` (type ti) as a 1-D int64 value: a Constant when
 * every dim is known, else a Shape node. */
og_status og_grad_shape_of(og_backward_call *b, const char *name, const og_tinfo *ti, const char **out);
/* Sums `grad` (type from) over the axes along which a tensor of type `to`
 * was broadcast to `from` (numpy rules, right-aligned): leading axes `to`
 * lacks, and axes where `to` has 1; *out is grad itself when nothing was
 * broadcast. An axis where `to`'s dim is unknown and `from`'s is not 1 is
 * ambiguous: OG_ERR_UNSUPPORTED (og_grad_unbroadcast resolves it). */
og_status og_grad_reduce_to(og_backward_call *b, const char *grad, const og_tinfo *from, const og_tinfo *to,
                            const char **out);
/* og_grad_reduce_to for the inputs of an op whose output is the numpy
 * broadcast of its inputs (Add, Mul, Where; Gemm's C): `grad` (of output 0's type)
 * summed back to input k. An unknown dim of input k is taken as not
 * broadcast (a symbolic batch against itself), checked at run time by a
 * Reshape to input k's shape, which fails if the guess was wrong. */
og_status og_grad_unbroadcast(og_backward_call *b, int k, const char *grad, const char **out);
/* Name of forward output k of the node, adding it to the node's copy in
 * the gradient graph when the forward graph did not want it (MaxPool's
 * Indices). */
og_status og_grad_forward_output(og_backward_call *b, int k, const char **out);
/* A tensor of zeros with the type of value `name` (ConstantOfShape). */
og_status og_grad_zeros_like(og_backward_call *b, const char *name, const og_tinfo *ti, const char **out);

/* The backward vocabulary: sticky-error builders, so a rule reads like its
 * formula,
 *     b->din[0] = og_gb_mul(b, dy, og_gb_mul(b, y, og_gb_sub(b, one, y)));
 *     return og_gb_status(b);
 * Each emits one default-domain node and returns its output 0's name (owned
 * by the gradient graph). Once one call fails, b->status keeps that first
 * failure and every later call (and any call given a NULL operand) returns
 * NULL without emitting, so a rule checks once, at the end. */
const char *og_gb(og_backward_call *b, const char *op_type, int n_in, const char *const *ins, int n_attrs,
                  const og_attr *attrs);
const char *og_gb1(og_backward_call *b, const char *op_type, const char *x);
const char *og_gb2(og_backward_call *b, const char *op_type, const char *x, const char *y);
/* A rank-0 constant of dtype (float or double), broadcastable against anything. */
const char *og_gb_scalar(og_backward_call *b, og_dtype dtype, double v);
/* A 1-D int64 constant of n values (axes, shapes). */
const char *og_gb_ints(og_backward_call *b, int64_t n, const int64_t *v);
/* A Constant holding t, which it takes (frees); t NULL (a failed
 * allocation) makes the sticky status OG_ERR_NOMEM. */
const char *og_gb_tensor(og_backward_call *b, og_tensor *t);
/* og_grad_unbroadcast in the sticky style: grad summed back to input k's shape. */
const char *og_gb_unbroadcast(og_backward_call *b, int k, const char *grad);
/* b->status: OG_OK, or the first failure (its message in og_errmsg). */
static inline og_status og_gb_status(const og_backward_call *b) { return b->status; }
#define og_gb_add(b, x, y) og_gb2((b), "Add", (x), (y))
#define og_gb_sub(b, x, y) og_gb2((b), "Sub", (x), (y))
#define og_gb_mul(b, x, y) og_gb2((b), "Mul", (x), (y))
#define og_gb_div(b, x, y) og_gb2((b), "Div", (x), (y))
#define og_gb_neg(b, x) og_gb1((b), "Neg", (x))
#define og_gb_exp(b, x) og_gb1((b), "Exp", (x))
#define og_gb_log(b, x) og_gb1((b), "Log", (x))
#define og_gb_sqrt(b, x) og_gb1((b), "Sqrt", (x))

/* ---- numpy-style (multidirectional) broadcasting (src/broadcast.c) ------
 * Shared by the elementwise ops (and Expand). Shapes align on the right, a
 * missing leading dim counts as 1, and along each axis the dims must be
 * equal or 1; the output takes the larger.
 *
 * og_broadcast_shape: the output shape of n (1..OG_BCAST_MAX) shapes, for
 * infer. An unknown rank gives an unknown rank. Along an axis with an
 * unknown dim (-1), a known dim other than 1 fixes the output dim (the
 * unknown one must be 1 or equal to it); otherwise (only 1s and unknowns)
 * the dim is unknown. Known dims that clash are OG_ERR_SHAPE:
 *   "<what>: cannot broadcast <role> '<name>' of shape [..] with <role>
 *    '<name>' of shape [..]: output axis d of r (shapes right-aligned) is
 *    x against y; expected equal dims or 1"
 * `what` names the node ("node 'a1' (Add)"); roles ("A", "B") and names
 * (the tensors) are per input; names may be NULL. */
/* Operands of one broadcast (the variadic Sum/Mean/Max/Min take up to
 * OG_MAX_IO inputs, plus the output). */
#define OG_BCAST_MAX OG_MAX_IO
og_status og_broadcast_shape(const char *what, int n, const og_shape *const *in, const char *const *roles,
                             const char *const *names, og_shape *out);

/* Row-by-row iteration of an output against its broadcast inputs, for
 * kernels. og_bcast_begin drops axes of size 1 and merges adjacent axes
 * that every operand walks in step, so equal shapes become one flat row
 * and [3,4,5] + [5] becomes 12 rows of 5. Each row has dims[rank-1]
 * elements; along it operand k moves strides[k][rank-1] elements (0 when
 * broadcast); the row starts at output offset `row` and operand offsets
 * off[k]. og_bcast_next_row advances the odometer (no division per
 * element) and returns false after the last row. Every input must
 * broadcast to the output's shape (else OG_ERR_INTERNAL: infer should have
 * said). With numel 0 there are no rows:
 *     for (bool more = it.numel > 0; more; more = og_bcast_next_row(&it)) ... */
typedef struct og_bcast {
    int n;                                      /* operands */
    int rank;                                   /* merged axes, >= 1 */
    int64_t numel;                              /* output elements */
    int64_t dims[OG_MAX_RANK];                  /* merged output dims */
    int64_t strides[OG_BCAST_MAX][OG_MAX_RANK]; /* in elements; 0 along broadcast axes */
    int64_t idx[OG_MAX_RANK];                   /* odometer over axes 0..rank-2 */
    int64_t off[OG_BCAST_MAX];                  /* operand offsets where the row starts */
    int64_t row;                                /* output offset where the row starts */
} og_bcast;

og_status og_bcast_begin(og_bcast *it, const char *what, const og_tensor *out, int n, const og_tensor *const *in);
bool og_bcast_next_row(og_bcast *it);
/* Positions the iterator at the start of row r (0 <= r < numel / row
 * length), as if og_bcast_next_row had been called r times: lets threads
 * start at their own rows. */
void og_bcast_seek(og_bcast *it, int64_t r);


/* ---- conv/pool geometry (src/spatial.c), shared by Conv, MaxPool and
 * their backward rules. Resolves strides/dilations/pads/auto_pad for
 * n spatial axes and computes output sizes. Unknown input sizes (-1) give
 * unknown outputs. Checks: lengths of strides/dilations (n), pads (2n),
 * values > 0 (pads >= 0), effective kernel vs padded input, overflow.
 * `what` names the node for messages ("node 'c1' (Conv)"). */
typedef struct og_spatial {
    int n;
    int64_t in[OG_MAX_RANK];
    int64_t kernel[OG_MAX_RANK];
    int64_t stride[OG_MAX_RANK];
    int64_t dilation[OG_MAX_RANK];
    int64_t pad_begin[OG_MAX_RANK];
    int64_t pad_end[OG_MAX_RANK];
    int64_t out[OG_MAX_RANK];
    int64_t out_pad[OG_MAX_RANK];   /* ConvTranspose only: resolved output_padding (0 elsewhere) */
} og_spatial;

/* Shared by Conv and ConvTranspose (src/spatial.c). og_size_product: start
 * times n sizes, -1 if any is unknown, OG_ERR_LIMIT on overflow.
 * og_conv_dtype: X and W present, X/W/B float or double and alike; *dt is
 * their dtype (OG_UNDEFINED if none is known). */
og_status og_size_product(const char *what, const int64_t *v, int n, int64_t start, int64_t *r);
og_status og_conv_dtype(const char *what, const og_infer_call *c, og_dtype *dt);
/* Backward pieces of the conv family: the bias gradient (dY summed over
 * batch and spatial axes), and x [N, G*K, S...] (n spatial sizes S) laid out
 * as [K, G*N, S...], so a grouped Conv over it sums the batch like channels
 * (with G == 1, the swap of axes 0 and 1). */
og_status og_grad_conv_bias(og_backward_call *b, const char *dy, int rank, const char **out);
og_status og_grad_channels_first(og_backward_call *b, const char *x, int n, int64_t G, int64_t K, const int64_t *S,
                                 const char **out);

og_status og_spatial_resolve(og_spatial *s, const char *what, int n, const int64_t *in,
                             const int64_t *kernel, const og_ints *strides,
                             const og_ints *dilations, const og_ints *pads,
                             const char *auto_pad, bool ceil_mode);

/* Pooling geometry (AveragePool, MaxPool): kernel_shape holds 1..
 * OG_MAX_RANK-2 values > 0, X (rank -1: unknown) has rank >= 3 and 2 + that
 * many, then og_spatial_resolve over X's spatial dims. Messages start
 * with `what`. */
og_status og_pool_resolve(og_spatial *s, const char *what, const og_ints *kernel_shape, const og_shape *xs,
                          const char *x_name, const og_ints *strides, const og_ints *dilations, const og_ints *pads,
                          const char *auto_pad, bool ceil_mode);

/* ConvTranspose geometry, the adjoint of a Conv with the same attributes:
 * `in` are ConvTranspose's input sizes, s->out its output sizes, and per axis
 *   out = stride*(in-1) + out_pad + (kernel-1)*dilation + 1 - pad_begin - pad_end.
 * output_shape (n values), when present, fixes out and the pads follow from
 * total = stride*(in-1) + output_padding + effective kernel - out: split
 * with the odd cell at the end (NOTSET, VALID, SAME_UPPER) or at the
 * beginning (SAME_LOWER); SAME_* without output_shape means out = in*stride.
 * A negative total (out larger than the full result) leaves the pads 0 and
 * adds -total to out_pad: zero cells at the end. So resolved pads are never
 * negative, and Conv(dY) with pads [pad_begin, pad_end - out_pad] (a
 * negative end pad meaning: drop that many trailing cells of dY) is this
 * op's adjoint. Checks lengths (n, pads 2n), strides/dilations/kernel > 0,
 * pads >= 0, 0 <= output_padding < stride or dilation, output_shape > 0,
 * in >= 1, out >= 1, overflow. Unknown in (-1): out unknown unless
 * output_shape gives it; pads and out_pad that depend on in are -1. */
og_status og_spatial_resolve_transpose(og_spatial *s, const char *what, int n, const int64_t *in,
                                       const int64_t *kernel, const og_ints *strides,
                                       const og_ints *dilations, const og_ints *pads,
                                       const og_ints *output_padding, const og_ints *output_shape,
                                       const char *auto_pad);

#endif
