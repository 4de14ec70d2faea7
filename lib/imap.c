/* Results as they complete, chunk by chunk (imap.h): the per-chunk bitmap, shmpool_result_next,
 * and the submitting calls shmpool_imap, shmpool_imap_starmap, shmpool_imap_for. */
#include "imap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "callbacks.h"
#include "clock.h"
#include "dist.h"
#include "events.h"
#include "memcheck.h"
#include "owner.h"
#include "result.h"
#include "tunables.h"


#define NONE SIZE_MAX

void shmpool__imap_mark(struct control *cb, _Atomic uint64_t *bits, uint64_t c) {
    atomic_fetch_or(&bits[c / 64], (uint64_t)1 << (c % 64)); /* seq_cst: see imap.h */
    shmpool__events_notify(cb);
}

/* Under the lock: a kept bitmap of at least `words` words, cleared; NULL if none. No worker
   writes a kept one: its job ended before its result was freed, and a stale descriptor of it is
   dropped before its bitmap is looked at. The ring's release publishes the clearing. */
static _Atomic uint64_t *take_kept(shmpool *p, size_t words) {
    for (unsigned i = 0; i < p->nimap_kept; i++) {
        _Atomic uint64_t *b = p->imap_kept[i];
        if (shmpool__arena_usable(p->arena, (const void *)b) >= words * sizeof *b) {
            p->imap_kept[i] = p->imap_kept[--p->nimap_kept];
            memset((void *)b, 0, words * sizeof *b);
            return b;
        }
    }
    return NULL;
}

int shmpool__imap_prepare(shmpool_result *r, size_t n, size_t chunk, size_t nchunks,
                          size_t out_size) {
    if (nchunks > SHMPOOL_IMAP_MAX_CHUNKS)
        return -EOVERFLOW;
    struct imap *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    size_t words = (nchunks + 63) / 64;
    m->taken = calloc(words, sizeof *m->taken);
    m->bits = take_kept(r->pool, words);
    /* zero-filled: a fresh segment. Internal: not the user's to free, not counted as theirs. */
    if (!m->bits)
        m->bits = shmpool__arena_alloc(r->pool->arena, words * sizeof *m->bits, true);
    if (!m->taken || !m->bits) {
        int rc = m->taken && !m->bits ? -errno : -ENOMEM;
        if (m->bits)
            shmpool__arena_free(r->pool->arena, (void *)m->bits, true);
        free(m->taken);
        free(m);
        return rc;
    }
    m->shared = true;
    m->n = n, m->chunk = chunk, m->nchunks = nchunks, m->out_size = out_size;
    r->imap = m;
    return 0;
}

_Atomic uint64_t *shmpool__imap_bits(const shmpool_result *r) {
    return r->imap && r->imap->shared ? r->imap->bits : NULL;
}

static bool is_set(const uint64_t *words, size_t c) { return words[c / 64] >> (c % 64) & 1; }

static size_t item_end(const struct imap *m, size_t c) {
    size_t b = c * m->chunk;
    return m->n - b < m->chunk ? m->n : b + m->chunk;
}

void shmpool__imap_copy_back(shmpool_result *r) {
    struct imap *m = r->imap;
    char *to = r->user_out;
    const char *from = r->staged_out;
    if (!m->out_size)
        return;
    /* runs of chunks not taken, a word at a time where a word is all one or the other */
    for (size_t c = 0; c < m->nchunks;) {
        while (c < m->nchunks && is_set(m->taken, c))
            c += c % 64 == 0 && m->taken[c / 64] == UINT64_MAX ? 64 : 1;
        size_t first = c;
        while (c < m->nchunks && !is_set(m->taken, c))
            c += c % 64 == 0 && m->taken[c / 64] == 0 ? 64 : 1;
        if (c > m->nchunks)
            c = m->nchunks;
        if (c > first) {
            size_t b = first * m->chunk * m->out_size, e = item_end(m, c - 1) * m->out_size;
            memcpy(to + b, from + b, e - b);
        }
    }
}

/* Chunks [0, below) finished: set their bits (no worker writes the bitmap any more). */
static void freeze_below(struct imap *m, size_t below) {
    for (size_t c = 0; c < below;) {
        if (c % 64 == 0 && below - c >= 64) {
            atomic_store_explicit(&m->bits[c / 64], UINT64_MAX, memory_order_relaxed);
            c += 64;
        } else {
            atomic_fetch_or_explicit(&m->bits[c / 64], (uint64_t)1 << (c % 64),
                                     memory_order_relaxed);
            c++;
        }
    }
    m->final = true;
}

void shmpool__imap_freeze(shmpool_result *r, const struct job *j) {
    struct imap *m = r->imap;
    size_t below = 0;
    if (r->code == 0) /* implies the job ended: it ran every chunk */
        below = m->nchunks;
    else if (j && atomic_load(&j->completed) && atomic_load(&j->stop) == STOP_FAILED &&
             r->index != SIZE_MAX) /* ended by a failure alone: every chunk below its chunk ran */
        below = r->index / m->chunk;
    freeze_below(m, below);
}

void shmpool__imap_drop(shmpool_result *r) {
    struct imap *m = r->imap;
    if (!m)
        return;
    if (m->shared) {
        shmpool *p = r->pool;
        if (p->nimap_kept < SHMPOOL_IMAP_KEPT && /* for the next imap job; destroy unmaps it */
            shmpool__arena_usable(p->arena, (const void *)m->bits) <= SHMPOOL_IMAP_KEPT_BYTES)
            p->imap_kept[p->nimap_kept++] = m->bits;
        else
            shmpool__arena_free(p->arena, (void *)m->bits, true);
        free(m->taken);
    }
    free(m);
    r->imap = NULL;
}

