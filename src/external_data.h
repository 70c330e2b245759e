/* SPDX-License-Identifier: MIT */
/* external_data.h — tensor data stored outside the model (ONNX "external
 * data": TensorProto.data_location = EXTERNAL plus external_data entries
 * location / offset / length / checksum), confined to the model's
 * directory. Private to the ONNX file I/O (onnx_load.c, onnx_save.c,
 * tensor_pb.c).
 *
 * Status codes, consistently: what the model's bytes say is wrong (keys,
 * location syntax, offset/length syntax, length vs the tensor's size,
 * external data mixed with inline data) is OG_ERR_PARSE; what is found on
 * the file system (missing file, symbolic link, FIFO/device/socket/
 * directory, hard link, file too short, read error) is OG_ERR_IO; a model
 * loaded from memory without a base directory is OG_ERR_INVALID_ARG. */
#ifndef ONNXGRAD_EXTERNAL_DATA_H
#define ONNXGRAD_EXTERNAL_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include "internal.h"

struct Onnx__TensorProto;

/* Longest location accepted (bytes), like PATH_MAX. */
#define OG_EXTDATA_MAX_PATH 4095

/* Where one load finds external files. */
typedef struct og_extdata_ctx {
    const char *base_dir;   /* borrowed; NULL: none given (a model from memory) */
    size_t base_len;        /* bytes of base_dir naming the directory */
    int dirfd;              /* base_dir, opened on first use; -1 until then */
} og_extdata_ctx;

/* base_len bytes of base_dir name the directory (so a model's path can be
 * used without copying its dirname); base_dir NULL: none. */
void og_extdata_ctx_init(og_extdata_ctx *c, const char *base_dir, size_t base_len);
/* Closes the directory if it was opened. */
void og_extdata_ctx_close(og_extdata_ctx *c);

/* Where a tensor's bytes are, per its external_data entries. */
typedef struct og_extdata_ref {
    const char *location;   /* borrowed from the TensorProto */
    uint64_t offset;
    bool has_length;
    uint64_t length;
} og_extdata_ref;

/* True when tp says its data is external (data_location = EXTERNAL or any
 * external_data entry). */
bool og_extdata_present(const struct Onnx__TensorProto *tp);

/* Checks tp's external-data fields without touching the file system:
 * known keys (location, offset, length, checksum — the SHA1 checksum is
 * accepted and not verified), none repeated, decimal offset/length,
 * data_location and external_data given together, a location that stays
 * inside the base directory (og_extdata_name_problem), and no raw_data or
 * typed data beside it. OG_ERR_PARSE naming `where` on failure. */
og_status og_extdata_parse(const struct Onnx__TensorProto *tp, const char *where, og_extdata_ref *ref);

/* Checks ref against the tensor's byte size `nbytes`, then opens the file
 * relative to c's directory one component at a time without following
 * symbolic links (openat with O_NOFOLLOW, parents with O_DIRECTORY) and
 * checks it is a regular file with one link holding [offset,
 * offset + nbytes). Nothing is allocated or read. On success *fd is open;
 * hand it to og_extdata_read. */
og_status og_extdata_open(og_extdata_ctx *c, const og_extdata_ref *ref, const char *where,
                          uint64_t nbytes, int *fd);

/* Reads nbytes at ref->offset into dst with pread, then closes fd (also
 * on failure). */
og_status og_extdata_read(int fd, const og_extdata_ref *ref, const char *where, void *dst,
                          size_t nbytes);

/* Why `name` cannot be an external data location (a short phrase such as
 * "'..' is not allowed"), or NULL when it can: not empty, relative, no
 * '..', '.' or empty components, no backslash, at most
 * OG_EXTDATA_MAX_PATH bytes. Also used for og_save_options.external_data_file. */
const char *og_extdata_name_problem(const char *name);

/* og_tensor_from_proto (wire_scan.h) reading external data through `ext`;
 * ext NULL refuses external data (single-tensor .pb files). Defined in
 * tensor_pb.c. Ownership: *out is the caller's (og_tensor_free). */
og_status og_tensor_from_proto_ext(const struct Onnx__TensorProto *tp, const char *where,
                                   og_extdata_ctx *ext, og_tensor **out);

#endif
