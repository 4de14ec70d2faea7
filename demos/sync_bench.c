/* sync_bench: shmpool's synchronisation objects beside the pthread/POSIX objects a C programmer
 * would otherwise put in shared memory, measured in the same run.
 *
 *   1. An uncontended acquire/release pair, in one thread: shmpool_lock, shmpool_rlock, and a
 *      pthread_mutex that is process-shared and robust (what a lock between workers must be).
 *   2. A ping-pong between two processes, one round trip = two hand-overs: through a pair of
 *      shmpool_event; a pair of "events" made of a process-shared robust pthread_mutex, a
 *      process-shared pthread_cond and a flag (what Python's Event is made of); a pair of
 *      process-shared sem_t.
 *
 * Each figure is the median of --reps runs; ratios are to the pthread reference of the same run.
 *
 *     sync_bench [--quick] [--reps 7]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmpool.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* After median() sorted it. */
static double best(const double *v) { return v[0]; }

static void *shared(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

static void check(int rc, const char *what) {
    if (rc) {
        fprintf(stderr, "sync_bench: %s: %s\n", what, shmpool_strerror(rc < 0 ? rc : -rc));
        exit(1);
    }
}

/* ---- 1. uncontended pairs */

static pthread_mutex_t *robust_mutex(void) {
    pthread_mutex_t *m = shared(sizeof *m);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    check(pthread_mutex_init(m, &a), "pthread_mutex_init");
    pthread_mutexattr_destroy(&a);
    return m;
}

/* ns per pair; the loops are the same shape for all three */
static double pair_shmpool(shmpool_lock *l, long n) {
    double t = now_s();
    for (long i = 0; i < n; i++) {
        shmpool_lock_acquire(l, -1);
        shmpool_lock_release(l);
    }
    return (now_s() - t) * 1e9 / (double)n;
}

static double pair_rlock(shmpool_rlock *l, long n) {
    double t = now_s();
    for (long i = 0; i < n; i++) {
        shmpool_rlock_acquire(l, -1);
        shmpool_rlock_release(l);
    }
    return (now_s() - t) * 1e9 / (double)n;
}

static double pair_pthread(pthread_mutex_t *m, long n) {
    double t = now_s();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
    }
    return (now_s() - t) * 1e9 / (double)n;
}

/* ---- 2. ping-pong */

struct pevent { /* Python's Event on pthreads */
    pthread_mutex_t m;
    pthread_cond_t c;
    int flag;
};

static void pevent_init(struct pevent *e) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    check(pthread_mutex_init(&e->m, &a), "pthread_mutex_init");
    pthread_mutexattr_destroy(&a);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    check(pthread_cond_init(&e->c, &ca), "pthread_cond_init");
    pthread_condattr_destroy(&ca);
    e->flag = 0;
}

static void pevent_set(struct pevent *e) {
    pthread_mutex_lock(&e->m);
    e->flag = 1;
    pthread_cond_broadcast(&e->c);
    pthread_mutex_unlock(&e->m);
}

static void pevent_wait_clear(struct pevent *e) {
    pthread_mutex_lock(&e->m);
    while (!e->flag)
        pthread_cond_wait(&e->c, &e->m);
    e->flag = 0;
    pthread_mutex_unlock(&e->m);
}

enum kind { EV_SHMPOOL, EV_PTHREAD, EV_SEM };

struct pingpong {
    shmpool_event *ev[2];
    struct pevent pe[2];
    sem_t sem[2];
};

static void hand(struct pingpong *p, enum kind k, int to) {
    if (k == EV_SHMPOOL)
        shmpool_event_set(p->ev[to]);
    else if (k == EV_PTHREAD)
        pevent_set(&p->pe[to]);
    else
        sem_post(&p->sem[to]);
}

static void take(struct pingpong *p, enum kind k, int me) {
    if (k == EV_SHMPOOL) {
        shmpool_event_wait(p->ev[me], -1);
        shmpool_event_clear(p->ev[me]);
    } else if (k == EV_PTHREAD) {
        pevent_wait_clear(&p->pe[me]);
    } else {
        while (sem_wait(&p->sem[me]) != 0 && errno == EINTR)
            ;
    }
}

/* ns per round trip: the parent hands to 1 and takes from 0; the child the other way. */
static double pingpong(struct pingpong *p, enum kind k, long n) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        for (long i = 0; i <= n; i++) {
            take(p, k, 1);
            hand(p, k, 0);
        }
        _exit(0);
    }
    hand(p, k, 1); /* one round to start the child */
    take(p, k, 0);
    double t = now_s();
    for (long i = 0; i < n; i++) {
        hand(p, k, 1);
        take(p, k, 0);
    }
    double ns = (now_s() - t) * 1e9 / (double)n;
    waitpid(pid, NULL, 0);
    return ns;
}

