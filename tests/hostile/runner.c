/* SPDX-License-Identifier: MIT */
/* runner.c — feeds the hostile-input catalogue to onnxgrad.
 *
 *   og_hostile_runner CASEDIR EXPECT [--oom] [--no-time-limit]
 *
 * EXPECT has one line per case, tab-separated:
 *   <file>  <og_status name>  <substring the message must contain>  [more substrings...]
 * A `.pb` file is read with og_tensor_load_pb. A model is read with
 * og_model_load_file; when CASEDIR also holds `<stem>.input.pb`, the model
 * must load and the expectation applies to og_plan_run with that input.
 *
 * For every case it checks: the status and the message substring; that the
 * call took under 100 ms (best of up to three attempts, so a busy machine
 * does not fail it); that *out is left NULL; that a file load's message
 * names the file; that loading the same bytes from an exactly sized heap
 * buffer (og_*_load_memory) fails the same way; and, through a counting
 * allocator installed with og_set_allocator, that nothing is left allocated
 * once the caller has freed what it was handed.
 *
 * With --oom, each case is replayed with the 1st, 2nd, ... allocation
 * failing until a replay sees no injected failure; every replay must return
 * the expected status or OG_ERR_NOMEM, with a message, and leak nothing.
 *
 * Prints one line per case and "N passed, N failed"; exits non-zero on any
 * failure. --no-time-limit drops the 100 ms check (for runs under valgrind);
 * --max-bytes N skips (and counts as skipped) case files larger than N.
 *
 * The allocator refuses any single request over 1 GiB, as a small machine
 * would: no hostile file here may need that much, so a library that asks
 * must cope with the refusal.
 * Files in CASEDIR without an expectation are failures too, so the
 * generator and EXPECT cannot drift apart; subdirectories are not cases
 * (they hold the data files of the external-data cases).
 *
 * External data: memory loads of models pass CASEDIR as
 * og_load_options.base_dir, so they see what the file load sees. An
 * `e_*.onnx` case (external data) is also loaded from memory without a base
 * directory: that must fail with OG_ERR_INVALID_ARG "needs a base
 * directory", unless its expectation is OG_ERR_PARSE (found in the model's
 * bytes before any file is needed), which it must then match. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <onnxgrad/onnxgrad.h>

#define MAX_CASES 512
#define TIME_LIMIT_MS 100.0
#define RETRIES 2             /* extra timed attempts when one is over the limit */
#define OOM_MAX_POINTS 100000
#define ALLOC_CAP ((size_t)1 << 30)
#define MAX_NEEDLES 8

/* ---- counting, failure-injecting allocator ------------------------------ */

static bool time_limit = true;
static long max_bytes = -1;   /* --max-bytes; -1: no limit */
static long live_blocks;      /* allocations not yet freed */
static long n_calls;          /* alloc + realloc calls since the last reset */
static long fail_at;          /* 1-based call that fails; 0: none */
static bool fail_sticky;      /* every call from fail_at on fails, not just that one */
static bool injected;         /* a failure was injected since the last reset */

static bool should_fail(void)
{
    n_calls++;
    if (fail_at && (n_calls == fail_at || (fail_sticky && n_calls > fail_at))) {
        injected = true;
        return true;
    }
    return false;
}

/* Each block carries its size in a 16-byte header, so the bytes alive (and
 * their peak during a case) are known: a case must stay within the memory
 * limit, not only free what it took. */
#define HDR 16
static size_t live_bytes, peak_bytes;

static void *track(unsigned char *base, size_t n)
{
    if (!base)
        return NULL;
    memcpy(base, &n, sizeof n);
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return base + HDR;
}

static void *cnt_alloc(void *user, size_t n)
{
    (void)user;
    if (should_fail() || n > ALLOC_CAP)
        return NULL;
    unsigned char *p = malloc(n + HDR);
    if (p)
        live_blocks++;
    return track(p, n);
}

