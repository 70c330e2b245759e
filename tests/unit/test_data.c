/* SPDX-License-Identifier: MIT */
/* test_data.c — the data-set readers, batches and shuffle (onnxgrad/data.h).
 *
 * IDX files are written here byte by byte (plain, and gzipped through zlib
 * in memory so the compressed bytes can be damaged), .pb files through
 * og_tensor_save_pb, then read back and compared exactly. Every kind of bad
 * file must give its own error naming the file and the byte offset.
 *
 * The tcase "needs_dataset_fashion_mnist" reads the real Fashion-MNIST
 * from /usr/share/datasets/fashion-mnist and REQUIRES the Debian package
 * dataset-fashion-mnist (tools/install-deps.sh installs it): without it
 * the test fails, it does not skip. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "testutil.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char g_dir[512];

/* A fresh directory OG_TEST_TMP_DIR/data-<name> with the data-set files removed. */
static const char *fresh_dir(const char *name)
{
    static const char *const files[] = {
        "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte",
        "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz", "train_x.pb", "train_y.pb", "test_x.pb",
        "test_y.pb",
    };
    snprintf(g_dir, sizeof g_dir, "%s/data-%s", OG_TEST_TMP_DIR, name);
    mkdir(g_dir, 0777);
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", g_dir, files[k]);
        if (unlink(p) != 0 && errno == EISDIR)
            rmdir(p);
    }
    return g_dir;
}

static const char *path_in(const char *dir, const char *name)
{
    static char p[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* ---- building IDX bytes ------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static bytes idx_bytes(uint8_t type, int rank, const uint32_t *dims, const uint8_t *data, size_t n)
{
    bytes b = { malloc(4 + 4 * (size_t)rank + n + 1), 4 + 4 * (size_t)rank + n };
    b.p[0] = 0;
    b.p[1] = 0;
    b.p[2] = type;
    b.p[3] = (uint8_t)rank;
    for (int k = 0; k < rank; k++) {
        b.p[4 + 4 * k] = (uint8_t)(dims[k] >> 24);
        b.p[5 + 4 * k] = (uint8_t)(dims[k] >> 16);
        b.p[6 + 4 * k] = (uint8_t)(dims[k] >> 8);
        b.p[7 + 4 * k] = (uint8_t)dims[k];
    }
    if (n)
        memcpy(b.p + 4 + 4 * rank, data, n);
    return b;
}

/* One gzip member holding b (zlib's deflate with the gzip wrapper). */
static bytes gzip_bytes(bytes b)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)b.n) + 64;
    bytes out = { malloc(cap), 0 };
    zs.next_in = b.p;
    zs.avail_in = (uInt)b.n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.n = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void put(const char *path, bytes b)
{
    og_test_write_file(path, b.p, b.n);
}

/* A small data set: n images of h x w and their labels. */
typedef struct small {
    uint32_t n, h, w;
    uint8_t *pix, *lab;
} small;

static small make_small(uint32_t n, uint32_t h, uint32_t w, unsigned seed)
{
    small s = { n, h, w, malloc((size_t)n * h * w + 1), malloc(n + 1) };
    srand(seed);
    for (size_t k = 0; k < (size_t)n * h * w; k++)
        s.pix[k] = (uint8_t)(k == 0 ? 0 : k == 1 ? 255 : rand() % 256);
    for (uint32_t k = 0; k < n; k++)
        s.lab[k] = (uint8_t)(k % 7);
    return s;
}

static bytes small_images(const small *s)
{
    return idx_bytes(0x08, 3, (uint32_t[]){ s->n, s->h, s->w }, s->pix, (size_t)s->n * s->h * s->w);
}

static bytes small_labels(const small *s)
{
    return idx_bytes(0x08, 1, (uint32_t[]){ s->n }, s->lab, s->n);
}

/* Writes the pair, each plain or gzipped, under the split's names. */
static void write_small(const char *dir, const small *s, const char *split, bool gz_img, bool gz_lab)
{
    bool train = strcmp(split, "train") == 0;
    char ni[64], nl[64];
    snprintf(ni, sizeof ni, "%s-images-idx3-ubyte%s", train ? "train" : "t10k", gz_img ? ".gz" : "");
    snprintf(nl, sizeof nl, "%s-labels-idx1-ubyte%s", train ? "train" : "t10k", gz_lab ? ".gz" : "");
    bytes bi = small_images(s), bl = small_labels(s);
    if (gz_img) {
        bytes z = gzip_bytes(bi);
        free(bi.p);
        bi = z;
    }
    if (gz_lab) {
        bytes z = gzip_bytes(bl);
        free(bl.p);
        bl = z;
    }
    put(path_in(dir, ni), bi);
    put(path_in(dir, nl), bl);
    free(bi.p);
    free(bl.p);
}

