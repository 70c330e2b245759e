/* SPDX-License-Identifier: MIT */
/* io.c — whole-file reads and atomic file writes (see io.h), with the
 * system calls of the writes behind a table so tests can fail each one. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io.h"

/* ---- system calls, with fault injection --------------------------------- */

static int real_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }

static const struct io_sys {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*write)(int fd, const void *p, size_t n);
    int (*fsync)(int fd);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to);
} sys = { real_open, write, fsync, close, rename };

static _Atomic long fault_nth[OG_IO_OP_COUNT], fault_calls[OG_IO_OP_COUNT];

void og_io_fault_set(og_io_op op, long nth)
{
    if ((int)op < 0 || op >= OG_IO_OP_COUNT)
        return;
    atomic_store(&fault_calls[op], 0);
    atomic_store(&fault_nth[op], nth < 0 ? 0 : nth);
}

/* True when this call of `op` is the one to fail (errno is then EIO). */
static bool inject(og_io_op op)
{
    long nth = atomic_load(&fault_nth[op]);
    if (nth == 0 || atomic_fetch_add(&fault_calls[op], 1) + 1 != nth)
        return false;
    errno = EIO;
    return true;
}

static int io_open(const char *path, int flags, mode_t mode)
{
    return inject(OG_IO_OPEN) ? -1 : sys.open(path, flags, mode);
}

static ssize_t io_write(int fd, const void *p, size_t n)
{
    return inject(OG_IO_WRITE) ? -1 : sys.write(fd, p, n);
}

static int io_fsync(int fd) { return inject(OG_IO_FSYNC) ? -1 : sys.fsync(fd); }

static int io_close(int fd)
{
    /* A failed close still releases the descriptor, as on Linux. */
    if (inject(OG_IO_CLOSE)) {
        sys.close(fd);
        errno = EIO;
        return -1;
    }
    return sys.close(fd);
}

static int io_rename(const char *from, const char *to)
{
    return inject(OG_IO_RENAME) ? -1 : sys.rename(from, to);
}

/* ---- reading ----------------------------------------------------------------- */

og_status og_io_read_file(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
     * refused as not a regular file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return og_err(OG_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return og_err(OG_ERR_IO, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return og_err(OG_ERR_IO, "not a regular file");
    }
    int64_t limit = og_limit_get(OG_LIMIT_FILE_BYTES);
    if ((uint64_t)sb.st_size > (uint64_t)limit || (uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return og_err(OG_ERR_LIMIT, "file is %" PRIu64 " bytes, over the limit of %" PRId64 " bytes "
                      OG_LIMIT_HINT("file-bytes", "FILE_BYTES"), (uint64_t)sb.st_size, limit);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    uint8_t *buf = og_malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return og_err(OG_ERR_NOMEM, "out of memory reading %zu bytes", n);
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            og_free(buf);
            close(fd);
            return r == 0 ? og_err(OG_ERR_IO, "file shrank while reading (%zu of %zu bytes)", got, n)
                          : og_err(OG_ERR_IO, "read failed: %s", strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = n;
    return OG_OK;
}

/* ---- atomic writes ------------------------------------------------------------ */

/* Next candidate name beside `path`; the pid and a counter make clashes
 * rare, O_EXCL / link's EEXIST make the name ours. */
static char *tmp_name(const char *path)
{
    static atomic_uint counter;
    size_t n = strlen(path) + 48;
    char *tmp = og_malloc(n);
    if (tmp)
        snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    return tmp;
}

/* fsync of the directory holding `path`, making a rename durable. A
 * failure loses nothing already written, so it is not reported. */
static void sync_dir(const char *path)
{
    char *dir = og_strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (!inject(OG_IO_DIRSYNC))
            (void)sys.fsync(dfd);
        close(dfd);
    }
    og_free(dir);
}

og_status og_io_atomic_begin(og_io_atomic *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    if (!(w->path = og_strdup(path)))
        return og_err(OG_ERR_NOMEM, "out of memory");
    /* Created 0666 so the umask decides the final permissions. */
    for (int attempt = 0; attempt < 100 && w->fd < 0; attempt++) {
        og_free(w->tmp);
        if (!(w->tmp = tmp_name(path))) {
            og_io_atomic_abort(w);
            return og_err(OG_ERR_NOMEM, "out of memory");
        }
        w->fd = io_open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd < 0 && errno != EEXIST) {
            og_status st = og_err(OG_ERR_IO, "cannot create temporary file '%s': %s", w->tmp,
                                  strerror(errno));
            og_free(w->tmp);
            w->tmp = NULL;   /* never created: nothing to remove */
            og_io_atomic_abort(w);
            return st;
        }
    }
    if (w->fd < 0) {
        og_free(w->tmp);
        w->tmp = NULL;
        og_io_atomic_abort(w);
        return og_err(OG_ERR_IO, "cannot create a unique temporary file next to it");
    }
    return OG_OK;
}

og_status og_io_atomic_write(og_io_atomic *w, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t r = io_write(w->fd, p, size > ((size_t)1 << 30) ? ((size_t)1 << 30) : size);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            og_status st = og_err(OG_ERR_IO, "writing temporary file '%s' failed: %s", w->tmp,
                                  r < 0 ? strerror(errno) : "no progress");
            og_io_atomic_abort(w);
            return st;
        }
        p += r;
        size -= (size_t)r;
        w->size += (uint64_t)r;
    }
    return OG_OK;
}