static void *cnt_realloc(void *user, void *ptr, size_t n)
{
    (void)user;
    if (!ptr)
        return cnt_alloc(user, n);
    if (should_fail() || n > ALLOC_CAP)
        return NULL;
    unsigned char *base = (unsigned char *)ptr - HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    unsigned char *p = realloc(base, n + HDR);
    if (!p)
        return NULL;
    live_bytes -= old;
    return track(p, n);
}

static void cnt_free(void *user, void *ptr)
{
    (void)user;
    if (ptr) {
        unsigned char *base = (unsigned char *)ptr - HDR;
        size_t n;
        memcpy(&n, base, sizeof n);
        live_bytes -= n;
        live_blocks--;
        free(base);
    }
}

/* ---- per-case limits ----------------------------------------------------- */

/* A case may come with `<stem>.limits`: lines "<OG_LIMIT_NAME> <value>"
 * applied (og_limit) for that case only, and "time_ms <N>" raising its time
 * allowance, for the few cases whose point is size (the 10^6-node chain). */
static const struct { const char *name; og_limit_id id; } limit_names[] = {
    { "OG_LIMIT_FILE_BYTES", OG_LIMIT_FILE_BYTES },
    { "OG_LIMIT_NESTING_DEPTH", OG_LIMIT_NESTING_DEPTH },
    { "OG_LIMIT_RANK", OG_LIMIT_RANK },
    { "OG_LIMIT_TENSOR_ELEMENTS", OG_LIMIT_TENSOR_ELEMENTS },
    { "OG_LIMIT_PARSE_MEMORY_FACTOR", OG_LIMIT_PARSE_MEMORY_FACTOR },
    { "OG_LIMIT_PARSE_MEMORY_BASE", OG_LIMIT_PARSE_MEMORY_BASE },
    { "OG_LIMIT_PLAN_BYTES", OG_LIMIT_PLAN_BYTES },
};

static double case_time_limit_ms;
static long long case_memory_limit;  /* bytes a case may hold at its peak; 0: the default rule */
static char linear_vs[256];      /* "linear_vs <case> <factor>": time at most factor x that case's */
static double linear_factor;

static void apply_limits(const char *case_path)
{
    char path[4096], name[64];
    long long value;
    case_time_limit_ms = TIME_LIMIT_MS;
    linear_vs[0] = '\0';
    case_memory_limit = 0;
    og_limits_reset();
    const char *dot = strrchr(case_path, '.');
    snprintf(path, sizeof path, "%.*s.limits", (int)(dot ? dot - case_path : (long)strlen(case_path)), case_path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fscanf(f, "%63s", name) == 1) {
        if (strcmp(name, "linear_vs") == 0) {
            if (fscanf(f, "%255s %lf", linear_vs, &linear_factor) != 2) {
                fprintf(stderr, "%s: linear_vs needs a case and a factor\n", path);
                exit(2);
            }
            continue;
        }
        if (fscanf(f, "%lld", &value) != 1) {
            fprintf(stderr, "%s: '%s' needs a value\n", path, name);
            exit(2);
        }
        bool known = false;
        if (strcmp(name, "time_ms") == 0) {
            case_time_limit_ms = (double)value;
            known = true;
        }
        if (strcmp(name, "memory_bytes") == 0) {
            case_memory_limit = value;
            known = true;
        }
        for (size_t k = 0; k < sizeof limit_names / sizeof limit_names[0]; k++)
            if (strcmp(name, limit_names[k].name) == 0) {
                og_limit(limit_names[k].id, value);
                known = true;
            }
        if (!known) {
            fprintf(stderr, "%s: unknown limit '%s'\n", path, name);
            exit(2);
        }
    }
    fclose(f);
}

/* ---- cases --------------------------------------------------------------- */

typedef struct expect {
    char *file;
    double ms;                /* best time from a file, once run */
    og_status status;
    char *needle[MAX_NEEDLES];
    int n_needles;
} expect;

typedef struct outcome {
    og_status st;
    char msg[1100];
    double ms;
    bool out_not_null;        /* *out was not NULL after a failure */
    const char *stage;        /* where it stopped: "load", "plan", "input", "run" */
} outcome;

