/* A collective map/starmap/for: every rank's parent claims blocks of chunks from the counter in
 * rank 0's window and runs each block as a local job on its own workers, which split it with the
 * core's atomic counter. The parent claims the next block when its workers have taken every chunk
 * of the blocks it holds, so a slow rank holds at most one block it has not started. Between
 * claims it sleeps in short slices and keeps MPI progressing: over TCP (osc pt2pt) a claim on
 * rank 0's counter is served only while rank 0 is inside MPI.
 *
 * At the end one allgather of a small summary per rank gives every rank the same outcome (the
 * code of the lowest failing item, and the rank it failed on) and the counter's next base: the
 * counter is never reset, each job starts where the last one's claims left it. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpi_dist.h"
#include "procstat.h"

#define MAX_INFLIGHT 64        /* local parts at once: more than any pool has idle workers */
#define POLL_YIELDS 16         /* after a claim, first only yield this many times: a worker
                                  takes a fresh part within microseconds */
#define POLL_MIN_NS 20000      /* then sleep slices from this, doubling */
#define POLL_MAX_NS 5000000    /* the longest slice: each wake costs this rank's CPU, taken from
                                  its workers (at 1 ms, ~5 % of a core on a VM) */
#define POLL_MAX_HOST_NS 1000000 /* rank 0's: it hosts the counter, and over TCP (osc pt2pt) a
                                    peer's claim waits until rank 0 is next inside MPI */
#define PEER_CHECK_NS 100000000 /* how often a waiting rank checks its peers on this host */

struct part {
    shmpool_result *r;
    size_t first_item;
};

struct run {
    struct mpi_dist *d;
    shmpool *p;
    struct request q;   /* chunk resolved */
    size_t nchunks;
    uint64_t claimed;
    uint64_t ramp;      /* the largest block the next claim may take */
    uint64_t claims;    /* Fetch_and_op round trips this rank made */
    bool exhausted;     /* the counter is past the end: no more claims */
    bool arg_error;     /* this rank's arguments were refused: it claims nothing */
    struct part inflight[MAX_INFLIGHT];
    unsigned ninflight;
    int fail_code;
    uint64_t fail_item;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait a slice; slice 0 only yields (the workers may need this core). */
static void sleep_ns(uint64_t ns) {
    if (ns == 0) {
        sched_yield();
        return;
    }
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

/* Keep MPI progressing: one-sided requests to this rank's window are served here. */
static void mpi_progress(struct mpi_dist *d) {
    int flag;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, d->comm, &flag, MPI_STATUS_IGNORE);
}

/* A peer whose process is gone, among those this process can see (same kernel boot and pid
   namespace: attach.c): MPI would wait for it forever (unless the runtime ends the job first, as
   mpirun does by default). -1 if none. */
/* Gone, or a zombie: a killed rank stays a zombie until the MPI runtime reaps it, which may take
   seconds. A /proc entry that cannot be read is not taken for an end. */
static bool process_ended(pid_t pid) { return shmpool__pid_ended(pid) == 1; }

static int dead_peer(const struct mpi_dist *d) {
    uint64_t me = d->peers[d->rank].pid_space;
    for (int r = 0; r < d->size; r++)
        if (r != d->rank && d->peers[r].pid_space == me && process_ended((pid_t)d->peers[r].pid))
            return r;
    return -1;
}

static int peer_lost(struct mpi_dist *d, int r) {
    d->broken = true;
    d->last.valid = false;
    d->last.code = SHMPOOL_EPEER;
    d->last.fail_rank = r;
    d->last.fail_item = NO_INDEX;
    return SHMPOOL_EPEER;
}

/* How a parent waits: a few yields, then sleep slices from POLL_MIN_NS doubling to the rank's
   maximum, and every PEER_CHECK_NS a look for a dead peer. */
struct backoff {
    unsigned polls;
    uint64_t slice, max, next_check;
};

static void backoff_init(const struct mpi_dist *d, struct backoff *b, unsigned yields) {
    b->polls = POLL_YIELDS - yields;
    b->slice = 0;
    b->max = d->rank == 0 ? POLL_MAX_HOST_NS : POLL_MAX_NS;
    b->next_check = now_ns() + PEER_CHECK_NS;
}

/* Something happened: start again with yields. */
static void backoff_reset(struct backoff *b) { b->polls = 0; }

/* Wait one slice. SHMPOOL_EPEER (and the pool broken) if a peer it can see has died. */
static int backoff_wait(struct mpi_dist *d, struct backoff *b) {
    if (++b->polls > POLL_YIELDS)
        b->slice = b->slice ? (b->slice * 2 > b->max ? b->max : b->slice * 2) : POLL_MIN_NS;
    else
        b->slice = 0;
    sleep_ns(b->slice);
    if (now_ns() < b->next_check)
        return 0;
    int r = dead_peer(d);
    if (r >= 0)
        return peer_lost(d, r);
    b->next_check = now_ns() + PEER_CHECK_NS;
    return 0;
}

int shmpool__mpi_wait(struct mpi_dist *d, MPI_Request *req) {
    struct backoff b;
    backoff_init(d, &b, 0);
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return -EIO;
        if (done)
            return 0;
        int rc = backoff_wait(d, &b);
        if (rc)
            return rc;
    }
}

