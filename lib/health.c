#include "health.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

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

/* The helper died under us: its workers die with it (PDEATHSIG); make sure they are gone before
   any job is declared over, since they may still write to its buffers. */
void shmpool__health_end_workers(shmpool *p) {
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