static void check_small(const og_dataset *ds, const small *s)
{
    ck_assert_int_eq(og_dataset_size(ds), s->n);
    const og_tensor *x = og_dataset_x(ds), *y = og_dataset_y(ds);
    ck_assert_int_eq(x->dtype, OG_FLOAT);
    ck_assert_int_eq(x->rank, 4);
    ck_assert_int_eq(x->dims[0], s->n);
    ck_assert_int_eq(x->dims[1], 1);
    ck_assert_int_eq(x->dims[2], s->h);
    ck_assert_int_eq(x->dims[3], s->w);
    ck_assert_str_eq(x->name, "x");
    ck_assert_str_eq(y->name, "y");
    const float *xv = x->data;
    for (size_t k = 0; k < (size_t)s->n * s->h * s->w; k++)
        ck_assert_msg(xv[k] == (float)s->pix[k] / 255.0f, "pixel %zu: %g for byte %d", k, xv[k], s->pix[k]);
    ck_assert_float_eq(xv[0], 0.0f);
    ck_assert_float_eq(xv[1], 1.0f);
    ck_assert_int_eq(y->dtype, OG_INT64);
    ck_assert_int_eq(y->rank, 1);
    ck_assert_int_eq(y->dims[0], s->n);
    int max = -1;
    for (uint32_t k = 0; k < s->n; k++) {
        ck_assert_int_eq(((const int64_t *)y->data)[k], s->lab[k]);
        max = s->lab[k] > max ? s->lab[k] : max;
    }
    ck_assert_int_eq(og_dataset_num_classes(ds), max + 1);
}

START_TEST(idx_plain_and_gzip_read_back_exactly)
{
    small s = make_small(9, 5, 4, 1);
    for (int mode = 0; mode < 4; mode++) {
        const char *dir = fresh_dir("roundtrip");
        write_small(dir, &s, "train", mode & 1, mode & 2);
        og_dataset *ds = (og_dataset *)1;
        OG_CHECK(og_dataset_load(dir, "train", &ds));
        check_small(ds, &s);
        og_dataset_free(ds);
        /* no test split in this directory */
        OG_CHECK_FAILS(og_dataset_load(dir, "test", &ds), OG_ERR_IO, "no 'test' data");
        ck_assert_ptr_null(ds);
    }
    /* the test split has the t10k names */
    small t = make_small(3, 2, 6, 2);
    const char *dir = fresh_dir("roundtrip");
    write_small(dir, &s, "train", true, true);
    write_small(dir, &t, "test", true, false);
    og_dataset *tr, *te;
    OG_CHECK(og_dataset_load(dir, "train", &tr));
    OG_CHECK(og_dataset_load(dir, "test", &te));
    check_small(tr, &s);
    check_small(te, &t);
    og_dataset_free(tr);
    og_dataset_free(te);
    /* a plain file beside its .gz is the one read */
    small u = make_small(9, 5, 4, 3);
    write_small(dir, &u, "train", false, false);
    OG_CHECK(og_dataset_load(dir, "train", &tr));
    check_small(tr, &u);
    og_dataset_free(tr);
    free(s.pix), free(s.lab), free(t.pix), free(t.lab), free(u.pix), free(u.lab);
}
END_TEST

START_TEST(gzip_with_several_members_and_large_data)
{
    /* 300 images of 37 x 29: about 320 KB inflated, several 64 KiB input
     * chunks, split into two gzip members at an odd place */
    small s = make_small(300, 37, 29, 4);
    const char *dir = fresh_dir("members");
    bytes bi = small_images(&s);
    bytes a = { bi.p, 100001 }, b = { bi.p + 100001, bi.n - 100001 };
    bytes za = gzip_bytes(a), zb = gzip_bytes(b);
    uint8_t *cat = malloc(za.n + zb.n);
    memcpy(cat, za.p, za.n);
    memcpy(cat + za.n, zb.p, zb.n);
    put(path_in(dir, "train-images-idx3-ubyte.gz"), (bytes){ cat, za.n + zb.n });
    bytes bl = small_labels(&s);
    put(path_in(dir, "train-labels-idx1-ubyte"), bl);
    og_dataset *ds;
    OG_CHECK(og_dataset_load(dir, "train", &ds));
    check_small(ds, &s);
    og_dataset_free(ds);
    free(bi.p), free(za.p), free(zb.p), free(cat), free(bl.p), free(s.pix), free(s.lab);
}
END_TEST

/* Writes `img` as the train images (raw bytes as given) with good labels
 * for `n` examples, then expects the load to fail with code and needle;
 * the message must start with the images file's path. */
static void expect_images_error(bytes img, const char *img_name, uint32_t n, og_status code, const char *needle)
{
    const char *dir = fresh_dir("bad");
    uint8_t *lab = calloc(n + 1, 1);
    bytes bl = idx_bytes(0x08, 1, (uint32_t[]){ n }, lab, n);
    put(path_in(dir, "train-labels-idx1-ubyte"), bl);
    const char *ip = path_in(dir, img_name);
    put(ip, img);
    og_dataset *ds = (og_dataset *)1;
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), code, needle);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strncmp(og_errmsg(), ip, strlen(ip)) == 0, "message '%s' does not start with '%s'", og_errmsg(),
                  ip);
    free(lab);
    free(bl.p);
}