static expect *all_cases;        /* for linear_vs */
static int n_all_cases;

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) {
        perror("malloc");
        exit(2);
    }
    return memcpy(d, s, n);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool status_from_name(const char *name, og_status *out)
{
    for (int k = 0; k <= OG_ERR_INTERNAL; k++)
        if (strcmp(og_status_name((og_status)k), name) == 0) {
            *out = (og_status)k;
            return true;
        }
    return false;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static bool file_size(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return n >= 0;
}

/* Whole file into an exactly sized malloc'd buffer (so a read past its end
 * is an out-of-bounds read under ASan/valgrind). */
static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(n > 0 ? (size_t)n : 1);
    if (d && n > 0 && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return d;
}

/* The warnings raised since the case started: an OG_OK expectation's
 * substrings are looked for in them. */
static char warnings[4096];

static void collect_warning(void *user, const char *msg)
{
    (void)user;
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof warnings - n, "%s%s", n ? "\n" : "", msg);
}

static void record(outcome *o, og_status st, const char *stage)
{
    o->st = st;
    o->stage = stage;
    snprintf(o->msg, sizeof o->msg, "%s", st == OG_OK ? warnings : og_errmsg());
}

/* Loads (and for run cases runs) one case from its file; frees everything. */
static void exercise_file(const char *path, const char *sidecar, outcome *o)
{
    memset(o, 0, sizeof *o);
    warnings[0] = '\0';
    double t0 = now_ms();
    if (ends_with(path, ".pb")) {
        og_tensor *t = (og_tensor *)1;
        og_status st = og_tensor_load_pb(path, &t);
        record(o, st, "load");
        if (st == OG_OK)
            og_tensor_free(t);
        else
            o->out_not_null = t != NULL;
        o->ms = now_ms() - t0;
        return;
    }
    og_graph *g = (og_graph *)1;
    og_status st = og_model_load_file(path, &g);
    record(o, st, "load");
    if (st != OG_OK) {
        o->out_not_null = g != NULL;
        o->ms = now_ms() - t0;
        return;
    }
    if (sidecar) {
        og_plan *p = NULL;
        og_tensor *x = NULL;
        if ((st = og_plan_create(g, &p)) != OG_OK) {
            record(o, st, "plan");
        } else if ((st = og_tensor_load_pb(sidecar, &x)) != OG_OK) {
            record(o, st, "input");
        } else {
            int n_out = og_graph_num_outputs(g);
            og_tensor *outs[64] = { 0 };
            if (n_out > 64) {
                record(o, OG_ERR_INTERNAL, "run");
                snprintf(o->msg, sizeof o->msg, "runner: %d outputs", n_out);
            } else {
                st = og_plan_run(p, 1, (const og_tensor *const[]){ x }, outs);
                record(o, st, "run");
                for (int k = 0; k < n_out; k++) {
                    if (st != OG_OK && outs[k])
                        o->out_not_null = true;
                    og_tensor_free(outs[k]);
                }
            }
        }
        og_tensor_free(x);
        og_plan_free(p);
    }
    og_graph_free(g);
    o->ms = now_ms() - t0;
}

/* base_dir of model memory loads (external data); NULL: none. */
static const char *memory_base_dir;

/* The same bytes through og_*_load_memory. */
static void exercise_memory(const unsigned char *data, size_t size, bool tensor, outcome *o)
{
    memset(o, 0, sizeof *o);
    warnings[0] = '\0';
    double t0 = now_ms();
    og_status st;
    if (tensor) {
        og_tensor *t = (og_tensor *)1;
        st = og_tensor_load_pb_memory(data, size, &t);
        if (st == OG_OK)
            og_tensor_free(t);
        else
            o->out_not_null = t != NULL;
    } else {
        og_graph *g = (og_graph *)1;
        og_load_options lo = OG_LOAD_OPTIONS_INIT;
        lo.base_dir = memory_base_dir;
        st = og_model_load_memory_ex(data, size, &lo, &g);
        if (st == OG_OK)
            og_graph_free(g);
        else
            o->out_not_null = g != NULL;
    }
    record(o, st, "load");
    o->ms = now_ms() - t0;
}

