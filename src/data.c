/* SPDX-License-Identifier: MIT */
/* data.c — training data sets (onnxgrad/data.h): IDX and TensorProto
 * readers, batch gathering, the seeded per-epoch shuffle.
 *
 * IDX files (the MNIST format: 0x00 0x00 <type> <rank>, rank big-endian
 * uint32 dims, then the elements row-major) are read through one byte
 * stream that is either the plain file or its gzip inflation (zlib's
 * inflate API in 64 KiB chunks, concatenated members allowed, the CRC and
 * length of each member checked), so both give the same validation and
 * the same messages. Nothing a header says is trusted before it is
 * checked: dims are overflow-checked and held to OG_LIMIT_TENSOR_ELEMENTS,
 * a plain file's size must match its header before anything is allocated,
 * and a gzip file's buffer grows with the data actually inflated (a
 * header claiming terabytes costs nothing until the bytes exist). Data
 * past what the header describes is an error too: it means a wrong
 * header, not harmless padding. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "internal.h"
#include "onnxgrad/data.h"

struct og_dataset {
    og_tensor *x, *y;
    int num_classes;
};

/* ---- one byte stream: a plain file, or the inflation of a gzip file ---- */

#define RD_CHUNK (64 * 1024)

typedef struct rd {
    const char *path;
    int fd;
    bool gz;
    z_stream zs;
    bool zinit;
    bool member_end;    /* inflate finished a gzip member */
    bool file_eof;
    uint8_t *in;        /* compressed input chunk */
    uint64_t in_read;   /* compressed bytes read from the file so far */
    uint64_t out_off;   /* bytes delivered so far (decompressed for gzip) */
    uint64_t file_size;
} rd;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n;
    if (__builtin_mul_overflow((size_t)items, (size_t)size, &n))
        return Z_NULL;
    return og_malloc(n ? n : 1);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    og_free(p);
}

/* Compressed bytes inflate has consumed: where a gzip problem lies. */
static uint64_t rd_in_off(const rd *r) { return r->in_read - r->zs.avail_in; }

/* "byte N" of the stream, with the compressed offset for gzip. */
static const char *rd_where(const rd *r, uint64_t off, char *buf, size_t size)
{
    if (r->gz)
        snprintf(buf, size, "decompressed byte %" PRIu64 " (compressed byte %" PRIu64 ")", off, rd_in_off(r));
    else
        snprintf(buf, size, "byte %" PRIu64, off);
    return buf;
}

static bool has_gz_suffix(const char *path)
{
    size_t n = strlen(path);
    return n >= 3 && strcmp(path + n - 3, ".gz") == 0;
}

