#include "clock.h"

#include <errno.h>
#include <time.h>

#include "tunables.h"

uint64_t shmpool__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t shmpool__deadline(int timeout_ms) {
    if (timeout_ms < 0)
        return UINT64_MAX;
    return shmpool__now_ns() + (uint64_t)timeout_ms * 1000000u;
}

int shmpool__sem_wait_until(sem_t *sem, uint64_t deadline_ns) {
    for (;;) {
        int rc;
        if (deadline_ns == UINT64_MAX) {
            rc = sem_wait(sem);
        } else {
            struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                                  .tv_nsec = (long)(deadline_ns % 1000000000u)};
            rc = sem_clockwait(sem, CLOCK_MONOTONIC, &ts);
        }
        if (rc == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return -ETIMEDOUT;
    }
}

void shmpool__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void shmpool__backoff_sleep(unsigned *us) {
    struct timespec ts = {0, (long)*us * 1000};
    nanosleep(&ts, NULL);
    *us = *us < SHMPOOL_BACKOFF_CAP_US / 2 ? *us * 2 : SHMPOOL_BACKOFF_CAP_US;
}