static void fail(struct run *x, int code, uint64_t item) {
    if (!x->fail_code || item < x->fail_item) {
        x->fail_code = code;
        x->fail_item = item;
    }
}

/* Add `amount` to the shared counter; *start gets the job's chunk index before the addition. */
static int claim(struct run *x, uint64_t amount, uint64_t *start) {
    uint64_t old = 0;
    if (MPI_Fetch_and_op(&amount, &old, MPI_UINT64_T, 0, 0, MPI_SUM, x->d->win) != MPI_SUCCESS ||
        MPI_Win_flush(0, x->d->win) != MPI_SUCCESS)
        return -EIO;
    x->claimed += amount;
    x->claims++;
    *start = old - x->d->base;
    return 0;
}

/* A failure anywhere stops the claims everywhere: push the counter past the end. */
static void stop_everyone(struct run *x) {
    uint64_t ignored;
    if (!x->exhausted && claim(x, x->nchunks, &ignored) == 0)
        x->exhausted = true;
}

/* Room for one more block in the record, so that a block that runs is always recorded. */
static int record_reserve(struct job_record *rec) {
    if (rec->nblocks < rec->cap)
        return 0;
    size_t cap = rec->cap ? rec->cap * 2 : 16;
    uint64_t *b = realloc(rec->blocks, cap * 2 * sizeof *b);
    if (!b)
        return -ENOMEM;
    rec->blocks = b;
    rec->cap = cap;
    return 0;
}

/* Guided self-scheduling with a ramp: this rank's share (by its workers) of half of what was left
   at its last claim, but at first one chunk per worker, doubling with each claim. A rank learns
   nothing of the others' speed, so it commits little until it has shown its own: a slow rank
   claims rarely and its blocks stay small, a fast one's grow quickly. */
static uint64_t block_size(struct run *x, uint64_t left) {
    uint64_t w = x->d->peers[x->d->rank].workers, all = x->d->total_workers;
    uint64_t b = (uint64_t)(((unsigned __int128)left * w + 2 * all - 1) / (2 * all));
    if (b > x->ramp)
        b = x->ramp;
    if (x->d->max_block && b > x->d->max_block)
        b = x->d->max_block;
    if (x->ramp < UINT64_MAX / 2)
        x->ramp *= 2;
    return b ? b : 1;
}

/* Claim one block and start it on the local workers. */
static void claim_and_start(struct run *x, uint64_t *left) {
    uint64_t start, want = block_size(x, *left);
    int rc = claim(x, want, &start);
    if (rc) {
        fail(x, rc, NO_INDEX);
        x->exhausted = true;
        return;
    }
    if (start >= x->nchunks) {
        x->exhausted = true;
        return;
    }
    uint64_t count = x->nchunks - start < want ? x->nchunks - start : want;
    *left = x->nchunks - start - count;
    shmpool_result *r = NULL;
    struct job_record *rec = &x->d->last;
    rc = record_reserve(rec);
    if (!rc)
        rc = shmpool__submit_part(x->p, &x->q, start, count, &r);
    if (rc) { /* the block is ours and cannot run: the job fails at its first item */
        fail(x, rc, start * x->q.chunk);
        stop_everyone(x);
        return;
    }
    rec->blocks[2 * rec->nblocks] = start;
    rec->blocks[2 * rec->nblocks + 1] = start + count;
    rec->nblocks++;
    x->inflight[x->ninflight++] = (struct part){.r = r, .first_item = start * x->q.chunk};
}

/* Collect the local parts that ended. */
static void reap(struct run *x) {
    for (unsigned i = 0; i < x->ninflight;) {
        shmpool_result *r = x->inflight[i].r;
        if (shmpool_result_ready(r) != 1) {
            i++;
            continue;
        }
        int rc = shmpool_result_get(r, 0);
        if (rc) {
            size_t idx;
            shmpool_result_error(r, &idx);
            fail(x, rc, idx == SIZE_MAX ? NO_INDEX : x->inflight[i].first_item + idx);
            stop_everyone(x);
        }
        shmpool_result_free(r);
        x->inflight[i] = x->inflight[--x->ninflight];
    }
}

static size_t unclaimed(const struct run *x) {
    size_t u = 0;
    for (unsigned i = 0; i < x->ninflight; i++)
        u += shmpool__result_unclaimed(x->inflight[i].r);
    return u;
}

/* This rank's share of the job: claim, run, until the counter is past the end and every local
   part has ended. Returns nonzero only if a peer on this host died. */
static int run_parts(struct run *x) {
    uint64_t left = x->nchunks;
    struct backoff b;
    backoff_init(x->d, &b, POLL_YIELDS);
    for (;;) {
        reap(x);
        if (!x->exhausted && x->ninflight < MAX_INFLIGHT && unclaimed(x) == 0) {
            claim_and_start(x, &left);
            backoff_reset(&b);
            continue;
        }
        if (x->exhausted && x->ninflight == 0)
            return 0;
        mpi_progress(x->d);
        int rc = backoff_wait(x->d, &b);
        if (rc) {
            for (unsigned i = 0; i < x->ninflight; i++)
                shmpool_result_free(x->inflight[i].r);
            x->ninflight = 0;
            return rc;
        }
    }
}