START_TEST(bad_idx_files_name_the_file_and_offset)
{
    small s = make_small(4, 3, 3, 5);
    bytes good = small_images(&s);   /* 16-byte header + 36 bytes */
    const char *plain = "train-images-idx3-ubyte", *gz = "train-images-idx3-ubyte.gz";

    bytes b = { malloc(good.n + 8), good.n };
    memcpy(b.p, good.p, good.n);
    b.p[1] = 1;
    expect_images_error(b, plain, 4, OG_ERR_PARSE, "not an IDX file: magic number 0x00010803 at byte 0");
    memcpy(b.p, good.p, good.n);
    b.p[2] = 0x0D;   /* float elements */
    expect_images_error(b, plain, 4, OG_ERR_PARSE, "IDX element type 0x0d at byte 2 is not supported");
    memcpy(b.p, good.p, good.n);
    b.p[3] = 2;
    expect_images_error(b, plain, 4, OG_ERR_PARSE, "IDX rank 2 at byte 3, expected 3 for images");
    expect_images_error((bytes){ good.p, 3 }, plain, 4, OG_ERR_PARSE,
                        "truncated IDX header: the data ends at byte 3, inside the 4-byte magic number");
    expect_images_error((bytes){ good.p, 10 }, plain, 4, OG_ERR_PARSE,
                        "truncated IDX header: the data ends at byte 10, inside the 3 dims (bytes 4..15)");
    expect_images_error((bytes){ good.p, good.n - 5 }, plain, 4, OG_ERR_PARSE,
                        "truncated: the header (bytes 0..15) says 36 bytes of data from byte 16, but the file ends at byte 47");
    memcpy(b.p, good.p, good.n);
    memset(b.p + good.n, 7, 3);
    expect_images_error((bytes){ b.p, good.n + 3 }, plain, 4, OG_ERR_PARSE,
                        "3 bytes after the data the header describes, from byte 52");
    /* H = 0 */
    bytes z = idx_bytes(0x08, 3, (uint32_t[]){ 4, 0, 3 }, NULL, 0);
    expect_images_error(z, plain, 4, OG_ERR_PARSE, "IDX dim 1 at byte 8 is 0");
    free(z.p);
    /* dims whose product overflows 64 bits, and one over the default
     * element limit (checked before the count is compared with the labels') */
    z = idx_bytes(0x08, 3, (uint32_t[]){ 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu }, NULL, 0);
    expect_images_error(z, plain, 1, OG_ERR_LIMIT, "the IDX dims at bytes 4..15 overflow 64 bits");
    free(z.p);
    z = idx_bytes(0x08, 3, (uint32_t[]){ 60000, 60000, 60000 }, NULL, 0);
    expect_images_error(z, plain, 1, OG_ERR_LIMIT, "the IDX dims at bytes 4..15: 216000000000000 elements");
    bytes zz = gzip_bytes(z);
    expect_images_error(zz, gz, 1, OG_ERR_LIMIT, "OG_LIMIT_TENSOR_ELEMENTS");
    free(z.p);
    free(zz.p);
    /* ... and over a lowered limit */
    int64_t old = og_limit(OG_LIMIT_TENSOR_ELEMENTS, 35);
    expect_images_error(good, plain, 4, OG_ERR_LIMIT, "36 elements, over the limit of 35");
    og_limit(OG_LIMIT_TENSOR_ELEMENTS, old);
    /* images and labels disagree on the count */
    {
        const char *dir = fresh_dir("bad");
        bytes bl = idx_bytes(0x08, 1, (uint32_t[]){ 5 }, (const uint8_t[]){ 1, 2, 3, 4, 5 }, 5);
        bytes zl = gzip_bytes(bl);
        put(path_in(dir, "train-labels-idx1-ubyte.gz"), zl);
        free(zl.p);
        put(path_in(dir, plain), good);
        og_dataset *ds;
        char want[1400];
        snprintf(want, sizeof want, "%s: 4 images (count at byte 4) but %s has 5 (count at byte 4)",
                 path_in(dir, plain), path_in(dir, "train-labels-idx1-ubyte.gz"));
        OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, want);
        free(bl.p);
    }
    /* labels with the wrong rank name the labels file */
    {
        const char *dir = fresh_dir("bad");
        put(path_in(dir, "train-labels-idx1-ubyte"), good);
        put(path_in(dir, plain), good);
        og_dataset *ds;
        OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE,
                       "train-labels-idx1-ubyte: IDX rank 3 at byte 3, expected 1 for labels");
    }

    /* gzip: truncated compressed data, flipped bits, a wrong CRC, a
     * complete stream whose content is short or too long, trailing junk */
    bytes zg = gzip_bytes(good);
    char want[200];
    snprintf(want, sizeof want, "truncated gzip data: the file ends at byte %zu inside a compressed stream",
             zg.n - 9);
    expect_images_error((bytes){ zg.p, zg.n - 9 }, gz, 4, OG_ERR_PARSE, want);
    expect_images_error((bytes){ zg.p, 0 }, gz, 4, OG_ERR_PARSE,
                        "truncated gzip data: the file ends at byte 0 inside a compressed stream (after 0 decompressed bytes)");
    bytes zc = { malloc(zg.n + 16), zg.n };
    memcpy(zc.p, zg.p, zg.n);
    zc.p[zg.n - 8] ^= 0x55;   /* the CRC-32 in the trailer */
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "corrupt gzip data at decompressed byte 52 (compressed byte");
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "incorrect data check");
    memcpy(zc.p, zg.p, zg.n);
    zc.p[0] = 0x1e;   /* not a gzip header */
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "corrupt gzip data at decompressed byte 0 (compressed byte ");
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "incorrect header check");
    memcpy(zc.p, zg.p, zg.n);
    zc.p[10] = 0xFF;   /* the first deflate block header: an invalid block type */
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "corrupt gzip data at decompressed byte 0");
    memcpy(zc.p, zg.p, zg.n);
    memcpy(zc.p + zg.n, "junk!", 5);
    zc.n = zg.n + 5;
    expect_images_error(zc, gz, 4, OG_ERR_PARSE, "corrupt gzip data at decompressed byte 52");
    bytes shortb = gzip_bytes((bytes){ good.p, good.n - 6 });
    expect_images_error(shortb, gz, 4, OG_ERR_PARSE,
                        "truncated: the header (bytes 0..15) says 36 bytes of data from byte 16, but the data ends at "
                        "decompressed byte 46 (compressed byte");
    memcpy(b.p, good.p, good.n);
    memset(b.p + good.n, 1, 2);
    bytes longb = gzip_bytes((bytes){ b.p, good.n + 2 });
    expect_images_error(longb, gz, 4, OG_ERR_PARSE,
                        "data continues past the 36 bytes the header describes, at decompressed byte 52");
    bytes hz = gzip_bytes((bytes){ good.p, 7 });
    expect_images_error(hz, gz, 4, OG_ERR_PARSE,
                        "truncated IDX header: the data ends at decompressed byte 7 (compressed byte");
    free(b.p), free(zg.p), free(zc.p), free(shortb.p), free(longb.p), free(hz.p), free(good.p);
    free(s.pix), free(s.lab);
}
END_TEST

