/* Python's Process over fork(): a child runs fn(arg) and _exits with its return value. */
#include "shmpool.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* What the child says of its end, in a page shared with it: when SIGCHLD is ignored, or the
   program reaps its children itself, waitpid finds no child and this is all that is left. */
struct record {
    _Atomic int returned; /* fn returned: the child is about to _exit(code) */
    int code;
};

struct shmpool_process {
    pid_t pid;
    int ended;   /* reaped: `status` is valid, unless `unknown` */
    int unknown; /* reaped by someone else before fn returned (a signal, exit() in fn) */
    int status;  /* waitpid's status */
    struct record *rec;
};

int shmpool_process_start(shmpool_process **proc, shmpool_process_fn fn, void *arg) {
    if (!proc || !fn)
        return -EINVAL;
    *proc = NULL;
    /* Allocate first: failing after the fork would leave a child nobody can join. */
    shmpool_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->rec = mmap(NULL, sizeof *p->rec, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p->rec == MAP_FAILED) {
        free(p);
        return -ENOMEM;
    }
    /* Unflushed parent output would otherwise be written twice, once by the child. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        munmap(p->rec, sizeof *p->rec);
        free(p);
        return -err;
    }
    if (pid == 0) {
        int rc = fn(arg);
        fflush(NULL);
        p->rec->code = rc & 0xff;
        atomic_store_explicit(&p->rec->returned, 1, memory_order_release);
        /* _exit, not exit: the parent's atexit handlers and stdio state are not the child's. */
        _exit(rc & 0xff);
    }
    p->pid = pid;
    *proc = p;
    return 0;
}

/* Reaps the child if it has ended (or waits for it when `block`). 1 ended, 0 running, -errno. */
static int reap(shmpool_process *p, int block) {
    if (p->ended)
        return 1;
    for (;;) {
        int status;
        pid_t r = waitpid(p->pid, &status, block ? 0 : WNOHANG);
        if (r == p->pid) {
            p->status = status;
            p->ended = 1;
            return 1;
        }
        if (r == 0)
            return 0;
        if (errno == ECHILD) {
            /* Not our child any more, so it has ended and someone else reaped it (SIGCHLD ignored:
               the kernel did). Its status is what it recorded, if it got as far. */
            p->ended = 1;
            p->unknown = !atomic_load_explicit(&p->rec->returned, memory_order_acquire);
            p->status = p->unknown ? 0 : W_EXITCODE(p->rec->code, 0);
            return 1;
        }
        if (errno != EINTR)
            return -errno;
    }
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL); /* an EINTR just shortens one poll step */
}

/* Waits on a pidfd (Linux 5.3+); -ENOSYS where there is none, so the caller polls instead. */
static int wait_pidfd(shmpool_process *p, uint64_t deadline) {
#ifdef SYS_pidfd_open
    /* Remember a missing pidfd_open (old kernel, valgrind) so it is not retried on every join. */
    static _Atomic int no_pidfd;
    if (atomic_load_explicit(&no_pidfd, memory_order_relaxed))
        return -ENOSYS;
    int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (fd < 0) {
        if (errno == ENOSYS)
            atomic_store_explicit(&no_pidfd, 1, memory_order_relaxed);
        return -ENOSYS;
    }
    int rc;
    for (;;) {
        rc = reap(p, 0);
        if (rc != 0)
            break;
        uint64_t now = shmpool__now_ns();
        if (now >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        uint64_t left_ms = (deadline - now + 999999u) / 1000000u;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms) < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
    }
    close(fd);
    return rc < 0 ? rc : 0;
#else
    (void)p, (void)deadline;
    return -ENOSYS;
#endif
}

int shmpool_process_join(shmpool_process *proc, int timeout_ms) {
    if (!proc)
        return -EINVAL;
    if (timeout_ms < 0) {
        int rc = reap(proc, 1);
        return rc < 0 ? rc : 0;
    }
    uint64_t deadline = shmpool__deadline(timeout_ms);
    int rc = wait_pidfd(proc, deadline);
    if (rc != -ENOSYS)
        return rc;
    /* No pidfd: poll, sleeping 50 us at first and up to 10 ms, so short children are seen fast. */
    for (uint64_t step = 50000;; step = step * 2 > 10000000u ? 10000000u : step * 2) {
        rc = reap(proc, 0);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        uint64_t now = shmpool__now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        sleep_ns(deadline - now < step ? deadline - now : step);
    }
}

int shmpool_process_terminate(shmpool_process *proc) {
    if (!proc)
        return -EINVAL;
    if (proc->ended)
        return 0;
    /* Not yet reaped, so the pid cannot have been reused: signalling it is safe. */
    if (kill(proc->pid, SIGTERM) != 0 && errno != ESRCH)
        return -errno;
    return 0;
}

int shmpool_process_exitcode(const shmpool_process *proc, int *code) {
    if (!proc || !code)
        return -EINVAL;
    /* Like Python's exitcode, this polls: the handle is ours (never const storage), so updating
       its cached state through a cast is sound. */
    int rc = reap((shmpool_process *)proc, 0);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -EBUSY;
    if (proc->unknown)
        return -ECHILD;
    if (WIFEXITED(proc->status))
        *code = WEXITSTATUS(proc->status);
    else if (WIFSIGNALED(proc->status))
        *code = -WTERMSIG(proc->status);
    else
        *code = -1;
    return 0;
}

pid_t shmpool_process_pid(const shmpool_process *proc) {
    return proc ? proc->pid : -EINVAL;
}

void shmpool_process_free(shmpool_process *proc) {
    if (!proc)
        return;
    if (!proc->ended && reap(proc, 0) == 0) {
        kill(proc->pid, SIGKILL);
        reap(proc, 1);
    }
    munmap(proc->rec, sizeof *proc->rec);
    free(proc);
}
