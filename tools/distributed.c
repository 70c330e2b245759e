/* SPDX-License-Identifier: MIT */
/* distributed.c — `onnxgrad train --distributed` over MPI (see
 * distributed.h). Compiled into the CLI only; with OG_HAVE_MPI undefined
 * (CMake found no MPI) only the "built without MPI" error remains. */
#define _POSIX_C_SOURCE 200809L
#include "distributed.h"
#include "cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OG_HAVE_MPI

int dist_start(dist_ctx *d)
{
    d->active = false;
    return cli_fail("--distributed: this onnxgrad was built without MPI (install libopenmpi-dev and rebuild; "
                    "see the README's \"Distributed training (MPI)\")");
}
int dist_agree(dist_ctx *d, int local_rc, volatile sig_atomic_t *interrupted)
{
    (void)d;
    (void)interrupted;
    return local_rc;
}
int dist_check_same(dist_ctx *d, int64_t value, const char *what)
{
    (void)d;
    (void)value;
    (void)what;
    return EXIT_OK;
}
void dist_shard(const dist_ctx *d, int64_t m, int64_t *start, int64_t *count)
{
    (void)d;
    *start = 0;
    *count = m;
}
int dist_exchange(dist_ctx *d, og_trainer *t, int local_rc, volatile sig_atomic_t *interrupted, int64_t count, int64_t m,
                  double *loss)
{
    (void)d;
    (void)t;
    (void)interrupted;
    (void)count;
    (void)m;
    (void)loss;
    return local_rc;
}
int dist_finish(dist_ctx *d, int rc)
{
    (void)d;
    return rc;
}

#else

#include <mpi.h>

/* "MPI_Allgather: <the library's message>" as this rank's error. */
static int mpi_fail(const char *call, int err)
{
    char msg[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", err);
    else
        msg[len] = '\0';
    return cli_fail("%s failed: %s", call, msg);
}

static char g_label[64];

int dist_start(dist_ctx *d)
{
    memset(d, 0, sizeof *d);
    int inited = 0, err;
    MPI_Initialized(&inited);
    if (!inited && (err = MPI_Init(NULL, NULL)) != MPI_SUCCESS)
        return cli_fail("--distributed: MPI_Init failed (error %d); run under mpirun", err);
    d->active = true;
    /* From here every MPI error returns to us instead of aborting the job. */
    if ((err = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)) != MPI_SUCCESS)
        return mpi_fail("MPI_Comm_set_errhandler", err);
    if ((err = MPI_Comm_rank(MPI_COMM_WORLD, &d->rank)) != MPI_SUCCESS)
        return mpi_fail("MPI_Comm_rank", err);
    if ((err = MPI_Comm_size(MPI_COMM_WORLD, &d->size)) != MPI_SUCCESS)
        return mpi_fail("MPI_Comm_size", err);
    /* each message line in one write: mpirun merges the ranks' stderr, and an
     * unbuffered stderr (a write per character) would interleave their lines */
    static char errbuf[8192];
    setvbuf(stderr, errbuf, _IOLBF, sizeof errbuf);
    snprintf(g_label, sizeof g_label, "train (rank %d)", d->rank);
    cli_set_command(g_label);
    /* cores / ranks on this host: the ranks sharing memory with this one */
    if (!getenv("OG_NUM_THREADS")) {
        MPI_Comm local;
        int local_size = 1;
        if ((err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local)) !=
            MPI_SUCCESS)
            return mpi_fail("MPI_Comm_split_type", err);
        MPI_Comm_size(local, &local_size);
        MPI_Comm_free(&local);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        long n = cores > 0 ? cores / (local_size > 0 ? local_size : 1) : 1;
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", n < 1 ? 1 : n > 64 ? 64 : n);
        setenv("OG_NUM_THREADS", buf, 1);
    }
    return EXIT_OK;
}

int dist_agree(dist_ctx *d, int local_rc, volatile sig_atomic_t *interrupted)
{
    if (!d->active || d->stopped)
        return local_rc;
    /* (rank + 1 of a failed rank, Ctrl-C seen): MAX names the highest failed rank */
    int mine[2] = { local_rc ? d->rank + 1 : 0, interrupted && *interrupted ? 1 : 0 }, all[2];
    int err = MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) {
        d->stopped = true;
        int rc = mpi_fail("MPI_Allreduce (the ranks' agreement)", err);
        return local_rc ? local_rc : rc;
    }
    if (interrupted && all[1])
        *interrupted = 1;
    if (all[0]) {
        d->stopped = true;
        if (local_rc)
            return local_rc;
        return cli_fail("stopping: rank %d failed (its error is above)", all[0] - 1);
    }
    return EXIT_OK;
}

