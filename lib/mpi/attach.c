/* Joining pools over a communicator: create, attach, detach, and what a rank knows of the others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpi_dist.h"

static void detach(void *state);
static const struct dist_ops mpi_ops = {.run = shmpool__mpi_run, .detach = detach};

struct mpi_dist *shmpool__mpi_of(const shmpool *pool) {
    /* Only our ops table makes a pool an MPI pool: check the state belongs to it. */
    struct mpi_dist *d = shmpool__dist_state(pool);
    return d && shmpool__dist_ops(pool) == &mpi_ops ? d : NULL;
}

bool shmpool__mpi_ready(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int shmpool__mpi_can_collect(const struct mpi_dist *d) {
    if (!d)
        return -EINVAL; /* not an MPI pool: no collective is possible */
    if (d->broken)
        return SHMPOOL_EPEER;
    if (!shmpool__mpi_ready())
        return -ESHUTDOWN;
    return 0;
}

static void free_dist(struct mpi_dist *d) {
    if (!d)
        return;
    free(d->peers);
    free(d->summaries);
    free(d->last.blocks);
    free(d);
}

/* Which processes kill(pid, 0) can see: the same boot of the same kernel and the same pid
   namespace. Hostnames are not enough (containers sharing the host's name, names cut short). */
static uint64_t pid_space(void) {
    uint64_t h = 1469598103934665603u; /* FNV-1a over the boot id, then the namespace inode */
    char boot[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(boot, sizeof boot, f))
            boot[0] = 0;
        fclose(f);
    }
    struct stat st = {0};
    stat("/proc/self/ns/pid", &st);
    for (const char *c = boot; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211u;
    h = (h ^ (uint64_t)st.st_ino) * 1099511628211u;
    return h ^ (uint64_t)st.st_dev;
}

int shmpool__mpi_agree(MPI_Comm comm, int rc) {
    int all = rc;
    if (MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return -EIO;
    return all;
}

/* One function on purpose (~80 lines): it is a fixed sequence of collective calls, and every rank
   must reach each of them whatever its own error so far, or the others hang. Read in one piece,
   the sequence can be checked at a glance; split, each part would need the whole protocol. */
int shmpool_mpi_attach(shmpool *pool, MPI_Comm comm) {
    if (!pool || comm == MPI_COMM_NULL || !shmpool__mpi_ready())
        return -EINVAL;
    struct mpi_dist *d = calloc(1, sizeof *d);
    int rc = d ? 0 : -ENOMEM;
    if (shmpool__dist_state(pool))
        rc = -EBUSY;
    /* Every rank takes part in every collective below, whatever its own rc, so none hangs. */
    MPI_Comm dup = MPI_COMM_NULL;
    if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS) {
        free(d);
        return -EIO;
    }
    MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
    int rank, size;
    MPI_Comm_rank(dup, &rank);
    MPI_Comm_size(dup, &size);
    struct peer me = {.pid = (int32_t)getpid(), .workers = shmpool_workers(pool),
                      .pid_space = pid_space()};
    gethostname(me.host, sizeof me.host - 1);
    struct peer *peers = calloc((size_t)size, sizeof *peers);
    struct summary *summaries = calloc((size_t)size, sizeof *summaries);
    if ((!peers || !summaries) && !rc)
        rc = -ENOMEM;
    if ((rc = shmpool__mpi_agree(dup, rc)))
        goto fail;
    if (MPI_Allgather(&me, sizeof me, MPI_BYTE, peers, sizeof me, MPI_BYTE, dup) != MPI_SUCCESS) {
        rc = -EIO;
        goto fail;
    }
    d->comm = dup;
    d->rank = rank;
    d->size = size;
    d->peers = peers;
    d->summaries = summaries;
    summaries = NULL;
    for (int r = 0; r < size; r++)
        d->total_workers += peers[r].workers;
    d->last.fail_rank = -1;
    /* For measurements and tuning: the largest block one claim may take (0: no limit). */
    const char *mb = getenv("SHMPOOL_MPI_MAX_BLOCK");
    d->max_block = mb ? strtoull(mb, NULL, 10) : 0;
    MPI_Aint bytes = rank == 0 ? (MPI_Aint)sizeof(uint64_t) : 0;
    if (MPI_Win_allocate(bytes, sizeof(uint64_t), MPI_INFO_NULL, dup, &d->counter, &d->win) !=
        MPI_SUCCESS) {
        rc = -EIO;
        goto fail;
    }
    MPI_Win_set_errhandler(d->win, MPI_ERRORS_RETURN);
    /* One passive-target epoch for the pool's life: claims are Fetch_and_op + flush. Rank 0 zeroes
       the counter inside it and syncs its public copy; the agreement that follows is the barrier
       that orders this store before any claim. */
    int locked = MPI_Win_lock_all(MPI_MODE_NOCHECK, d->win) == MPI_SUCCESS;
    if (locked && rank == 0) {
        *d->counter = 0;
        MPI_Win_sync(d->win);
    }
    if ((rc = shmpool__mpi_agree(dup, locked ? 0 : -EIO))) {
        if (locked)
            MPI_Win_unlock_all(d->win);
        MPI_Win_free(&d->win);
        goto fail;
    }
    int mine = shmpool__dist_attach(pool, &mpi_ops, d);
    if ((rc = shmpool__mpi_agree(dup, mine))) { /* another thread attached meanwhile, on some rank */
        if (!mine)
            shmpool__dist_detach(pool);
        detach(d);
        return rc;
    }
    return 0;
fail:
    if (dup != MPI_COMM_NULL)
        MPI_Comm_free(&dup);
    if (d)
        d->peers = NULL;
    free(peers);
    free(summaries);
    free_dist(d);
    return rc;
}

/* At shmpool_destroy: collective while MPI runs and every peer is there. */
static void detach(void *state) {
    struct mpi_dist *d = state;
    if (shmpool__mpi_ready() && !d->broken) {
        MPI_Win_unlock_all(d->win);
        MPI_Win_free(&d->win);
        MPI_Comm_free(&d->comm);
    }
    free_dist(d);
}

int shmpool_mpi_create(shmpool **pool, MPI_Comm comm, const shmpool_options *opt) {
    if (!pool)
        return -EINVAL;
    *pool = NULL;
    if (comm == MPI_COMM_NULL || !shmpool__mpi_ready())
        return -EINVAL;
    shmpool *p = NULL;
    int rc = shmpool_create(&p, opt);
    rc = shmpool__mpi_agree(comm, rc);
    if (!rc)
        rc = shmpool_mpi_attach(p, comm);
    if (rc) {
        shmpool_destroy(p);
        return rc;
    }
    *pool = p;
    return 0;
}

int shmpool_mpi_rank(const shmpool *pool, int *rank, int *size) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    if (!d)
        return -EINVAL;
    if (rank)
        *rank = d->rank;
    if (size)
        *size = d->size;
    return 0;
}

