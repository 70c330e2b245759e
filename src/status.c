/* SPDX-License-Identifier: MIT */
/* status.c — status names and the per-thread error message. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

#define OG_MSG_MAX 1024

static _Thread_local og_status last_code;
static _Thread_local char last_msg[OG_MSG_MAX];

const char *og_status_name(og_status s)
{
    switch (s) {
    case OG_OK: return "OG_OK";
    case OG_ERR_INVALID_ARG: return "OG_ERR_INVALID_ARG";
    case OG_ERR_NOMEM: return "OG_ERR_NOMEM";
    case OG_ERR_IO: return "OG_ERR_IO";
    case OG_ERR_PARSE: return "OG_ERR_PARSE";
    case OG_ERR_INVALID_GRAPH: return "OG_ERR_INVALID_GRAPH";
    case OG_ERR_UNSUPPORTED: return "OG_ERR_UNSUPPORTED";
    case OG_ERR_SHAPE: return "OG_ERR_SHAPE";
    case OG_ERR_ATTR: return "OG_ERR_ATTR";
    case OG_ERR_LIMIT: return "OG_ERR_LIMIT";
    case OG_ERR_INTERNAL: return "OG_ERR_INTERNAL";
    }
    return "OG_ERR_UNKNOWN";
}

const char *og_errmsg(void) { return last_msg; }
og_status og_errcode(void) { return last_code; }

void og_err_clear(void)
{
    last_code = OG_OK;
    last_msg[0] = '\0';
}

og_status og_err(og_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

static og_warning_handler warning_handler;
static void *warning_user;

void og_set_warning_handler(og_warning_handler handler, void *user)
{
    warning_handler = handler;
    warning_user = user;
}

void og_warn(og_graph *g, const char *fmt, ...)
{
    char msg[OG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g && g->n_warnings < OG_MAX_WARNINGS &&
        og_grow((void **)&g->warnings, &g->cap_warnings, g->n_warnings + 1, sizeof(char *)) == OG_OK) {
        char *copy = og_strdup(msg);
        if (copy)   /* out of memory: the handler still sees it */
            g->warnings[g->n_warnings++] = copy;
    }
    if (warning_handler)
        warning_handler(warning_user, msg);
}

og_status og_node_err(const og_node *node, og_status code, const char *fmt, ...)
{
    char msg[OG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return og_err(code, "node '%s' (%s): %s", node->name, node->op_type, msg);
}

og_status og_err_prefix(const char *fmt, ...)
{
    char prefix[OG_MSG_MAX], old[OG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof last_msg)
        n = sizeof last_msg - 1;
    memcpy(last_msg, prefix, n);
    size_t rest = strlen(old);
    if (rest > sizeof last_msg - 1 - n)
        rest = sizeof last_msg - 1 - n;
    memcpy(last_msg + n, old, rest);
    last_msg[n + rest] = '\0';
    return last_code;
}