int dist_check_same(dist_ctx *d, int64_t value, const char *what)
{
    if (!d->active || d->stopped)
        return EXIT_OK;
    long long v[2] = { value, -value }, r[2];
    int err = MPI_Allreduce(v, r, 2, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) {
        d->stopped = true;
        return mpi_fail("MPI_Allreduce", err);
    }
    if (r[0] != -r[1]) {
        /* every rank knows it differs: each stops without a further collective */
        d->stopped = true;
        return cli_fail("the ranks disagree on %s: this rank has %lld, others between %lld and %lld (every rank "
                        "must read the same data)", what, (long long)value, -r[1], r[0]);
    }
    return EXIT_OK;
}

void dist_shard(const dist_ctx *d, int64_t m, int64_t *start, int64_t *count)
{
    int64_t k = d->size, r = d->rank, q = m / k, extra = m % k;
    /* the first `extra` ranks take q + 1 */
    *count = q + (r < extra ? 1 : 0);
    *start = r * q + (r < extra ? r : extra);
}

static int64_t count_values(og_trainer *t)
{
    int64_t n = 0;
    for (int k = 0; k < og_trainer_num_gradients(t); k++)
        n += og_trainer_gradient(t, k)->numel;
    return n;
}

int dist_exchange(dist_ctx *d, og_trainer *t, int local_rc, volatile sig_atomic_t *interrupted, int64_t count, int64_t m,
                  double *loss)
{
    int n_g = og_trainer_num_gradients(t);
    if (!local_rc && (n_g == 0 || !og_trainer_gradient(t, 0)))
        /* the caller makes them even for an empty shard; agreed like any failure */
        local_rc = cli_fail("rank %d has no gradients to exchange", d->rank);
    int rc = dist_agree(d, local_rc, interrupted);
    if (rc || (interrupted && *interrupted))
        return rc;
    if (!d->send) {
        d->n_values = count_values(t);
        if (d->n_values + 1 > (int64_t)(INT32_MAX / d->size)) {
            d->stopped = true;
            return cli_fail("the model has %lld trainable values: too many for one MPI_Allgather",
                            (long long)d->n_values);
        }
        d->send = malloc(sizeof *d->send * (size_t)(d->n_values + 1));
        d->recv = malloc(sizeof *d->recv * (size_t)(d->n_values + 1) * (size_t)d->size);
        if (!d->send || !d->recv) {
            /* every other rank is already in the Allgather: abort rather than hang them */
            cli_fail("out of memory for the gradient exchange");
            MPI_Abort(MPI_COMM_WORLD, EXIT_FAIL);
            return EXIT_FAIL;
        }
    }
    /* this rank's sums: count x (mean over its shard); zeros for an empty shard */
    int64_t j = 0;
    double w = (double)count;
    for (int k = 0; k < n_g; k++) {
        const og_tensor *g = og_trainer_gradient(t, k);
        if (g->dtype == OG_DOUBLE) {
            const double *p = g->data;
            for (int64_t i = 0; i < g->numel; i++)
                d->send[j++] = count ? w * p[i] : 0.0;
        } else {
            const float *p = g->data;
            for (int64_t i = 0; i < g->numel; i++)
                d->send[j++] = count ? w * (double)p[i] : 0.0;
        }
    }
    d->send[j] = count ? w * *loss : 0.0;
    int n = (int)(d->n_values + 1);
    int err = MPI_Allgather(d->send, n, MPI_DOUBLE, d->recv, n, MPI_DOUBLE, MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) {
        d->stopped = true;
        return mpi_fail("MPI_Allgather (the gradient exchange)", err);
    }
    /* rank 0's sums, then rank 1's, ...: the same order on every rank and every run */
    double inv = 1.0 / (double)m;
    j = 0;
    for (int k = 0; k < n_g; k++) {
        og_tensor *g = og_trainer_gradient(t, k);
        for (int64_t i = 0; i < g->numel; i++, j++) {
            double s = 0;
            for (int r = 0; r < d->size; r++)
                s += d->recv[(size_t)r * (size_t)n + (size_t)j];
            if (g->dtype == OG_DOUBLE)
                ((double *)g->data)[i] = s * inv;
            else
                ((float *)g->data)[i] = (float)(s * inv);
        }
    }
    double s = 0;
    for (int r = 0; r < d->size; r++)
        s += d->recv[(size_t)r * (size_t)n + (size_t)j];
    *loss = s * inv;
    return EXIT_OK;
}

int dist_finish(dist_ctx *d, int rc)
{
    if (!d->active)
        return rc;
    int out = dist_agree(d, rc, NULL);
    free(d->send);
    free(d->recv);
    d->send = d->recv = NULL;
    MPI_Finalize();
    d->active = false;
    return out;
}

#endif
