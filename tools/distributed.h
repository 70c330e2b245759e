/* SPDX-License-Identifier: MIT */
/* distributed.h — `onnxgrad train --distributed`: data-parallel training
 * over MPI (Open MPI), in the CLI only (libonnxgrad never depends on MPI).
 *
 * Every rank runs the same training loop on the same data with the same
 * shuffle; each global batch is cut into K contiguous shards (sizes differ
 * by at most one, the larger first, so rank 0's is never empty). Each rank
 * computes the mean-loss gradients of its shard (og_trainer_compute_gradients),
 * dist_exchange gathers every rank's shard-size-weighted gradients and loss
 * (MPI_Allgather), sums them locally in rank order 0..K-1 in double (so a
 * run is bit-identical to another with the same K, unlike MPI_Allreduce
 * whose reduction order the library picks), divides by the global batch and
 * writes the mean back into the trainer's gradient tensors; every rank then
 * applies the same update. BatchNormalization running statistics stay per
 * rank (PyTorch DDP without SyncBatchNorm).
 *
 * Failures: MPI calls return errors (MPI_ERRORS_RETURN) that become one-line
 * onnxgrad errors. Every collective sequence starts with dist_agree, an
 * MPI_Allreduce(MAX) of (failed rank + 1, interrupted): a rank that fails
 * locally goes straight to its next dist_agree (at the latest the one in
 * dist_finish), where every other rank learns of it and stops too; after an
 * agreement that reports a failure no rank makes another collective call.
 *
 * Built without MPI (OG_HAVE_MPI undefined), dist_start fails with "this
 * onnxgrad was built without MPI" and nothing else is reachable. */
#ifndef ONNXGRAD_DISTRIBUTED_H
#define ONNXGRAD_DISTRIBUTED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <onnxgrad/onnxgrad.h>

typedef struct dist_ctx {
    bool active;      /* dist_start succeeded */
    bool stopped;     /* an agreement reported a failure: no more collectives */
    int rank, size;
    double *send, *recv;   /* exchange buffers: (n_values + 1) and size * (n_values + 1) doubles */
    int64_t n_values;
} dist_ctx;

/* MPI_Init, the error handler, rank and size; unless OG_NUM_THREADS is set
 * (--threads sets it), each rank gets (cores / ranks on this host) threads,
 * at least 1. The messages of this process then say "train (rank R)". */
int dist_start(dist_ctx *d);

/* The agreement: local_rc is this rank's state (EXIT_OK or its error, already
 * printed), *interrupted this rank's Ctrl-C flag, set on return if any rank
 * has one. Returns EXIT_OK when no rank failed; else local_rc if this rank
 * failed, or EXIT_FAIL after printing which rank failed; then d->stopped. */
int dist_agree(dist_ctx *d, int local_rc, volatile sig_atomic_t *interrupted);

/* The same value on every rank (e.g. the train split's size); an error
 * naming a rank that differs. Call after an agreement, on every rank. */
int dist_check_same(dist_ctx *d, int64_t value, const char *what);

/* The shard of a global batch of m for this rank: [*start, *start + *count). */
void dist_shard(const dist_ctx *d, int64_t m, int64_t *start, int64_t *count);

/* One step's exchange: agrees on local_rc first (see dist_agree); then, with
 * no failure and no interrupt, replaces t's gradients by the mean over the
 * global batch of m (this rank's shard, of `count` examples, contributes
 * count x its gradients; a rank with an empty shard contributes zeros) and
 * *loss by the global batch's mean loss. */
int dist_exchange(dist_ctx *d, og_trainer *t, int local_rc, volatile sig_atomic_t *interrupted, int64_t count, int64_t m,
                  double *loss);

/* The final agreement (unless one already reported a failure: then nothing
 * more), the buffers and MPI_Finalize. Returns the exit code this rank
 * should give: rc, or EXIT_FAIL when another rank failed. */
int dist_finish(dist_ctx *d, int rc);

#endif
