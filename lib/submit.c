/* map, starmap, apply, for: check the arguments, decide what is used in place and what is staged
 * through shared memory, fill a job slot, push its descriptors. The sync calls are the async ones
 * followed by get and free. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "clock.h"
#include "ctx.h"
#include "dist.h"
#include "health.h"
#include "helper.h"
#include "imap.h"
#include "job.h"
#include "message.h"
#include "owner.h"
#include "result.h"
#include "staging.h"
#include "tunables.h"
#include "wait.h"
#include "worker.h"

/* Under the lock: a job slot, waiting while every slot is in flight (back-pressure; the lock is
   dropped meanwhile). The oldest job ends first in a FIFO ring: wait for it on its pinned
   descriptor (never on its result, which its owner may free meanwhile) and harvest it into its
   result if it is still unharvested. 0, -ESHUTDOWN, SHMPOOL_EHELPER or -errno. */
static int take_slot(shmpool *p, uint32_t *slot) {
    unsigned backoff_us = 1;
    for (;;) {
        if (atomic_load(&p->state) != POOL_OPEN)
            return -ESHUTDOWN;
        if (atomic_load(&p->broken))
            return SHMPOOL_EHELPER;
        int rc = shmpool__slots_take(&p->slots, p->cb, slot);
        if (rc != -EBUSY)
            return rc;
        uint64_t d = shmpool__slots_oldest(&p->slots);
        if (!d) { /* every slot is retiring: a worker still looks at its old job */
            pthread_mutex_unlock(&p->lock);
            shmpool__backoff_sleep(&backoff_us);
            shmpool__health_check(p);
            pthread_mutex_lock(&p->lock);
            continue;
        }
        shmpool_result *r = shmpool__slots_owner(&p->slots, d);
        if (!shmpool__result_job_ended(r)) {
            shmpool__slots_pin(&p->slots, d);
            pthread_mutex_unlock(&p->lock);
            shmpool__wait_job(p, d, shmpool__now_ns() + SHMPOOL_HEALTH_SLICE_NS);
            pthread_mutex_lock(&p->lock);
            shmpool__slots_unpin(&p->slots, d);
            r = shmpool__slots_owner(&p->slots, d); /* NULL if harvested meanwhile */
        }
        if (r && shmpool__result_job_ended(r))
            shmpool__result_harvest(r);
    }
}

/* Push `copies` descriptors, waiting while the ring is full, and wake workers. */
static int push(shmpool *p, uint64_t desc, unsigned copies) {
    struct ring *ring = cb_ring(p->cb);
    unsigned backoff_us = 1;
    for (unsigned i = 0; i < copies;) {
        if (shmpool__ring_try_push(ring, &desc)) {
            i++;
            continue;
        }
        /* Full: back-pressure. Wake everybody so the ring drains, then wait. */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        if (!shmpool__health_check(p))
            return SHMPOOL_EHELPER;
        shmpool__backoff_sleep(&backoff_us);
    }
    shmpool__wake_workers(p->cb, copies);
    return 0;
}


static int mul_overflows(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }

int shmpool__request_check(const struct request *q) {
    size_t bytes;
    if (!q->fn)
        return -EINVAL;
    if ((q->ctx_size && !q->ctx) || q->ctx_size > SHMPOOL_MAX_CTX_BYTES)
        return -EINVAL;
    if ((q->out == NULL) != (q->out_size == 0))
        return -EINVAL;
    switch (q->kind) {
    case JOB_MAP:
        if (!q->in || q->in_size == 0)
            return -EINVAL;
        if (mul_overflows(q->n, q->in_size, &bytes) || mul_overflows(q->n, q->out_size, &bytes))
            return -EOVERFLOW;
        break;
    case JOB_STARMAP:
        if (q->k == 0 || q->k > SHMPOOL_MAX_COLUMNS || !q->cols || !q->sizes)
            return -EINVAL;
        for (size_t j = 0; j < q->k; j++) {
            if (!q->cols[j] || q->sizes[j] == 0)
                return -EINVAL;
            if (mul_overflows(q->n, q->sizes[j], &bytes))
                return -EOVERFLOW;
        }
        if (mul_overflows(q->n, q->out_size, &bytes))
            return -EOVERFLOW;
        break;
    case JOB_APPLY:
        if ((q->in == NULL) != (q->in_size == 0))
            return -EINVAL;
        break;
    case JOB_FOR:
    case JOB_FOR_ID:
        break;
    case JOB_REDUCE:
        if (!q->partials || !q->identity || !q->acc_size || q->acc_stride < q->acc_size)
            return -EINVAL;
        break;
    }
    return 0;
}

