/* Distribution: the seam between the core pool and a library that spreads its collective calls
 * over several processes' pools (libshmpool_mpi). The core knows nothing of MPI: a distributor
 * attaches a table of hooks to a pool; shmpool_map, shmpool_starmap and shmpool_for then call its
 * `run` instead of running the job locally, and the distributor runs parts of the job on this
 * pool's workers with shmpool__submit_part.
 *
 * These symbols are exported for libshmpool_mpi only: they are not API (the `shmpool__` prefix)
 * and may change with any release. */
#ifndef SHMPOOL_DIST_H
#define SHMPOOL_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "control.h"
#include "shmpool.h"

/* One call's arguments, as the public functions received them. */
struct request {
    enum job_kind kind;
    void (*fn)(void);
    void *ctx;
    const void *in; /* map: the input column; apply: the arguments */
    size_t in_size;
    void *out;
    size_t out_size;
    size_t n, chunk; /* chunk 0: automatic */
    size_t k;
    const void *const *cols;
    const size_t *sizes;
    size_t base;     /* for: added to every [begin, end) passed to fn (a part of a larger range) */
    size_t ctx_size; /* > 0: ctx is copied into the job (the *_ctx calls) */
    size_t whole_chunks; /* a part of a distributed job: the whole job's chunk count (else 0) */
    bool caller_runs; /* the submitting thread runs chunks of it too (it then wakes one worker
                         fewer); only for a job the caller then waits for */
    char *partials;  /* reduce: acc_stride bytes per chunk of the whole range (shmpool memory) */
    const char *identity; /* reduce: copied into each partial before its chunk runs (shmpool memory) */
    size_t acc_size, acc_stride;
    shmpool_combine_fn combine; /* reduce */
    void *acc;                  /* reduce: the caller's accumulator */
    bool track;      /* imap: record each finished chunk for shmpool_result_next (imap.h) */
};

struct dist_ops {
    /* Run a synchronous map, starmap or for (q->kind) over every process of the distribution. */
    int (*run)(void *state, shmpool *p, const struct request *q);
    /* The pool is being destroyed: let go of the distribution's resources. */
    void (*detach)(void *state);
};

/* Attach a distributor. 0; -EINVAL (NULL); -EBUSY (one is attached already). */
SHMPOOL_EXTERN int shmpool__dist_attach(shmpool *p, const struct dist_ops *ops, void *state);
/* Take the distributor off again (its detach hook is not called). */
SHMPOOL_EXTERN void shmpool__dist_detach(shmpool *p);
/* The attached distributor's state and ops, or NULL. */
SHMPOOL_EXTERN void *shmpool__dist_state(const shmpool *p);
SHMPOOL_EXTERN const struct dist_ops *shmpool__dist_ops(const shmpool *p);
/* Check q's arguments as the public call would. 0 or the public call's error code. */
SHMPOOL_EXTERN int shmpool__request_check(const struct request *q);
/* Start, on this pool's workers, chunks [first, first + count) of q with q->chunk items per chunk
   (q->chunk must be nonzero): item indices of the part start at first * q->chunk of the whole. */
SHMPOOL_EXTERN int shmpool__submit_part(shmpool *p, const struct request *q, size_t first,
                                        size_t count, shmpool_result **r);
/* Chunks of r's job that no worker has claimed yet (0 once it ended). */
SHMPOOL_EXTERN size_t shmpool__result_unclaimed(const shmpool_result *r);

/* Inside the core: run q as the synchronous calls do (over the distribution, if any). */
int shmpool__run_sync(shmpool *p, const struct request *q);
/* The chunk size a job over n items with `chunk` (0: automatic) gets; reduce: n's rule alone. */
size_t shmpool__chunk_size(const shmpool *p, size_t n, size_t chunk, bool reduce);
/* Inside the core: submit q locally as one job, as the _async calls do. */
int shmpool__submit(shmpool *p, const struct request *q, shmpool_result **out);

#endif