/* Every rank learns every summary and draws the same conclusions from them. */
static int conclude(struct run *x) {
    struct mpi_dist *d = x->d;
    struct summary mine = {.claimed = x->claimed,
                           .fail_item = x->fail_code ? x->fail_item : NO_INDEX,
                           .fail_code = x->fail_code,
                           .kind = (uint64_t)x->q.kind,
                           .n = x->q.n,
                           .chunk = x->q.chunk,
                           .arg_error = x->arg_error};
    struct summary *all = d->summaries;
    MPI_Request req;
    int rc = MPI_Iallgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, d->comm,
                            &req) == MPI_SUCCESS ? 0 : -EIO;
    if (!rc)
        rc = shmpool__mpi_wait(d, &req);
    if (rc) {
        d->last.code = rc;
        d->last.fail_rank = -1;
        d->last.fail_item = NO_INDEX;
        return rc;
    }
    uint64_t total = 0;
    int code = 0, fail_rank = -1;
    uint64_t fail_item = NO_INDEX;
    bool mismatch = false;
    const struct summary *ref = NULL; /* the first rank whose arguments were valid */
    for (int r = 0; r < d->size; r++) {
        total += all[r].claimed;
        if (!all[r].arg_error) {
            ref = ref ? ref : &all[r];
            mismatch |= all[r].kind != ref->kind || all[r].n != ref->n ||
                        all[r].chunk != ref->chunk;
        }
        if (all[r].fail_code && (fail_rank < 0 || all[r].fail_item < fail_item)) {
            code = (int)all[r].fail_code;
            fail_item = all[r].fail_item;
            fail_rank = r;
        }
    }
    d->base += total;
    if (mismatch) {
        code = SHMPOOL_EMISMATCH;
        fail_rank = -1;
        fail_item = NO_INDEX;
    }
    d->last.code = code;
    d->last.fail_rank = fail_rank;
    d->last.fail_item = fail_item;
    d->last.valid = !mismatch;
    return code;
}

/* A reduction's partials: each rank holds those of the chunks it ran and zeros elsewhere (the core
   zeroes them), so OR-ing the arrays gives every rank every partial, bit for bit; the core then
   combines them in chunk order on each rank alike. */
static int share_partials(struct mpi_dist *d, const struct request *q, size_t nchunks) {
    char *at = q->partials;
    size_t left = nchunks * q->acc_stride;
    while (left) {
        int n = left > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)left;
        MPI_Request req;
        if (MPI_Iallreduce(MPI_IN_PLACE, at, n, MPI_BYTE, MPI_BOR, d->comm, &req) != MPI_SUCCESS)
            return -EIO;
        int rc = shmpool__mpi_wait(d, &req);
        if (rc)
            return rc;
        at += n;
        left -= (size_t)n;
    }
    return 0;
}

int shmpool__mpi_run(void *state, shmpool *p, const struct request *q) {
    struct mpi_dist *d = state;
    if (d->broken)
        return SHMPOOL_EPEER;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) /* no collective is possible any more */
        return -ESHUTDOWN;
    struct run x = {.d = d, .p = p, .q = *q, .fail_item = NO_INDEX,
                    .ramp = d->peers[d->rank].workers ? d->peers[d->rank].workers : 1};
    int rc = shmpool__request_check(q);
    /* The chunk is resolved even when the arguments are refused, so that a bad argument is
       reported as itself and not as a disagreement on the chunk. */
    if (x.q.chunk == 0) { /* Python's rule over every worker of every rank */
        size_t parts = 4 * (size_t)d->total_workers;
        x.q.chunk = q->n / parts + (q->n % parts != 0);
    }
    if (x.q.chunk > q->n)
        x.q.chunk = q->n;
    x.nchunks = q->n ? q->n / x.q.chunk + (q->n % x.q.chunk != 0) : 0;
    /* Each rank adds at most nchunks to the counter past the end of a job (its stop claim), and
       every job starts where the last one's claims left it: bound nchunks so that no job can
       wrap the 64-bit counter, as the core bounds its own chunk counter. */
    if (!rc && x.nchunks > ((uint64_t)1 << 62) / ((uint64_t)d->size + 2))
        rc = -EOVERFLOW;
    x.arg_error = rc != 0;
    if (rc)
        x.nchunks = 0;
    d->last.valid = false;
    d->last.nblocks = 0;
    d->last.n = q->n;
    d->last.chunk = x.q.chunk;
    d->last.nchunks = x.nchunks;
    if (rc) /* a local argument error: no claims here, but the collective goes on */
        fail(&x, rc, NO_INDEX);
    x.exhausted = rc != 0 || x.nchunks == 0;
    rc = run_parts(&x);
    d->last.claims = x.claims;
    if (rc)
        return rc;
    rc = conclude(&x);
    if (rc == 0 && q->kind == JOB_REDUCE)
        rc = share_partials(d, q, x.nchunks);
    return rc;
}
