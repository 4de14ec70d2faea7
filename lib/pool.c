/* Pool lifecycle: create, close, join, terminate, destroy; and the waits every call shares. */
#include "dist.h"
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "helper.h"
#include "job.h"
#include "tunables.h"
#include "worker.h"


unsigned shmpool_version(void) {
    return (SHMPOOL_VERSION_MAJOR << 16) | (SHMPOOL_VERSION_MINOR << 8) | SHMPOOL_VERSION_PATCH;
}

uint32_t shmpool__pool_flags(const shmpool *pool) { return pool ? pool->opt.flags : 0; }

unsigned shmpool_workers(const shmpool *pool) { return pool ? pool->cb->nworkers : 0; }

static uint32_t pow2_at_least(uint32_t v) {
    uint32_t p = 1;
    while (p < v && p < (1u << 30))
        p <<= 1;
    return p;
}

static int check_options(const shmpool_options *o) {
    if (o->flags & ~(SHMPOOL_FLAG_NO_SPIN | SHMPOOL_FLAG_NO_IO_URING | SHMPOOL_FLAG_QUIET))
        return -EINVAL;
    for (size_t i = 0; i < sizeof o->reserved_ / sizeof o->reserved_[0]; i++)
        if (o->reserved_[i])
            return -EINVAL;
    if (o->workers > SHMPOOL_MAX_WORKERS || o->queue_depth > SHMPOOL_MAX_DEPTH ||
        o->max_segments > SHMPOOL_MAX_SEGMENTS)
        return -EINVAL;
    return 0;
}

static size_t default_arena(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t ram = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)16 << 30;
    return 2 * ram;
}

