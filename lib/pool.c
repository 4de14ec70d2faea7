/* Pool lifecycle: create, close, join, terminate, destroy. */
#include "pool.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "align.h"
#include "arena.h"
#include "callbacks.h"
#include "clock.h"
#include "ctx.h"
#include "dist.h"
#include "health.h"
#include "helper.h"
#include "owner.h"
#include "result.h"
#include "staging.h"
#include "tunables.h"
#include "worker.h"

uint32_t shmpool__pool_flags(const shmpool *pool) { return pool ? pool->opt.flags : 0; }

unsigned shmpool_workers(const shmpool *pool) { return pool ? pool->cb->nworkers : 0; }

static int check_options(const shmpool_options *o) {
    if (o->flags & ~(SHMPOOL_FLAG_NO_SPIN | SHMPOOL_FLAG_NO_IO_URING | SHMPOOL_FLAG_QUIET |
                     SHMPOOL_FLAG_CALLER_RUNS | SHMPOOL_FLAG_NO_CTX_CHECK))
        return -EINVAL;
    if (o->reserved_u_ || o->worker_threads > SHMPOOL_MAX_WORKER_THREADS)
        return -EINVAL;
    for (size_t i = 0; i < sizeof o->reserved_ / sizeof o->reserved_[0]; i++)
        if (o->reserved_[i])
            return -EINVAL;
    if (o->workers > SHMPOOL_MAX_WORKERS || o->queue_depth > SHMPOOL_MAX_DEPTH ||
        o->max_segments > SHMPOOL_MAX_SEGMENTS)
        return -EINVAL;
    return 0;
}

/* Address space this process may still map under `ulimit -v` (RLIMIT_AS), SIZE_MAX if unlimited. */
static size_t address_space_left(void) {
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    unsigned long vm_pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%lu", &vm_pages) != 1)
            vm_pages = 0;
        fclose(f);
    }
    size_t used = (size_t)vm_pages * (size_t)sysconf(_SC_PAGESIZE);
    return as.rlim_cur > used ? (size_t)as.rlim_cur - used : 0;
}

/* Twice the RAM (the reservation costs nothing but address space), but no more than half of what
   `ulimit -v` leaves: the program needs the rest (with the whole default, create failed there). */
static size_t default_arena(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t ram = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : (size_t)16 << 30;
    size_t want = 2 * ram, room = address_space_left() / 2;
    return want < room ? want : room > SHMPOOL_MIN_ARENA ? room : SHMPOOL_MIN_ARENA;
}

/* The options with every zero replaced by its default. */
static shmpool_options resolve_options(const shmpool_options *opt, int usable) {
    shmpool_options o = {0};
    if (opt)
        o = *opt;
    if (!o.workers)
        o.workers = usable > 0 ? (unsigned)usable : 1;
    if (!o.queue_depth)
        o.queue_depth = SHMPOOL_DEFAULT_DEPTH;
    o.queue_depth = pow2_at_least(o.queue_depth < 2 ? 2 : o.queue_depth, 1u << 30);
    if (!o.max_segments)
        o.max_segments = SHMPOOL_DEFAULT_SEGMENTS;
    if (!o.spin_us)
        o.spin_us = SHMPOOL_DEFAULT_SPIN_US;
    if (!o.arena_bytes)
        o.arena_bytes = default_arena();
    o.arena_bytes = align_up(o.arena_bytes, 2u << 20);
    if (!(o.flags & SHMPOOL_FLAG_QUIET) && usable > 0 && o.workers > (unsigned)usable)
        fprintf(stderr, "shmpool: %u workers but only %d usable CPUs (affinity mask or cgroup "
                        "quota): they will share cores\n", o.workers, usable);
    return o;
}

static void pool_free_memory(shmpool *p) {
    if (p->lifeline >= 0)
        close(p->lifeline);
    shmpool__results_free_all(p);
    shmpool__ctx_snapshot_free(p);
    shmpool__staging_drop(p);
    if (p->cb)
        shmpool__helper_lock_remove(p->cb);
    shmpool__arena_destroy(p->arena);
    shmpool__control_destroy(p->cb);
    pthread_mutex_destroy(&p->lock);
    shmpool__slots_fini(&p->slots);
    free(p);
}

