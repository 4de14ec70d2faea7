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

/* Whether a collective over the last job can start, on every rank alike: local_rc is this rank's
   verdict on its own arguments, and the lowest over all ranks is everyone's answer (so a rank
   that alone passed a bad argument does not leave the others waiting). */
static int check_job(struct mpi_dist *d, int local_rc) {
    int rc = shmpool__mpi_can_collect(d);
    if (rc)
        return rc;
    if (!local_rc && !d->last.valid)
        local_rc = -EINVAL;
    return shmpool__mpi_agree(d->comm, local_rc);
}

long shmpool_mpi_owners(shmpool *pool, int *owner, size_t nchunks) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = check_job(d, 0);
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
    MPI_Datatype el = MPI_DATATYPE_NULL, t = MPI_DATATYPE_NULL;
    if (!rc && MPI_Type_contiguous((int)elem, MPI_BYTE, &el) != MPI_SUCCESS) {
        el = MPI_DATATYPE_NULL;
        rc = -EIO;
    }
    if (!rc && MPI_Type_create_hindexed(nb, len, disp, el, &t) != MPI_SUCCESS) {
        t = MPI_DATATYPE_NULL;
        rc = -EIO;
    }
    if (!rc && MPI_Type_commit(&t) != MPI_SUCCESS)
        rc = -EIO;
    if (rc && t != MPI_DATATYPE_NULL)
        MPI_Type_free(&t);
    else if (!rc)
        *type = t;
    if (el != MPI_DATATYPE_NULL)
        MPI_Type_free(&el);
    free(len);
    free(disp);
    return rc;
}

static int gather(struct mpi_dist *d, void *buf, size_t elem_size, int per_chunk, int root,
                  int local_rc);

int shmpool_mpi_gather(shmpool *pool, void *buf, size_t elem_size, int per_chunk, int root) {
    return gather(shmpool__mpi_of(pool), buf, elem_size, per_chunk, root, 0);
}

static int gather(struct mpi_dist *d, void *buf, size_t elem_size, int per_chunk, int root,
                  int local_rc) {
    if (!local_rc && (!buf || elem_size == 0 || elem_size > INT_MAX || root < SHMPOOL_MPI_ALL ||
                      (d && root >= d->size)))
        local_rc = -EINVAL;
    int rc = check_job(d, local_rc);
    if (rc)
        return rc;
    struct owners o;
    if ((rc = owners_get(d, &o)))
        return rc;
    int size = d->size, me = d->rank;
    MPI_Datatype *types = calloc((size_t)size, sizeof *types);
    MPI_Request *reqs = malloc(2 * (size_t)size * sizeof *reqs);
    rc = types && reqs ? 0 : -ENOMEM;
    for (int r = 0; types && r < size; r++)
        types[r] = MPI_DATATYPE_NULL;
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
            if (types[me] != MPI_DATATYPE_NULL && (root < 0 || r == root)) {
                if (MPI_Isend(buf, 1, types[me], r, 1, d->comm, &reqs[nreq]) == MPI_SUCCESS)
                    nreq++;
                else
                    rc = -EIO;
            }
            if (types[r] != MPI_DATATYPE_NULL && (root < 0 || me == root)) {
                if (MPI_Irecv(buf, 1, types[r], r, 1, d->comm, &reqs[nreq]) == MPI_SUCCESS)
                    nreq++;
                else
                    rc = -EIO;
            }
        }
        for (int i = 0; i < nreq && rc != SHMPOOL_EPEER; i++) {
            int w = shmpool__mpi_wait(d, &reqs[i]);
            if (w && !rc)
                rc = w;
        }
        /* A peer is gone: nothing will match what is left. Cancel the receives so MPI stops
           writing into buf (the pool is broken from now on). */
        for (int i = 0; rc == SHMPOOL_EPEER && i < nreq; i++)
            if (reqs[i] != MPI_REQUEST_NULL) {
                MPI_Cancel(&reqs[i]);
                MPI_Request_free(&reqs[i]);
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
    struct mpi_dist *d = shmpool__mpi_of(pool);
    int rc = gather(d, partial, sizeof *partial, 1, SHMPOOL_MPI_ALL, sum ? 0 : -EINVAL);
    if (rc)
        return rc;
    double s = 0;
    for (size_t c = 0; c < d->last.nchunks; c++) /* chunk order: the schedule cannot change it */
        s += partial[c];
    *sum = s;
    return 0;
}