/* A slow first attempt may be a busy machine rather than slow code: keep
 * the fastest of a few attempts. */
static void retime_file(const char *path, const char *sidecar, outcome *o)
{
    for (int k = 0; k < RETRIES && time_limit && o->ms > case_time_limit_ms; k++) {
        outcome again;
        exercise_file(path, sidecar, &again);
        if (again.ms < o->ms)
            o->ms = again.ms;
    }
}

/* ---- reporting ----------------------------------------------------------- */

static char problems[4096];

static void problem(const char *fmt, ...)
{
    size_t n = strlen(problems);
    if (n + 4 >= sizeof problems)
        return;
    if (n)
        strcat(problems, "; ");
    n = strlen(problems);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problems + n, sizeof problems - n, fmt, ap);
    va_end(ap);
}

static void check_outcome(const expect *e, const outcome *o, const char *how)
{
    if (o->st != e->status)
        problem("%s: got %s at %s, expected %s", how, og_status_name(o->st), o->stage, og_status_name(e->status));
    else
        for (int k = 0; k < e->n_needles; k++)
            if (!strstr(o->msg, e->needle[k]))
                problem("%s: message lacks \"%s\"", how, e->needle[k]);
    if (o->st != OG_OK && o->msg[0] == '\0')
        problem("%s: empty error message", how);
    if (o->out_not_null)
        problem("%s: *out not NULL after a failure", how);
    if (time_limit && o->ms > case_time_limit_ms)
        problem("%s: took %.1f ms (limit %.0f)", how, o->ms, case_time_limit_ms);
}

/* One case, normal mode. Returns true when it passed. */
static bool run_case(const char *dir, expect *e)
{
    char path[4096], sidecar[4096];
    problems[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, e->file);
    apply_limits(path);
    bool tensor = ends_with(e->file, ".pb");
    bool has_side = false;
    if (!tensor && ends_with(e->file, ".onnx")) {
        snprintf(sidecar, sizeof sidecar, "%.*s.input.pb", (int)(strlen(path) - 5), path);
        has_side = file_exists(sidecar);
    }
    if (!file_exists(path)) {
        printf("FAIL %s: file missing (not generated?)\n", e->file);
        return false;
    }

    outcome of, om;
    long before = live_blocks;
    size_t bytes_before = live_bytes, file_bytes = 0;
    peak_bytes = live_bytes;
    exercise_file(path, has_side ? sidecar : NULL, &of);
    if (live_blocks != before)
        problem("file: %ld block(s) leaked", live_blocks - before);
    /* The memory limit: the file's bytes, plus what the parse-memory limit
     * allows (8 x file + 64 MiB), plus the plan's budget for run cases. */
    file_size(path, &file_bytes);
    size_t mem_limit = case_memory_limit > 0 ? (size_t)case_memory_limit
                                             : 9 * file_bytes + ((size_t)64 << 20) + (has_side ? ((size_t)1 << 20) : 0);
    if (peak_bytes - bytes_before > mem_limit)
        problem("file: held %zu bytes at its peak, over the case's memory limit of %zu", peak_bytes - bytes_before,
                mem_limit);
    retime_file(path, has_side ? sidecar : NULL, &of);
    check_outcome(e, &of, "file");
    e->ms = of.ms;
    for (int k = 0; time_limit && linear_vs[0] && k < n_all_cases; k++) {
        const expect *base = &all_cases[k];
        if (strcmp(base->file, linear_vs) != 0)
            continue;
        if (base->ms <= 0)
            problem("linear_vs: %s has not run before this case", linear_vs);
        else if (of.ms > linear_factor * base->ms)
            problem("took %.1f ms, %.1f x the %.1f ms of %s (at most %g x: not linear)", of.ms, of.ms / base->ms,
                    base->ms, linear_vs, linear_factor);
        else
            printf("     %.1f ms is %.1f x the %.1f ms of %s (at most %g x)\n", of.ms, of.ms / base->ms, base->ms,
                   linear_vs, linear_factor);
    }
    if (of.st != OG_OK && strcmp(of.stage, "load") == 0 && !strstr(of.msg, e->file))
        problem("file: message does not name the file");

    if (!has_side) {
        size_t size = 0;
        unsigned char *data = slurp(path, &size);
        if (!data) {
            problem("memory: cannot read %s", path);
        } else {
            before = live_blocks;
            memory_base_dir = dir;
            exercise_memory(data, size, tensor, &om);
            if (live_blocks != before)
                problem("memory: %ld block(s) leaked", live_blocks - before);
            for (int k = 0; k < RETRIES && time_limit && om.ms > case_time_limit_ms; k++) {
                outcome again;
                exercise_memory(data, size, tensor, &again);
                if (again.ms < om.ms)
                    om.ms = again.ms;
            }
            check_outcome(e, &om, "memory");
            if (strncmp(e->file, "e_", 2) == 0 && !tensor) {
                outcome on;
                memory_base_dir = NULL;
                before = live_blocks;
                exercise_memory(data, size, false, &on);
                if (live_blocks != before)
                    problem("memory without base_dir: %ld block(s) leaked", live_blocks - before);
                if (e->status == OG_ERR_PARSE)
                    check_outcome(e, &on, "memory without base_dir");
                else if (on.st != OG_ERR_INVALID_ARG || !strstr(on.msg, "needs a base directory"))
                    problem("memory without base_dir: got %s (\"%s\"), expected OG_ERR_INVALID_ARG "
                            "\"needs a base directory\"", og_status_name(on.st), on.msg);
            }
            free(data);
        }
    }

    bool ok = problems[0] == '\0';
    if (ok)
        printf("PASS %s: %s (%.1f ms): %s\n", e->file, og_status_name(of.st), of.ms, of.msg);
    else
        printf("FAIL %s: %s\n     got %s: %s\n", e->file, problems, og_status_name(of.st), of.msg);
    fflush(stdout);
    return ok;
}

