#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "job.h"
#include "tunables.h"
#include "worker.h"


struct helper {
    struct control *cb;
    struct seg_view *view;
    bool respawn[SHMPOOL_MAX_WORKERS];      /* slot wants a new worker */
    int deferred_rc[SHMPOOL_MAX_WORKERS];   /* a replacement died starting: fail a task, then respawn */
    _Atomic uint64_t lost_claim[SHMPOOL_MAX_WORKERS]; /* ring claims of dead workers left to repair */
    bool killed_all;
    bool starting; /* the first workers are starting: deaths are create's failures */
};

/* The parent still runs this program: it has not exited, nor exec'd another (the lifeline's
   write end, close-on-exec, is then gone and the read end reports the hang-up). */
static bool parent_alive(const struct control *cb) {
    if (getppid() != cb->parent_pid)
        return false;
    struct pollfd pf = {.fd = cb->lifeline_fd, .events = POLLIN};
    return poll(&pf, 1, 0) == 0;
}

/* The pool's liveness lock, /dev/shm/shmpool.<P>.<H>.lock, held shared by the helper and (through
   the inherited descriptor) every worker: `shmpool clean` removes no name of a pool whose lock it
   cannot take, even where it cannot see the pool's processes (another PID namespace). */
void shmpool__helper_lock_name(pid_t parent, pid_t helper, char *buf, size_t len) {
    snprintf(buf, len, "/shmpool.%d.%d.lock", (int)parent, (int)helper);
}

static void lock_name(const struct control *cb, char *buf, size_t len) {
    shmpool__helper_lock_name(cb->parent_pid, getpid(), buf, len);
}

void shmpool__helper_lock_remove(const struct control *cb) {
    pid_t helper = atomic_load(&((struct control *)cb)->helper_pid);
    if (helper <= 0)
        return;
    char name[SEG_NAME_MAX];
    shmpool__helper_lock_name(cb->parent_pid, helper, name, sizeof name);
    shm_unlink(name);
}

static void take_liveness_lock(const struct control *cb) {
    char name[SEG_NAME_MAX];
    lock_name(cb, name, sizeof name);
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_SH) != 0) {
        close(fd);
        shm_unlink(name);
    } /* else kept open for our life; without it (name taken) clean judges by pids alone */
}

static void drop_liveness_lock(const struct control *cb) {
    char name[SEG_NAME_MAX];
    lock_name(cb, name, sizeof name);
    shm_unlink(name);
}

/* SIGIO on the lifeline's hang-up, so an exec is noticed at once rather than at the next tick. */
static void watch_lifeline(const struct control *cb) {
    fcntl(cb->lifeline_fd, F_SETOWN, getpid());
    fcntl(cb->lifeline_fd, F_SETFL, fcntl(cb->lifeline_fd, F_GETFL) | O_ASYNC);
}

/* Our children, unreaped: their pids cannot have been reused. */
static void kill_workers(const struct control *cb) {
    for (unsigned i = 0; i < cb->nworkers; i++) {
        pid_t pid = atomic_load(&cb_worker((struct control *)cb, i)->pid);
        if (pid > 0)
            kill(pid, SIGKILL);
    }
}

_Noreturn static void parent_gone(struct helper *h) {
    struct control *cb = h->cb;
    kill_workers(cb);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    shmpool__arena_unlink_ready(cb, 1);
    shmpool__arena_unlink_prefix(cb);
    drop_liveness_lock(cb); /* named by getpid(): the parent may have died before it knew us */
    _exit(0);
}

static bool any_worker(const struct control *cb) {
    for (unsigned i = 0; i < cb->nworkers; i++)
        if (atomic_load(&cb_worker((struct control *)cb, i)->pid) > 0)
            return true;
    return false;
}

static void spawn(struct helper *h, unsigned slot) {
    struct control *cb = h->cb;
    struct worker_slot *w = cb_worker(cb, slot);
    atomic_store(&w->seg_seen, atomic_load(&cb->helper_seg_seen)); /* it inherits our mappings */
    atomic_store(&w->item, NO_ITEM);
    atomic_store(&w->tasks, 0);
    atomic_store(&w->task_start_ns, 0); /* the dead worker's clock is not the replacement's */
    atomic_store(&w->timed_out, 0);
    atomic_store(&w->state, W_STARTING);
    atomic_store(&w->start_ticks, 0); /* never the predecessor's beside the new pid */
    pid_t pid = fork();
    if (pid == 0)
        shmpool__worker_main(cb, slot, h->view);
    if (pid < 0) {
        int err = errno;
        atomic_store(&w->state, W_EMPTY);
        if (h->starting) { /* create reports it */
            atomic_store(&w->init_rc, -err);
            atomic_store(&w->state, W_BROKEN);
            sem_post(&cb->started);
        } else if (!any_worker(cb)) {
            /* Nobody left to run queued work (RLIMIT_NPROC, say): fail a task with the fork's
               code, as a replacement that died starting would, then try again. */
            h->deferred_rc[slot] = -err;
            h->respawn[slot] = false;
        } else {
            h->respawn[slot] = true; /* the others run the work; try again on the next tick */
        }
        return;
    }
    atomic_store(&w->pid, pid); /* its start time: the worker writes it first thing */
    h->respawn[slot] = false;
}

