/* Sleeping without lost wake-ups: a worker going to sleep counts itself in `sleepers`, sets its own
 * `asleep` word, looks for work once more, then futex-waits on `asleep` while it is 1. A producer
 * publishes work, then reads `sleepers`; if anyone sleeps it claims sleepers one by one (CAS of
 * `asleep` from 1 to 0, and it uncounts them) and futex-wakes each one it claimed. A worker that
 * wakes unclaimed (it saw work, or a signal) uncounts itself; the helper does it for one that died
 * asleep. The seq_cst fences on both sides
 * (Dekker) make sure either the worker sees the work or the producer sees the sleeper; a worker
 * claimed before it reached FUTEX_WAIT does not sleep at all (the word is no longer 1).
 *
 * Claiming makes a wake-up a syscall only for a worker really asleep: with one shared word, every
 * push between a wake and the woken worker's running again (long, when the cores are busy) made
 * another FUTEX_WAKE that woke nobody; we counted 0.2-0.5 of them per apply_async task.
 *
 * Why not a semaphore: a semaphore's tokens go to whoever asks first, so when every worker must wake
 * (a new segment to map, shutdown), one worker could take two tokens and another none. The futex
 * wakes exactly the sleepers claimed, or all of them. */
#include "worker.h"

#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "job.h"
#include "procstat.h"
#include "threads.h"

static long futex(_Atomic uint32_t *word, int op, uint32_t val) {
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0); /* shared: not FUTEX_PRIVATE */
}

void shmpool__wake_workers(struct control *cb, unsigned want) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&cb->sleepers) == 0)
        return; /* the common case, decided before reading the ring's counters (other lines) */
    /* A spinner takes one entry without a wake-up; one that stops spinning looks once more before
       it sleeps, so counting it here loses nothing. Each spinner covers one queued entry, not one
       of this push's: entries pushed just before (another task's, still queued because the spinner
       has not popped yet) are covered first. */
    uint32_t spinning = atomic_load(&cb->spinners);
    if (want != WAKE_ALL) {
        size_t queued = shmpool__ring_count(cb_ring(cb)); /* what a worker already took needs nobody */
        size_t uncovered = queued > spinning ? queued - spinning : 0;
        if (want > uncovered)
            want = (unsigned)uncovered;
    }
    for (unsigned i = 0; i < cb->nworkers && want; i++) {
        _Atomic uint32_t *asleep = &cb_worker(cb, i)->asleep;
        uint32_t one = 1;
        if (atomic_load_explicit(asleep, memory_order_relaxed) == 1 &&
            atomic_compare_exchange_strong(asleep, &one, 0)) {
            atomic_fetch_sub(&cb->sleepers, 1);
            futex(asleep, FUTEX_WAKE, 1);
            if (want != WAKE_ALL)
                want--;
        }
    }
}

/* Work, shutdown, or a change to the segment table this worker has not caught up with (compared
   with its own view: a segment it failed to map must not make it spin). */
static bool work_waiting(struct control *cb, const struct seg_view *v) {
    return shmpool__ring_count(cb_ring(cb)) > 0 ||
           atomic_load_explicit(&cb->shutdown, memory_order_relaxed) ||
           atomic_load_explicit(&cb->seg_gen, memory_order_relaxed) != shmpool__seg_view_synced(v);
}

/* Only max_spinners idle workers spin at once: more spinners than spare cores would take the CPU
   from the parent (or from the worker that has the work) instead of saving a wake-up. */
static bool spin_for_work(struct control *cb, struct worker_slot *w, const struct seg_view *v) {
    /* The flag first: a worker killed between the two is uncounted by the helper (the count may
       then be one too low for a moment, never too high: a count too high would stop wake-ups). */
    atomic_store(&w->spinning, 1);
    uint32_t s = atomic_load_explicit(&cb->spinners, memory_order_relaxed);
    do {
        if (s >= cb->max_spinners) {
            atomic_store(&w->spinning, 0);
            return false;
        }
    } while (!atomic_compare_exchange_weak(&cb->spinners, &s, s + 1));
    bool found = false;
    uint64_t until = shmpool__now_ns() + (uint64_t)cb->spin_us * 1000u;
    do {
        for (int i = 0; i < 64 && !found; i++) {
            found = work_waiting(cb, v);
            shmpool__cpu_relax();
        }
    } while (!found && shmpool__now_ns() < until);
    shmpool__spinner_uncount(cb, w);
    return found;
}

void shmpool__spinner_uncount(struct control *cb, struct worker_slot *w) {
    if (!atomic_exchange(&w->spinning, 0))
        return;
    uint32_t s = atomic_load(&cb->spinners);
    while (s && !atomic_compare_exchange_weak(&cb->spinners, &s, s - 1))
        ; /* never below 0: see above */
}