/* Random damage to valid files (flipped bytes, cuts, insertions, in the
 * header and the data, plain and gzipped): each load succeeds or fails
 * with a parse or limit error naming the file, never crashes or reads out
 * of bounds (the ASan build runs this too). */
START_TEST(random_damage_is_an_error_not_a_crash)
{
    small s = make_small(6, 5, 7, 9);
    bytes img = small_images(&s), lab = small_labels(&s);
    bytes zimg = gzip_bytes(img), zlab = gzip_bytes(lab);
    srand(12345);
    int ok = 0, refused = 0;
    for (int round = 0; round < 1200; round++) {
        bool gz = round % 2, damage_labels = round % 3 == 0;
        const bytes *src = damage_labels ? (gz ? &zlab : &lab) : (gz ? &zimg : &img);
        uint8_t *d = malloc(src->n + 16);
        memcpy(d, src->p, src->n);
        size_t n = src->n;
        int kind = rand() % 4, count = 1 + rand() % 3;
        for (int c = 0; c < count; c++) {
            size_t at = (size_t)rand() % n;
            if (kind == 0 || kind == 3)
                d[at] ^= (uint8_t)(1 + rand() % 255);
            else if (kind == 1)
                n = at;   /* cut */
            else if (n + 1 < src->n + 16) {
                memmove(d + at + 1, d + at, n - at);
                d[at] = (uint8_t)rand();
                n++;
            }
            if (n == 0)
                break;
        }
        const char *dir = fresh_dir("damage");
        const char *ip = path_in(dir, gz ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte");
        const char *lp = path_in(dir, gz ? "train-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte");
        put(ip, damage_labels ? (gz ? zimg : img) : (bytes){ d, n });
        put(lp, damage_labels ? (bytes){ d, n } : (gz ? zlab : lab));
        og_dataset *ds = (og_dataset *)1;
        og_status st = og_dataset_load(dir, "train", &ds);
        if (st == OG_OK) {
            ok++;
            ck_assert_int_eq(og_dataset_x(ds)->dims[0], og_dataset_y(ds)->dims[0]);
            og_dataset_free(ds);
        } else {
            refused++;
            ck_assert_msg(st == OG_ERR_PARSE || st == OG_ERR_LIMIT, "round %d: %s: %s", round, og_status_name(st),
                          og_errmsg());
            ck_assert_ptr_null(ds);
            ck_assert_msg(strstr(og_errmsg(), damage_labels ? lp : ip) || strstr(og_errmsg(), damage_labels ? ip : lp),
                          "round %d: message does not name a file: %s", round, og_errmsg());
            ck_assert_msg(strstr(og_errmsg(), "byte") != NULL,
                          "round %d: message gives no offset: %s", round, og_errmsg());
        }
        free(d);
    }
    /* most damage is caught (a flipped pixel in a plain file is not damage
     * a reader can see) */
    ck_assert_int_gt(refused, 800);
    ck_assert_int_gt(ok, 0);
    free(img.p), free(lab.p), free(zimg.p), free(zlab.p), free(s.pix), free(s.lab);
}
END_TEST

START_TEST(missing_and_ambiguous_files)
{
    og_dataset *ds = (og_dataset *)1;
    OG_CHECK_FAILS(og_dataset_load(OG_TEST_TMP_DIR "/no-such-dir", "train", &ds), OG_ERR_IO,
                   "no-such-dir: no 'train' data: expected train-images-idx3-ubyte[.gz] and "
                   "train-labels-idx1-ubyte[.gz], or train_x.pb and train_y.pb");
    ck_assert_ptr_null(ds);
    OG_CHECK_FAILS(og_dataset_load(OG_TEST_TMP_DIR, "valid", &ds), OG_ERR_INVALID_ARG,
                   "split 'valid': expected \"train\" or \"test\"");
    OG_CHECK_FAILS(og_dataset_load(NULL, "train", &ds), OG_ERR_INVALID_ARG, "dir is NULL");
    small s = make_small(2, 2, 2, 6);
    const char *dir = fresh_dir("missing");
    bytes bi = small_images(&s);
    put(path_in(dir, "train-images-idx3-ubyte"), bi);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_IO, "train-labels-idx1-ubyte[.gz]: not found");
    bytes bl = small_labels(&s);
    put(path_in(dir, "train-labels-idx1-ubyte"), bl);
    OG_CHECK(og_dataset_load(dir, "train", &ds));
    og_dataset_free(ds);
    og_tensor *t;
    OG_CHECK(og_tensor_create(OG_FLOAT, 1, (int64_t[]){ 2 }, &t));
    OG_CHECK(og_tensor_save_pb(t, path_in(dir, "train_x.pb")));
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_INVALID_ARG, "keep one layout");
    unlink(path_in(dir, "train-images-idx3-ubyte"));
    unlink(path_in(dir, "train-labels-idx1-ubyte"));
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_IO, "train_y.pb: not found (");
    og_tensor_free(t);
    /* a directory where a file should be */
    dir = fresh_dir("missing");
    mkdir(path_in(dir, "train-images-idx3-ubyte"), 0777);
    put(path_in(dir, "train-labels-idx1-ubyte"), bl);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_IO, "train-images-idx3-ubyte: not a regular file");
    rmdir(path_in(dir, "train-images-idx3-ubyte"));
    free(bi.p), free(bl.p), free(s.pix), free(s.lab);
}
END_TEST