/* Under the lock: state for a result not submitted as imap: one chunk, the whole job, finished
   when the job succeeded. */
static int imap_lazy(shmpool_result *r) {
    struct imap *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->bits = &m->own;
    m->taken = &m->own_taken;
    m->n = m->chunk = r->total;
    m->nchunks = r->total ? 1 : 0;
    m->out_size = r->total ? r->out_bytes / r->total : 0;
    r->imap = m;
    if (r->harvested)
        shmpool__imap_freeze(r, NULL);
    return 0;
}

/* Under the lock: a finished chunk not taken yet, or NONE. Ordered: the lowest not taken, if it
   finished. Unordered: any, looked for among the chunks claimed so far (a chunk not claimed has
   not finished), the lowest first. */
static size_t find(const shmpool_result *r, bool unordered) {
    const struct imap *m = r->imap;
    if (m->low >= m->nchunks)
        return NONE;
    if (!unordered)
        return atomic_load(&m->bits[m->low / 64]) >> (m->low % 64) & 1 ? m->low : NONE;
    size_t hi = m->nchunks;
    if (!m->final) {
        uint64_t next = atomic_load_explicit(
            &cb_job(r->pool->cb, desc_slot(r->desc))->next, memory_order_relaxed);
        if (next < hi)
            hi = (size_t)next;
    }
    for (size_t k = m->low / 64; k * 64 < hi; k++) {
        uint64_t w = atomic_load(&m->bits[k]) & ~m->taken[k];
        if (w) {
            size_t c = k * 64 + (size_t)__builtin_ctzll(w);
            return c < m->nchunks ? c : NONE;
        }
    }
    return NONE;
}

struct next_arg {
    shmpool_result *r;
    bool unordered;
    int rc;
    size_t begin, end;
};

/* Under the lock (shmpool__events_wait's check): hand out a finished chunk, or say why none will
   come; 0 to wait on. */
static int check_next(void *arg) {
    struct next_arg *a = arg;
    shmpool_result *r = a->r;
    struct imap *m = r->imap;
    shmpool__result_settle(r); /* ended: harvest, which completes the finished set */
    size_t c = find(r, a->unordered);
    if (c == NONE) {
        if (!r->harvested)
            return 0;
        a->rc = r->code ? r->code : -ENODATA; /* after every chunk that finished was handed out */
        return 1;
    }
    m->taken[c / 64] |= (uint64_t)1 << (c % 64);
    while (m->low < m->nchunks && is_set(m->taken, m->low))
        m->low += m->low % 64 == 0 && m->taken[m->low / 64] == UINT64_MAX ? 64 : 1;
    if (m->low > m->nchunks)
        m->low = m->nchunks;
    a->begin = c * m->chunk;
    a->end = item_end(m, c);
    if (!r->harvested && r->staged_out && m->out_size) { /* parent-memory out: this range now */
        size_t b = a->begin * m->out_size, bytes = (a->end - a->begin) * m->out_size;
        WORKERS_DEFINED((char *)r->staged_out + b, bytes);
        memcpy((char *)r->user_out + b, (char *)r->staged_out + b, bytes);
    }
    a->rc = 0;
    return 1;
}

int shmpool_result_next(shmpool_result *r, unsigned flags, size_t *begin, size_t *end,
                        int timeout_ms) {
    if (begin)
        *begin = 0;
    if (end)
        *end = 0;
    if (!r || !begin || !end || (flags & ~SHMPOOL_NEXT_UNORDERED))
        return -EINVAL;
    shmpool *p = r->pool;
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    uint64_t deadline = shmpool__deadline(timeout_ms);
    pthread_mutex_lock(&p->lock);
    rc = r->magic != RESULT_LIVE ? -EINVAL : r->imap ? 0 : imap_lazy(r);
    struct next_arg a = {r, flags & SHMPOOL_NEXT_UNORDERED, 0, 0, 0};
    if (!rc)
        rc = shmpool__events_wait(p, check_next, &a, deadline);
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        return rc;
    shmpool__callbacks_run(p, r);
    if (a.rc == 0) {
        *begin = a.begin;
        *end = a.end;
    }
    return a.rc;
}

/* ---- Submitting: as the _async calls, with a bitmap ---- */

int shmpool_imap(shmpool *p, shmpool_fn fn, void *ctx, const void *in, size_t in_size, void *out,
                 size_t out_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = {.kind = JOB_MAP, .fn = (void (*)(void))fn, .ctx = ctx, .in = in,
                        .in_size = in_size, .out = out, .out_size = out_size, .n = n,
                        .chunk = chunk, .track = true};
    return shmpool__submit(p, &q, r);
}

int shmpool_imap_starmap(shmpool *p, shmpool_star_fn fn, void *ctx, size_t k,
                         const void *const cols[], const size_t sizes[], void *out,
                         size_t out_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = {.kind = JOB_STARMAP, .fn = (void (*)(void))fn, .ctx = ctx, .k = k,
                        .cols = cols, .sizes = sizes, .out = out, .out_size = out_size, .n = n,
                        .chunk = chunk, .track = true};
    return shmpool__submit(p, &q, r);
}

int shmpool_imap_for(shmpool *p, shmpool_range_fn fn, void *ctx, size_t n, size_t chunk,
                     shmpool_result **r) {
    struct request q = {.kind = JOB_FOR, .fn = (void (*)(void))fn, .ctx = ctx, .n = n,
                        .chunk = chunk, .track = true};
    return shmpool__submit(p, &q, r);
}