/* The helper is our child: reap it if it is gone. */
static bool helper_gone(shmpool *p) {
    if (p->helper_pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(p->helper_pid, &st, WNOHANG);
    if (r == p->helper_pid || (r < 0 && errno == ECHILD)) {
        p->helper_pid = 0;
        return true;
    }
    return false;
}

/* The helper died under us: its workers die with it (PDEATHSIG); make sure they are gone before
   any job is declared over, since they may still write to its buffers. */
static void kill_orphans(shmpool *p) {
    struct control *cb = p->cb;
    for (int round = 0; round < 200; round++) {
        bool any = false;
        for (unsigned i = 0; i < cb->nworkers; i++) {
            pid_t pid = atomic_load(&cb_worker(cb, i)->pid);
            if (pid > 0 && kill(pid, SIGKILL) == 0)
                any = true;
        }
        if (!any)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

bool shmpool__pool_alive(shmpool *p) {
    if (p->broken)
        return false;
    if (p->state == POOL_JOINED || p->state == POOL_TERMINATED || !helper_gone(p))
        return true;
    pthread_mutex_lock(&p->lock);
    if (!p->broken) {
        kill_orphans(p);
        p->broken = true;
    }
    pthread_mutex_unlock(&p->lock);
    return false;
}

int shmpool__pool_wait_job(shmpool *p, shmpool_result *r, uint64_t deadline) {
    struct control *cb = p->cb;
    struct job *j = cb_job(cb, desc_slot(r->desc));
    if (atomic_load_explicit(&j->completed, memory_order_acquire))
        return 0;
    if (!(cb->flags & SHMPOOL_FLAG_NO_SPIN)) {
        uint64_t until = shmpool__now_ns() + (uint64_t)cb->spin_us * 1000u;
        if (until > deadline)
            until = deadline;
        do {
            for (int i = 0; i < 64; i++) {
                if (atomic_load_explicit(&j->completed, memory_order_acquire))
                    return 0;
                shmpool__cpu_relax();
            }
        } while (shmpool__now_ns() < until);
    }
    for (;;) {
        if (atomic_load_explicit(&j->completed, memory_order_acquire))
            return 0;
        uint64_t now = shmpool__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t slice = deadline - now < SHMPOOL_HEALTH_SLICE_NS ? deadline : now + SHMPOOL_HEALTH_SLICE_NS;
        shmpool__sem_wait_until(&j->done, slice);
        if (!atomic_load_explicit(&j->completed, memory_order_acquire) && !shmpool__pool_alive(p))
            return 0; /* nothing will run it: harvest reports SHMPOOL_EHELPER */
        if (p->state == POOL_TERMINATED && !atomic_load(&j->completed) && p->helper_pid == 0)
            return 0; /* terminated: every worker is gone */
    }
}

static void sleep_us(unsigned us) {
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

void shmpool__pool_hold_slot(shmpool *p, shmpool_result *r) {
    p->owner[desc_slot(r->desc)] = r;
    if (p->fifo_len == p->fifo_cap) { /* only stale entries can fill it: drop them */
        uint32_t n = 0;
        for (uint32_t i = 0; i < p->fifo_len; i++) {
            uint64_t d = p->fifo[(p->fifo_head + i) % p->fifo_cap];
            shmpool_result *o = p->owner[desc_slot(d)];
            if (o && o->desc == d)
                p->fifo[n++] = d;
        }
        p->fifo_head = 0;
        p->fifo_len = n;
    }
    p->fifo[(p->fifo_head + p->fifo_len++) % p->fifo_cap] = r->desc;
}

/* The oldest job still holding its slot, or NULL. */
static shmpool_result *oldest_in_flight(shmpool *p) {
    while (p->fifo_len) {
        uint64_t d = p->fifo[p->fifo_head];
        shmpool_result *r = p->owner[desc_slot(d)];
        if (r && r->desc == d)
            return r;
        p->fifo_head = (p->fifo_head + 1) % p->fifo_cap;
        p->fifo_len--;
    }
    return NULL;
}

int shmpool__pool_take_slot(shmpool *p, uint32_t *slot) {
    unsigned backoff = 1;
    for (;;) {
        if (p->state != POOL_OPEN)
            return -ESHUTDOWN;
        if (p->broken)
            return SHMPOOL_EHELPER;
        for (uint32_t i = 0; i < p->nretiring;) {
            if (shmpool__job_retire_done(p->cb, p->retiring[i])) {
                p->free_jobs[p->nfree_jobs++] = desc_slot(p->retiring[i]);
                p->retiring[i] = p->retiring[--p->nretiring];
            } else {
                i++;
            }
        }
        if (p->nfree_jobs) {
            *slot = p->free_jobs[--p->nfree_jobs];
            return 0;
        }
        uint32_t fresh = p->cb->jobs_ready; /* else a slot never used before */
        int rc = shmpool__job_slot_init(p->cb);
        if (rc != -EBUSY) {
            *slot = fresh;
            return rc;
        }
        /* Every slot is in flight (back-pressure): wait for the oldest job, which ends first in a
           FIFO ring, and take its slot. */
        shmpool_result *r = oldest_in_flight(p);
        if (r && !r->waiters && atomic_load_explicit(&cb_job(p->cb, desc_slot(r->desc))->completed,
                                                     memory_order_acquire)) {
            shmpool__result_harvest(r); /* ended already: no need to drop the lock */
            continue;
        }
        if (r && !r->waiters) {
            r->waiters++;
            pthread_mutex_unlock(&p->lock);
            shmpool__pool_wait_job(p, r, UINT64_MAX);
            pthread_mutex_lock(&p->lock);
            r->waiters--;
            if (!r->harvested && atomic_load(&cb_job(p->cb, desc_slot(r->desc))->completed))
                shmpool__result_harvest(r);
            continue;
        }
        /* Another thread waits on it, or the slots are retiring: a short sleep. */
        pthread_mutex_unlock(&p->lock);
        sleep_us(backoff);
        backoff = backoff < 1000 ? backoff * 2 : 1000;
        shmpool__pool_alive(p);
        pthread_mutex_lock(&p->lock);
    }
}

int shmpool__pool_push(shmpool *p, uint64_t desc, unsigned copies) {
    struct ring *ring = cb_ring(p->cb);
    unsigned backoff = 1;
    for (unsigned i = 0; i < copies;) {
        if (ring_try_push(ring, &desc)) {
            i++;
            continue;
        }
        /* Full: back-pressure. Wake everybody so the ring drains, then wait. */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        if (!shmpool__pool_alive(p))
            return SHMPOOL_EHELPER;
        sleep_us(backoff);
        backoff = backoff < 500 ? backoff * 2 : 500;
    }
    shmpool__wake_workers(p->cb, copies);
    return 0;
}

/* The parent's bookkeeping arrays, sized by the number of job slots; frees p on failure too. */
static int alloc_books(shmpool *p, uint32_t depth) {
    p->free_jobs = malloc(depth * sizeof *p->free_jobs);
    p->retiring = malloc(depth * sizeof *p->retiring);
    p->owner = calloc(depth, sizeof *p->owner);
    p->fifo_cap = depth + 1;
    p->fifo = malloc(p->fifo_cap * sizeof *p->fifo);
    return p->free_jobs && p->retiring && p->owner && p->fifo ? 0 : -ENOMEM;
}

static void free_books(shmpool *p) {
    free(p->free_jobs);
    free(p->retiring);
    free(p->owner);
    free(p->fifo);
    free(p);
}

static void pool_free_memory(shmpool *p) {
    while (p->results) {
        shmpool_result *r = p->results;
        p->results = r->next;
        if (!r->harvested)
            shmpool__result_discard(r); /* its buffers may be gone: nobody reads it any more */
        free(r);
    }
    while (p->spare) {
        shmpool_result *r = p->spare;
        p->spare = r->next;
        free(r);
    }
    shmpool__arena_destroy(p->arena);
    shmpool__control_destroy(p->cb);
    pthread_mutex_destroy(&p->lock);
    free_books(p);
}

/* Wait for the helper (and so every worker) to exit. */
static void reap_helper(shmpool *p) {
    if (p->helper_pid <= 0)
        return;
    while (waitpid(p->helper_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    p->helper_pid = 0;
}

int shmpool_create(shmpool **pool, const shmpool_options *opt) {
    if (!pool)
        return -EINVAL;
    *pool = NULL;
    shmpool_options o = {0};
    if (opt)
        o = *opt;
    int rc = check_options(&o);
    if (rc)
        return rc;
    int usable = shmpool_cpu_count(SHMPOOL_CPU_USABLE); /* reads /proc and /sys: once */
    if (!o.workers)
        o.workers = usable > 0 ? (unsigned)usable : 1;
    if (!o.queue_depth)
        o.queue_depth = SHMPOOL_DEFAULT_DEPTH;
    o.queue_depth = pow2_at_least(o.queue_depth < 2 ? 2 : o.queue_depth);
    if (!o.max_segments)
        o.max_segments = SHMPOOL_DEFAULT_SEGMENTS;
    if (!o.spin_us)
        o.spin_us = SHMPOOL_DEFAULT_SPIN_US;
    if (!o.arena_bytes)
        o.arena_bytes = default_arena();
    o.arena_bytes = (o.arena_bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);

    if (!(o.flags & SHMPOOL_FLAG_QUIET)) {
        if (usable > 0 && o.workers > (unsigned)usable)
            fprintf(stderr, "shmpool: %u workers but only %d usable CPUs (affinity mask or cgroup "
                            "quota): they will share cores\n", o.workers, usable);
    }

    shmpool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->opt = o;
    p->owner_pid = getpid();
    if (alloc_books(p, o.queue_depth) || pthread_mutex_init(&p->lock, NULL)) {
        free_books(p);
        return -ENOMEM;
    }
    struct control_params cp = {o.workers, o.queue_depth, o.max_segments};
    rc = shmpool__control_create(&p->cb, &cp);
    if (rc) {
        pthread_mutex_destroy(&p->lock);
        free_books(p);
        return rc;
    }
    struct control *cb = p->cb;
    cb->flags = o.flags;
    cb->spin_us = o.spin_us;
    cb->max_spinners = usable > 1 ? (uint32_t)usable - 1 : 1;
    cb->max_tasks = o.max_tasks_per_worker;
    cb->task_retries = o.task_retries;
    cb->task_timeout_ms = o.task_timeout_ms;
    cb->parent_pid = getpid();
    cb->arena_bytes = o.arena_bytes;
    cb->initializer = o.initializer;
    cb->initializer_arg = o.initializer_arg;
    rc = shmpool__arena_create(&p->arena, cb);
    if (rc) {
        shmpool__control_destroy(cb);
        pthread_mutex_destroy(&p->lock);
        free_books(p);
        return rc;
    }
    struct seg_view *hv = shmpool__seg_view_create(cb);
    rc = hv ? shmpool__helper_start(cb, hv) : -ENOMEM;
    shmpool__seg_view_destroy(hv); /* the helper has its own copy */
    if (rc) {
        pool_free_memory(p);
        return rc;
    }
    p->helper_pid = atomic_load(&cb->helper_pid);

    /* Every worker reports once: ready, or its initializer's code. */
    for (unsigned started = 0; started < o.workers;) {
        if (shmpool__sem_wait_until(&cb->started, shmpool__now_ns() + SHMPOOL_HEALTH_SLICE_NS) == 0) {
            started++;
        } else if (helper_gone(p)) {
            rc = SHMPOOL_EHELPER;
            break;
        }
    }
    for (unsigned i = 0; !rc && i < o.workers; i++)
        if (atomic_load(&cb_worker(cb, i)->state) == W_BROKEN)
            rc = atomic_load(&cb_worker(cb, i)->init_rc);
    if (rc) {
        shmpool_destroy(p);
        return rc;
    }
    *pool = p;
    return 0;
}

int shmpool_close(shmpool *p) {
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->state == POOL_OPEN)
        p->state = POOL_CLOSED;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int shmpool_terminate(shmpool *p) {
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    if (p->state == POOL_JOINED || p->state == POOL_TERMINATED) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    p->state = POOL_TERMINATED;
    /* Jobs still running end as cancelled; the helper kills the workers, repairs, exits. */
    for (shmpool_result *r = p->results; r; r = r->next)
        if (!r->harvested)
            shmpool__job_stop(cb_job(p->cb, desc_slot(r->desc)), STOP_CANCELLED);
    atomic_store(&p->cb->shutdown, SHUTDOWN_NOW);
    pthread_mutex_unlock(&p->lock);
    shmpool__helper_kick(p->cb);
    shmpool__wake_workers(p->cb, WAKE_ALL);
    reap_helper(p);
    if (p->broken)
        kill_orphans(p);
    return 0;
}

int shmpool_join(shmpool *p) {
    if (!p)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    enum pool_state s = p->state;
    pthread_mutex_unlock(&p->lock);
    if (s == POOL_OPEN)
        return -EINVAL;
    if (s == POOL_JOINED)
        return 0;
    if (s == POOL_CLOSED) {
        /* What was submitted runs to its end first. */
        pthread_mutex_lock(&p->lock);
        for (shmpool_result *r = p->results; r; r = r->next) {
            if (r->harvested)
                continue;
            r->waiters++;
            pthread_mutex_unlock(&p->lock);
            shmpool__pool_wait_job(p, r, UINT64_MAX);
            pthread_mutex_lock(&p->lock);
            r->waiters--;
        }
        pthread_mutex_unlock(&p->lock);
        atomic_store(&p->cb->shutdown, SHUTDOWN_IDLE);
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
    }
    reap_helper(p);
    pthread_mutex_lock(&p->lock);
    p->state = POOL_JOINED;
    pthread_mutex_unlock(&p->lock);
    return p->broken ? SHMPOOL_EHELPER : 0;
}

void shmpool_destroy(shmpool *p) {
    if (!p)
        return;
    if (p->owner_pid != getpid())
        return; /* a forked child of the parent: the pool is not its to end */
    if (p->dist && p->dist->detach)
        p->dist->detach(p->dist_state);
    p->dist = NULL;
    if (p->state != POOL_JOINED) {
        shmpool_terminate(p);
        shmpool_join(p);
    }
    pool_free_memory(p);
}

void *shmpool_alloc(shmpool *p, size_t bytes) {
    if (!p || bytes == 0) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    if (p->state != POOL_OPEN) {
        pthread_mutex_unlock(&p->lock);
        errno = ESHUTDOWN;
        return NULL;
    }
    void *m = shmpool__arena_alloc(p->arena, bytes, false);
    int err = errno;
    pthread_mutex_unlock(&p->lock);
    if (m) {
        /* Let idle workers and the helper map it now, so its name leaves /dev/shm early. */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
    }
    errno = err;
    return m;
}

int shmpool_free(shmpool *p, void *m) {
    if (!p)
        return -EINVAL;
    if (!m)
        return 0;
    pthread_mutex_lock(&p->lock);
    int rc = shmpool__arena_free(p->arena, m, false);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

size_t shmpool_alloc_size(const shmpool *p, const void *m) {
    if (!p || !m)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&p->lock);
    size_t n = shmpool__arena_usable(p->arena, m);
    pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
    return n;
}