/* What the parent holds, before any process is forked: its books, the control block, the arena. */
static int pool_new(shmpool **out, const shmpool_options *o, int usable) {
    shmpool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->opt = *o;
    p->lifeline = -1;
    p->owner_pid = getpid();
    p->owner_epoch = shmpool__owner_epoch();
    int rc = shmpool__slots_init(&p->slots, o->queue_depth);
    if (rc || pthread_mutex_init(&p->lock, NULL)) {
        shmpool__slots_fini(&p->slots);
        free(p);
        return -ENOMEM;
    }
    struct control_params cp = {o->workers, o->queue_depth, o->max_segments};
    rc = shmpool__control_create(&p->cb, &cp);
    if (!rc) {
        struct control *cb = p->cb;
        cb->flags = o->flags;
        cb->spin_us = o->spin_us;
        cb->max_spinners = usable > 1 ? (uint32_t)usable - 1 : 1;
        cb->max_tasks = o->max_tasks_per_worker;
        cb->task_retries = o->task_retries;
        cb->task_timeout_ms = o->task_timeout_ms;
        cb->worker_threads = o->worker_threads ? o->worker_threads : 1;
        cb->parent_pid = getpid();
        cb->arena_bytes = o->arena_bytes;
        cb->initializer = o->initializer;
        cb->initializer_arg = o->initializer_arg;
        rc = shmpool__arena_create(&p->arena, cb);
    }
    if (rc) {
        pool_free_memory(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Fork the helper, which forks the workers; wait until each has reported once: ready, or its
   initializer's code. 0 or the first failure. */
static int start_processes(shmpool *p) {
    struct control *cb = p->cb;
    struct seg_view *hv = shmpool__seg_view_create(cb);
    int rc = hv ? shmpool__helper_start(cb, hv, &p->lifeline) : -ENOMEM;
    shmpool__seg_view_destroy(hv); /* the helper has its own copy */
    if (rc)
        return rc;
    atomic_store(&p->helper_pid, atomic_load(&cb->helper_pid));
    shmpool__ctx_snapshot(p); /* none: ctx probes are skipped (nothing to compare against) */
    for (unsigned started = 0; started < cb->nworkers;) {
        if (shmpool__sem_wait_until(&cb->started, shmpool__now_ns() + SHMPOOL_HEALTH_SLICE_NS) == 0)
            started++;
        else if (shmpool__health_helper_gone(p))
            return SHMPOOL_EHELPER;
    }
    for (unsigned i = 0; i < cb->nworkers; i++)
        if (atomic_load(&cb_worker(cb, i)->state) == W_BROKEN)
            return atomic_load(&cb_worker(cb, i)->init_rc);
    return 0;
}

int shmpool_create(shmpool **pool, const shmpool_options *opt) {
    if (!pool)
        return -EINVAL;
    *pool = NULL;
    int rc = opt ? check_options(opt) : 0;
    if (rc)
        return rc;
    int usable = shmpool_cpu_count(SHMPOOL_CPU_USABLE); /* reads /proc and /sys: once */
    shmpool_options o = resolve_options(opt, usable);
    shmpool *p;
    rc = pool_new(&p, &o, usable);
    if (rc)
        return rc;
    rc = start_processes(p);
    if (rc) {
        shmpool_destroy(p);
        return rc;
    }
    *pool = p;
    return 0;
}

int shmpool_close(shmpool *p) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->lock);
    if (atomic_load(&p->state) == POOL_OPEN)
        atomic_store(&p->state, POOL_CLOSED);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Wait for the helper (and so every worker) to exit. */
static void reap_helper(shmpool *p) {
    pid_t pid = atomic_load(&p->helper_pid);
    if (pid <= 0)
        return;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    atomic_store(&p->helper_pid, 0);
}

int shmpool_terminate(shmpool *p) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->lock);
    int s = atomic_load(&p->state);
    if (s == POOL_JOINED || s == POOL_TERMINATED) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    atomic_store(&p->state, POOL_TERMINATED);
    /* Jobs still running end as cancelled; the helper kills the workers, repairs, exits. */
    shmpool__results_stop_all(p);
    atomic_store(&p->cb->shutdown, SHUTDOWN_NOW);
    pthread_mutex_unlock(&p->lock);
    shmpool__helper_kick(p->cb);
    shmpool__wake_workers(p->cb, WAKE_ALL);
    reap_helper(p);
    if (atomic_load(&p->broken))
        shmpool__health_end_workers(p);
    shmpool__callbacks_flush(p); /* every job it stopped: its error callback, -ECANCELED */
    return 0;
}

int shmpool_join(shmpool *p) {
    int rc = shmpool__owner_check(p);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->lock);
    int s = atomic_load(&p->state);
    if (s == POOL_CLOSED)
        shmpool__results_wait_all(p); /* what was submitted runs to its end first */
    pthread_mutex_unlock(&p->lock);
    if (s == POOL_OPEN)
        return -EINVAL;
    if (s == POOL_JOINED)
        return 0;
    if (s == POOL_CLOSED) {
        atomic_store(&p->cb->shutdown, SHUTDOWN_IDLE);
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
    }
    reap_helper(p);
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->state, POOL_JOINED);
    pthread_mutex_unlock(&p->lock);
    shmpool__callbacks_flush(p); /* every job has ended: the callbacks not run yet */
    return atomic_load(&p->broken) ? SHMPOOL_EHELPER : 0;
}

void shmpool_destroy(shmpool *p) {
    if (!p || shmpool__owner_check(p))
        return; /* a forked child of the parent, or a task: the pool is not its to end */
    if (p->dist && p->dist->detach)
        p->dist->detach(p->dist_state);
    p->dist = NULL;
    if (atomic_load(&p->state) != POOL_JOINED) {
        shmpool_terminate(p);
        shmpool_join(p);
    }
    pool_free_memory(p);
}