static int death_code(int status) {
    if (WIFSIGNALED(status))
        return SHMPOOL_EKILLED(WTERMSIG(status));
    return SHMPOOL_EEXITED(WEXITSTATUS(status));
}

/* Claim words of the live workers other than `self`, for shmpool__ring_repair_claim. */
static size_t live_claims(struct control *cb, unsigned self, _Atomic uint64_t **out) {
    size_t n = 0;
    for (unsigned i = 0; i < cb->nworkers; i++)
        if (i != self && atomic_load(&cb_worker(cb, i)->pid) > 0)
            out[n++] = &cb_worker(cb, i)->claim;
    return n;
}

/* Waits while the ring is full: live workers drain it. Not under terminate: the workers are being
   killed, so nobody drains a full ring, every job is cancelled, and the descriptor is not needed
   (spinning here kept the helper, and destroy's wait for it, going for ever: fuzz-args under load). */
static void push_again(struct control *cb, uint64_t d) {
    while (!shmpool__ring_try_push(cb_ring(cb), &d)) {
        if (atomic_load(&cb->shutdown) == SHUTDOWN_NOW)
            return;
        shmpool__cpu_relax();
    }
    shmpool__wake_workers(cb, 1);
}

/* A dead consumer's ring claim: release the cell it won, push back what it had not consumed. */
static bool repair_claim(struct helper *h, unsigned slot, uint64_t held) {
    struct control *cb = h->cb;
    _Atomic uint64_t *others[SHMPOOL_MAX_WORKERS];
    size_t n = live_claims(cb, slot, others);
    uint64_t item = 0;
    switch (shmpool__ring_repair_claim(cb_ring(cb), &h->lost_claim[slot], others, n, &item)) {
    case RING_REPAIR_REPUSH:
        push_again(cb, item);
        return true;
    case RING_REPAIR_TAKEN:
        if (held) /* maybe stale or a duplicate: a stale descriptor is dropped on sight */
            push_again(cb, held);
        return true;
    case RING_REPAIR_RETRY:
        return false;
    case RING_REPAIR_NOTHING:
        break;
    }
    return true;
}

/* What the dead worker in `w` held: its job, its completion check, its ring claim. */
static void repair(struct helper *h, unsigned slot, int code) {
    struct control *cb = h->cb;
    struct worker_slot *w = cb_worker(cb, slot);
    uint64_t d = atomic_load(&w->job);
    if (d && atomic_load(&cb_job(cb, desc_slot(d))->gen) != desc_gen(d)) {
        /* It set its hazard for a descriptor whose job had already been retired and died before
           its own generation check: it was in no job. The slot may hold a later job now, which
           must not be touched. (Found by the model, test/model/ring.pml, STALE_JOB_CHECK.) */
        atomic_store(&w->job, 0);
        d = 0;
    }
    if (d) {
        struct job *j = cb_job(cb, desc_slot(d));
        uint64_t item = atomic_load(&w->item);
        if (atomic_load(&j->stop) != STOP_CANCELLED) {
            bool retried = false;
            if (item != NO_ITEM && code != -ETIME && shmpool__job_retry(j, item / j->chunk)) {
                atomic_store(&w->resume, d); /* the replacement runs it */
                retried = true;
            }
            if (!retried)
                shmpool__job_fail(j, item, code);
        }
        shmpool__job_leave(cb, &w->job, &cb->helper_posting, d);
    }
    uint64_t p = atomic_load(&w->posting);
    if (p) { /* it died checking a job's completion: check again on its behalf */
        atomic_store(&cb->helper_posting, p);
        atomic_store(&w->posting, 0);
        _Atomic uint64_t none = 0;
        shmpool__job_leave(cb, &none, &cb->helper_posting, p);
    }
    uint64_t c = atomic_exchange(&w->claim, RING_NO_CLAIM);
    if (c != RING_NO_CLAIM && !d) {
        atomic_store(&h->lost_claim[slot], c);
        repair_claim(h, slot, w->held);
    }
    w->held = 0;
}