/* ---- TensorProto layout ------------------------------------------------- */

static og_tensor *filled(og_dtype dt, int rank, const int64_t *dims, double scale)
{
    og_tensor *t;
    OG_CHECK(og_tensor_create(dt, rank, dims, &t));
    for (int64_t k = 0; k < t->numel; k++) {
        double v = scale * (double)((k * 37) % 101 - 50);
        if (dt == OG_FLOAT)
            ((float *)t->data)[k] = (float)v;
        else if (dt == OG_DOUBLE)
            ((double *)t->data)[k] = v;
        else if (dt == OG_INT64)
            ((int64_t *)t->data)[k] = (k * 5) % 4;
        else if (dt == OG_INT32)
            ((int32_t *)t->data)[k] = (int32_t)k;
    }
    return t;
}

static void same(const og_tensor *a, const og_tensor *b)
{
    ck_assert_int_eq(a->dtype, b->dtype);
    ck_assert_int_eq(a->rank, b->rank);
    for (int k = 0; k < a->rank; k++)
        ck_assert_int_eq(a->dims[k], b->dims[k]);
    ck_assert(memcmp(a->data, b->data, (size_t)a->numel * og_dtype_size(a->dtype)) == 0);
}

static void write_pb_pair(const char *dir, const char *split, const og_tensor *x, const og_tensor *y)
{
    char n[64];
    snprintf(n, sizeof n, "%s_x.pb", split);
    OG_CHECK(og_tensor_save_pb(x, path_in(dir, n)));
    snprintf(n, sizeof n, "%s_y.pb", split);
    OG_CHECK(og_tensor_save_pb(y, path_in(dir, n)));
}

START_TEST(pb_files_read_back_exactly)
{
    const char *dir = fresh_dir("pb");
    og_tensor *x = filled(OG_FLOAT, 3, (int64_t[]){ 6, 2, 3 }, 0.25);
    og_tensor *y = filled(OG_INT64, 1, (int64_t[]){ 6 }, 1);
    og_tensor *x2 = filled(OG_DOUBLE, 2, (int64_t[]){ 3, 5 }, 1e-3);
    og_tensor *y2 = filled(OG_FLOAT, 2, (int64_t[]){ 3, 2 }, 0.5);
    write_pb_pair(dir, "train", x, y);
    write_pb_pair(dir, "test", x2, y2);
    og_dataset *ds;
    OG_CHECK(og_dataset_load(dir, "train", &ds));
    ck_assert_int_eq(og_dataset_size(ds), 6);
    same(og_dataset_x(ds), x);
    same(og_dataset_y(ds), y);
    int64_t max = 0;
    for (int k = 0; k < 6; k++)
        max = ((int64_t *)y->data)[k] > max ? ((int64_t *)y->data)[k] : max;
    ck_assert_int_eq(og_dataset_num_classes(ds), (int)max + 1);
    og_dataset_free(ds);
    OG_CHECK(og_dataset_load(dir, "test", &ds));
    ck_assert_int_eq(og_dataset_size(ds), 3);
    same(og_dataset_x(ds), x2);
    same(og_dataset_y(ds), y2);
    ck_assert_int_eq(og_dataset_num_classes(ds), 0);
    og_dataset_free(ds);
    og_tensor_free(x), og_tensor_free(y), og_tensor_free(x2), og_tensor_free(y2);
}
END_TEST

