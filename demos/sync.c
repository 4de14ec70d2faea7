/* sync: workers that add to shared counters, start together on an Event, and meet at a Barrier.
 *
 * The tutorial lists "synchronizing operations with primitives such as Locks, Events, Semaphores,
 * and Conditions" and "sharing data between processes using shared memory"
 * (../shared/seed/parallel-processing-in-python.md). In Python:
 *
 *     go, phase = Event(), Barrier(workers)
 *     counter = Value('l', 0)                  # a shared long with its lock
 *     def work():
 *         go.wait()
 *         for _ in range(adds): counter.value += 1                       # a race
 *         for _ in range(adds):
 *             with counter.get_lock(): counter.value += 1                # exact
 *         phase.wait()                          # everyone has added: the total is final
 *
 * Here each worker is a shmpool_process (Python's Process). `counter.value += 1` is a get and a
 * set: each takes the lock, the pair does not, so workers overwrite each other's additions.
 * Holding the lock around both makes it exact; shmpool_value_add is one atomic step, no lock.
 *
 *     sync [--workers 4] [--adds 200000]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmpool.h"

#define MAX_WORKERS 64

struct shared { /* handles to objects in shared memory: valid as they are in every child */
    shmpool_event *go;
    shmpool_barrier *phase;
    shmpool_value *racy;   /* counter.value += 1, unprotected */
    shmpool_value *locked; /* the same under get_lock() */
    shmpool_value *atomic; /* shmpool_value_add */
    shmpool_value *seen;   /* Array: the total each worker read after the barrier */
    long adds;
};

struct worker {
    const struct shared *s;
    int id;
};

static int work(void *arg) {
    const struct worker *w = arg;
    const struct shared *s = w->s;
    if (shmpool_event_wait(s->go, 10000) != 0) /* all start together */
        return 1;
    for (long i = 0; i < s->adds; i++) { /* counter.value += 1: get, then set */
        int64_t v;
        shmpool_value_get(s->racy, 0, &v);
        v++;
        shmpool_value_set(s->racy, 0, &v);
    }
    shmpool_lock *lock = shmpool_value_lock(s->locked);
    int64_t *counter = shmpool_value_data(s->locked);
    for (long i = 0; i < s->adds; i++) { /* with counter.get_lock(): counter.value += 1 */
        if (shmpool_lock_acquire(lock, -1) != 0)
            return 2;
        (*counter)++;
        shmpool_lock_release(lock);
    }
    for (long i = 0; i < s->adds; i++)
        shmpool_value_add(s->atomic, 0, &(int64_t){1}, NULL);

    int idx = shmpool_barrier_wait(s->phase, 10000); /* phase 1 ends for everyone at once */
    if (idx < 0) {
        fprintf(stderr, "worker %d: barrier: %s\n", w->id, shmpool_strerror(idx));
        return 3;
    }
    int64_t total;
    shmpool_value_get(s->locked, 0, &total); /* after the barrier: every addition is in */
    shmpool_value_set(s->seen, (size_t)w->id, &total);
    printf("worker %d (pid %ld) arrived %d%s at the barrier, then read %lld\n", w->id,
           (long)getpid(), idx + 1, idx == 0 ? "st" : idx == 1 ? "nd" : idx == 2 ? "rd" : "th",
           (long long)total);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int workers = 4;
    long adds = 200000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--adds") && i + 1 < argc) {
            adds = atol(argv[++i]);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: sync [--workers 4] [--adds 200000]\n");
            return help ? 0 : 2;
        }
    }
    if (workers < 1 || workers > MAX_WORKERS || adds < 1) {
        fprintf(stderr, "sync: --workers 1..%d, --adds >= 1\n", MAX_WORKERS);
        return 2;
    }

    /* pool NULL: shared memory that processes forked from now on can use */
    struct shared s = {.adds = adds};
    int rc = shmpool_event_create(&s.go, NULL);
    if (!rc)
        rc = shmpool_barrier_create(&s.phase, NULL, (unsigned)workers);
    if (!rc)
        rc = shmpool_value_create(&s.racy, NULL, SHMPOOL_I8, 1, SHMPOOL_VALUE_LOCK);
    if (!rc)
        rc = shmpool_value_create(&s.locked, NULL, SHMPOOL_I8, 1, SHMPOOL_VALUE_LOCK);
    if (!rc)
        rc = shmpool_value_create(&s.atomic, NULL, SHMPOOL_I8, 1, 0);
    if (!rc)
        rc = shmpool_value_create(&s.seen, NULL, SHMPOOL_I8, (size_t)workers, 0);
    if (rc) {
        fprintf(stderr, "sync: %s\n", shmpool_strerror(rc));
        return 1;
    }

    struct worker w[MAX_WORKERS];
    shmpool_process *p[MAX_WORKERS];
    int started = 0, failed = 0;
    for (; started < workers; started++) {
        w[started] = (struct worker){&s, started};
        if ((rc = shmpool_process_start(&p[started], work, &w[started])) != 0) {
            fprintf(stderr, "sync: start: %s\n", shmpool_strerror(rc));
            failed = 1;
            break;
        }
    }
    printf("%d workers started, waiting for the event; go!\n", started);
    shmpool_event_set(s.go);
    for (int i = 0; i < started; i++) {
        int code = -1;
        if (shmpool_process_join(p[i], 60000) != 0 || shmpool_process_exitcode(p[i], &code) != 0 ||
            code != 0) {
            fprintf(stderr, "sync: worker %d failed (exit code %d)\n", i, code);
            failed = 1;
        }
        shmpool_process_free(p[i]);
    }

    int64_t expect = (int64_t)started * adds, racy = 0, locked = 0, atomic = 0;
    shmpool_value_get(s.racy, 0, &racy);
    shmpool_value_get(s.locked, 0, &locked);
    shmpool_value_get(s.atomic, 0, &atomic);
    printf("counter.value += 1, no lock around it:    %lld of %lld (%lld lost: the race)\n",
           (long long)racy, (long long)expect, (long long)(expect - racy));
    printf("the same under counter.get_lock():        %lld of %lld\n", (long long)locked,
           (long long)expect);
    printf("shmpool_value_add (one atomic step):      %lld of %lld\n", (long long)atomic,
           (long long)expect);
    if (!failed && (locked != expect || atomic != expect || racy > expect)) {
        fprintf(stderr, "sync: FAIL: the locked or atomic counter is not exact\n");
        failed = 1;
    }
    for (int i = 0; i < started && !failed; i++) {
        int64_t seen = 0;
        shmpool_value_get(s.seen, (size_t)i, &seen);
        if (seen != expect) {
            fprintf(stderr, "sync: FAIL: worker %d read %lld after the barrier\n", i,
                    (long long)seen);
            failed = 1;
        }
    }
    shmpool_value_destroy(s.seen);
    shmpool_value_destroy(s.atomic);
    shmpool_value_destroy(s.locked);
    shmpool_value_destroy(s.racy);
    shmpool_barrier_destroy(s.phase);
    shmpool_event_destroy(s.go);
    return failed;
}
