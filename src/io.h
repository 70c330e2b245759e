/* SPDX-License-Identifier: MIT */
/* io.h — private file I/O for the loaders and savers (onnx_load.c,
 * onnx_save.c, tensor_pb.c): whole-file reads, atomic writes (temporary
 * file + fsync + rename) and a test-only fault-injection hook.
 * Nothing outside src/ and the unit tests should include it. */
#ifndef ONNXGRAD_IO_H
#define ONNXGRAD_IO_H

#include <stddef.h>
#include <stdint.h>
#include "internal.h"

/* Reads a whole regular file. Rejects files larger than
 * og_limit_get(OG_LIMIT_FILE_BYTES) with OG_ERR_LIMIT before allocating.
 * Ownership: *data is the caller's (og_free); a 0-byte file gives a
 * non-NULL *data with *size 0. Messages do not name the file: callers
 * prefix it. */
og_status og_io_read_file(const char *path, uint8_t **data, size_t *size);

/* ---- atomic writes ---------------------------------------------------------
 * A file is written under a uniquely named temporary name beside its
 * target ("<path>.tmp-<pid>-<n>"), fsynced and closed, and only then
 * renamed over the target, so readers see the old file or the new one,
 * never a mix. Every failure removes the temporary file and leaves the
 * target untouched. Messages name the temporary file and the failed step
 * ("writing", "fsync of", "closing", "renaming"); callers prefix the
 * target's path.
 *
 *     og_io_atomic w;
 *     if (!(st = og_io_atomic_begin(&w, path)) && !(st = og_io_atomic_write(&w, p, n)))
 *         st = og_io_atomic_commit(&w);     // on failure w is already cleaned up
 */
typedef struct og_io_atomic {
    char *path;       /* the target (owned copy) */
    char *tmp;        /* the temporary file (owned); NULL when none */
    int fd;           /* open temporary file; -1 once closed */
    uint64_t size;    /* bytes written so far */
} og_io_atomic;

/* Creates the temporary file. On failure *w needs no cleanup. */
og_status og_io_atomic_begin(og_io_atomic *w, const char *path);
/* Appends bytes (in chunks of at most 1 GiB). On failure w is aborted. */
og_status og_io_atomic_write(og_io_atomic *w, const void *data, size_t size);
/* fsync + close of the temporary file; the target is not touched yet.
 * On failure w is aborted. Calling it twice is harmless. */
og_status og_io_atomic_finish(og_io_atomic *w);
/* finish, then renames over the target and fsyncs the directory (a
 * failure of that last fsync loses nothing written and is not reported).
 * Releases w whatever the outcome. */
og_status og_io_atomic_commit(og_io_atomic *w);
/* Commits two files that only make sense together (external data, then
 * the model that points into it): both are finished first, then `first`
 * is renamed, then `second`. If the second rename fails, the file `first`
 * replaced is put back (kept meanwhile under a temporary hard link) or,
 * when there was none, the new one is removed, so both targets keep their
 * old contents. Releases both. (Between the link and the first rename the
 * old file briefly has two links, which external-data loads refuse.) */
og_status og_io_atomic_commit_pair(og_io_atomic *first, og_io_atomic *second);
/* Closes and removes the temporary file and releases w. Safe on an
 * aborted or committed w. */
void og_io_atomic_abort(og_io_atomic *w);

/* begin + write + commit. */
og_status og_io_write_file_atomic(const char *path, const void *data, size_t size);

/* ---- fault injection (tests only; not exported from the shared library) --
 * The system calls of the atomic writes go through an internal table;
 * og_io_fault_set(op, n) makes the n-th call of `op` from now on fail
 * with EIO (n = 0: never), so tests can fail each step in turn. Setting
 * restarts that op's count. Process-wide; for single-threaded tests. */
typedef enum og_io_op {
    OG_IO_OPEN,      /* creating a temporary file */
    OG_IO_WRITE,     /* each write(2) call */
    OG_IO_FSYNC,     /* fsync of a temporary file */
    OG_IO_CLOSE,     /* close of a temporary file (the fd is still released) */
    OG_IO_RENAME,    /* rename over a target (also the rename putting one back) */
    OG_IO_DIRSYNC,   /* fsync of the directory after a rename */
    OG_IO_OP_COUNT
} og_io_op;

void og_io_fault_set(og_io_op op, long nth);

#endif