/* Under the lock: use [ptr, ptr+bytes) in place if it is shmpool memory, else copy it into a new
   staging block (copy_in: its current contents). */
static int place(shmpool *p, const void *ptr, size_t bytes, bool copy_in, const char **where,
                 void **staged) {
    *staged = NULL;
    int in = shmpool__arena_contains(p->arena, ptr, bytes);
    if (in < 0)
        return in;
    if (in == 1) {
        *where = ptr;
        return 0;
    }
    void *s = shmpool__staging_get(p, bytes);
    if (!s)
        return -errno;
    if (copy_in)
        memcpy(s, ptr, bytes);
    *staged = s;
    *where = s;
    return 0;
}

/* Where a job's data lies once placed: in place, staged (blocks kept on the result), or, for a
   small apply, inline in the job slot (copied there once the slot is taken). */
struct placed {
    const char *in, *out;
    const char *cols[SHMPOOL_MAX_COLUMNS];
    bool in_inline;
    uint32_t probe_len; /* ctx by pointer: its first bytes, for the workers to compare (ctx.h) */
    unsigned char probe[SHMPOOL_CTX_PROBE_BYTES];
};

/* Under the lock: stage what starmap needs staged; the blocks are kept on r (a NULL-ended list),
   freed at harvest. */
static int place_columns(shmpool *p, const struct request *q, size_t n, shmpool_result *r,
                         struct placed *at) {
    void *staged[SHMPOOL_MAX_COLUMNS + 1];
    size_t ns = 0;
    int rc = 0;
    for (size_t j = 0; !rc && j < q->k; j++) {
        void *s;
        rc = place(p, q->cols[j], n * q->sizes[j], true, &at->cols[j], &s);
        if (!rc && s)
            staged[ns++] = s;
    }
    if (!rc && ns) {
        void **list = malloc((ns + 1) * sizeof *list);
        if (list) {
            memcpy(list, staged, ns * sizeof *list);
            list[ns] = NULL;
            r->staged_in = list;
            r->staged_in_is_list = true;
            return 0;
        }
        rc = -ENOMEM;
    }
    for (size_t i = 0; i < ns; i++)
        shmpool__staging_put(p, staged[i]);
    return rc;
}

/* Under the lock, before a slot is taken (bad arguments fail without waiting for one): decide
   where inputs and outputs lie, staging what must be. */
static int place_data(shmpool *p, const struct request *q, size_t n, shmpool_result *r,
                      struct placed *at) {
    int rc = 0;
    at->in = at->out = NULL;
    at->in_inline = false;
    at->probe_len = 0; /* a ctx by value has nothing to compare */
    if (q->kind == JOB_MAP)
        rc = place(p, q->in, n * q->in_size, true, &at->in, &r->staged_in);
    else if (q->kind == JOB_STARMAP)
        rc = place_columns(p, q, n, r, at);
    else if (q->kind == JOB_APPLY && q->in) {
        if (q->in_size <= SHMPOOL_INLINE_BYTES && shmpool__arena_contains(p->arena, q->in, q->in_size) == 0)
            at->in_inline = true;
        else
            rc = place(p, q->in, q->in_size, true, &at->in, &r->staged_in);
    }
    if (!rc && q->ctx_size) /* by value: but not holding pointers to the caller's locals */
        rc = shmpool__ctx_value_check(p, q->ctx, q->ctx_size);
    if (!rc && q->ctx_size > SHMPOOL_INLINE_CTX_BYTES) {
        r->staged_ctx = shmpool__staging_get(p, q->ctx_size); /* a copy, even of shmpool memory */
        if (r->staged_ctx)
            memcpy(r->staged_ctx, q->ctx, q->ctx_size);
        else
            rc = -errno;
    } else if (!rc && q->ctx_size == 0) {
        rc = shmpool__ctx_probe(p, q->ctx, at->probe, &at->probe_len);
    }
    if (!rc && q->out) {
        size_t ob = n * q->out_size;
        r->user_out = q->out;
        r->out_bytes = ob;
        if (q->kind == JOB_APPLY && ob <= SHMPOOL_INLINE_BYTES &&
            shmpool__arena_contains(p->arena, q->out, ob) == 0)
            r->out_inline = true;
        else /* staged out starts as a copy of out, so items that never run keep their values */
            rc = place(p, q->out, ob, true, &at->out, &r->staged_out);
    }
    return rc;
}