/* One case, failing each allocation in turn. */
static bool run_case_oom(const char *dir, expect *e)
{
    char path[4096], sidecar[4096];
    problems[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, e->file);
    apply_limits(path);
    bool has_side = false;
    if (ends_with(e->file, ".onnx")) {
        snprintf(sidecar, sizeof sidecar, "%.*s.input.pb", (int)(strlen(path) - 5), path);
        has_side = file_exists(sidecar);
    }
    long points = 0;
    for (int mode = 0; mode < 2 && !problems[0]; mode++)
    for (long k = 1; k <= OOM_MAX_POINTS; k++) {
        outcome o;
        fail_sticky = mode == 1;
        long before = live_blocks;
        n_calls = 0;
        injected = false;
        fail_at = k;
        exercise_file(path, has_side ? sidecar : NULL, &o);
        fail_at = 0;
        if (live_blocks != before)
            problem("allocation %ld failing%s: %ld block(s) leaked (%s at %s: %s)", k, fail_sticky ? " and every later one" : "", live_blocks - before,
                    og_status_name(o.st), o.stage, o.msg);
        if (injected && o.st != e->status && o.st != OG_ERR_NOMEM)
            problem("allocation %ld failing%s: got %s at %s (\"%s\"), expected %s or OG_ERR_NOMEM", k, fail_sticky ? " and every later one" : "",
                    og_status_name(o.st), o.stage, o.msg, og_status_name(e->status));
        if (o.st != OG_OK && o.msg[0] == '\0')
            problem("allocation %ld failing%s: empty error message", k, fail_sticky ? " and every later one" : "");
        if (o.out_not_null)
            problem("allocation %ld failing%s: *out not NULL after a failure", k, fail_sticky ? " and every later one" : "");
        if (!injected)
            break;
        if (mode == 0)
            points = k;
        if (problems[0])
            break;   /* the first broken path is enough to report */
    }
    bool ok = problems[0] == '\0';
    if (ok)
        printf("PASS %s: %ld allocation points, each failed once and from then on\n", e->file, points);
    else
        printf("FAIL %s: %s\n", e->file, problems);
    fflush(stdout);
    return ok;
}

/* ---- main ---------------------------------------------------------------- */