static void on_exit_of(struct helper *h, unsigned slot, int status) {
    struct control *cb = h->cb;
    struct worker_slot *w = cb_worker(cb, slot);
    uint32_t state = atomic_load(&w->state);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 && state == W_EXITING;
    int code = death_code(status);
    if (atomic_exchange(&w->timed_out, 0))
        code = -ETIME;
    if (atomic_load(&cb->shutdown) == SHUTDOWN_NOW)
        code = -ECANCELED;
    if (!clean)
        repair(h, slot, code);
    shmpool__worker_unsleep(cb, w); /* killed asleep: a waker must not claim a dead worker */
    shmpool__spinner_uncount(cb, w); /* killed spinning: the count would keep others from it */
    if (state == W_STARTING) {
        if (h->starting) { /* create fails with this code */
            atomic_store(&w->init_rc, code);
            atomic_store(&w->state, W_BROKEN);
            atomic_store(&w->pid, 0);
            sem_post(&cb->started);
            return;
        }
        h->deferred_rc[slot] = code; /* no respawn loop: wait for a task to fail */
    }
    atomic_store(&w->state, W_EMPTY);
    atomic_store(&w->pid, 0);
    if (!h->deferred_rc[slot])
        h->respawn[slot] = true;
}

static void reap(struct helper *h) {
    struct control *cb = h->cb;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (unsigned i = 0; i < cb->nworkers; i++) {
            if (atomic_load(&cb_worker(cb, i)->pid) == pid) {
                on_exit_of(h, i, status);
                break;
            }
        }
    }
}

/* A replacement died starting: the task it would have run fails with that code, then the slot
   gets a new worker. Acts as that worker, without running user code. */
static void fail_deferred(struct helper *h, unsigned slot) {
    struct control *cb = h->cb;
    struct worker_slot *w = cb_worker(cb, slot);
    uint64_t d = atomic_exchange(&w->resume, 0);
    if (!d && !shmpool__ring_try_pop(cb_ring(cb), &w->held, &w->claim))
        return;
    if (!d)
        d = w->held;
    uint64_t forever = UINT64_MAX;
    shmpool__job_run(cb, w, d, &forever, h->deferred_rc[slot]);
    h->deferred_rc[slot] = 0;
    h->respawn[slot] = true;
}

/* Ask workers past task_timeout_ms to end (SIGUSR2: they check their own clock); SIGKILL one
   that is still over a second later (it blocked the signal). */
static void enforce_timeouts(struct control *cb) {
    uint64_t now = shmpool__now_ns(), limit = (uint64_t)cb->task_timeout_ms * 1000000u;
    for (unsigned i = 0; i < cb->nworkers; i++) {
        struct worker_slot *w = cb_worker(cb, i);
        pid_t pid = atomic_load(&w->pid);
        uint64_t start = atomic_load(&w->task_start_ns);
        if (pid <= 0 || !start || now - start <= limit)
            continue;
        if (now - start > limit + 1000000000u) {
            atomic_store(&w->timed_out, 1);
            kill(pid, SIGKILL);
        } else {
            kill(pid, SIGUSR2);
        }
    }
}

/* Signals: every handler the program installed back to the default, for us and the workers
   (they inherit these, done once here rather than in every worker): a crash in a task must end
   the worker with its signal, so the pool can report it, and SIGCHLD must not be ignored, or the
   workers' deaths would go unnoticed. SIGINT ignored: the parent decides what Ctrl-C means. All
   blocked but the crashes; returns the set the main loop waits on. */
static sigset_t take_over_signals(void) {
    sigset_t waitset, all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGCHLD); /* a worker died */
    sigaddset(&waitset, SIGUSR1); /* the parent's kick */
    sigaddset(&waitset, SIGUSR2); /* PDEATHSIG: the thread that created the pool ended */
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGIO);   /* the lifeline hung up */
    return waitset;
}

/* How long to sleep until the next look: short while repairs or respawns are pending, often
   enough to end a task within ~25% of task_timeout_ms, else the backstop tick. */