/* Python's chunk rule when chunk is 0: ceil(n / (4 * workers)), without overflowing; never more
   than n. */
static size_t chunk_of(const shmpool *p, const struct request *q, size_t n) {
    return q->kind == JOB_APPLY ? 1 : shmpool__chunk_size(p, n, q->chunk, q->kind == JOB_REDUCE);
}

size_t shmpool__chunk_size(const shmpool *p, size_t n, size_t chunk, bool reduce) {
    if (chunk == 0) { /* a reduction's chunks do not depend on the workers: its sums do not */
        size_t parts = reduce ? SHMPOOL_REDUCE_CHUNKS : 4 * (size_t)p->cb->nworkers;
        chunk = n / parts + (n % parts != 0);
    }
    return chunk > n ? n : chunk;
}

int shmpool_chunking(const shmpool *p, size_t n, size_t chunk, int reduce, size_t *chunk_size,
                     size_t *chunks) {
    if (!p)
        return -EINVAL;
    size_t c = shmpool__chunk_size(p, n, chunk, reduce != 0);
    if (chunk_size)
        *chunk_size = c;
    if (chunks)
        *chunks = c ? n / c + (n % c != 0) : 0;
    return 0;
}

/* Fill job slot `slot` for request q, its data placed at `at`. Under the lock. */
static void fill_job(shmpool *p, uint32_t slot, const struct request *q, const struct placed *at,
                     const shmpool_result *r, size_t n, size_t chunk, size_t nchunks) {
    struct job *job = cb_job(p->cb, slot);
    job->in = at->in;
    job->out = (char *)at->out;
    if (at->in_inline) {
        memcpy(job->inline_in, q->in, q->in_size);
        job->in = (const char *)job->inline_in;
    }
    if (r->out_inline) { /* starts as a copy of out, so an item that never runs keeps its value */
        memcpy(job->inline_out, q->out, r->out_bytes);
        job->out = (char *)job->inline_out;
    }
    for (size_t j = 0; j < q->k && q->kind == JOB_STARMAP; j++) {
        job->cols[j] = at->cols[j];
        job->sizes[j] = q->sizes[j];
    }
    job->kind = q->kind;
    job->fn = q->fn;
    job->ctx = q->ctx;
    job->probe_len = at->probe_len;
    if (at->probe_len)
        memcpy(job->probe, at->probe, at->probe_len);
    if (r->staged_ctx) {
        job->ctx = r->staged_ctx;
    } else if (q->ctx_size) {
        memcpy(job->inline_ctx, q->ctx, q->ctx_size);
        job->ctx = job->inline_ctx;
    }
    job->partials = q->partials;
    job->identity = q->identity;
    job->acc_size = q->acc_size;
    job->acc_stride = q->acc_stride;
    job->n = n;
    job->chunk = chunk;
    job->nchunks = nchunks;
    job->in_size = q->in_size;
    job->out_size = q->out_size;
    job->k = (uint32_t)q->k;
    job->base = q->base;
    job->first_chunk = q->chunk ? q->base / q->chunk : 0;
    job->all_chunks = q->whole_chunks ? q->whole_chunks : nchunks;
    atomic_store_explicit(&job->retries_left, p->cb->task_retries, memory_order_relaxed);
}

/* Under the lock: a result for q, its data placed, a slot filled and held. 0, or the code with
   nothing left behind; *r is then NULL. An empty job ends at once (harvested, successful). */