static int load_expect(const char *path, expect *cases)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    char line[2048];
    int n = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *file = line, *status = strchr(file, '\t'), *needle;
        if (!status || !(needle = strchr(status + 1, '\t'))) {
            fprintf(stderr, "%s:%d: expected <file>\\t<status>\\t<substring>\n", path, lineno);
            exit(2);
        }
        *status++ = '\0';
        *needle++ = '\0';
        if (n == MAX_CASES) {
            fprintf(stderr, "%s: more than %d cases\n", path, MAX_CASES);
            exit(2);
        }
        if (!status_from_name(status, &cases[n].status)) {
            fprintf(stderr, "%s:%d: unknown status '%s'\n", path, lineno, status);
            exit(2);
        }
        for (char *tok = needle; tok; ) {
            char *next = strchr(tok, '\t');
            if (next)
                *next++ = '\0';
            if (tok[0] == '\0' && cases[n].status != OG_OK) {
                fprintf(stderr, "%s:%d: empty substring for an error case\n", path, lineno);
                exit(2);
            }
            if (cases[n].n_needles == MAX_NEEDLES) {
                fprintf(stderr, "%s:%d: more than %d substrings\n", path, lineno, MAX_NEEDLES);
                exit(2);
            }
            cases[n].needle[cases[n].n_needles++] = xstrdup(tok);
            tok = next;
        }
        for (int k = 0; k < n; k++)
            if (strcmp(cases[k].file, file) == 0) {
                fprintf(stderr, "%s:%d: '%s' listed twice\n", path, lineno, file);
                exit(2);
            }
        cases[n].file = xstrdup(file);
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    bool oom = false;
    og_set_warning_handler(collect_warning, NULL);
    for (int k = 3; k < argc; k++) {
        if (strcmp(argv[k], "--oom") == 0)
            oom = true;
        else if (strcmp(argv[k], "--no-time-limit") == 0)
            time_limit = false;
        else if (strcmp(argv[k], "--max-bytes") == 0 && k + 1 < argc)
            max_bytes = atol(argv[++k]);
        else
            argc = 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: og_hostile_runner CASEDIR EXPECT [--oom] [--no-time-limit] [--max-bytes N]\n");
        return 2;
    }
    const char *dir = argv[1];
    static expect cases[MAX_CASES];
    int n = load_expect(argv[2], cases);
    all_cases = cases;
    n_all_cases = n;

    int passed = 0, failed = 0, skipped = 0;
    /* Every generated file needs an expectation. */
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 2;
    }
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        if (name[0] == '.' || ends_with(name, ".input.pb") || ends_with(name, ".limits"))
            continue;
        char sub[4096];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            continue;   /* data files of external-data cases */
        bool known = false;
        for (int k = 0; k < n && !known; k++)
            known = strcmp(cases[k].file, name) == 0;
        if (!known) {
            printf("FAIL %s: generated, but has no line in the expectations file\n", name);
            failed++;
        }
    }
    closedir(d);

    og_set_allocator(&(og_allocator){ cnt_alloc, cnt_realloc, cnt_free, NULL });
    for (int k = 0; k < n; k++) {
        char path[4096];
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, cases[k].file);
        if (max_bytes >= 0 && file_size(path, &size) && (long)size > max_bytes) {
            printf("SKIP %s: %zu bytes (--max-bytes %ld)\n", cases[k].file, size, max_bytes);
            skipped++;
            continue;
        }
        if (oom ? run_case_oom(dir, &cases[k]) : run_case(dir, &cases[k]))
            passed++;
        else
            failed++;
    }
    og_set_allocator(NULL);
    og_limits_reset();
    if (live_blocks != 0) {
        printf("FAIL (all cases): %ld block(s) still allocated at exit\n", live_blocks);
        failed++;
    }
    if (skipped)
        printf("%d skipped\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    for (int k = 0; k < n; k++) {
        free(cases[k].file);
        for (int j = 0; j < cases[k].n_needles; j++)
            free(cases[k].needle[j]);
    }
    return failed ? 1 : 0;
}
