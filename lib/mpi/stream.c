/* A file streamed over the ranks: each rank streams its share of the chunks through its own pool
 * (the core's stream.c: io_uring reading ahead of its workers), keeps every partial of its share,
 * and the partials of all ranks are allgathered and folded in chunk order on every rank. The
 * result therefore depends on the chunk size only, never on the number of ranks, workers or
 * budgets. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_dist.h"
#include "stream.h"

/* chunk i of n split over s: rank r gets [r*n/s, (r+1)*n/s), computed without overflowing */
static size_t share(size_t n, int r, int s) {
    return n / (size_t)s * (size_t)r + n % (size_t)s * (size_t)r / (size_t)s;
}

struct collect {
    unsigned char *all; /* every chunk's partial, partial_size apart */
    size_t partial_size, first; /* first: this rank's first chunk */
};

static void take(void *arg, const void *partials, size_t stride, size_t first_chunk,
                 size_t count) {
    struct collect *c = arg;
    for (size_t i = 0; i < count; i++)
        memcpy(c->all + (c->first + first_chunk + i) * c->partial_size,
               (const unsigned char *)partials + i * stride, c->partial_size);
}

/* What one rank reports of its share. */
struct outcome {
    int64_t code;
    uint64_t fail; /* the failing row, UINT64_MAX if none */
};

/* One function on purpose: a fixed sequence of collectives every rank reaches whatever its own
   errors (see attach.c). */
int shmpool_mpi_stream_reduce(shmpool *pool, const char *path, shmpool_stream_reduce_fn fn,
                              shmpool_combine_fn combine, void *ctx, void *acc,
                              size_t partial_size, const shmpool_stream_options *opt,
                              size_t *fail_index) {
    if (fail_index)
        *fail_index = SIZE_MAX;
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = shmpool__mpi_can_collect(d);
    if (rc)
        return rc;
    shmpool_stream_options o = opt ? *opt : (shmpool_stream_options){0};
    size_t rows = 0, nchunks = 0, lo = 0, hi = 0, first = 0, end = 0;
    if (!path || !fn || !combine || !acc || partial_size == 0 || o.chunk == 0)
        rc = -EINVAL; /* chunk 0 would depend on each rank's budget and workers */
    else
        rc = shmpool__stream_rows(path, &o, &rows);
    if (!rc) {
        end = o.end_row && o.end_row < rows ? o.end_row : rows;
        first = o.first_row < end ? o.first_row : end;
        nchunks = (end - first) / o.chunk + ((end - first) % o.chunk != 0);
        lo = share(nchunks, d->rank, d->size);
        hi = share(nchunks, d->rank + 1, d->size);
        if (nchunks > SIZE_MAX / partial_size || nchunks * partial_size > (size_t)INT_MAX)
            rc = -EOVERFLOW; /* MPI's int counts */
    }
    struct collect c = {.partial_size = partial_size, .first = lo};
    if (!rc && !(c.all = malloc(nchunks ? nchunks * partial_size : 1)))
        rc = -ENOMEM;
    if ((rc = shmpool__mpi_agree(d->comm, rc))) {
        free(c.all);
        return rc;
    }

    /* This rank's share, streamed. */
    size_t fail = SIZE_MAX;
    if (lo < hi) {
        o.first_row = first + lo * o.chunk;
        o.end_row = first + hi * o.chunk < end ? first + hi * o.chunk : end;
        rc = shmpool__stream_reduce_parts(pool, path, fn, ctx, partial_size, &o, take, &c, &fail);
    }

    /* Every rank's outcome: the lowest failing row wins; else the lowest code. */
    struct outcome mine = {rc, fail == SIZE_MAX ? UINT64_MAX : fail}, *all = NULL;
    all = calloc((size_t)d->size, sizeof *all);
    int bad = !all, any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, d->comm);
    if (any_bad) {
        free(all);
        free(c.all);
        return -ENOMEM;
    }
    if (MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, d->comm) !=
        MPI_SUCCESS) {
        free(all);
        free(c.all);
        return -EIO;
    }
    rc = 0;
    uint64_t low = UINT64_MAX;
    for (int r = 0; r < d->size; r++) {
        if (all[r].fail < low) {
            low = all[r].fail;
            rc = (int)all[r].code;
        } else if (low == UINT64_MAX && all[r].code < rc) {
            rc = (int)all[r].code;
        }
    }
    free(all);
    if (rc) {
        if (fail_index && low != UINT64_MAX)
            *fail_index = (size_t)low;
        free(c.all);
        return rc;
    }

    /* Every partial on every rank, then the fold in chunk order. */
    int *cnt = malloc((size_t)d->size * sizeof *cnt), *off = malloc((size_t)d->size * sizeof *off);
    bad = !cnt || !off;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, d->comm);
    if (!any_bad) {
        for (int r = 0; r < d->size; r++) {
            off[r] = (int)(share(nchunks, r, d->size) * partial_size);
            cnt[r] = (int)(share(nchunks, r + 1, d->size) * partial_size) - off[r];
        }
        if (MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, c.all, cnt, off, MPI_BYTE, d->comm) !=
            MPI_SUCCESS)
            rc = -EIO;
    } else {
        rc = -ENOMEM;
    }
    for (size_t i = 0; !rc && i < nchunks; i++)
        combine(acc, c.all + i * partial_size, ctx);
    free(cnt);
    free(off);
    free(c.all);
    return rc;
}