START_TEST(bad_pb_files_are_errors)
{
    const char *dir = fresh_dir("pbbad");
    og_tensor *x = filled(OG_FLOAT, 2, (int64_t[]){ 4, 3 }, 1);
    og_tensor *y3 = filled(OG_INT64, 1, (int64_t[]){ 3 }, 1);
    og_dataset *ds = (og_dataset *)1;
    write_pb_pair(dir, "train", x, y3);
    char want[1400];
    snprintf(want, sizeof want, "%s: 3 targets (dim 0) but %s has 4 examples", path_in(dir, "train_y.pb"),
             path_in(dir, "train_x.pb"));
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, want);
    ck_assert_ptr_null(ds);
    og_tensor *xi = filled(OG_INT32, 2, (int64_t[]){ 4, 3 }, 1);
    og_tensor *y = filled(OG_INT64, 1, (int64_t[]){ 4 }, 1);
    write_pb_pair(dir, "train", xi, y);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, "train_x.pb: examples of type int32");
    og_tensor *xs = filled(OG_FLOAT, 0, NULL, 1);
    write_pb_pair(dir, "train", xs, y);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, "train_x.pb: examples must have dims [N, ...]");
    og_tensor *y2 = filled(OG_INT64, 2, (int64_t[]){ 4, 1 }, 1);
    write_pb_pair(dir, "train", x, y2);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE,
                   "train_y.pb: targets must have dims [N] (int64 labels), got rank 2");
    ((int64_t *)y->data)[2] = -1;
    write_pb_pair(dir, "train", x, y);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, "train_y.pb: label -1 at index 2 is negative");
    ((int64_t *)y->data)[2] = 1;
    /* a truncated .pb names the file and the byte */
    write_pb_pair(dir, "train", x, y);
    size_t n;
    uint8_t *d = og_test_read_file(path_in(dir, "train_x.pb"), &n);
    og_test_write_file(path_in(dir, "train_x.pb"), d, n - 5);
    OG_CHECK_FAILS(og_dataset_load(dir, "train", &ds), OG_ERR_PARSE, "train_x.pb: byte ");
    ck_assert_ptr_null(ds);
    free(d);
    og_tensor_free(x), og_tensor_free(y3), og_tensor_free(xi), og_tensor_free(y), og_tensor_free(xs);
    og_tensor_free(y2);
}
END_TEST

/* ---- gather ------------------------------------------------------------- */

START_TEST(gather_copies_the_rows_asked_for)
{
    const char *dir = fresh_dir("gather");
    og_tensor *x = filled(OG_DOUBLE, 3, (int64_t[]){ 7, 2, 3 }, 0.5);
    og_tensor *y = filled(OG_FLOAT, 2, (int64_t[]){ 7, 2 }, 2);
    write_pb_pair(dir, "train", x, y);
    og_dataset *ds;
    OG_CHECK(og_dataset_load(dir, "train", &ds));
    int64_t idx[5] = { 6, 0, 3, 3, 1 };
    og_tensor *xb, *yb;
    OG_CHECK(og_tensor_create(OG_DOUBLE, 3, (int64_t[]){ 5, 2, 3 }, &xb));
    OG_CHECK(og_tensor_create(OG_FLOAT, 2, (int64_t[]){ 5, 2 }, &yb));
    OG_CHECK(og_dataset_gather(ds, idx, 5, xb, yb));
    for (int b = 0; b < 5; b++) {
        for (int k = 0; k < 6; k++)
            ck_assert(((double *)xb->data)[b * 6 + k] == ((double *)x->data)[idx[b] * 6 + k]);
        for (int k = 0; k < 2; k++)
            ck_assert(((float *)yb->data)[b * 2 + k] == ((float *)y->data)[idx[b] * 2 + k]);
    }
    /* y may be skipped */
    memset(xb->data, 0, 5 * 6 * sizeof(double));
    OG_CHECK(og_dataset_gather(ds, idx, 5, xb, NULL));
    ck_assert(((double *)xb->data)[0] == ((double *)x->data)[36]);
    /* an index out of range writes nothing */
    memset(xb->data, 0, 5 * 6 * sizeof(double));
    int64_t bad[5] = { 0, 1, 7, 2, 3 };
    OG_CHECK_FAILS(og_dataset_gather(ds, bad, 5, xb, yb), OG_ERR_INVALID_ARG,
                   "idx[2] = 7 is outside the data set's 7 examples");
    ck_assert(((double *)xb->data)[0] == 0.0);
    bad[2] = -1;
    OG_CHECK_FAILS(og_dataset_gather(ds, bad, 5, xb, yb), OG_ERR_INVALID_ARG, "idx[2] = -1");
    /* wrong batch tensors */
    OG_CHECK_FAILS(og_dataset_gather(ds, idx, 4, xb, yb), OG_ERR_INVALID_ARG,
                   "x batch is double [5,2,3], expected double [4,2,3]");
    og_tensor *xf;
    OG_CHECK(og_tensor_create(OG_FLOAT, 3, (int64_t[]){ 5, 2, 3 }, &xf));
    OG_CHECK_FAILS(og_dataset_gather(ds, idx, 5, xf, yb), OG_ERR_INVALID_ARG,
                   "x batch is float [5,2,3], expected double [5,2,3]");
    OG_CHECK_FAILS(og_dataset_gather(ds, idx, 5, xb, xb), OG_ERR_INVALID_ARG,
                   "y batch is double [5,2,3], expected float [5,2]");
    OG_CHECK_FAILS(og_dataset_gather(ds, idx, -1, NULL, NULL), OG_ERR_INVALID_ARG, "negative count");
    OG_CHECK(og_dataset_gather(ds, NULL, 0, NULL, NULL));
    og_tensor_free(xf), og_tensor_free(xb), og_tensor_free(yb), og_tensor_free(x), og_tensor_free(y);
    og_dataset_free(ds);
}
END_TEST

