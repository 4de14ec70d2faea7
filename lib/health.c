#include "health.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

bool shmpool__health_helper_gone(shmpool *p) {
    pid_t pid = atomic_load(&p->helper_pid);
    if (pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
        atomic_store(&p->helper_pid, 0);
        return true;
    }
    return false;
}

/* The helper died under us: its workers get SIGKILL from the kernel (PDEATHSIG); make sure they
   are gone before any job is declared over, since they may still write to its buffers. A pid is
   signalled only while it names the very process the helper started (its start time), never a
   stranger that reused it; a zombie has ended (a kill() to it succeeds, which kept this loop going
   for a second); under a child subreaper the workers became our children: reap them. */
void shmpool__health_end_workers(shmpool *p) {
    struct control *cb = p->cb;
    for (int round = 0; round < 200; round++) {
        bool any = false;
        for (unsigned i = 0; i < cb->nworkers; i++) {
            struct worker_slot *w = cb_worker(cb, i);
            pid_t pid = atomic_load(&w->pid);
            struct procstat s;
            if (pid <= 0 || shmpool__procstat_read(pid, &s) != 0 ||
                s.start_ticks != atomic_load(&w->start_ticks))
                continue; /* gone, or a stranger */
            if (shmpool__procstat_ended(&s)) {
                if (s.ppid == getpid())
                    waitpid(pid, NULL, WNOHANG);
                continue;
            }
            kill(pid, SIGKILL);
            any = true;
        }
        if (!any)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

bool shmpool__health_check(shmpool *p) {
    if (atomic_load(&p->broken))
        return false;
    int s = atomic_load(&p->state);
    if (s == POOL_JOINED || s == POOL_TERMINATED || !shmpool__health_helper_gone(p))
        return true;
    pthread_mutex_lock(&p->lock);
    if (!atomic_load(&p->broken)) {
        shmpool__health_end_workers(p);
        atomic_store(&p->broken, true);
    }
    pthread_mutex_unlock(&p->lock);
    return false;
}