/* The 1-minute load average: the ping-pong needs two free cores to show what it can do. */
static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv) {
    int reps = 7, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            int help = !strcmp(argv[i], "--help");
            fprintf(help ? stdout : stderr, "usage: sync_bench [--quick] [--reps 7]\n");
            return help ? 0 : 2;
        }
    }
    if (quick)
        reps = 3;
    if (reps < 1 || reps > 101)
        reps = 7;
    long pairs = quick ? 200000 : 20000000, trips = quick ? 2000 : 100000;

    double load0 = loadavg();
    shmpool_lock *l;
    shmpool_rlock *rl;
    check(shmpool_lock_create(&l, NULL), "shmpool_lock_create");
    check(shmpool_rlock_create(&rl, NULL), "shmpool_rlock_create");
    pthread_mutex_t *m = robust_mutex();
    double a[101], b[101], c[101];
    pair_shmpool(l, pairs / 10); /* warm up: identities, page faults, frequency */
    pair_pthread(m, pairs / 10);
    for (int r = 0; r < reps; r++) { /* alternate, so drift in the machine hits all alike */
        a[r] = pair_shmpool(l, pairs);
        b[r] = pair_rlock(rl, pairs);
        c[r] = pair_pthread(m, pairs);
    }
    double lock_ns = median(a, reps), rlock_ns = median(b, reps), pth_ns = median(c, reps);
    printf("uncontended acquire+release pair, one thread (%d runs of %ld; median, best):\n", reps,
           pairs);
    printf("  shmpool_lock                               %7.1f ns %7.1f ns  (%.2fx pthread)  "
           "target <= 25 ns: %s\n", lock_ns, best(a), lock_ns / pth_ns,
           lock_ns <= 25 ? "met" : "missed");
    printf("  shmpool_rlock                              %7.1f ns %7.1f ns  (%.2fx pthread)\n",
           rlock_ns, best(b), rlock_ns / pth_ns);
    printf("  pthread_mutex, process-shared, robust      %7.1f ns %7.1f ns\n", pth_ns, best(c));

    struct pingpong *p = shared(sizeof *p);
    check(shmpool_event_create(&p->ev[0], NULL), "shmpool_event_create");
    check(shmpool_event_create(&p->ev[1], NULL), "shmpool_event_create");
    for (int i = 0; i < 2; i++) {
        pevent_init(&p->pe[i]);
        if (sem_init(&p->sem[i], 1, 0) != 0) {
            perror("sem_init");
            return 1;
        }
    }
    pingpong(p, EV_SHMPOOL, trips / 10);
    for (int r = 0; r < reps; r++) {
        a[r] = pingpong(p, EV_SHMPOOL, trips);
        b[r] = pingpong(p, EV_PTHREAD, trips);
        c[r] = pingpong(p, EV_SEM, trips);
    }
    double ev_ns = median(a, reps), pev_ns = median(b, reps), sem_ns = median(c, reps);
    printf("ping-pong between two processes, one round trip (%d runs of %ld; median, best):\n",
           reps, trips);
    printf("  shmpool_event pair                         %7.2f us %7.2f us  (%.2fx pthread)  "
           "target <= 5 us: %s\n", ev_ns / 1e3, best(a) / 1e3, ev_ns / pev_ns,
           ev_ns <= 5000 ? "met" : "missed");
    printf("  pthread mutex (robust) + cond + flag pair  %7.2f us %7.2f us\n", pev_ns / 1e3,
           best(b) / 1e3);
    printf("  sem_t pair (process-shared)                %7.2f us %7.2f us  (%.2fx pthread)\n",
           sem_ns / 1e3, best(c) / 1e3, sem_ns / pev_ns);
    printf("usable cpus: %d; load average %.2f before, %.2f after\n",
           shmpool_cpu_count(SHMPOOL_CPU_USABLE), load0, loadavg());

    for (int i = 0; i < 2; i++) {
        shmpool_event_destroy(p->ev[i]);
        pthread_mutex_destroy(&p->pe[i].m);
        pthread_cond_destroy(&p->pe[i].c);
        sem_destroy(&p->sem[i]);
    }
    munmap(p, sizeof *p);
    pthread_mutex_destroy(m);
    munmap(m, sizeof *m);
    shmpool_lock_destroy(l);
    shmpool_rlock_destroy(rl);
    return 0;
}
