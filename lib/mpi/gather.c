/* Results where they are wanted: which rank ran which chunk, the outputs assembled by that record,
 * and a sum of per-chunk partials that does not depend on the schedule.
 *
 * Every rank's block list is allgathered; then each rank's elements travel straight from its
 * buffer into the same positions of the root's buffer through MPI datatypes that describe the
 * blocks (hindexed), sent and received point to point: no packing, no staging copy. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_dist.h"

/* All ranks' blocks of the last job: blocks of rank r are all[off[r] .. off[r] + cnt[r]). */
struct owners {
    int *cnt, *off;
    uint64_t *all; /* pairs */
};

static void owners_free(struct owners *o) {
    free(o->cnt);
    free(o->off);
    free(o->all);
}

static int owners_get(struct mpi_dist *d, struct owners *o) {
    memset(o, 0, sizeof *o);
    int n = d->last.nblocks > INT_MAX / 2 ? -1 : (int)d->last.nblocks * 2, bad = n < 0;
    o->cnt = calloc((size_t)d->size, sizeof *o->cnt);
    o->off = calloc((size_t)d->size, sizeof *o->off);
    bad |= !o->cnt || !o->off;
    int any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, d->comm);
    if (any_bad) {
        owners_free(o);
        return -ENOMEM;
    }
    if (MPI_Allgather(&n, 1, MPI_INT, o->cnt, 1, MPI_INT, d->comm) != MPI_SUCCESS) {
        owners_free(o);
        return -EIO;
    }
    long total = 0;
    for (int r = 0; r < d->size; r++) {
        o->off[r] = (int)total;
        total += o->cnt[r];
    }
    o->all = malloc((size_t)(total ? total : 1) * sizeof *o->all);
    bad = !o->all || total > INT_MAX;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, d->comm);
    if (any_bad) {
        owners_free(o);
        return -ENOMEM;
    }
    if (MPI_Allgatherv(d->last.blocks, n, MPI_UINT64_T, o->all, o->cnt, o->off, MPI_UINT64_T,
                       d->comm) != MPI_SUCCESS) {
        owners_free(o);
        return -EIO;
    }
    return 0;
}

static int check_job(struct mpi_dist *d) {
    if (!d)
        return -EINVAL;
    if (d->broken)
        return SHMPOOL_EPEER;
    return d->last.valid ? 0 : -EINVAL;
}

long shmpool_mpi_owners(shmpool *pool, int *owner, size_t nchunks) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = check_job(d);
    if (rc)
        return rc;
    struct owners o;
    if ((rc = owners_get(d, &o)))
        return rc;
    for (int r = 0; owner && r < d->size; r++)
        for (int b = 0; b < o.cnt[r]; b += 2)
            for (uint64_t c = o.all[o.off[r] + b]; c < o.all[o.off[r] + b + 1] && c < nchunks; c++)
                owner[c] = r;
    owners_free(&o);
    return (long)d->last.nchunks;
}

/* A datatype for the elements of rank r's blocks inside buf. *type MPI_DATATYPE_NULL: none. */
static int blocks_type(const struct mpi_dist *d, const struct owners *o, int r, size_t elem,
                       int per_chunk, MPI_Datatype *type) {
    *type = MPI_DATATYPE_NULL;
    int nb = o->cnt[r] / 2;
    if (nb == 0)
        return 0;
    int *len = malloc((size_t)nb * sizeof *len);
    MPI_Aint *disp = malloc((size_t)nb * sizeof *disp);
    int rc = len && disp ? 0 : -ENOMEM;
    size_t unit = per_chunk ? 1 : d->last.chunk, n = per_chunk ? d->last.nchunks : d->last.n;
    for (int b = 0; !rc && b < nb; b++) {
        size_t first = o->all[o->off[r] + 2 * b] * unit;
        size_t end = o->all[o->off[r] + 2 * b + 1] * unit;
        if (end > n)
            end = n;
        if (end - first > INT_MAX || first > (size_t)PTRDIFF_MAX / elem)
            rc = -EOVERFLOW;
        len[b] = (int)(end - first);
        disp[b] = (MPI_Aint)(first * elem);
    }
    MPI_Datatype el = MPI_DATATYPE_NULL;
    if (!rc && (MPI_Type_contiguous((int)elem, MPI_BYTE, &el) != MPI_SUCCESS ||
                MPI_Type_create_hindexed(nb, len, disp, el, type) != MPI_SUCCESS ||
                MPI_Type_commit(type) != MPI_SUCCESS))
        rc = -EIO;
    if (el != MPI_DATATYPE_NULL)
        MPI_Type_free(&el);
    free(len);
    free(disp);
    return rc;
}

int shmpool_mpi_gather(shmpool *pool, void *buf, size_t elem_size, int per_chunk, int root) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = check_job(d);
    if (rc)
        return rc;
    if (!buf || elem_size == 0 || elem_size > INT_MAX || root < SHMPOOL_MPI_ALL ||
        root >= d->size)
        return -EINVAL; /* the same answer on every rank for the same arguments */
    struct owners o;
    if ((rc = owners_get(d, &o)))
        return rc;
    int size = d->size, me = d->rank;
    MPI_Datatype *types = calloc((size_t)size, sizeof *types);
    MPI_Request *reqs = calloc(2 * (size_t)size, sizeof *reqs);
    rc = types && reqs ? 0 : -ENOMEM;
    for (int r = 0; !rc && r < size; r++)
        rc = blocks_type(d, &o, r, elem_size, per_chunk != 0, &types[r]);
    int bad = rc != 0, any_bad = 0;
    MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, d->comm);
    if (!any_bad) {
        /* I send my blocks to the root (or to everyone) and receive rank r's blocks if I am the
           root (or always). Never to myself: my elements are in place. Point to point, because
           a collective may not take the same buffer to send from and receive into. */
        int nreq = 0;
        for (int r = 0; r < size; r++) {
            if (r == me)
                continue;
            if (types[me] != MPI_DATATYPE_NULL && (root < 0 || r == root) &&
                MPI_Isend(buf, 1, types[me], r, 1, d->comm, &reqs[nreq++]) != MPI_SUCCESS)
                rc = -EIO;
            if (types[r] != MPI_DATATYPE_NULL && (root < 0 || me == root) &&
                MPI_Irecv(buf, 1, types[r], r, 1, d->comm, &reqs[nreq++]) != MPI_SUCCESS)
                rc = -EIO;
        }
        for (int i = 0; i < nreq; i++) {
            int w = shmpool__mpi_wait(d, &reqs[i]);
            if (w && !rc)
                rc = w;
        }
    } else if (!rc) {
        rc = -ENOMEM; /* another rank could not build its types: all fail alike */
    }
    for (int r = 0; types && r < size; r++)
        if (types[r] != MPI_DATATYPE_NULL)
            MPI_Type_free(&types[r]);
    free(types);
    free(reqs);
    owners_free(&o);
    return rc;
}

int shmpool_mpi_sum(shmpool *pool, double *partial, double *sum) {
    if (!sum)
        return -EINVAL;
    int rc = shmpool_mpi_gather(pool, partial, sizeof *partial, 1, SHMPOOL_MPI_ALL);
    if (rc)
        return rc;
    struct mpi_dist *d = shmpool__mpi_of(pool);
    double s = 0;
    for (size_t c = 0; c < d->last.nchunks; c++) /* chunk order: the schedule cannot change it */
        s += partial[c];
    *sum = s;
    return 0;
}
