/* libshmpool_mpi's state: one per pool joined to a communicator. See docs/MPI.md. */
#ifndef SHMPOOL_MPI_DIST_H
#define SHMPOOL_MPI_DIST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dist.h"
#include "shmpool_mpi.h"

#define HOST_MAX 64
#define NO_INDEX UINT64_MAX

struct peer {
    int32_t pid;          /* the rank's parent process */
    uint32_t workers;
    uint64_t pid_space;   /* boot id and pid namespace: equal means kill(pid, 0) can see it */
    char host[HOST_MAX];
};

/* The record of the last collective job: enough to gather its outputs and name its failure. */
/* What each rank tells the others when its part of a job is over (run.c). */
struct summary {
    uint64_t claimed;   /* added to the counter by this rank in this job */
    uint64_t fail_item; /* NO_INDEX if none of its items failed */
    int64_t fail_code;  /* nonzero: its failure (an item's code, or a local error) */
    uint64_t kind, n, chunk;
    uint64_t arg_error; /* its failure is a bad argument: its kind/n/chunk do not count */
};

struct job_record {
    bool valid;
    size_t n, chunk, nchunks;
    uint64_t *blocks;     /* this rank's blocks: pairs [first chunk, end chunk) */
    size_t nblocks, cap;
    uint64_t claims;      /* counter round trips this rank made */
    int code;             /* the job's outcome, the same on every rank */
    int fail_rank;        /* -1: no item failed */
    uint64_t fail_item;   /* NO_INDEX: not known */
};

struct mpi_dist {
    MPI_Comm comm;        /* our duplicate: our traffic never matches the user's */
    int rank, size;
    unsigned total_workers;
    struct peer *peers;   /* indexed by rank */
    struct summary *summaries; /* room for one job summary per rank (run.c), made at attach so
                                  a job's end never fails for want of memory */
    MPI_Win win;          /* rank 0 holds the chunk counter; passive target, locked for life */
    uint64_t *counter;
    uint64_t base;        /* the counter's value when the current job began */
    uint64_t max_block;   /* SHMPOOL_MPI_MAX_BLOCK: 0, or the largest block a claim may take */
    bool broken;          /* a peer vanished mid-call: no more collectives, not even Win_free */
    struct job_record last;
};

/* run.c: a collective map/starmap/for (struct dist_ops.run). */
int shmpool__mpi_run(void *state, shmpool *p, const struct request *q);
/* Wait for req while keeping MPI progressing; SHMPOOL_EPEER if a peer on this host died. */
int shmpool__mpi_wait(struct mpi_dist *d, MPI_Request *req);
/* The distribution attached to pool, or NULL. */
struct mpi_dist *shmpool__mpi_of(const shmpool *pool);
/* True while MPI_Init has run and MPI_Finalize has not. */
bool shmpool__mpi_ready(void);
/* 0 if a collective call (gather, owners, sum, array load) may start on d: -EINVAL (NULL: not an
   MPI pool), SHMPOOL_EPEER (a peer vanished earlier), -ESHUTDOWN (MPI not running). No MPI
   call: the caller agrees with the other ranks on what follows. */
int shmpool__mpi_can_collect(const struct mpi_dist *d);
/* Collective: the lowest of every rank's rc (0 if all are 0); -EIO if MPI fails. */
int shmpool__mpi_agree(MPI_Comm comm, int rc);

#endif
