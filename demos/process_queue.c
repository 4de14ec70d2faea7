/* process_queue: a child process puts 42 in a queue, the parent gets it.
 *
 * Mirrors the tutorial's Process examples with tarea() and multiprocessing.Queue
 * (../shared/seed/parallel-processing-in-python.md). shmpool's queue lives in shared memory
 * (no pipe, no pickling): the child copies its message into a slot, the parent copies it out.
 *
 *     process_queue [--value 42]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmpool.h"

struct task {
    shmpool_queue *q;
    long value;
};

/* The child: tarea(q) -> q.put(42). Its return value becomes its exit status. */
static int tarea(void *arg) {
    const struct task *t = arg;
    return shmpool_queue_put(t->q, &t->value, sizeof t->value, -1) == 0 ? 0 : 1;
}

/* Without a queue the value can only come back as an 8-bit exit status. */
static int tarea_return(void *arg) {
    return (int)((const struct task *)arg)->value;
}

int main(int argc, char **argv) {
    struct task t = {NULL, 42};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--value") && i + 1 < argc) {
            t.value = strtol(argv[++i], NULL, 0);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: process_queue [--value 42]\n");
            return help ? 0 : 2;
        }
    }

    /* p = Process(target=tarea); the return value is lost, except as the exit status. */
    shmpool_process *p;
    int code = -1, status = 0;
    int rc = shmpool_process_start(&p, tarea_return, &t);
    if (rc == 0) {
        shmpool_process_join(p, -1);
        shmpool_process_exitcode(p, &code);
        shmpool_process_free(p);
        printf("exit status of a child that returned %ld: %d (8 bits only)\n", t.value, code);
    }
    if (rc || code != (int)(t.value & 0xff)) {
        fprintf(stderr, "process_queue: FAIL: exit status %d, expected %ld\n", code, t.value & 0xff);
        status = 1;
    }

    /* q = Queue(); p = Process(target=tarea, args=(q,)); ...; q.get() */
    rc = shmpool_queue_create(&t.q, NULL, 1, sizeof(long));
    if (rc) {
        fprintf(stderr, "process_queue: queue: %s\n", shmpool_strerror(rc));
        return 1;
    }
    rc = shmpool_process_start(&p, tarea, &t);
    if (rc) {
        fprintf(stderr, "process_queue: start: %s\n", shmpool_strerror(rc));
        shmpool_queue_destroy(t.q);
        return 1;
    }
    code = -1;
    rc = shmpool_process_join(p, 10000);
    if (rc == 0)
        rc = shmpool_process_exitcode(p, &code);
    shmpool_process_free(p); /* kills the child if the join timed out */
    long got = 0;
    size_t len = 0;
    int qrc = shmpool_queue_get(t.q, &got, sizeof got, &len, 1000);
    shmpool_queue_destroy(t.q);
    if (rc || code != 0 || qrc || len != sizeof got || got != t.value) {
        fprintf(stderr, "process_queue: FAIL: join %d, exit %d, get %s, value %ld\n", rc, code,
                shmpool_strerror(qrc), got);
        return 1;
    }
    printf("Received value = %ld\n", got);
    return status;
}