/* ---- the shuffle -------------------------------------------------------- */

/* The algorithm as data.h documents it, written again from the text. */
static uint64_t ref_mix(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}

static void ref_perm(uint64_t seed, int64_t epoch, int64_t n, int64_t *perm)
{
    uint64_t state = ref_mix(ref_mix(seed + 0x9E3779B97F4A7C15ull) + (uint64_t)epoch);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {
        uint64_t b = (uint64_t)i + 1, r;
        do {
            state += 0x9E3779B97F4A7C15ull;
            r = ref_mix(state);
        } while (r < (UINT64_MAX - b + 1) % b);
        int64_t j = (int64_t)(r % b), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static bool is_perm(const int64_t *p, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    bool ok = true;
    for (int64_t k = 0; k < n && ok; k++) {
        ok = p[k] >= 0 && p[k] < n && !seen[p[k]];
        if (ok)
            seen[p[k]] = 1;
    }
    free(seen);
    return ok;
}

START_TEST(shuffle_is_a_reproducible_permutation)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], r[N];
    int64_t sizes[] = { 0, 1, 2, 3, 10, 999, N };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        for (int64_t e = 0; e < 3; e++) {
            OG_CHECK(og_shuffle_permutation(42, e, n, a));
            ck_assert_msg(is_perm(a, n), "n %lld epoch %lld: not a permutation", (long long)n, (long long)e);
            OG_CHECK(og_shuffle_permutation(42, e, n, b));
            ck_assert(memcmp(a, b, sizeof(int64_t) * (size_t)n) == 0);
            ref_perm(42, e, n, r);
            ck_assert_msg(memcmp(a, r, sizeof(int64_t) * (size_t)n) == 0, "n %lld: differs from the documented algorithm",
                          (long long)n);
        }
    }
    /* different epochs and seeds give different orders; not the identity */
    OG_CHECK(og_shuffle_permutation(42, 0, N, a));
    OG_CHECK(og_shuffle_permutation(42, 1, N, b));
    OG_CHECK(og_shuffle_permutation(43, 0, N, c));
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert(memcmp(a, c, sizeof a) != 0);
    ck_assert(memcmp(b, c, sizeof a) != 0);
    int fixed = 0;
    for (int k = 0; k < N; k++)
        fixed += a[k] == k;
    ck_assert_int_lt(fixed, 10);   /* about 1 expected */
    /* large seeds and epochs are fine */
    OG_CHECK(og_shuffle_permutation(UINT64_MAX, INT64_MAX, N, a));
    ck_assert(is_perm(a, N));
    /* uniform: each of the 6 orders of 3 items about 1/6 of 6000 epochs */
    int count[6] = { 0 };
    for (int64_t e = 0; e < 6000; e++) {
        int64_t p[3];
        OG_CHECK(og_shuffle_permutation(7, e, 3, p));
        count[p[0] * 2 + (p[1] > p[2])]++;
    }
    for (int k = 0; k < 6; k++)
        ck_assert_msg(count[k] > 850 && count[k] < 1150, "order %d seen %d times in 6000", k, count[k]);
    OG_CHECK_FAILS(og_shuffle_permutation(1, -1, 3, a), OG_ERR_INVALID_ARG, "negative epoch");
    OG_CHECK_FAILS(og_shuffle_permutation(1, 0, -3, a), OG_ERR_INVALID_ARG, "negative count");
    OG_CHECK_FAILS(og_shuffle_permutation(1, 0, 3, NULL), OG_ERR_INVALID_ARG, "perm is NULL");
    OG_CHECK(og_shuffle_permutation(1, 0, 0, NULL));
}
END_TEST

/* ---- allocation failures ------------------------------------------------ */

static long fail_at, n_calls, live;
static void *f_alloc(void *u, size_t n)
{
    (void)u;
    if (++n_calls == fail_at)
        return NULL;
    void *p = malloc(n ? n : 1);
    live += p != NULL;
    return p;
}
static void *f_realloc(void *u, void *p, size_t n)
{
    (void)u;
    if (++n_calls == fail_at)
        return NULL;
    void *q = realloc(p, n ? n : 1);
    live += q && !p;
    return q;
}
static void f_free(void *u, void *p)
{
    (void)u;
    if (p) {
        live--;
        free(p);
    }
}

/* Each allocation of a load failing in turn: OG_ERR_NOMEM, *out NULL, no
 * leak (zlib's memory included: it goes through the hook). The full
 * sweep, with the mode "from then on", is in tests/oom. */
