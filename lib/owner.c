#include "owner.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

static _Atomic unsigned fork_epoch;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { atomic_fetch_add_explicit(&fork_epoch, 1, memory_order_relaxed); }

static void install(void) { pthread_atfork(NULL, NULL, on_fork_child); }

unsigned shmpool__owner_epoch(void) {
    pthread_once(&installed, install);
    return atomic_load_explicit(&fork_epoch, memory_order_relaxed);
}

int shmpool__owner_check(const shmpool *p) {
    if (!p)
        return -EINVAL;
    return atomic_load_explicit(&fork_epoch, memory_order_relaxed) == p->owner_epoch ? 0 : -EPERM;
}