unsigned shmpool_mpi_total_workers(const shmpool *pool) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    return d ? d->total_workers : 0;
}

unsigned long shmpool_mpi_last_claims(const shmpool *pool) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    return d ? (unsigned long)d->last.claims : 0;
}

int shmpool_mpi_last_error(const shmpool *pool, int *rank, size_t *item) {
    struct mpi_dist *d = shmpool__mpi_of(pool);
    if (!d)
        return -EINVAL;
    if (rank)
        *rank = d->last.fail_rank;
    if (item)
        *item = d->last.fail_item == NO_INDEX ? SIZE_MAX : (size_t)d->last.fail_item;
    return d->last.code;
}

const char *shmpool_mpi_strerror(const shmpool *pool, int code) {
    static _Thread_local char msg[512];
    struct mpi_dist *d = shmpool__mpi_of(pool);
    const char *base = shmpool_strerror(code);
    if (!d || code == 0 || code != d->last.code || d->last.fail_rank < 0)
        return base;
    const struct peer *p = &d->peers[d->last.fail_rank];
    if (d->last.fail_item == NO_INDEX)
        snprintf(msg, sizeof msg, "%s (rank %d, pid %d on host %s)", base, d->last.fail_rank,
                 (int)p->pid, p->host);
    else
        snprintf(msg, sizeof msg, "%s (rank %d, pid %d on host %s, item %llu)", base,
                 d->last.fail_rank, (int)p->pid, p->host, (unsigned long long)d->last.fail_item);
    return msg;
}