static void idle(struct control *cb, struct worker_slot *w, const struct seg_view *v) {
    /* What tasks printed reaches its file now, before we may be killed idle (destroy, terminate,
       cancel): a buffered stdout would otherwise die with us. Once per idle spell, not per task. */
    fflush(NULL);
    if (!(cb->flags & SHMPOOL_FLAG_NO_SPIN) && spin_for_work(cb, w, v))
        return;
    atomic_fetch_add(&cb->sleepers, 1); /* first: dying before the next line leaks a count, not
                                            a claim of a worker that is gone */
    atomic_store(&w->asleep, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!work_waiting(cb, v))
        futex(&w->asleep, FUTEX_WAIT, 1); /* returns at once if claimed already; EINTR is fine */
    shmpool__worker_unsleep(cb, w);
}

void shmpool__worker_unsleep(struct control *cb, struct worker_slot *w) {
    if (atomic_exchange(&w->asleep, 0) == 1) /* nobody claimed it: uncount it */
        atomic_fetch_sub(&cb->sleepers, 1);
}

static struct control *self_cb;
static struct worker_slot *self_slot;

/* SIGUSR1: "the job you are in was cancelled". Checked here, in the worker's own context, so a
   worker that has already moved on to another job ignores it. */
static void on_cancel(int sig) {
    (void)sig;
    uint64_t d = atomic_load(&self_slot->job);
    if (d && atomic_load(&cb_job(self_cb, desc_slot(d))->stop) == STOP_CANCELLED)
        _exit(0);
}

/* SIGUSR2: "your task may have run past task_timeout_ms". Checked against our own clock reading,
   so a task that has just ended, and the next one, are never hit. */
static void on_timeout(int sig) {
    (void)sig;
    uint64_t start = atomic_load(&self_slot->task_start_ns);
    if (start && shmpool__now_ns() - start > (uint64_t)self_cb->task_timeout_ms * 1000000u) {
        atomic_store(&self_slot->timed_out, 1);
        _exit(0);
    }
}

_Noreturn static void leave(struct worker_slot *w) {
    atomic_store(&w->state, W_EXITING);
    fflush(NULL); /* what tasks printed; the parent's buffers were flushed before any fork */
    _exit(0);
}

_Noreturn void shmpool__worker_main(struct control *cb, unsigned slot, struct seg_view *v) {
    struct worker_slot *w = cb_worker(cb, slot);
    pid_t helper = getppid();
    /* Our parent is the helper, a single-threaded process: PDEATHSIG fires when it dies, and it
       outlives the pool's parent only long enough to clean up. Re-check after arming it: the
       helper may have died before we did. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != helper)
        _exit(1);
    close(cb->lifeline_fd); /* the helper's to watch */
    /* Who we are, before anyone learns we started (the helper writes the pid too, after fork):
       start time first, as the pid is what readers look at. Until then the parent signals us
       not at all (no start time matches), and we die with the helper anyway (PDEATHSIG). */
    struct procstat me;
    if (shmpool__procstat_read(getpid(), &me) == 0)
        atomic_store(&w->start_ticks, me.start_ticks);
    atomic_store(&w->pid, getpid());
    /* Signal dispositions come from the helper: every one default but SIGINT, ignored. */
    self_cb = cb;
    self_slot = w;
    struct sigaction sa = {.sa_handler = on_cancel};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_timeout;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int map_rc = shmpool__arena_sync(cb, v, &w->seg_seen);
    shmpool__set_runner_index((int)slot);
    shmpool__limit_threads(cb->worker_threads);
    int broken = 0;
    if (cb->initializer)
        broken = cb->initializer(cb->initializer_arg);
    atomic_store(&w->init_rc, broken);
    atomic_store(&w->state, broken ? W_BROKEN : W_READY);
    sem_post(&cb->started);

    uint64_t tasks_left = cb->max_tasks ? cb->max_tasks : UINT64_MAX;
    uint64_t d = atomic_exchange(&w->resume, 0);
    if (d && shmpool__job_run(cb, w, d, &tasks_left, broken ? broken : map_rc) == JOB_WORKER_EXITS)
        leave(w);
    for (;;) {
        shmpool__arena_sync(cb, v, &w->seg_seen);
        uint32_t sd = atomic_load_explicit(&cb->shutdown, memory_order_acquire);
        if (sd == SHUTDOWN_NOW)
            leave(w);
        if (shmpool__ring_try_pop(cb_ring(cb), &w->held, &w->claim)) {
            /* Memory the job names may be new. A segment we cannot map would be a SIGSEGV in the
               task: the job fails with SHMPOOL_EMAP instead and we leave (a fresh worker, with
               fresh fds, tries again). */
            map_rc = shmpool__arena_sync(cb, v, &w->seg_seen);
            if (shmpool__job_run(cb, w, w->held, &tasks_left, broken ? broken : map_rc) ==
                JOB_WORKER_EXITS)
                leave(w);
            continue;
        }
        if (sd == SHUTDOWN_IDLE)
            leave(w);
        idle(cb, w, v);
    }
}