static int prepare_locked(shmpool *p, const struct request *q, shmpool_result **out_r) {
    *out_r = NULL;
    if (atomic_load(&p->state) != POOL_OPEN)
        return -ESHUTDOWN;
    size_t n = q->kind == JOB_APPLY ? 1 : q->n;
    shmpool_result *r = shmpool__result_new(p, n);
    if (!r)
        return -ENOMEM;
    if (n == 0) {
        r->harvested = true;
        shmpool__result_link(r);
        *out_r = r;
        return 0;
    }
    size_t chunk = chunk_of(p, q, n);
    size_t nchunks = n / chunk + (n % chunk != 0);
    uint32_t slot = 0;
    struct placed at;
    int rc = nchunks > SHMPOOL_MAX_CHUNKS ? -EOVERFLOW : place_data(p, q, n, r, &at);
    if (!rc && q->track) /* imap: a bitmap of finished chunks (imap.h) */
        rc = shmpool__imap_prepare(r, n, chunk, nchunks, q->out_size);
    if (!rc)
        rc = take_slot(p, &slot);
    if (rc) {
        shmpool__result_free_staging(r);
        shmpool__result_recycle(r);
        return rc;
    }
    fill_job(p, slot, q, &at, r, n, chunk, nchunks);
    cb_job(p->cb, slot)->done_bits = shmpool__imap_bits(r); /* NULL but for imap (imap.h) */
    r->desc = desc_make(slot, atomic_load_explicit(&cb_job(p->cb, slot)->gen, memory_order_relaxed));
    shmpool__result_link(r);
    shmpool__slots_hold(&p->slots, r->desc, r);
    *out_r = r;
    return 0;
}

