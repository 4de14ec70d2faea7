/* map, starmap, apply, for: check the arguments, decide what is used in place and what is staged
 * through shared memory, fill a job slot, push its descriptors. The sync calls are the async ones
 * followed by get and free. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "dist.h"
#include "clock.h"
#include "helper.h"
#include "job.h"
#include "pool.h"

/* At most this many chunks per job: every claim adds 1 to a 64-bit counter, also the claims that
   find the job stopped, so a job far below 2^64 chunks can never wrap it. */
#define MAX_CHUNKS ((size_t)1 << 62)


static int mul_overflows(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }

int shmpool__request_check(const struct request *q) {
    size_t bytes;
    if (!q->fn)
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
    void *s = shmpool__arena_alloc(p->arena, bytes, true);
    if (!s)
        return -errno;
    if (copy_in)
        memcpy(s, ptr, bytes);
    *staged = s;
    *where = s;
    return 0;
}

static shmpool_result *new_result(shmpool *p, size_t total) {
    shmpool_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pool = p;
    r->total = total;
    r->index = SIZE_MAX;
    return r;
}

static void link_result(shmpool *p, shmpool_result *r) {
    r->next = p->results;
    if (p->results)
        p->results->prev = r;
    p->results = r;
}

int shmpool__submit(shmpool *p, const struct request *q, shmpool_result **out) {
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!p)
        return -EINVAL;
    int rc = shmpool__request_check(q);
    if (rc)
        return rc;
    size_t n = q->kind == JOB_APPLY ? 1 : q->n;
    shmpool_result *r = new_result(p, n);
    if (!r)
        return -ENOMEM;

    pthread_mutex_lock(&p->lock);
    if (p->state != POOL_OPEN) {
        pthread_mutex_unlock(&p->lock);
        free(r);
        return -ESHUTDOWN;
    }
    if (n == 0) { /* nothing to run: an ended, successful job */
        r->harvested = true;
        link_result(p, r);
        pthread_mutex_unlock(&p->lock);
        *out = r;
        return 0;
    }
    size_t chunk = q->chunk;
    if (q->kind == JOB_APPLY) {
        chunk = 1;
    } else if (chunk == 0) { /* Python's rule: ceil(n / (4 * workers)), without overflowing */
        size_t parts = 4 * (size_t)p->cb->nworkers;
        chunk = n / parts + (n % parts != 0);
    }
    if (chunk > n)
        chunk = n;
    size_t nchunks = n / chunk + (n % chunk != 0);
    if (nchunks > MAX_CHUNKS) { /* claims past a stop must never wrap the 64-bit counter */
        pthread_mutex_unlock(&p->lock);
        free(r);
        return -EOVERFLOW;
    }

    const char *in = NULL, *outp = NULL;
    const char *cols[SHMPOOL_MAX_COLUMNS];
    void *staged_cols[SHMPOOL_MAX_COLUMNS] = {0};
    uint32_t slot = 0;
    rc = 0;
    if (q->kind == JOB_MAP)
        rc = place(p, q->in, n * q->in_size, true, &in, &r->staged_in);
    for (size_t j = 0; !rc && q->kind == JOB_STARMAP && j < q->k; j++)
        rc = place(p, q->cols[j], n * q->sizes[j], true, &cols[j], &staged_cols[j]);
    if (!rc && q->out) {
        size_t ob = n * q->out_size;
        if (q->kind == JOB_APPLY && ob <= INLINE_BYTES &&
            shmpool__arena_contains(p->arena, q->out, ob) == 0) {
            r->out_inline = true;
        } else {
            /* Staged out starts as a copy of out, so items that never run keep their values. */
            rc = place(p, q->out, ob, true, &outp, &r->staged_out);
        }
        r->user_out = q->out;
        r->out_bytes = ob;
    }
    if (!rc)
        rc = shmpool__pool_take_slot(p, &slot);
    if (rc) {
        if (r->staged_in)
            shmpool__arena_free(p->arena, r->staged_in, true);
        if (r->staged_out)
            shmpool__arena_free(p->arena, r->staged_out, true);
        for (size_t j = 0; j < SHMPOOL_MAX_COLUMNS; j++)
            if (staged_cols[j])
                shmpool__arena_free(p->arena, staged_cols[j], true);
        pthread_mutex_unlock(&p->lock);
        free(r);
        return rc;
    }
    struct job *job = cb_job(p->cb, slot);
    job->kind = q->kind;
    job->fn = q->fn;
    job->ctx = q->ctx;
    job->n = n;
    job->chunk = chunk;
    job->nchunks = nchunks;
    job->in_size = q->in_size;
    job->out_size = q->out_size;
    job->in = in;
    job->out = (char *)outp;
    job->k = (uint32_t)q->k;
    job->base = q->base;
    atomic_store_explicit(&job->retries_left, p->cb->task_retries, memory_order_relaxed);
    if (q->kind == JOB_STARMAP) {
        for (size_t j = 0; j < q->k; j++) {
            job->cols[j] = cols[j];
            job->sizes[j] = q->sizes[j];
        }
        /* One staging block per staged column is freed at harvest: keep them on the result. */
        size_t ns = 0;
        for (size_t j = 0; j < q->k; j++)
            ns += staged_cols[j] != NULL;
        if (ns) {
            void **list = calloc(ns + 1, sizeof *list);
            if (!list) {
                for (size_t j = 0; j < q->k; j++)
                    if (staged_cols[j])
                        shmpool__arena_free(p->arena, staged_cols[j], true);
                if (r->staged_out)
                    shmpool__arena_free(p->arena, r->staged_out, true);
                p->free_jobs[p->nfree_jobs++] = slot;
                pthread_mutex_unlock(&p->lock);
                free(r);
                return -ENOMEM;
            }
            for (size_t j = 0, m = 0; j < q->k; j++)
                if (staged_cols[j])
                    list[m++] = staged_cols[j];
            r->staged_in = list;
            r->staged_in_is_list = true;
        }
    }
    if (q->kind == JOB_APPLY) {
        if (q->in && q->in_size <= INLINE_BYTES &&
            shmpool__arena_contains(p->arena, q->in, q->in_size) == 0) {
            memcpy(job->inline_in, q->in, q->in_size);
            job->in = (const char *)job->inline_in;
        } else if (q->in) {
            rc = place(p, q->in, q->in_size, true, &job->in, &r->staged_in);
            if (rc) {
                if (r->staged_out)
                    shmpool__arena_free(p->arena, r->staged_out, true);
                p->free_jobs[p->nfree_jobs++] = slot;
                pthread_mutex_unlock(&p->lock);
                free(r);
                return rc;
            }
        }
        if (r->out_inline) {
            memcpy(job->inline_out, q->out, r->out_bytes);
            job->out = (char *)job->inline_out;
        }
    }
    r->desc = desc_make(slot, atomic_load(&job->gen));
    link_result(p, r);
    shmpool__pool_hold_slot(p, r);
    bool staged = r->staged_in || r->staged_out;
    pthread_mutex_unlock(&p->lock);

    if (staged) /* new segments: let idle workers map them and the names go early */
        shmpool__helper_kick(p->cb);
    unsigned copies = nchunks < p->cb->nworkers ? (unsigned)nchunks : p->cb->nworkers;
    rc = shmpool__pool_push(p, r->desc, copies);
    if (rc) {
        shmpool_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int run_sync(shmpool *p, const struct request *q) {
    if (p && p->dist && q->kind != JOB_APPLY) /* collective over the distribution */
        return p->dist->run(p->dist_state, p, q);
    shmpool_result *r;
    int rc = shmpool__submit(p, q, &r);
    if (rc)
        return rc;
    rc = shmpool_result_get(r, -1);
    shmpool_result_free(r);
    return rc;
}

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