static og_status rd_open(rd *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->gz = has_gz_suffix(path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return og_err(OG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    bool stat_ok = fstat(r->fd, &sb) == 0;
    if (!stat_ok || !S_ISREG(sb.st_mode)) {
        int e = errno;
        close(r->fd);
        r->fd = -1;
        return og_err(OG_ERR_IO, "%s: %s", path, stat_ok ? "not a regular file" : strerror(e));
    }
    r->file_size = (uint64_t)sb.st_size;
    if (!r->gz)
        return OG_OK;
    if (!(r->in = og_malloc(RD_CHUNK)))
        goto oom;
    r->zs.zalloc = z_alloc;
    r->zs.zfree = z_free;
    r->zs.opaque = Z_NULL;
    /* 15 + 16: a gzip wrapper (not zlib or raw deflate), the largest window */
    int ret = inflateInit2(&r->zs, 15 + 16);
    if (ret == Z_OK) {
        r->zinit = true;
        return OG_OK;
    }
    og_free(r->in);
    r->in = NULL;
    if (ret != Z_MEM_ERROR) {
        close(r->fd);
        r->fd = -1;
        return og_err(OG_ERR_INTERNAL, "%s: zlib inflateInit2 failed (%d)", path, ret);
    }
oom:
    close(r->fd);
    r->fd = -1;
    return og_err(OG_ERR_NOMEM, "%s: out of memory setting up gzip decompression", path);
}

static void rd_close(rd *r)
{
    if (r->zinit)
        inflateEnd(&r->zs);
    og_free(r->in);
    if (r->fd >= 0)
        close(r->fd);
    memset(r, 0, sizeof *r);
    r->fd = -1;
}

/* read(2) until n bytes or the end of the file. */
static og_status read_full(rd *r, uint8_t *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t k = read(r->fd, buf + *got, n - *got > (1u << 30) ? (1u << 30) : n - *got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return og_err(OG_ERR_IO, "%s: read error at byte %" PRIu64 ": %s", r->path,
                          r->in_read + *got + (r->gz ? 0 : r->out_off), strerror(errno));
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return OG_OK;
}

/* Inflates up to n bytes; *got < n only at the end of the last member. */
static og_status gz_read(rd *r, uint8_t *buf, size_t n, size_t *got)
{
    z_stream *zs = &r->zs;
    *got = 0;
    while (*got < n) {
        if (zs->avail_in == 0 && !r->file_eof) {
            size_t k;
            og_status st = read_full(r, r->in, RD_CHUNK, &k);
            if (st != OG_OK)
                return st;
            r->in_read += k;
            r->file_eof = k < RD_CHUNK;
            zs->next_in = r->in;
            zs->avail_in = (uInt)k;
        }
        if (r->member_end) {
            if (zs->avail_in == 0)
                break;    /* the end of the last member: the end of the data */
            /* another gzip member follows (as `cat a.gz b.gz` makes) */
            if (inflateReset(zs) != Z_OK)
                return og_err(OG_ERR_INTERNAL, "%s: zlib inflateReset failed", r->path);
            r->member_end = false;
        }
        size_t want = n - *got > UINT_MAX ? UINT_MAX : n - *got;
        zs->next_out = buf + *got;
        zs->avail_out = (uInt)want;
        int ret = inflate(zs, Z_NO_FLUSH);
        size_t made = want - zs->avail_out;
        *got += made;
        r->out_off += made;
        char where[96];
        switch (ret) {
        case Z_STREAM_END:
            r->member_end = true;
            break;
        case Z_OK:
            break;
        case Z_BUF_ERROR:
            /* no progress: input is exhausted (output room there was) */
            if (zs->avail_in == 0 && r->file_eof)
                return og_err(OG_ERR_PARSE,
                              "%s: truncated gzip data: the file ends at byte %" PRIu64
                              " inside a compressed stream (after %" PRIu64 " decompressed bytes)",
                              r->path, r->in_read, r->out_off);
            break;
        case Z_MEM_ERROR:
            return og_err(OG_ERR_NOMEM, "%s: out of memory inflating gzip data", r->path);
        default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            return og_err(OG_ERR_PARSE, "%s: corrupt gzip data at %s: %s", r->path,
                          rd_where(r, r->out_off, where, sizeof where),
                          zs->msg ? zs->msg : "invalid deflate stream");
        }
    }
    return OG_OK;
}

/* Reads up to n bytes of the stream; *got < n only at its end. */
static og_status rd_read(rd *r, void *buf, size_t n, size_t *got)
{
    if (r->gz)
        return gz_read(r, buf, n, got);
    og_status st = read_full(r, buf, n, got);
    r->out_off += *got;
    return st;
}

/* ---- IDX files --------------------------------------------------------- */

typedef struct idx_file {
    int rank;
    int64_t dims[3];
    uint8_t *data;      /* the elements (og_free) */
    int64_t count;      /* product of dims */
} idx_file;

/* Reads an IDX file of unsigned bytes with `rank` dims. what names the
 * content in messages ("images"); expect_n >= 0 is the example count dim 0
 * must have, checked before the data is read (against other_path). */
static og_status read_idx(const char *path, int rank, const char *what, int64_t expect_n,
                          const char *other_path, idx_file *out)
{
    memset(out, 0, sizeof *out);
    rd r;
    og_status st = rd_open(&r, path);
    if (st != OG_OK)
        return st;
    uint8_t head[4 + 4 * 3];
    size_t head_size = 4 + 4 * (size_t)rank, got;
    char where[96];
    uint8_t *data = NULL;
    if ((st = rd_read(&r, head, 4, &got)) != OG_OK)
        goto done;
    if (got < 4) {
        st = og_err(OG_ERR_PARSE, "%s: truncated IDX header: the data ends at %s, inside the 4-byte magic number",
                    path, rd_where(&r, r.out_off, where, sizeof where));
        goto done;
    }
    if (head[0] != 0 || head[1] != 0) {
        st = og_err(OG_ERR_PARSE,
                    "%s: not an IDX file: magic number 0x%02x%02x%02x%02x at byte 0 (expected 0x000008%02x, %s)",
                    path, head[0], head[1], head[2], head[3], rank, what);
        goto done;
    }
    if (head[2] != 0x08) {
        st = og_err(OG_ERR_PARSE,
                    "%s: IDX element type 0x%02x at byte 2 is not supported (expected 0x08, unsigned byte)", path,
                    head[2]);
        goto done;
    }
    if (head[3] != rank) {
        st = og_err(OG_ERR_PARSE, "%s: IDX rank %d at byte 3, expected %d for %s", path, head[3], rank, what);
        goto done;
    }
    if ((st = rd_read(&r, head + 4, head_size - 4, &got)) != OG_OK)
        goto done;
    if (got < head_size - 4) {
        st = og_err(OG_ERR_PARSE, "%s: truncated IDX header: the data ends at %s, inside the %d dims (bytes 4..%zu)",
                    path, rd_where(&r, r.out_off, where, sizeof where), rank, head_size - 1);
        goto done;
    }
    int64_t count = 1;
    for (int k = 0; k < rank; k++) {
        const uint8_t *p = head + 4 + 4 * k;
        out->dims[k] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (k > 0 && out->dims[k] == 0) {
            st = og_err(OG_ERR_PARSE, "%s: IDX dim %d at byte %d is 0", path, k, 4 + 4 * k);
            goto done;
        }
        if (!og_mul_ok(count, out->dims[k], &count)) {
            st = og_err(OG_ERR_LIMIT, "%s: the IDX dims at bytes 4..%zu overflow 64 bits", path, head_size - 1);
            goto done;
        }
    }
    out->rank = rank;
    if (count > og_limit_get(OG_LIMIT_TENSOR_ELEMENTS) || (uint64_t)count > SIZE_MAX / sizeof(float)) {
        char ctx[4200];
        snprintf(ctx, sizeof ctx, "%s: the IDX dims at bytes 4..%zu", path, head_size - 1);
        st = (uint64_t)count > SIZE_MAX / sizeof(float)
                 ? og_err(OG_ERR_LIMIT, "%s: %" PRId64 " elements do not fit in memory", ctx, count)
                 : og_check_numel_limit(count, ctx);
        goto done;
    }
    if (expect_n >= 0 && out->dims[0] != expect_n) {
        st = og_err(OG_ERR_PARSE, "%s: %" PRId64 " %s (count at byte 4) but %s has %" PRId64 " (count at byte 4)",
                    path, out->dims[0], what, other_path, expect_n);
        goto done;
    }
    /* A plain file's size is known: check it before allocating. */
    if (!r.gz && r.file_size != head_size + (uint64_t)count) {
        if (r.file_size < head_size + (uint64_t)count)
            st = og_err(OG_ERR_PARSE,
                        "%s: truncated: the header (bytes 0..%zu) says %" PRId64 " bytes of data from byte %zu, "
                        "but the file ends at byte %" PRIu64,
                        path, head_size - 1, count, head_size, r.file_size);
        else
            st = og_err(OG_ERR_PARSE,
                        "%s: %" PRIu64 " bytes after the data the header describes, from byte %" PRIu64
                        " (wrong header?)",
                        path, r.file_size - head_size - (uint64_t)count, head_size + (uint64_t)count);
        goto done;
    }
    /* Gzip: grow with what is actually inflated, from at most 4 MiB. */
    size_t cap = r.gz && count > (4 << 20) ? (4 << 20) : (size_t)count, have = 0;
    if (!(data = og_malloc(cap ? cap : 1))) {
        st = og_err(OG_ERR_NOMEM, "%s: out of memory allocating %zu bytes", path, cap);
        goto done;
    }
    while (have < (size_t)count) {
        if (have == cap) {
            size_t ncap = cap > (size_t)count / 2 ? (size_t)count : cap * 2;
            uint8_t *nd = og_realloc(data, ncap);
            if (!nd) {
                st = og_err(OG_ERR_NOMEM, "%s: out of memory allocating %zu bytes", path, ncap);
                goto done;
            }
            data = nd;
            cap = ncap;
        }
        if ((st = rd_read(&r, data + have, cap - have, &got)) != OG_OK)
            goto done;
        have += got;
        if (have < cap && have < (size_t)count) {
            st = og_err(OG_ERR_PARSE,
                        "%s: truncated: the header (bytes 0..%zu) says %" PRId64 " bytes of data from byte %zu, "
                        "but the data ends at %s",
                        path, head_size - 1, count, head_size, rd_where(&r, r.out_off, where, sizeof where));
            goto done;
        }
    }
    /* Nothing may follow (this also lets inflate reach and check the
     * gzip trailer: CRC-32 and length). */
    uint8_t extra;
    if ((st = rd_read(&r, &extra, 1, &got)) != OG_OK)
        goto done;
    if (got) {
        st = og_err(OG_ERR_PARSE, "%s: data continues past the %" PRId64 " bytes the header describes, at %s (wrong header?)",
                    path, count, rd_where(&r, r.out_off - 1, where, sizeof where));
        goto done;
    }
    out->data = data;
    out->count = count;
    data = NULL;
done:
    og_free(data);
    rd_close(&r);
    return st;
}

/* ---- locating the files ------------------------------------------------ */

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static og_status join(char *buf, size_t size, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(buf, size, "%s/%s%s", dir, name, suffix);
    if (n < 0 || (size_t)n >= size)
        return og_err(OG_ERR_INVALID_ARG, "og_dataset_load: path '%s/%s%s' is too long", dir, name, suffix);
    return OG_OK;
}

/* dir/name if it exists, else dir/name.gz if that exists; *found says
 * whether either did (buf then holds it). */
static og_status find_idx(const char *dir, const char *name, char *buf, size_t size, bool *found)
{
    og_status st;
    if ((st = join(buf, size, dir, name, "")) != OG_OK)
        return st;
    if ((*found = exists(buf)))
        return OG_OK;
    if ((st = join(buf, size, dir, name, ".gz")) != OG_OK)
        return st;
    *found = exists(buf);
    return OG_OK;
}

/* ---- the two layouts --------------------------------------------------- */

static og_status load_idx(const char *images, const char *labels, og_dataset *ds)
{
    idx_file lab = { 0 }, img = { 0 };
    og_status st = read_idx(labels, 1, "labels", -1, NULL, &lab);
    if (st != OG_OK)
        return st;
    int64_t n = lab.dims[0];
    st = read_idx(images, 3, "images", n, labels, &img);
    if (st == OG_OK) {
        int64_t xd[4] = { n, 1, img.dims[1], img.dims[2] };
        if ((st = og_tensor_create(OG_FLOAT, 4, xd, &ds->x)) == OG_OK) {
            float *x = ds->x->data;
            for (int64_t k = 0; k < img.count; k++)
                x[k] = (float)img.data[k] / 255.0f;
        }
    }
    if (st == OG_OK && (st = og_tensor_create(OG_INT64, 1, &n, &ds->y)) == OG_OK) {
        int64_t *y = ds->y->data;
        int max = -1;
        for (int64_t k = 0; k < n; k++) {
            y[k] = lab.data[k];
            if (lab.data[k] > max)
                max = lab.data[k];
        }
        ds->num_classes = max + 1;
    }
    og_free(lab.data);
    og_free(img.data);
    return st;
}

static og_status load_pb(const char *xpath, const char *ypath, og_dataset *ds)
{
    og_status st = og_tensor_load_pb(xpath, &ds->x);
    if (st != OG_OK)
        return st;
    const og_tensor *x = ds->x;
    if (x->dtype != OG_FLOAT && x->dtype != OG_DOUBLE)
        return og_err(OG_ERR_PARSE, "%s: examples of type %s; expected float or double", xpath,
                      og_dtype_name(x->dtype));
    if (x->rank < 1)
        return og_err(OG_ERR_PARSE, "%s: examples must have dims [N, ...], got a scalar", xpath);
    if ((st = og_tensor_load_pb(ypath, &ds->y)) != OG_OK)
        return st;
    const og_tensor *y = ds->y;
    if (y->dtype != OG_INT64 && y->dtype != OG_FLOAT && y->dtype != OG_DOUBLE)
        return og_err(OG_ERR_PARSE, "%s: targets of type %s; expected int64 (labels), float or double", ypath,
                      og_dtype_name(y->dtype));
    if (y->rank < 1 || (y->dtype == OG_INT64 && y->rank != 1))
        return og_err(OG_ERR_PARSE, "%s: targets must have dims %s, got rank %d", ypath,
                      y->dtype == OG_INT64 ? "[N] (int64 labels)" : "[N, ...]", y->rank);
    if (y->dims[0] != x->dims[0])
        return og_err(OG_ERR_PARSE, "%s: %" PRId64 " targets (dim 0) but %s has %" PRId64 " examples", ypath,
                      y->dims[0], xpath, x->dims[0]);
    if (y->dtype == OG_INT64) {
        const int64_t *v = y->data;
        int64_t max = -1;
        for (int64_t k = 0; k < y->numel; k++) {
            if (v[k] < 0 || v[k] >= INT_MAX)
                return og_err(OG_ERR_PARSE, "%s: label %" PRId64 " at index %" PRId64 " is %s", ypath, v[k], k,
                              v[k] < 0 ? "negative" : "too large for a class index");
            if (v[k] > max)
                max = v[k];
        }
        ds->num_classes = (int)(max + 1);
    }
    return OG_OK;
}

og_status og_dataset_load(const char *dir, const char *split, og_dataset **out)
{
    if (!out)
        return og_err(OG_ERR_INVALID_ARG, "og_dataset_load: out is NULL");
    *out = NULL;
    if (!dir || !split)
        return og_err(OG_ERR_INVALID_ARG, "og_dataset_load: %s is NULL", dir ? "split" : "dir");
    bool train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "test") != 0)
        return og_err(OG_ERR_INVALID_ARG, "og_dataset_load: split '%s': expected \"train\" or \"test\"", split);
    const char *img_name = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lab_name = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    char img[4096], lab[4096], xpb[4096], ypb[4096];
    bool have_img, have_lab;
    og_status st;
    if ((st = find_idx(dir, img_name, img, sizeof img, &have_img)) != OG_OK
        || (st = find_idx(dir, lab_name, lab, sizeof lab, &have_lab)) != OG_OK
        || (st = join(xpb, sizeof xpb, dir, split, "_x.pb")) != OG_OK
        || (st = join(ypb, sizeof ypb, dir, split, "_y.pb")) != OG_OK)
        return st;
    bool have_x = exists(xpb), have_y = exists(ypb);
    if ((have_img || have_lab) && (have_x || have_y))
        return og_err(OG_ERR_INVALID_ARG, "%s: both IDX files (%s) and TensorProto files (%s) for split '%s'; "
                      "keep one layout", dir, have_img ? img : lab, have_x ? xpb : ypb, split);
    if (!have_img && !have_lab && !have_x && !have_y)
        return og_err(OG_ERR_IO, "%s: no '%s' data: expected %s[.gz] and %s[.gz], or %s_x.pb and %s_y.pb", dir,
                      split, img_name, lab_name, split, split);
    if ((have_img || have_lab) && !(have_img && have_lab))
        return og_err(OG_ERR_IO, "%s/%s[.gz]: not found (%s is there)", dir, have_img ? lab_name : img_name,
                      have_img ? img : lab);
    if ((have_x || have_y) && !(have_x && have_y))
        return og_err(OG_ERR_IO, "%s: not found (%s is there)", have_x ? ypb : xpb, have_x ? xpb : ypb);

    og_dataset *ds = og_calloc(1, sizeof *ds);
    if (!ds)
        return og_err(OG_ERR_NOMEM, "og_dataset_load: out of memory");
    st = have_img ? load_idx(img, lab, ds) : load_pb(xpb, ypb, ds);
    if (st == OG_OK && (st = og_tensor_set_name(ds->x, "x")) == OG_OK)
        st = og_tensor_set_name(ds->y, "y");
    if (st != OG_OK) {
        og_dataset_free(ds);
        return st;
    }
    *out = ds;
    return OG_OK;
}

void og_dataset_free(og_dataset *ds)
{
    if (!ds)
        return;
    og_tensor_free(ds->x);
    og_tensor_free(ds->y);
    og_free(ds);
}

int64_t og_dataset_size(const og_dataset *ds) { return ds ? ds->x->dims[0] : 0; }
const og_tensor *og_dataset_x(const og_dataset *ds) { return ds ? ds->x : NULL; }
const og_tensor *og_dataset_y(const og_dataset *ds) { return ds ? ds->y : NULL; }
int og_dataset_num_classes(const og_dataset *ds) { return ds ? ds->num_classes : 0; }

/* ---- batches ----------------------------------------------------------- */

static og_status check_batch(const og_tensor *src, const og_tensor *dst, int64_t n, const char *which)
{
    bool ok = dst->dtype == src->dtype && dst->rank == src->rank && dst->dims[0] == n;
    for (int k = 1; ok && k < src->rank; k++)
        ok = dst->dims[k] == src->dims[k];
    if (ok)
        return OG_OK;
    char want[256], got[256];
    size_t a = 0, b = 0;
    for (int k = 0; k < src->rank && a < sizeof want; k++)
        a += (size_t)snprintf(want + a, sizeof want - a, "%s%" PRId64, k ? "," : "", k ? src->dims[k] : n);
    want[a < sizeof want ? a : sizeof want - 1] = '\0';
    got[0] = '\0';
    for (int k = 0; k < dst->rank && b < sizeof got; k++)
        b += (size_t)snprintf(got + b, sizeof got - b, "%s%" PRId64, k ? "," : "", dst->dims[k]);
    return og_err(OG_ERR_INVALID_ARG, "og_dataset_gather: %s batch is %s [%s], expected %s [%s]", which,
                  og_dtype_name(dst->dtype), got, og_dtype_name(src->dtype), want);
}

static void gather_rows(const og_tensor *src, og_tensor *dst, const int64_t *idx, int64_t n)
{
    int64_t N = src->dims[0];
    size_t row = N ? (size_t)(src->numel / N) * og_dtype_size(src->dtype) : 0;
    for (int64_t k = 0; k < n && row; k++)
        memcpy((char *)dst->data + (size_t)k * row, (const char *)src->data + (size_t)idx[k] * row, row);
}

og_status og_dataset_gather(const og_dataset *ds, const int64_t *idx, int64_t n, og_tensor *x, og_tensor *y)
{
    if (!ds || (!idx && n > 0) || n < 0)
        return og_err(OG_ERR_INVALID_ARG, "og_dataset_gather: %s", !ds ? "data set is NULL"
                      : n < 0 ? "negative count" : "idx is NULL");
    og_status st;
    if ((x && (st = check_batch(ds->x, x, n, "x")) != OG_OK) || (y && (st = check_batch(ds->y, y, n, "y")) != OG_OK))
        return st;
    int64_t N = ds->x->dims[0];
    for (int64_t k = 0; k < n; k++)
        if (idx[k] < 0 || idx[k] >= N)
            return og_err(OG_ERR_INVALID_ARG, "og_dataset_gather: idx[%" PRId64 "] = %" PRId64
                          " is outside the data set's %" PRId64 " examples", k, idx[k], N);
    if (x)
        gather_rows(ds->x, x, idx, n);
    if (y)
        gather_rows(ds->y, y, idx, n);
    return OG_OK;
}

/* ---- the shuffle (algorithm documented in data.h) ---------------------- */

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t next64(uint64_t *state)
{
    *state += GOLDEN;
    return mix64(*state);
}

/* Unbiased uniform in [0, bound) by rejection of the short last interval. */
static uint64_t uniform(uint64_t *state, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound, r;
    do
        r = next64(state);
    while (r < threshold);
    return r % bound;
}

og_status og_shuffle_permutation(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm)
{
    if (n < 0 || epoch < 0 || (!perm && n > 0))
        return og_err(OG_ERR_INVALID_ARG, "og_shuffle_permutation: %s",
                      n < 0 ? "negative count" : epoch < 0 ? "negative epoch" : "perm is NULL");
    uint64_t state = mix64(mix64(seed + GOLDEN) + (uint64_t)epoch);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)uniform(&state, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return OG_OK;
}