og_status og_io_atomic_finish(og_io_atomic *w)
{
    if (w->fd < 0)
        return OG_OK;
    og_status st = OG_OK;
    if (io_fsync(w->fd) != 0)
        st = og_err(OG_ERR_IO, "fsync of temporary file '%s' failed: %s", w->tmp, strerror(errno));
    int fd = w->fd;
    w->fd = -1;
    if (io_close(fd) != 0 && st == OG_OK)
        st = og_err(OG_ERR_IO, "closing temporary file '%s' failed: %s", w->tmp, strerror(errno));
    if (st != OG_OK)
        og_io_atomic_abort(w);
    return st;
}

void og_io_atomic_abort(og_io_atomic *w)
{
    if (w->fd >= 0)
        sys.close(w->fd);
    if (w->tmp)
        unlink(w->tmp);
    og_free(w->tmp);
    og_free(w->path);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

/* Renames w's temporary file over its target; on failure w is aborted. */
static og_status rename_over(og_io_atomic *w)
{
    if (io_rename(w->tmp, w->path) != 0) {
        og_status st = og_err(OG_ERR_IO, "renaming temporary file '%s' over the target failed: %s",
                              w->tmp, strerror(errno));
        og_io_atomic_abort(w);
        return st;
    }
    og_free(w->tmp);
    w->tmp = NULL;   /* it is the target now */
    return OG_OK;
}

og_status og_io_atomic_commit(og_io_atomic *w)
{
    og_status st = og_io_atomic_finish(w);
    if (st == OG_OK)
        st = rename_over(w);
    if (st != OG_OK)
        return st;
    sync_dir(w->path);
    og_io_atomic_abort(w);   /* only releases: tmp is gone, fd closed */
    return OG_OK;
}

/* A hard link to `path` under a fresh temporary name, so the file can be
 * put back after being replaced. NULL when path does not exist or the
 * file system has no hard links (*err says which: 0 for "no file"). */
static char *keep_old(const char *path, int *err)
{
    *err = 0;
    for (int attempt = 0; attempt < 100; attempt++) {
        char *name = tmp_name(path);
        if (!name) {
            *err = ENOMEM;
            return NULL;
        }
        if (link(path, name) == 0)
            return name;
        int e = errno;
        og_free(name);
        if (e != EEXIST) {
            *err = e == ENOENT ? 0 : e;
            return NULL;
        }
    }
    *err = EEXIST;
    return NULL;
}

og_status og_io_atomic_commit_pair(og_io_atomic *first, og_io_atomic *second)
{
    og_status st = og_io_atomic_finish(first);
    if (st == OG_OK)
        st = og_io_atomic_finish(second);
    if (st != OG_OK) {
        og_io_atomic_abort(first);
        og_io_atomic_abort(second);
        return st;
    }
    int keep_err;
    char *backup = keep_old(first->path, &keep_err);
    if (keep_err == ENOMEM) {
        og_io_atomic_abort(first);
        og_io_atomic_abort(second);
        return og_err(OG_ERR_NOMEM, "out of memory");
    }
    /* keep_err != 0: the old file exists but cannot be kept aside (no
     * hard links on this file system); it can then not be put back. */
    if ((st = rename_over(first)) != OG_OK) {
        if (backup)
            unlink(backup);
        og_free(backup);
        og_io_atomic_abort(second);
        return st;
    }
    if (io_rename(second->tmp, second->path) != 0) {
        int e = errno;
        bool undone = backup ? io_rename(backup, first->path) == 0
                             : keep_err == 0 && unlink(first->path) == 0;
        if (undone)
            st = og_err(OG_ERR_IO, "renaming temporary file '%s' over the target failed: %s",
                        second->tmp, strerror(e));
        else if (backup)
            st = og_err(OG_ERR_IO, "renaming temporary file '%s' over the target failed: %s; '%s' "
                        "was already replaced and putting it back failed: its previous version is "
                        "kept as '%s'", second->tmp, strerror(e), first->path, backup);
        else
            st = og_err(OG_ERR_IO, "renaming temporary file '%s' over the target failed: %s; '%s' "
                        "was already replaced and could not be put back", second->tmp, strerror(e),
                        first->path);
        og_free(backup);
        og_io_atomic_abort(first);
        og_io_atomic_abort(second);
        return st;
    }
    og_free(second->tmp);
    second->tmp = NULL;
    sync_dir(first->path);
    sync_dir(second->path);
    if (backup)
        unlink(backup);
    og_free(backup);
    og_io_atomic_abort(first);
    og_io_atomic_abort(second);
    return OG_OK;
}

og_status og_io_write_file_atomic(const char *path, const void *data, size_t size)
{
    og_io_atomic w;
    og_status st = og_io_atomic_begin(&w, path);
    if (st == OG_OK)
        st = og_io_atomic_write(&w, data, size);
    if (st == OG_OK)
        st = og_io_atomic_commit(&w);
    return st;
}
