/* The common ground of the synchronisation objects: futex(2), the calling thread's identity, and
 * whether a recorded thread still runs (see sync.h). */
#include "sync.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

/* 40 bits of start time (clock ticks since boot: centuries at 100 Hz) leave room for nothing
   else today, but keep the published value clear of 0, which means "not yet published". */
#define START_MASK ((UINT64_C(1) << 40) - 1)

_Thread_local __attribute__((tls_model("initial-exec"))) struct shmpool__sync_me shmpool__sync_me;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* The child of fork runs the forking thread under a new tid: forget the cached one. Only that
   thread exists in the child, so resetting its copy is enough. */
static void forget_identity(void) {
    shmpool__sync_me.tid = 0;
    shmpool__sync_me.start = 0;
}

static void install_atfork(void) { pthread_atfork(NULL, NULL, forget_identity); }

void shmpool__sync_learn(void) {
    pthread_once(&atfork_once, install_atfork);
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    struct procstat s;
    uint64_t start = 0;
    if (shmpool__procstat_read((pid_t)tid, &s) == 0)
        start = s.start_ticks & START_MASK;
    shmpool__sync_me.start = start;
    shmpool__sync_me.tid = tid;
}

bool shmpool__sync_alive(uint32_t tid, uint64_t start) {
    struct procstat s;
    int rc = shmpool__procstat_read((pid_t)tid, &s);
    if (rc == -ENOENT)
        return false;
    if (rc != 0)
        return true; /* cannot tell: never take a lock from a holder that may run */
    if (shmpool__procstat_ended(&s))
        return false;
    return start == 0 || (s.start_ticks & START_MASK) == start;
}

int shmpool__futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t deadline_ns) {
    struct timespec ts, *tp = NULL;
    if (deadline_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        tp = &ts;
    }
    /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: no drift across EINTR retries. */
    if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, tp, NULL, FUTEX_BITSET_MATCH_ANY) == 0)
        return 0;
    return -errno;
}

void shmpool__futex_wake(_Atomic uint32_t *word, int n) {
    syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

void *shmpool__sync_alloc(shmpool *pool, size_t bytes) {
    if (pool)
        return shmpool_alloc(pool, bytes); /* page aligned, zero-filled; errno on failure */
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return mem == MAP_FAILED ? NULL : mem;
}

void shmpool__sync_free(shmpool *pool, void *mem, size_t bytes) {
    if (pool)
        shmpool_free(pool, mem);
    else
        munmap(mem, bytes);
}