int shmpool__submit(shmpool *p, const struct request *q, shmpool_result **out) {
    if (!out)
        return -EINVAL;
    *out = NULL;
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    rc = shmpool__request_check(q);
    if (rc)
        return rc;
    shmpool_result *r;
    pthread_mutex_lock(&p->lock);
    rc = prepare_locked(p, q, &r);
    bool empty = !rc && r->harvested, staged = !rc && (r->staged_in || r->staged_out);
    size_t nchunks = rc || empty ? 0 : cb_job(p->cb, desc_slot(r->desc))->nchunks;
    pthread_mutex_unlock(&p->lock);
    if (rc)
        return rc;
    if (empty) { /* n == 0 */
        *out = r;
        return 0;
    }
    if (staged) /* new segments: let idle workers map them and the names go early */
        shmpool__helper_kick(p->cb);
    /* One copy per worker that can help; a caller that runs chunks itself is one helper already,
       so it wakes one worker fewer (none for a single chunk: no wake-up at all). */
    size_t helpers = q->caller_runs && nchunks ? nchunks - 1 : nchunks;
    unsigned copies = helpers < p->cb->nworkers ? (unsigned)helpers : p->cb->nworkers;
    rc = copies ? push(p, r->desc, copies) : 0;
    if (rc) {
        shmpool_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Submit q, run chunks of it here if the pool says so, wait for it. */
static int run_local(shmpool *p, const struct request *q) {
    shmpool_result *r;
    struct request mine = *q;
    mine.caller_runs = (p->opt.flags & SHMPOOL_FLAG_CALLER_RUNS) && q->kind != JOB_APPLY;
    int rc = shmpool__submit(p, &mine, &r);
    if (rc)
        return rc;
    if (mine.caller_runs && !r->harvested)
        shmpool__job_run_caller(p->cb, r->desc);
    rc = shmpool_result_get(r, -1);
    shmpool__message_keep_last(r);
    shmpool_result_free(r);
    return rc;
}

/* Items [from, from + n) of a map or starmap, as a request of their own. */
static struct request piece_of(const struct request *q, size_t from, size_t n, size_t chunk,
                               const void **cols) {
    struct request part = *q;
    part.n = n;
    part.chunk = chunk;
    if (q->in)
        part.in = (const char *)q->in + from * q->in_size;
    if (q->out)
        part.out = (char *)q->out + from * q->out_size;
    if (q->kind == JOB_STARMAP) {
        for (size_t j = 0; j < q->k; j++)
            cols[j] = (const char *)q->cols[j] + from * q->sizes[j];
        part.cols = cols;
    }
    return part;
}

/* A staged map or starmap that /dev/shm cannot hold at once runs in pieces that do, one after the
   other, each staging only its own items (halving from the whole until one fits; whole chunks of
   the call's chunk size, so the chunks are the same). A piece that fails stops the call, as a
   failing chunk does. -ENOSPC only if one chunk's staging does not fit. */
static int run_in_pieces(shmpool *p, const struct request *q) {
    size_t chunk = shmpool__chunk_size(p, q->n, q->chunk, false);
    size_t piece = q->n, from = 0;
    const void *cols[SHMPOOL_MAX_COLUMNS];
    while (from < q->n) {
        size_t n = q->n - from < piece ? q->n - from : piece;
        struct request part = piece_of(q, from, n, chunk, cols);
        int rc = run_local(p, &part);
        if (rc == -ENOSPC && piece > chunk) { /* nothing of this piece ran: a smaller one */
            piece = piece / 2 / chunk * chunk;
            piece = piece < chunk ? chunk : piece;
            continue;
        }
        if (rc)
            return rc;
        from += n;
    }
    return 0;
}

static int run_sync(shmpool *p, const struct request *q) {
    shmpool__message_keep_last(NULL);
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    if (p->dist && q->kind != JOB_APPLY) /* collective over the distribution */
        return p->dist->run(p->dist_state, p, q);
    rc = run_local(p, q);
    if (rc == -ENOSPC && (q->kind == JOB_MAP || q->kind == JOB_STARMAP) && q->n > 1)
        rc = run_in_pieces(p, q);
    return rc;
}

int shmpool__run_sync(shmpool *p, const struct request *q) { return run_sync(p, q); }

#define MAP_REQ(fn_, ctx_, in_, in_size_, out_, out_size_, n_, chunk_)                             \
    (struct request) {                                                                             \
        .kind = JOB_MAP, .fn = (void (*)(void))(fn_), .ctx = (ctx_), .in = (in_),                  \
        .in_size = (in_size_), .out = (out_), .out_size = (out_size_), .n = (n_), .chunk = (chunk_) \
    }

int shmpool_map(shmpool *p, shmpool_fn fn, void *ctx, const void *in, size_t in_size, void *out,
                size_t out_size, size_t n, size_t chunk) {
    struct request q = MAP_REQ(fn, ctx, in, in_size, out, out_size, n, chunk);
    return run_sync(p, &q);
}

int shmpool_map_async(shmpool *p, shmpool_fn fn, void *ctx, const void *in, size_t in_size,
                      void *out, size_t out_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = MAP_REQ(fn, ctx, in, in_size, out, out_size, n, chunk);
    return shmpool__submit(p, &q, r);
}

#define STAR_REQ(fn_, ctx_, k_, cols_, sizes_, out_, out_size_, n_, chunk_)                        \
    (struct request) {                                                                             \
        .kind = JOB_STARMAP, .fn = (void (*)(void))(fn_), .ctx = (ctx_), .k = (k_),                \
        .cols = (cols_), .sizes = (sizes_), .out = (out_), .out_size = (out_size_), .n = (n_),     \
        .chunk = (chunk_)                                                                          \
    }

int shmpool_starmap(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k, const void *const cols[],
                    const size_t sizes[], void *out, size_t out_size, size_t n, size_t chunk) {
    struct request q = STAR_REQ(fn, ctx, k, cols, sizes, out, out_size, n, chunk);
    return run_sync(p, &q);
}

int shmpool_starmap_async(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k,
                          const void *const cols[], const size_t sizes[], void *out,
                          size_t out_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = STAR_REQ(fn, ctx, k, cols, sizes, out, out_size, n, chunk);
    return shmpool__submit(p, &q, r);
}

#define APPLY_REQ(fn_, ctx_, args_, args_size_, out_, out_size_)                                   \
    (struct request) {                                                                             \
        .kind = JOB_APPLY, .fn = (void (*)(void))(fn_), .ctx = (ctx_), .in = (args_),              \
        .in_size = (args_size_), .out = (out_), .out_size = (out_size_), .n = 1, .chunk = 1        \
    }

int shmpool_apply(shmpool *p, shmpool_fn fn, void *ctx, const void *args, size_t args_size,
                  void *out, size_t out_size) {
    struct request q = APPLY_REQ(fn, ctx, args, args_size, out, out_size);
    return run_sync(p, &q);
}

int shmpool_apply_async(shmpool *p, shmpool_fn fn, void *ctx, const void *args, size_t args_size,
                        void *out, size_t out_size, shmpool_result **r) {
    struct request q = APPLY_REQ(fn, ctx, args, args_size, out, out_size);
    return shmpool__submit(p, &q, r);
}

int shmpool_for(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n, size_t chunk) {
    struct request q = {.kind = JOB_FOR, .fn = (void (*)(void))fn, .ctx = ctx, .n = n, .chunk = chunk};
    return run_sync(p, &q);
}

int shmpool_for_async(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n, size_t chunk,
                      shmpool_result **r) {
    struct request q = {.kind = JOB_FOR, .fn = (void (*)(void))fn, .ctx = ctx, .n = n, .chunk = chunk};
    return shmpool__submit(p, &q, r);
}
