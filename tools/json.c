/* SPDX-License-Identifier: MIT */
/* json.c — the JSON writer of the `onnxgrad` tool (see json.h for what it
 * guarantees about strings and numbers). */
#define _POSIX_C_SOURCE 200809L

#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(json_writer *w, FILE *f)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->first[0] = true;
}

/* Before any value: the comma that separates it from the previous element
 * of an array (object members get theirs in json_key). */
static void before_value(json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        fputs(", ", w->f);
    w->first[w->depth] = false;
}

/* After a value: the outermost value ends the document's line. */
static void after_value(json_writer *w)
{
    if (w->depth == 0)
        fputc('\n', w->f);
}

static void open_(json_writer *w, char c)
{
    before_value(w);
    fputc(c, w->f);
    if (w->depth < JSON_MAX_DEPTH)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_(json_writer *w, char c)
{
    fputc(c, w->f);
    if (w->depth > 0)
        w->depth--;
    after_value(w);
}

void json_begin_object(json_writer *w) { open_(w, '{'); }
void json_end_object(json_writer *w) { close_(w, '}'); }
void json_begin_array(json_writer *w) { open_(w, '['); }
void json_end_array(json_writer *w) { close_(w, ']'); }

void json_key(json_writer *w, const char *key)
{
    if (!w->first[w->depth])
        fputs(", ", w->f);
    w->first[w->depth] = false;
    json_write_string(w->f, key ? key : "", key ? strlen(key) : 0);
    fputs(": ", w->f);
    w->after_key = true;
}

/* The length of the well-formed UTF-8 sequence at p (at most n bytes), or
 * 0 when the bytes there are not one (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;   /* the range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len > n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

void json_write_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc((int)c, f);
            i++;
        } else if (c < 0x20) {
            const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                              : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (named)
                fputs(named, f);
            else
                fprintf(f, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc((int)c, f);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                fputs("\\ufffd", f);
                i++;
            } else if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
                fputs(p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", f);
                i += 3;
            } else {
                fwrite(p + i, 1, len, f);
                i += len;
            }
        }
    }
    fputc('"', f);
}

void json_string_n(json_writer *w, const char *s, size_t n)
{
    before_value(w);
    json_write_string(w->f, s, n);
    after_value(w);
}

void json_string(json_writer *w, const char *s)
{
    if (!s) {
        json_null(w);
        return;
    }
    json_string_n(w, s, strlen(s));
}

void json_format_number(char *buf, size_t size, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, size, "null");
        return;
    }
    if (v == 0) {                    /* "-0" is valid JSON, but 0 reads better */
        snprintf(buf, size, "0");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
}

void json_number(json_writer *w, double v)
{
    char buf[40];
    json_format_number(buf, sizeof buf, v);
    before_value(w);
    fputs(buf, w->f);
    after_value(w);
}

void json_int(json_writer *w, int64_t v)
{
    before_value(w);
    fprintf(w->f, "%" PRId64, v);
    after_value(w);
}

void json_uint(json_writer *w, uint64_t v)
{
    before_value(w);
    fprintf(w->f, "%" PRIu64, v);
    after_value(w);
}

void json_bool(json_writer *w, bool v)
{
    before_value(w);
    fputs(v ? "true" : "false", w->f);
    after_value(w);
}

void json_null(json_writer *w)
{
    before_value(w);
    fputs("null", w->f);
    after_value(w);
}

void json_key_string(json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    json_string(w, s);
}

void json_key_number(json_writer *w, const char *key, double v)
{
    json_key(w, key);
    json_number(w, v);
}

void json_key_int(json_writer *w, const char *key, int64_t v)
{
    json_key(w, key);
    json_int(w, v);
}

void json_key_bool(json_writer *w, const char *key, bool v)
{
    json_key(w, key);
    json_bool(w, v);
}

void json_int_array(json_writer *w, int n, const int64_t *v)
{
    json_begin_array(w);
    for (int k = 0; k < n; k++)
        json_int(w, v[k]);
    json_end_array(w);
}