static long tick_ns(const struct helper *h) {
    const struct control *cb = h->cb;
    bool pending = false;
    for (unsigned i = 0; i < cb->nworkers; i++)
        pending |= atomic_load(&h->lost_claim[i]) != RING_NO_CLAIM || h->respawn[i] ||
                   h->deferred_rc[i];
    long wait_ns = pending ? SHMPOOL_HELPER_BUSY_TICK_NS : SHMPOOL_HELPER_TICK_NS;
    if (cb->task_timeout_ms) {
        long t = (long)cb->task_timeout_ms * 250000; /* a quarter of it, in ns */
        wait_ns = t < SHMPOOL_HELPER_BUSY_TICK_NS ? SHMPOOL_HELPER_BUSY_TICK_NS
                  : t < wait_ns                   ? t
                                                  : wait_ns;
    }
    return wait_ns;
}

/* close/join (SHUTDOWN_IDLE: workers leave when the queue is empty) or terminate (SHUTDOWN_NOW:
   killed at once). Exits once no worker is left. */
static void shut_down(struct helper *h, uint32_t sd) {
    struct control *cb = h->cb;
    if (sd == SHUTDOWN_NOW && !h->killed_all) {
        kill_workers(cb);
        h->killed_all = true;
    }
    if (sd == SHUTDOWN_IDLE)
        shmpool__wake_workers(cb, WAKE_ALL);
    if (!any_worker(cb)) {
        shmpool__arena_unlink_ready(cb, 1);
        drop_liveness_lock(cb);
        _exit(0);
    }
}

/* Keep every slot staffed: fail a task for a replacement that died starting, fork replacements. */
static void tend_workers(struct helper *h) {
    struct control *cb = h->cb;
    /* Work queued at a tick while workers sleep: a wake-up went to a worker that cannot run
       (SIGSTOPped while idle, it took the wake-up and sleeps on). Wake the others. */
    if (shmpool__ring_count(cb_ring(cb)) > 0)
        shmpool__wake_workers(cb, WAKE_ALL);
    for (unsigned i = 0; i < cb->nworkers; i++) {
        if (h->deferred_rc[i] && shmpool__ring_count(cb_ring(cb)) > 0)
            fail_deferred(h, i);
        if (h->respawn[i])
            spawn(h, i);
    }
}

_Noreturn static void helper_main(struct control *cb, struct seg_view *view) {
    static struct helper h; /* zeroed; a fresh copy in this process only */
    h.cb = cb;
    h.view = view;
    sigset_t waitset = take_over_signals();
    setpgid(0, 0); /* see helper.h: a kill of the program's process group must leave us to clean */
    watch_lifeline(cb);
    take_liveness_lock(cb);
    /* PDEATHSIG fires when the *thread* that forked us exits; getppid() tells whether the whole
       process is gone. Checked after arming, in case the parent died first. */
    prctl(PR_SET_PDEATHSIG, SIGUSR2);
    if (!parent_alive(cb))
        parent_gone(&h);
    prctl(PR_SET_NAME, "shmpool-helper");

    shmpool__arena_sync(cb, view, &cb->helper_seg_seen);
    h.starting = true;
    for (unsigned i = 0; i < cb->nworkers; i++)
        spawn(&h, i);
    for (;;) {
        struct timespec ts = {0, tick_ns(&h)};
        siginfo_t si;
        sigtimedwait(&waitset, &si, &ts);
        if (!parent_alive(cb))
            parent_gone(&h);
        if (h.starting) {
            bool all_started = true;
            for (unsigned i = 0; i < cb->nworkers; i++)
                all_started &= atomic_load(&cb_worker(cb, i)->state) != W_STARTING;
            h.starting = !all_started;
        }
        reap(&h);
        if (cb->task_timeout_ms)
            enforce_timeouts(cb);
        for (unsigned i = 0; i < cb->nworkers; i++)
            if (atomic_load(&h.lost_claim[i]) != RING_NO_CLAIM)
                repair_claim(&h, i, 0);
        shmpool__arena_sync(cb, view, &cb->helper_seg_seen);
        uint32_t sd = atomic_load(&cb->shutdown);
        if (sd != RUNNING)
            shut_down(&h, sd);
        else
            tend_workers(&h);
    }
}

int shmpool__helper_start(struct control *cb, struct seg_view *helper_view, int *lifeline) {
    if (cb->nworkers > SHMPOOL_MAX_WORKERS)
        return -EINVAL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    fflush(NULL); /* so no child inherits, and later flushes twice, what the program buffered */
    cb->lifeline_fd = fds[0];
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        close(fds[1]);
        helper_main(cb, helper_view);
    }
    close(fds[0]);
    *lifeline = fds[1];
    atomic_store(&cb->helper_pid, pid);
    return 0;
}

void shmpool__helper_kick(struct control *cb) {
    pid_t pid = atomic_load(&cb->helper_pid);
    if (pid > 0)
        kill(pid, SIGUSR1);
}