START_TEST(allocation_failures_give_nomem)
{
    small s = make_small(20, 30, 30, 8);
    const char *dirs[2];
    char d0[600], d1[600];
    snprintf(d0, sizeof d0, "%s", fresh_dir("oom-idx"));
    write_small(d0, &s, "train", true, false);
    snprintf(d1, sizeof d1, "%s", fresh_dir("oom-pb"));
    og_tensor *x = filled(OG_FLOAT, 2, (int64_t[]){ 5, 3 }, 1), *y = filled(OG_INT64, 1, (int64_t[]){ 5 }, 1);
    write_pb_pair(d1, "train", x, y);
    dirs[0] = d0;
    dirs[1] = d1;
    for (int d = 0; d < 2; d++) {
        og_set_allocator(&(og_allocator){ f_alloc, f_realloc, f_free, NULL });
        long k;
        for (k = 1; k < 10000; k++) {
            fail_at = k;
            n_calls = 0;
            live = 0;
            og_dataset *ds = (og_dataset *)1;
            og_status st = og_dataset_load(dirs[d], "train", &ds);
            bool hit = n_calls >= k;
            og_dataset_free(ds == (og_dataset *)1 ? NULL : ds);
            fail_at = 0;
            ck_assert_msg(live == 0, "%s, allocation %ld failing: %ld blocks leaked", dirs[d], k, live);
            if (!hit) {
                ck_assert_int_eq(st, OG_OK);
                break;
            }
            ck_assert_msg(st == OG_ERR_NOMEM, "%s, allocation %ld failing: %s: %s", dirs[d], k, og_status_name(st),
                          og_errmsg());
            ck_assert_ptr_null(ds);
        }
        og_set_allocator(NULL);
        ck_assert_int_gt(k, 3);
    }
    og_tensor_free(x), og_tensor_free(y), free(s.pix), free(s.lab);
}
END_TEST

/* ---- the real data set -------------------------------------------------- */

static void check_fashion(const char *split, int64_t n, int64_t per_class, double mean_lo, double mean_hi)
{
    og_dataset *ds;
    OG_CHECK(og_dataset_load(FMNIST_DIR, split, &ds));
    ck_assert_int_eq(og_dataset_size(ds), n);
    const og_tensor *x = og_dataset_x(ds), *y = og_dataset_y(ds);
    ck_assert_int_eq(x->dtype, OG_FLOAT);
    ck_assert_int_eq(x->rank, 4);
    ck_assert_int_eq(x->dims[0], n);
    ck_assert_int_eq(x->dims[1], 1);
    ck_assert_int_eq(x->dims[2], 28);
    ck_assert_int_eq(x->dims[3], 28);
    ck_assert_int_eq(y->dims[0], n);
    ck_assert_int_eq(og_dataset_num_classes(ds), 10);
    int64_t count[10] = { 0 };
    for (int64_t k = 0; k < n; k++) {
        int64_t l = ((const int64_t *)y->data)[k];
        ck_assert_msg(l >= 0 && l <= 9, "label %lld at %lld", (long long)l, (long long)k);
        count[l]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_msg(count[c] == per_class, "%s: class %d has %lld examples", split, c, (long long)count[c]);
    double sum = 0;
    float lo = 1, hi = 0;
    for (int64_t k = 0; k < x->numel; k++) {
        float v = ((const float *)x->data)[k];
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    ck_assert_float_eq(lo, 0.0f);
    ck_assert_float_eq(hi, 1.0f);
    double mean = sum / (double)x->numel;   /* Fashion-MNIST's well-known pixel mean, about 0.286 */
    ck_assert_msg(mean > mean_lo && mean < mean_hi, "%s: mean pixel %g", split, mean);
    og_dataset_free(ds);
}

START_TEST(fashion_mnist_from_the_debian_package)
{
    struct stat sb;
    ck_assert_msg(stat(FMNIST_DIR, &sb) == 0,
                  FMNIST_DIR " is missing: this test requires the Debian package dataset-fashion-mnist "
                  "(bash tools/install-deps.sh installs it)");
    check_fashion("train", 60000, 6000, 0.28, 0.29);
    check_fashion("test", 10000, 1000, 0.28, 0.29);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("idx");
    tcase_add_test(tc, idx_plain_and_gzip_read_back_exactly);
    tcase_add_test(tc, gzip_with_several_members_and_large_data);
    tcase_add_test(tc, bad_idx_files_name_the_file_and_offset);
    tcase_add_test(tc, random_damage_is_an_error_not_a_crash);
    tcase_add_test(tc, missing_and_ambiguous_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("pb");
    tcase_add_test(tc, pb_files_read_back_exactly);
    tcase_add_test(tc, bad_pb_files_are_errors);
    tcase_add_test(tc, gather_copies_the_rows_asked_for);
    suite_add_tcase(s, tc);
    tc = tcase_create("shuffle");
    tcase_add_test(tc, shuffle_is_a_reproducible_permutation);
    suite_add_tcase(s, tc);
    tc = tcase_create("oom");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, allocation_failures_give_nomem);
    suite_add_tcase(s, tc);
    /* requires the Debian package dataset-fashion-mnist; fails without it */
    tc = tcase_create("needs_dataset_fashion_mnist");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fashion_mnist_from_the_debian_package);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return og_run_suite(data_suite());
}
