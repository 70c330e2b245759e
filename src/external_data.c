/* SPDX-License-Identifier: MIT */
/* external_data.c — reading ONNX external tensor data, confined to the
 * model's directory (see external_data.h for the rules and status codes).
 *
 * A location is a path relative to the model's directory. It is checked as
 * text first (no absolute path, '..', '.', empty component or backslash),
 * then opened one component at a time from a descriptor of that directory
 * with O_NOFOLLOW, so neither a symbolic link nor a replaced parent can
 * lead outside it. The file must be a regular file with a single link (a
 * hard link could be a file from anywhere on the same file system), and
 * its size must hold the tensor before anything is allocated. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <protobuf-c/protobuf-c.h>
#include "onnx.pb-c.h"
#include "external_data.h"

/* Locations are printed at most this long in messages. */
#define SHOW 200

void og_extdata_ctx_init(og_extdata_ctx *c, const char *base_dir, size_t base_len)
{
    c->base_dir = base_dir;
    c->base_len = base_len;
    c->dirfd = -1;
}

void og_extdata_ctx_close(og_extdata_ctx *c)
{
    if (c->dirfd >= 0)
        close(c->dirfd);
    c->dirfd = -1;
}

bool og_extdata_present(const Onnx__TensorProto *tp)
{
    return (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
           || tp->n_external_data > 0;
}

const char *og_extdata_name_problem(const char *name)
{
    if (!name || !name[0])
        return "the location is empty";
    if (strlen(name) > OG_EXTDATA_MAX_PATH)
        return "longer than 4095 bytes";
    if (name[0] == '/')
        return "absolute paths are not allowed";
    if (strchr(name, '\\'))
        return "backslashes are not allowed";
    for (const char *c = name;;) {
        size_t n = strcspn(c, "/");
        if (n == 0)
            return "empty path components ('a//b' or a trailing '/') are not allowed";
        if (n == 2 && c[0] == '.' && c[1] == '.')
            return "'..' is not allowed";
        if (n == 1 && c[0] == '.')
            return "'.' components are not allowed";
        if (!c[n])
            return NULL;
        c += n + 1;
    }
}

/* A decimal count of bytes: digits only (no sign, space or prefix), at
 * most INT64_MAX so it fits an off_t. */
static bool parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Name of the first typed-data field tp fills, or NULL. */
static const char *typed_present(const Onnx__TensorProto *tp)
{
    if (tp->n_float_data) return "float_data";
    if (tp->n_int32_data) return "int32_data";
    if (tp->n_string_data) return "string_data";
    if (tp->n_int64_data) return "int64_data";
    if (tp->n_double_data) return "double_data";
    if (tp->n_uint64_data) return "uint64_data";
    return NULL;
}

og_status og_extdata_parse(const Onnx__TensorProto *tp, const char *where, og_extdata_ref *ref)
{
    static const char *const keys[] = { "location", "offset", "length", "checksum" };
    const char *val[4] = { NULL, NULL, NULL, NULL };
    memset(ref, 0, sizeof *ref);
    for (size_t k = 0; k < tp->n_external_data; k++) {
        const char *key = tp->external_data[k]->key ? tp->external_data[k]->key : "";
        const char *v = tp->external_data[k]->value ? tp->external_data[k]->value : "";
        int j = 0;
        while (j < 4 && strcmp(key, keys[j]) != 0)
            j++;
        if (j == 4)
            return og_err(OG_ERR_PARSE, "%s: external_data[%zu]: unknown key '%.*s' (expected location, "
                          "offset, length or checksum)", where, k, SHOW, key);
        if (val[j])
            return og_err(OG_ERR_PARSE, "%s: external_data[%zu]: key '%s' is given twice", where, k, key);
        val[j] = v;
    }
    /* val[3], the checksum (SHA1 of the data), is accepted and not
     * verified: it guards against corruption, not against a hostile file,
     * and hashing would cost a second pass over every weight. */
    if (!tp->has_data_location || tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return og_err(OG_ERR_PARSE, "%s: external_data is given but data_location is not EXTERNAL (1)",
                      where);
    if (tp->n_external_data == 0)
        return og_err(OG_ERR_PARSE, "%s: data_location is EXTERNAL but external_data is empty "
                      "(expected a 'location')", where);
    if (!val[0])
        return og_err(OG_ERR_PARSE, "%s: external_data has no 'location' key", where);
    const char *why = og_extdata_name_problem(val[0]);
    if (why)
        return og_err(OG_ERR_PARSE, "%s: external data location '%.*s': %s; external data must stay "
                      "inside the model's directory", where, SHOW, val[0], why);
    if (val[1] && !parse_count(val[1], &ref->offset))
        return og_err(OG_ERR_PARSE, "%s: external data '%.*s': offset '%.*s' is not a decimal byte count "
                      "(digits only, at most %" PRId64 ")", where, SHOW, val[0], SHOW, val[1], INT64_MAX);
    if (val[2] && !parse_count(val[2], &ref->length))
        return og_err(OG_ERR_PARSE, "%s: external data '%.*s': length '%.*s' is not a decimal byte count "
                      "(digits only, at most %" PRId64 ")", where, SHOW, val[0], SHOW, val[2], INT64_MAX);
    ref->has_length = val[2] != NULL;
    if (tp->has_raw_data)
        return og_err(OG_ERR_PARSE, "%s: both raw_data and external data ('%.*s') are given; expected "
                      "one of them", where, SHOW, val[0]);
    const char *typed = typed_present(tp);
    if (typed)
        return og_err(OG_ERR_PARSE, "%s: both %s and external data ('%.*s') are given; expected one of "
                      "them", where, typed, SHOW, val[0]);
    ref->location = val[0];
    return OG_OK;
}

static const char *kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    if (S_ISREG(m)) return "a regular file";
    return "of an unknown kind";
}

/* Opens c's directory on first use. */
static og_status open_base(og_extdata_ctx *c, const char *where, const char *loc)
{
    if (c->dirfd >= 0)
        return OG_OK;
    char *dir = og_malloc(c->base_len + 1);
    if (!dir)
        return og_err(OG_ERR_NOMEM, "%s: out of memory", where);
    memcpy(dir, c->base_dir, c->base_len);
    dir[c->base_len] = '\0';
    c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    og_status st = OG_OK;
    if (c->dirfd < 0)
        st = og_err(OG_ERR_IO, "%s: external data '%.*s': cannot open the model's directory '%s': %s",
                    where, SHOW, loc, dir, strerror(errno));
    og_free(dir);
    return st;
}

og_status og_extdata_open(og_extdata_ctx *c, const og_extdata_ref *ref, const char *where,
                          uint64_t nbytes, int *fd)
{
    const char *loc = ref->location;
    *fd = -1;
    if (ref->has_length && ref->length != nbytes)
        return og_err(OG_ERR_PARSE, "%s: external data '%.*s': length is %" PRIu64 " bytes, expected %"
                      PRIu64 " (the tensor's size)", where, SHOW, loc, ref->length, nbytes);
    uint64_t end, off_max = sizeof(off_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
    if (__builtin_add_overflow(ref->offset, nbytes, &end) || end > off_max)
        return og_err(OG_ERR_PARSE, "%s: external data '%.*s': offset %" PRIu64 " + %" PRIu64 " bytes "
                      "overflows a file offset", where, SHOW, loc, ref->offset, nbytes);
    if (!c || !c->base_dir)
        return og_err(OG_ERR_INVALID_ARG, "%s: data is in the external file '%.*s', which needs a base "
                      "directory: the model was loaded from memory; give og_load_options.base_dir to "
                      "og_model_load_memory_ex", where, SHOW, loc);
    og_status st = open_base(c, where, loc);
    if (st != OG_OK)
        return st;

    /* Walk the parents; path[] is cut at each '/' so messages can show the
     * prefix walked so far. */
    char path[OG_EXTDATA_MAX_PATH + 1];
    snprintf(path, sizeof path, "%s", loc);
    int dfd = c->dirfd;
    char *comp = path, *slash;
    struct stat sb;
    while ((slash = strchr(comp, '/'))) {
        *slash = '\0';
        int nfd = -1, e = 0;
        if (fstatat(dfd, comp, &sb, AT_SYMLINK_NOFOLLOW) != 0)
            e = errno;
        else if (S_ISLNK(sb.st_mode))
            e = ELOOP;
        else if (!S_ISDIR(sb.st_mode))
            e = ENOTDIR;
        else if ((nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            e = errno;
        if (dfd != c->dirfd)
            close(dfd);
        if (nfd < 0) {
            if (e == ELOOP)
                return og_err(OG_ERR_IO, "%s: external data '%.*s': '%s' is a symbolic link; links are not "
                              "followed so that external data stays inside the model's directory", where,
                              SHOW, loc, path);
            if (e == ENOTDIR)
                return og_err(OG_ERR_IO, "%s: external data '%.*s': '%s' is %s, not a directory", where,
                              SHOW, loc, path, kind(sb.st_mode));
            return og_err(OG_ERR_IO, "%s: external data '%.*s': cannot open directory '%s': %s", where,
                          SHOW, loc, path, strerror(e));
        }
        dfd = nfd;
        *slash = '/';
        comp = slash + 1;
    }

    /* Look before opening, so a FIFO or a device is never opened; the
     * checks are repeated on the open descriptor, which is what counts. */
    int e = 0, f = -1;
    if (fstatat(dfd, comp, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        e = errno;
    else if (S_ISREG(sb.st_mode) &&
             (f = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
        e = errno;
    else if (f >= 0 && fstat(f, &sb) != 0)
        e = errno;
    if (dfd != c->dirfd)
        close(dfd);
    if (e) {
        if (f >= 0)
            close(f);
        if (e == ELOOP)
            return og_err(OG_ERR_IO, "%s: external data '%.*s': the file is a symbolic link; links are not "
                          "followed so that external data stays inside the model's directory", where,
                          SHOW, loc);
        return og_err(OG_ERR_IO, "%s: external data '%.*s': cannot open: %s", where, SHOW, loc,
                      strerror(e));
    }
    if (S_ISLNK(sb.st_mode))
        return og_err(OG_ERR_IO, "%s: external data '%.*s': the file is a symbolic link; links are not "
                      "followed so that external data stays inside the model's directory", where, SHOW,
                      loc);
    if (!S_ISREG(sb.st_mode)) {
        if (f >= 0)
            close(f);
        return og_err(OG_ERR_IO, "%s: external data '%.*s': the file is %s, not a regular file", where,
                      SHOW, loc, kind(sb.st_mode));
    }
    if (sb.st_nlink != 1) {
        close(f);
        return og_err(OG_ERR_IO, "%s: external data '%.*s': the file has %ju hard links; only a file with "
                      "a single link is read, since a hard link can lead outside the model's directory",
                      where, SHOW, loc, (uintmax_t)sb.st_nlink);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (end > size) {
        close(f);
        if (ref->has_length)
            return og_err(OG_ERR_IO, "%s: external data '%.*s': offset %" PRIu64 " + length %" PRIu64 " = %"
                          PRIu64 " is past the end of the file (%" PRIu64 " bytes)", where, SHOW, loc,
                          ref->offset, nbytes, end, size);
        return og_err(OG_ERR_IO, "%s: external data '%.*s': offset %" PRIu64 " + %" PRIu64 " bytes (the "
                      "tensor's size) = %" PRIu64 " is past the end of the file (%" PRIu64 " bytes)",
                      where, SHOW, loc, ref->offset, nbytes, end, size);
    }
    /* Without a length the data runs to the end of the file (ONNX's rule),
     * so the rest of the file must be exactly the tensor. */
    if (!ref->has_length && end != size) {
        close(f);
        return og_err(OG_ERR_IO, "%s: external data '%.*s': no length given, so the data runs to the end "
                      "of the file: %" PRIu64 " bytes after offset %" PRIu64 ", expected %" PRIu64
                      " (the tensor's size)", where, SHOW, loc, size - ref->offset, ref->offset, nbytes);
    }
    *fd = f;
    return OG_OK;
}

og_status og_extdata_read(int fd, const og_extdata_ref *ref, const char *where, void *dst,
                          size_t nbytes)
{
    size_t got = 0;
    while (got < nbytes) {
        size_t chunk = nbytes - got > ((size_t)1 << 30) ? ((size_t)1 << 30) : nbytes - got;
        ssize_t r = pread(fd, (char *)dst + got, chunk, (off_t)(ref->offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            close(fd);
            return r == 0 ? og_err(OG_ERR_IO, "%s: external data '%.*s': the file shrank while reading (%zu "
                                   "of %zu bytes)", where, SHOW, ref->location, got, nbytes)
                          : og_err(OG_ERR_IO, "%s: external data '%.*s': read failed: %s", where, SHOW,
                                   ref->location, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    return OG_OK;
}
