/* Synchronisation between processes: Lock, RLock, Semaphore, Event, Condition, Barrier and
   Value/Array. Every call and timeout, bad arguments, holders and parties killed in the middle
   (the others go on with the documented code, in bounded time), many processes on one lock or
   one value (the counts are exact), and the objects in pool memory used by workers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"

/* "Not hung": how long a survivor may take to notice a dead holder or party. The library looks
   every few tens of ms; this leaves room for a loaded machine and valgrind. */
#define BOUND_MS 10000

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- children: forked with fork(), tracked so that a failed test still ends them */

#define MAX_KIDS 16
static pid_t kids[MAX_KIDS];
static int nkids;

static pid_t spawn(int (*fn)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    assert_true(pid > 0);
    assert_true(nkids < MAX_KIDS);
    kids[nkids++] = pid;
    return pid;
}

static void forget(pid_t pid) {
    for (int i = 0; i < nkids; i++)
        if (kids[i] == pid)
            kids[i] = kids[--nkids];
}

/* The child's exit status, waiting at most timeout_ms; -1 if it did not exit (killed or late). */
static int reap(pid_t pid, int timeout_ms) {
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 || now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            forget(pid);
            return -1;
        }
        sleep_ms(2);
    }
    forget(pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void kill_and_reap(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget(pid);
}

static int end_kids(void **state) {
    (void)state;
    while (nkids > 0)
        kill_and_reap(kids[0]);
    return 0;
}

/* Shared scratch memory for what the tests count and signal. */
struct scratch {
    shmpool_lock *lock;
    shmpool_rlock *rlock;
    shmpool_sem *sem;
    shmpool_event *ev, *ev2;
    shmpool_cond *cond;
    shmpool_barrier *bar;
    shmpool_value *val;
    _Atomic int ready;
    int flag;
    long counter;
    int iters;
};

static struct scratch *scratch_new(void) {
    void *m = mmap(NULL, sizeof(struct scratch), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    memset(m, 0, sizeof(struct scratch));
    return m;
}

static void scratch_free(struct scratch *s) { munmap(s, sizeof *s); }

static void wait_ready(struct scratch *s, int n) {
    uint64_t end = now_ms() + BOUND_MS;
    while (atomic_load(&s->ready) < n) {
        assert_true(now_ms() < end);
        sleep_ms(1);
    }
}

/* ================================================================================== Lock */

static void test_lock_acquire_release_locked_and_misuse_codes(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_lock *l;
    assert_int_equal(shmpool_lock_create(&l, NULL), 0);
    assert_int_equal(shmpool_lock_locked(l), 0);
    assert_int_equal(shmpool_lock_release(l), -EPERM);     /* not held */
    assert_int_equal(shmpool_lock_consistent(l), -EINVAL); /* not taken over */
    assert_int_equal(shmpool_lock_acquire(l, 0), 0);
    assert_int_equal(shmpool_lock_locked(l), 1);
    assert_int_equal(shmpool_lock_acquire(l, -1), -EDEADLK);
    assert_int_equal(shmpool_lock_acquire(l, 0), -EDEADLK);
    assert_int_equal(shmpool_lock_consistent(l), -EINVAL); /* held, but consistent */
    assert_int_equal(shmpool_lock_release(l), 0);
    assert_int_equal(shmpool_lock_release(l), -EPERM);
    assert_int_equal(shmpool_lock_acquire(l, 100), 0);
    assert_int_equal(shmpool_lock_release(l), 0);
    shmpool_lock_destroy(l);
    assert_true(resources_same(&before));
}

static void test_sync_calls_reject_null_and_foreign_handles(void **state) {
    (void)state;
    assert_int_equal(shmpool_lock_create(NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_lock_acquire(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_lock_release(NULL), -EINVAL);
    assert_int_equal(shmpool_lock_consistent(NULL), -EINVAL);
    assert_int_equal(shmpool_lock_locked(NULL), -EINVAL);
    shmpool_lock_destroy(NULL);
    assert_int_equal(shmpool_rlock_create(NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_rlock_acquire(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_rlock_release(NULL), -EINVAL);
    assert_int_equal(shmpool_rlock_consistent(NULL), -EINVAL);
    shmpool_rlock_destroy(NULL);
    assert_int_equal(shmpool_sem_create(NULL, NULL, 1, 0), -EINVAL);
    assert_int_equal(shmpool_sem_acquire(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_sem_release(NULL), -EINVAL);
    assert_int_equal(shmpool_sem_value(NULL), -EINVAL);
    shmpool_sem_destroy(NULL);
    assert_int_equal(shmpool_event_create(NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_event_set(NULL), -EINVAL);
    assert_int_equal(shmpool_event_clear(NULL), -EINVAL);
    assert_int_equal(shmpool_event_is_set(NULL), -EINVAL);
    assert_int_equal(shmpool_event_wait(NULL, 0), -EINVAL);
    shmpool_event_destroy(NULL);
    assert_int_equal(shmpool_cond_create(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(shmpool_cond_wait(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_cond_wait_for(NULL, NULL, NULL, 0), -EINVAL);
    assert_int_equal(shmpool_cond_notify(NULL, 1), -EINVAL);
    assert_int_equal(shmpool_cond_notify_all(NULL), -EINVAL);
    assert_null(shmpool_cond_lock(NULL));
    shmpool_cond_destroy(NULL);
    assert_int_equal(shmpool_barrier_create(NULL, NULL, 2), -EINVAL);
    assert_int_equal(shmpool_barrier_wait(NULL, 0), -EINVAL);
    assert_int_equal(shmpool_barrier_reset(NULL), -EINVAL);
    assert_int_equal(shmpool_barrier_abort(NULL), -EINVAL);
    assert_int_equal(shmpool_barrier_n_waiting(NULL), -EINVAL);
    assert_int_equal(shmpool_barrier_parties(NULL), -EINVAL);
    assert_int_equal(shmpool_barrier_broken(NULL), -EINVAL);
    shmpool_barrier_destroy(NULL);
    int x = 0;
    assert_int_equal(shmpool_value_create(NULL, NULL, SHMPOOL_I4, 1, 0), -EINVAL);
    assert_int_equal(shmpool_value_get(NULL, 0, &x), -EINVAL);
    assert_int_equal(shmpool_value_set(NULL, 0, &x), -EINVAL);
    assert_int_equal(shmpool_value_add(NULL, 0, &x, NULL), -EINVAL);
    assert_null(shmpool_value_data(NULL));
    assert_null(shmpool_value_lock(NULL));
    assert_int_equal(shmpool_value_count(NULL), 0);
    shmpool_value_destroy(NULL);

    /* one kind's handle passed to another kind's call is not taken for it */
    shmpool_rlock *rl;
    shmpool_lock *l;
    assert_int_equal(shmpool_rlock_create(&rl, NULL), 0);
    assert_int_equal(shmpool_lock_create(&l, NULL), 0);
    assert_int_equal(shmpool_lock_acquire((shmpool_lock *)rl, 0), -EINVAL);
    assert_int_equal(shmpool_rlock_acquire((shmpool_rlock *)l, 0), -EINVAL);
    shmpool_cond *c;
    assert_int_equal(shmpool_cond_create(&c, NULL, (shmpool_lock *)rl), -EINVAL);
    assert_null(c);
    shmpool_rlock_destroy(rl);
    shmpool_lock_destroy(l);
}

static int hold_lock_then_exit(void *arg) {
    struct scratch *s = arg;
    if (shmpool_lock_acquire(s->lock, -1) != 0)
        return 1;
    atomic_fetch_add(&s->ready, 1);
    sleep_ms(s->iters); /* then die without releasing */
    return 0;
}

static int hold_lock_until_flag(void *arg) {
    struct scratch *s = arg;
    if (shmpool_lock_acquire(s->lock, -1) != 0)
        return 1;
    atomic_fetch_add(&s->ready, 1);
    while (!__atomic_load_n(&s->flag, __ATOMIC_ACQUIRE))
        sleep_ms(1);
    return shmpool_lock_release(s->lock) == 0 ? 0 : 2;
}

static void test_lock_held_by_another_process_times_out_then_is_taken(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_lock_create(&s->lock, NULL), 0);
    pid_t pid = spawn(hold_lock_until_flag, s);
    wait_ready(s, 1);
    assert_int_equal(shmpool_lock_locked(s->lock), 1);
    assert_int_equal(shmpool_lock_acquire(s->lock, 0), -ETIMEDOUT);
    assert_int_equal(shmpool_lock_release(s->lock), -EPERM); /* not ours */
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_lock_acquire(s->lock, 60), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 59);
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELEASE);
    assert_int_equal(shmpool_lock_acquire(s->lock, -1), 0);
    assert_int_equal(reap(pid, BOUND_MS), 0);
    assert_int_equal(shmpool_lock_release(s->lock), 0);
    shmpool_lock_destroy(s->lock);
    scratch_free(s);
}

static void test_lock_of_a_killed_holder_goes_to_the_next_with_eownerdead(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_lock_create(&s->lock, NULL), 0);
    s->iters = 60000;
    pid_t pid = spawn(hold_lock_then_exit, s);
    wait_ready(s, 1);
    kill_and_reap(pid);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_lock_acquire(s->lock, BOUND_MS), -EOWNERDEAD);
    assert_true(now_ms() - t0 < BOUND_MS);
    assert_int_equal(shmpool_lock_consistent(s->lock), 0);
    assert_int_equal(shmpool_lock_consistent(s->lock), -EINVAL);
    assert_int_equal(shmpool_lock_release(s->lock), 0);
    assert_int_equal(shmpool_lock_acquire(s->lock, 0), 0); /* usable again */
    assert_int_equal(shmpool_lock_release(s->lock), 0);
    shmpool_lock_destroy(s->lock);
    scratch_free(s);
}

static void test_lock_waiter_asleep_when_the_holder_dies_gets_eownerdead(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_lock_create(&s->lock, NULL), 0);
    s->iters = 150; /* the holder exits while we sleep on the lock */
    pid_t pid = spawn(hold_lock_then_exit, s);
    wait_ready(s, 1);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_lock_acquire(s->lock, BOUND_MS), -EOWNERDEAD);
    assert_true(now_ms() - t0 < BOUND_MS);
    assert_int_equal(reap(pid, BOUND_MS), 0);
    assert_int_equal(shmpool_lock_consistent(s->lock), 0);
    assert_int_equal(shmpool_lock_release(s->lock), 0);
    shmpool_lock_destroy(s->lock);
    scratch_free(s);
}

static void test_lock_released_without_consistent_is_not_recoverable(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_lock_create(&s->lock, NULL), 0);
    s->iters = 0;
    pid_t pid = spawn(hold_lock_then_exit, s);
    assert_int_equal(reap(pid, BOUND_MS), 0);
    assert_int_equal(shmpool_lock_acquire(s->lock, 0), -EOWNERDEAD); /* a poll looks too */
    /* a condition wait releases it so, and cannot take it back */
    shmpool_cond *c;
    assert_int_equal(shmpool_cond_create(&c, NULL, s->lock), 0);
    assert_int_equal(shmpool_cond_wait(c, 10), -ENOTRECOVERABLE);
    assert_int_equal(shmpool_cond_wait(c, 10), -EPERM);
    shmpool_cond_destroy(c);
    assert_int_equal(shmpool_lock_acquire(s->lock, -1), -ENOTRECOVERABLE);
    assert_int_equal(shmpool_lock_acquire(s->lock, 0), -ENOTRECOVERABLE);
    assert_int_equal(shmpool_lock_release(s->lock), -EPERM);
    assert_int_equal(shmpool_lock_consistent(s->lock), -EINVAL);
    assert_int_equal(shmpool_lock_locked(s->lock), 1);
    shmpool_lock_destroy(s->lock);
    scratch_free(s);
}

static void *thread_takes_lock_and_ends(void *arg) {
    return (void *)(intptr_t)shmpool_lock_acquire(arg, 0);
}

static void *thread_tries_lock(void *arg) {
    return (void *)(intptr_t)shmpool_lock_acquire(arg, 0);
}

static void test_lock_of_a_thread_that_ended_is_taken_over(void **state) {
    (void)state;
    shmpool_lock *l;
    assert_int_equal(shmpool_lock_create(&l, NULL), 0);
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, thread_takes_lock_and_ends, l), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, 0);
    assert_int_equal(shmpool_lock_release(l), -EPERM); /* the thread's, not ours */
    assert_int_equal(shmpool_lock_acquire(l, BOUND_MS), -EOWNERDEAD);
    assert_int_equal(shmpool_lock_consistent(l), 0);
    /* held by this thread: another one times out */
    assert_int_equal(pthread_create(&t, NULL, thread_tries_lock, l), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, -ETIMEDOUT);
    assert_int_equal(shmpool_lock_release(l), 0);
    shmpool_lock_destroy(l);
}

static int hammer_lock(void *arg) {
    struct scratch *s = arg;
    for (int i = 0; i < s->iters; i++) {
        if (shmpool_lock_acquire(s->lock, -1) != 0)
            return 1;
        long c = s->counter; /* a read-modify-write that only the lock makes safe */
        if ((i & 255) == 0)
            sched_yield();
        s->counter = c + 1;
        if (shmpool_lock_release(s->lock) != 0)
            return 2;
    }
    return 0;
}

static void test_lock_many_processes_hammering_one_counter_count_exactly(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_lock_create(&s->lock, NULL), 0);
    enum { NPROC = 6 };
    s->iters = running_on_valgrind() ? 2000 : 40000;
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++)
        pids[i] = spawn(hammer_lock, s);
    for (int i = 0; i < NPROC; i++)
        assert_int_equal(reap(pids[i], 60000), 0);
    assert_int_equal(s->counter, (long)NPROC * s->iters);
    assert_int_equal(shmpool_lock_locked(s->lock), 0);
    shmpool_lock_destroy(s->lock);
    scratch_free(s);
}

/* ================================================================================== RLock */

static void *thread_tries_rlock(void *arg) {
    return (void *)(intptr_t)shmpool_rlock_acquire(arg, 0);
}

static void test_rlock_is_reentrant_and_released_as_often_as_taken(void **state) {
    (void)state;
    shmpool_rlock *l;
    assert_int_equal(shmpool_rlock_create(&l, NULL), 0);
    assert_int_equal(shmpool_rlock_release(l), -EPERM);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmpool_rlock_acquire(l, 0), 0);
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, thread_tries_rlock, l), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((int)(intptr_t)ret, -ETIMEDOUT);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shmpool_rlock_release(l), 0);
    assert_int_equal(shmpool_rlock_release(l), -EPERM);
    assert_int_equal(shmpool_rlock_consistent(l), -EINVAL);
    assert_int_equal(shmpool_rlock_acquire(l, -1), 0);
    assert_int_equal(shmpool_rlock_release(l), 0);
    shmpool_rlock_destroy(l);
}

static int hold_rlock_twice_then_exit(void *arg) {
    struct scratch *s = arg;
    if (shmpool_rlock_acquire(s->rlock, -1) != 0 || shmpool_rlock_acquire(s->rlock, -1) != 0)
        return 1;
    return 0;
}

static void test_rlock_of_a_dead_holder_is_taken_over_at_depth_one(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_rlock_create(&s->rlock, NULL), 0);
    pid_t pid = spawn(hold_rlock_twice_then_exit, s);
    assert_int_equal(reap(pid, BOUND_MS), 0);
    assert_int_equal(shmpool_rlock_acquire(s->rlock, BOUND_MS), -EOWNERDEAD);
    assert_int_equal(shmpool_rlock_consistent(s->rlock), 0);
    assert_int_equal(shmpool_rlock_acquire(s->rlock, 0), 0);
    assert_int_equal(shmpool_rlock_release(s->rlock), 0);
    assert_int_equal(shmpool_rlock_release(s->rlock), 0); /* depth 1, not the dead holder's 2 */
    assert_int_equal(shmpool_rlock_release(s->rlock), -EPERM);
    shmpool_rlock_destroy(s->rlock);
    scratch_free(s);
}

/* ================================================================================== Semaphore */

static void test_sem_counts_times_out_and_reports_its_value(void **state) {
    (void)state;
    shmpool_sem *s;
    assert_int_equal(shmpool_sem_create(&s, NULL, 2, 0), 0);
    assert_int_equal(shmpool_sem_value(s), 2);
    assert_int_equal(shmpool_sem_acquire(s, 0), 0);
    assert_int_equal(shmpool_sem_acquire(s, -1), 0);
    assert_int_equal(shmpool_sem_value(s), 0);
    assert_int_equal(shmpool_sem_acquire(s, 0), -ETIMEDOUT);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_sem_acquire(s, 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 49);
    for (int i = 0; i < 5; i++) /* unbounded: above the initial value is fine */
        assert_int_equal(shmpool_sem_release(s), 0);
    assert_int_equal(shmpool_sem_value(s), 5);
    shmpool_sem_destroy(s);

    assert_int_equal(shmpool_sem_create(&s, NULL, SHMPOOL_SEM_VALUE_MAX, 0), 0);
    assert_int_equal(shmpool_sem_release(s), -EOVERFLOW);
    shmpool_sem_destroy(s);
    assert_int_equal(shmpool_sem_create(&s, NULL, (unsigned)SHMPOOL_SEM_VALUE_MAX + 1, 0), -EINVAL);
    assert_null(s);
    assert_int_equal(shmpool_sem_create(&s, NULL, 1, 0x80), -EINVAL);
}

static void test_bounded_sem_refuses_a_release_above_its_initial_value(void **state) {
    (void)state;
    shmpool_sem *s;
    assert_int_equal(shmpool_sem_create(&s, NULL, 1, SHMPOOL_SEM_BOUNDED), 0);
    assert_int_equal(shmpool_sem_release(s), -EOVERFLOW);
    assert_int_equal(shmpool_sem_value(s), 1);
    assert_int_equal(shmpool_sem_acquire(s, 0), 0);
    assert_int_equal(shmpool_sem_release(s), 0);
    assert_int_equal(shmpool_sem_release(s), -EOVERFLOW);
    shmpool_sem_destroy(s);
}

static int sem_take_then_signal(void *arg) {
    struct scratch *s = arg;
    atomic_fetch_add(&s->ready, 1);
    if (shmpool_sem_acquire(s->sem, BOUND_MS) != 0)
        return 1;
    return 0;
}

static void test_sem_release_wakes_waiters_in_other_processes(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_sem_create(&s->sem, NULL, 0, 0), 0);
    pid_t a = spawn(sem_take_then_signal, s), b = spawn(sem_take_then_signal, s);
    wait_ready(s, 2);
    sleep_ms(50); /* let them fall asleep */
    assert_int_equal(shmpool_sem_release(s->sem), 0);
    assert_int_equal(shmpool_sem_release(s->sem), 0);
    assert_int_equal(reap(a, BOUND_MS), 0);
    assert_int_equal(reap(b, BOUND_MS), 0);
    assert_int_equal(shmpool_sem_value(s->sem), 0);
    shmpool_sem_destroy(s->sem);
    scratch_free(s);
}

/* ================================================================================== Event */

static void test_event_set_clear_is_set_and_wait_timeouts(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool_event *e;
    assert_int_equal(shmpool_event_create(&e, NULL), 0);
    assert_int_equal(shmpool_event_is_set(e), 0);
    assert_int_equal(shmpool_event_wait(e, 0), -ETIMEDOUT);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_event_wait(e, 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 49);
    assert_int_equal(shmpool_event_set(e), 0);
    assert_int_equal(shmpool_event_set(e), 0); /* twice is once */
    assert_int_equal(shmpool_event_is_set(e), 1);
    assert_int_equal(shmpool_event_wait(e, 0), 0);
    assert_int_equal(shmpool_event_wait(e, -1), 0);
    assert_int_equal(shmpool_event_clear(e), 0);
    assert_int_equal(shmpool_event_is_set(e), 0);
    assert_int_equal(shmpool_event_wait(e, 1), -ETIMEDOUT);
    shmpool_event_destroy(e);
    assert_true(resources_same(&before));
}

static int wait_event(void *arg) {
    struct scratch *s = arg;
    atomic_fetch_add(&s->ready, 1);
    return shmpool_event_wait(s->ev, -1) == 0 ? 0 : 1; /* reap() bounds it */
}

static void test_event_set_starts_every_waiting_process(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_event_create(&s->ev, NULL), 0);
    enum { N = 5 };
    pid_t pids[N];
    for (int i = 0; i < N; i++)
        pids[i] = spawn(wait_event, s);
    wait_ready(s, N);
    sleep_ms(50); /* past their spin: asleep on the futex */
    assert_int_equal(shmpool_event_set(s->ev), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(reap(pids[i], BOUND_MS), 0);
    shmpool_event_destroy(s->ev);
    scratch_free(s);
}

/* ================================================================================== Condition */

static int flag_is_set(void *arg) {
    return __atomic_load_n(&((struct scratch *)arg)->flag, __ATOMIC_RELAXED);
}

static void test_cond_wait_times_out_holding_the_lock_and_needs_it(void **state) {
    (void)state;
    shmpool_cond *c;
    assert_int_equal(shmpool_cond_create(&c, NULL, NULL), 0);
    shmpool_lock *l = shmpool_cond_lock(c);
    assert_non_null(l);
    assert_int_equal(shmpool_cond_wait(c, 10), -EPERM);
    assert_int_equal(shmpool_cond_notify(c, 1), -EPERM);
    assert_int_equal(shmpool_cond_notify_all(c), -EPERM);
    assert_int_equal(shmpool_cond_wait_for(c, flag_is_set, NULL, 0), -EPERM);
    assert_int_equal(shmpool_lock_acquire(l, 0), 0);
    assert_int_equal(shmpool_cond_wait(c, 0), -ETIMEDOUT);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_cond_wait(c, 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 49);
    assert_int_equal(shmpool_lock_locked(l), 1);
    assert_int_equal(shmpool_cond_notify(c, 1), 0); /* nobody waits: nothing to do */
    assert_int_equal(shmpool_cond_notify_all(c), 0);
    struct scratch one = {.flag = 1}, zero = {.flag = 0};
    assert_int_equal(shmpool_cond_wait_for(c, flag_is_set, &one, 0), 0);
    assert_int_equal(shmpool_cond_wait_for(c, flag_is_set, &zero, 30), -ETIMEDOUT);
    assert_int_equal(shmpool_cond_wait_for(c, NULL, NULL, 0), -EINVAL);
    assert_int_equal(shmpool_lock_release(l), 0);
    shmpool_lock_destroy(l); /* the condition's own: ignored */
    shmpool_cond_destroy(c);

    shmpool_lock *mine;
    assert_int_equal(shmpool_lock_create(&mine, NULL), 0);
    assert_int_equal(shmpool_cond_create(&c, NULL, mine), 0);
    assert_ptr_equal(shmpool_cond_lock(c), mine);
    shmpool_cond_destroy(c);
    shmpool_lock_destroy(mine);
}

static int cond_wait_for_flag(void *arg) {
    struct scratch *s = arg;
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    if (shmpool_lock_acquire(l, -1) != 0)
        return 1;
    atomic_fetch_add(&s->ready, 1);
    int rc = shmpool_cond_wait_for(s->cond, flag_is_set, s, -1); /* reap() bounds it */
    if (rc == -EOWNERDEAD)
        return 3; /* taken over from a dead holder: the lock is ours, inconsistent */
    if (rc != 0)
        return 2;
    s->counter++;
    return shmpool_lock_release(l) == 0 ? 0 : 4;
}

static void set_flag_and_notify(struct scratch *s, int all) {
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    assert_int_equal(shmpool_lock_acquire(l, -1), 0);
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELAXED);
    assert_int_equal(all ? shmpool_cond_notify_all(s->cond) : shmpool_cond_notify(s->cond, 1), 0);
    assert_int_equal(shmpool_lock_release(l), 0);
}

/* All N are inside wait once they counted themselves ready and the lock is free again. */
static void wait_in_cond(struct scratch *s, int n) {
    wait_ready(s, n);
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    assert_int_equal(shmpool_lock_acquire(l, BOUND_MS), 0);
    assert_int_equal(shmpool_lock_release(l), 0);
    sleep_ms(50); /* and asleep: a notify must wake them, not find them on their way */
}

static void test_cond_notify_wakes_one_and_notify_all_every_waiter(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_cond_create(&s->cond, NULL, NULL), 0);
    pid_t a = spawn(cond_wait_for_flag, s);
    wait_in_cond(s, 1);
    set_flag_and_notify(s, 0);
    assert_int_equal(reap(a, BOUND_MS), 0);
    assert_int_equal(s->counter, 1);

    __atomic_store_n(&s->flag, 0, __ATOMIC_RELAXED);
    atomic_store(&s->ready, 0);
    enum { N = 4 };
    pid_t pids[N];
    for (int i = 0; i < N; i++)
        pids[i] = spawn(cond_wait_for_flag, s);
    wait_in_cond(s, N);
    set_flag_and_notify(s, 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(reap(pids[i], BOUND_MS), 0);
    assert_int_equal(s->counter, 1 + N);
    shmpool_cond_destroy(s->cond);
    scratch_free(s);
}

static void test_cond_waiter_killed_inside_wait_does_not_hang_the_others(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_cond_create(&s->cond, NULL, NULL), 0);
    pid_t victim = spawn(cond_wait_for_flag, s);
    pid_t other = spawn(cond_wait_for_flag, s);
    wait_in_cond(s, 2);
    kill_and_reap(victim);
    set_flag_and_notify(s, 1);
    assert_int_equal(reap(other, BOUND_MS), 0);
    assert_int_equal(s->counter, 1);
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    assert_int_equal(shmpool_lock_acquire(l, 0), 0); /* the dead waiter held nothing */
    assert_int_equal(shmpool_lock_release(l), 0);
    shmpool_cond_destroy(s->cond);
    scratch_free(s);
}

static int notify_then_die_holding_the_lock(void *arg) {
    struct scratch *s = arg;
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    if (shmpool_lock_acquire(l, -1) != 0)
        return 1;
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELAXED);
    shmpool_cond_notify_all(s->cond);
    return 0; /* exits holding the lock */
}

static void test_cond_waiter_gets_eownerdead_when_the_notifier_dies_holding_the_lock(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_cond_create(&s->cond, NULL, NULL), 0);
    pid_t waiter = spawn(cond_wait_for_flag, s);
    wait_in_cond(s, 1);
    pid_t notifier = spawn(notify_then_die_holding_the_lock, s);
    assert_int_equal(reap(notifier, BOUND_MS), 0);
    assert_int_equal(reap(waiter, BOUND_MS), 3);
    /* the waiter too exited holding it, inconsistent: we get it the same way */
    shmpool_lock *l = shmpool_cond_lock(s->cond);
    assert_int_equal(shmpool_lock_acquire(l, BOUND_MS), -EOWNERDEAD);
    assert_int_equal(shmpool_lock_consistent(l), 0);
    assert_int_equal(shmpool_lock_release(l), 0);
    shmpool_cond_destroy(s->cond);
    scratch_free(s);
}

/* ================================================================================== Barrier */

static int barrier_rounds(void *arg) {
    struct scratch *s = arg;
    int seen = 0;
    for (int r = 0; r < s->iters; r++) {
        int idx = shmpool_barrier_wait(s->bar, BOUND_MS);
        if (idx < 0 || idx >= 3)
            return 1;
        seen |= 1 << idx;
        if (shmpool_value_add(s->val, (size_t)idx, &(int64_t){1}, NULL) != 0)
            return 2;
    }
    (void)seen;
    return 0;
}

static void test_barrier_trips_when_all_parties_arrive_with_distinct_indexes(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_barrier_create(&s->bar, NULL, 3), 0);
    assert_int_equal(shmpool_value_create(&s->val, NULL, SHMPOOL_I8, 3, 0), 0);
    assert_int_equal(shmpool_barrier_parties(s->bar), 3);
    assert_int_equal(shmpool_barrier_n_waiting(s->bar), 0);
    assert_int_equal(shmpool_barrier_broken(s->bar), 0);
    s->iters = 50;
    pid_t a = spawn(barrier_rounds, s), b = spawn(barrier_rounds, s);
    assert_int_equal(barrier_rounds(s), 0);
    assert_int_equal(reap(a, BOUND_MS), 0);
    assert_int_equal(reap(b, BOUND_MS), 0);
    /* each round hands out 0, 1 and 2 once */
    for (size_t i = 0; i < 3; i++) {
        int64_t n = 0;
        assert_int_equal(shmpool_value_get(s->val, i, &n), 0);
        assert_int_equal(n, s->iters);
    }
    assert_int_equal(shmpool_barrier_broken(s->bar), 0);
    shmpool_value_destroy(s->val);
    shmpool_barrier_destroy(s->bar);
    scratch_free(s);

    shmpool_barrier *one;
    assert_int_equal(shmpool_barrier_create(&one, NULL, 1), 0);
    assert_int_equal(shmpool_barrier_wait(one, 0), 0); /* one party: trips at once */
    assert_int_equal(shmpool_barrier_wait(one, -1), 0);
    shmpool_barrier_destroy(one);
    assert_int_equal(shmpool_barrier_create(&one, NULL, 0), -EINVAL);
    assert_null(one);
    assert_int_equal(shmpool_barrier_create(&one, NULL, 65537), -EINVAL);
}

static void test_barrier_timeout_breaks_it_until_reset(void **state) {
    (void)state;
    shmpool_barrier *b;
    assert_int_equal(shmpool_barrier_create(&b, NULL, 2), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_barrier_wait(b, 50), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 49);
    assert_int_equal(shmpool_barrier_broken(b), 1);
    assert_int_equal(shmpool_barrier_wait(b, -1), SHMPOOL_EBROKEN);
    assert_int_equal(shmpool_barrier_n_waiting(b), 0);
    assert_int_equal(shmpool_barrier_reset(b), 0);
    assert_int_equal(shmpool_barrier_broken(b), 0);
    assert_int_equal(shmpool_barrier_wait(b, 0), -ETIMEDOUT); /* a poll that is not the last */
    assert_int_equal(shmpool_barrier_abort(b), 0);
    assert_int_equal(shmpool_barrier_wait(b, 0), SHMPOOL_EBROKEN);
    assert_int_equal(shmpool_barrier_reset(b), 0);
    assert_int_equal(shmpool_barrier_broken(b), 0);
    assert_non_null(strstr(shmpool_strerror(SHMPOOL_EBROKEN), "barrier is broken"));
    shmpool_barrier_destroy(b);
}

static int barrier_wait_expect_broken(void *arg) {
    struct scratch *s = arg;
    atomic_fetch_add(&s->ready, 1);
    int rc = shmpool_barrier_wait(s->bar, -1); /* only a break can end it */
    return rc == SHMPOOL_EBROKEN ? 0 : 1;
}

static void wait_n_waiting(shmpool_barrier *b, int n) {
    uint64_t end = now_ms() + BOUND_MS;
    while (shmpool_barrier_n_waiting(b) < n) {
        assert_true(now_ms() < end);
        sleep_ms(1);
    }
}

static void test_barrier_abort_and_reset_give_waiters_ebroken(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_barrier_create(&s->bar, NULL, 3), 0);
    pid_t a = spawn(barrier_wait_expect_broken, s), b = spawn(barrier_wait_expect_broken, s);
    wait_n_waiting(s->bar, 2);
    assert_int_equal(shmpool_barrier_abort(s->bar), 0);
    assert_int_equal(reap(a, BOUND_MS), 0);
    assert_int_equal(reap(b, BOUND_MS), 0);
    assert_int_equal(shmpool_barrier_broken(s->bar), 1);
    assert_int_equal(shmpool_barrier_reset(s->bar), 0);

    a = spawn(barrier_wait_expect_broken, s);
    wait_n_waiting(s->bar, 1);
    assert_int_equal(shmpool_barrier_reset(s->bar), 0);
    assert_int_equal(reap(a, BOUND_MS), 0);
    assert_int_equal(shmpool_barrier_broken(s->bar), 0); /* reset: usable at once */
    assert_int_equal(shmpool_barrier_n_waiting(s->bar), 0);
    shmpool_barrier_destroy(s->bar);
    scratch_free(s);
}

static int barrier_wait_forever(void *arg) {
    struct scratch *s = arg;
    shmpool_barrier_wait(s->bar, -1);
    return 9;
}

static void test_barrier_party_killed_while_waiting_breaks_it(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_barrier_create(&s->bar, NULL, 4), 0);
    /* the victim arrives second, between two that stay: both must learn of it */
    pid_t first = spawn(barrier_wait_expect_broken, s);
    wait_n_waiting(s->bar, 1);
    pid_t victim = spawn(barrier_wait_forever, s);
    wait_n_waiting(s->bar, 2);
    pid_t third = spawn(barrier_wait_expect_broken, s);
    wait_n_waiting(s->bar, 3);
    kill_and_reap(victim);
    uint64_t t0 = now_ms();
    assert_int_equal(reap(first, BOUND_MS), 0);
    assert_int_equal(reap(third, BOUND_MS), 0);
    assert_true(now_ms() - t0 < BOUND_MS);
    assert_int_equal(shmpool_barrier_broken(s->bar), 1);
    assert_int_equal(shmpool_barrier_wait(s->bar, -1), SHMPOOL_EBROKEN);

    /* the last to wait dies: the first (its successor in the ring) finds it */
    assert_int_equal(shmpool_barrier_reset(s->bar), 0);
    first = spawn(barrier_wait_expect_broken, s);
    wait_n_waiting(s->bar, 1);
    victim = spawn(barrier_wait_forever, s);
    wait_n_waiting(s->bar, 2);
    kill_and_reap(victim);
    assert_int_equal(reap(first, BOUND_MS), 0);
    assert_int_equal(shmpool_barrier_broken(s->bar), 1);
    shmpool_barrier_destroy(s->bar);
    scratch_free(s);
}

/* ============================================================================= Value, Array */

static void test_value_get_set_add_every_dtype_with_and_without_lock(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    for (unsigned flags = 0; flags <= SHMPOOL_VALUE_LOCK; flags++) {
        shmpool_value *v;
        assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_F8, 1, flags), 0);
        double d = 0, old = -1;
        assert_int_equal(shmpool_value_get(v, 0, &d), 0);
        assert_true(d == 0.0);
        assert_int_equal(shmpool_value_set(v, 0, &(double){1.5}), 0);
        assert_int_equal(shmpool_value_add(v, 0, &(double){0.25}, &old), 0);
        assert_true(old == 1.5);
        assert_int_equal(shmpool_value_get(v, 0, &d), 0);
        assert_true(d == 1.75);
        assert_int_equal(shmpool_value_get(v, 1, &d), -ERANGE);
        assert_int_equal(shmpool_value_set(v, 1, &d), -ERANGE);
        assert_int_equal(shmpool_value_add(v, 1, &d, NULL), -ERANGE);
        assert_int_equal(shmpool_value_get(v, 0, NULL), -EINVAL);
        assert_int_equal(shmpool_value_set(v, 0, NULL), -EINVAL);
        assert_int_equal(shmpool_value_add(v, 0, NULL, NULL), -EINVAL);
        if (flags)
            assert_non_null(shmpool_value_lock(v));
        else
            assert_null(shmpool_value_lock(v));
        assert_int_equal(shmpool_value_count(v), 1);
        shmpool_value_destroy(v);

        assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_F4, 3, flags), 0);
        float f = 0, fo = 0;
        assert_int_equal(shmpool_value_set(v, 2, &(float){2.5f}), 0);
        assert_int_equal(shmpool_value_add(v, 2, &(float){-1.0f}, &fo), 0);
        assert_int_equal(shmpool_value_get(v, 2, &f), 0);
        assert_true(fo == 2.5f && f == 1.5f);
        shmpool_value_destroy(v);

        /* integers of every width, wrapping like C's unsigned */
        const shmpool_dtype ints[] = {SHMPOOL_I8, SHMPOOL_I4, SHMPOOL_I2, SHMPOOL_I1,
                                      SHMPOOL_U8, SHMPOOL_U4, SHMPOOL_U2, SHMPOOL_U1};
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            size_t sz = shmpool_dtype_size(ints[k]);
            assert_int_equal(shmpool_value_create(&v, NULL, ints[k], 4, flags), 0);
            unsigned char one[8] = {1}, ff[8], got[8] = {0}, prev[8] = {0};
            memset(ff, 0xff, sizeof ff); /* -1, or the type's maximum */
            assert_int_equal(shmpool_value_set(v, 3, ff), 0);
            assert_int_equal(shmpool_value_add(v, 3, one, prev), 0);
            assert_memory_equal(prev, ff, sz);
            assert_int_equal(shmpool_value_get(v, 3, got), 0);
            unsigned char zero[8] = {0};
            assert_memory_equal(got, zero, sz);
            assert_int_equal(shmpool_value_add(v, 0, one, NULL), 0);
            assert_int_equal(shmpool_value_add(v, 0, one, NULL), 0);
            assert_int_equal(shmpool_value_get(v, 0, got), 0);
            assert_int_equal(got[0], 2);
            /* the raw elements agree */
            assert_int_equal(((unsigned char *)shmpool_value_data(v))[0], 2);
            assert_int_equal((uintptr_t)shmpool_value_data(v) % 64, 0);
            shmpool_value_destroy(v);
        }

        assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_BOOL, 2, flags), 0);
        unsigned char t = 1, g = 0;
        assert_int_equal(shmpool_value_set(v, 1, &t), 0);
        assert_int_equal(shmpool_value_get(v, 1, &g), 0);
        assert_int_equal(g, 1);
        assert_int_equal(shmpool_value_add(v, 1, &t, NULL), -EINVAL);
        shmpool_value_destroy(v);
    }
    assert_true(resources_same(&before));
}

static void test_value_create_rejects_bad_arguments(void **state) {
    (void)state;
    shmpool_value *v;
    assert_int_equal(shmpool_value_create(&v, NULL, (shmpool_dtype)0, 1, 0), -EINVAL);
    assert_null(v);
    assert_int_equal(shmpool_value_create(&v, NULL, (shmpool_dtype)99, 1, 0), -EINVAL);
    assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_I4, 0, 0), -EINVAL);
    assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_I4, 1, 0x10), -EINVAL);
    assert_int_equal(shmpool_value_create(&v, NULL, SHMPOOL_F8, SIZE_MAX / 4, 0), -EOVERFLOW);
}

static int add_many(void *arg) {
    struct scratch *s = arg;
    for (int i = 0; i < s->iters; i++) {
        if (shmpool_value_add(s->val, 0, &(int64_t){1}, NULL) != 0 ||
            shmpool_value_add(s->val, 1, &(int64_t){-1}, NULL) != 0)
            return 1;
    }
    return 0;
}

static int add_many_f8(void *arg) {
    struct scratch *s = arg;
    for (int i = 0; i < s->iters; i++)
        if (shmpool_value_add(s->val, 0, &(double){0.5}, NULL) != 0)
            return 1;
    return 0;
}

static void test_value_add_from_many_processes_is_exact(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    enum { NPROC = 5 };
    s->iters = running_on_valgrind() ? 2000 : 50000;
    pid_t pids[NPROC];
    for (unsigned flags = 0; flags <= SHMPOOL_VALUE_LOCK; flags++) {
        assert_int_equal(shmpool_value_create(&s->val, NULL, SHMPOOL_I8, 2, flags), 0);
        for (int i = 0; i < NPROC; i++)
            pids[i] = spawn(add_many, s);
        for (int i = 0; i < NPROC; i++)
            assert_int_equal(reap(pids[i], 60000), 0);
        int64_t up = 0, down = 0;
        assert_int_equal(shmpool_value_get(s->val, 0, &up), 0);
        assert_int_equal(shmpool_value_get(s->val, 1, &down), 0);
        assert_int_equal(up, (int64_t)NPROC * s->iters);
        assert_int_equal(down, -(int64_t)NPROC * s->iters);
        shmpool_value_destroy(s->val);

        /* doubles: a compare-and-swap loop without the lock; halves add up exactly */
        assert_int_equal(shmpool_value_create(&s->val, NULL, SHMPOOL_F8, 1, flags), 0);
        for (int i = 0; i < NPROC; i++)
            pids[i] = spawn(add_many_f8, s);
        for (int i = 0; i < NPROC; i++)
            assert_int_equal(reap(pids[i], 60000), 0);
        double d = 0;
        assert_int_equal(shmpool_value_get(s->val, 0, &d), 0);
        assert_true(d == 0.5 * NPROC * s->iters);
        shmpool_value_destroy(s->val);
    }
    scratch_free(s);
}

static int die_inside_the_values_lock(void *arg) {
    struct scratch *s = arg;
    if (shmpool_lock_acquire(shmpool_value_lock(s->val), -1) != 0)
        return 1;
    int32_t *a = shmpool_value_data(s->val);
    a[0] = 7; /* half of a bulk update: a[1] never gets its 7 */
    return 0;
}

static void test_array_bulk_update_under_its_lock_and_a_holder_that_dies(void **state) {
    (void)state;
    struct scratch *s = scratch_new();
    assert_int_equal(shmpool_value_create(&s->val, NULL, SHMPOOL_I4, 2, SHMPOOL_VALUE_LOCK), 0);
    pid_t pid = spawn(die_inside_the_values_lock, s);
    assert_int_equal(reap(pid, BOUND_MS), 0);
    int32_t x = -1;
    /* done, and told that a holder died: the elements may disagree */
    assert_int_equal(shmpool_value_get(s->val, 1, &x), -EOWNERDEAD);
    assert_int_equal(x, 0);
    assert_int_equal(shmpool_value_get(s->val, 0, &x), 0); /* the lock is consistent again */
    assert_int_equal(x, 7);
    shmpool_lock *l = shmpool_value_lock(s->val);
    assert_int_equal(shmpool_lock_acquire(l, 0), 0);
    assert_int_equal(shmpool_value_get(s->val, 0, &x), -EDEADLK); /* use the data under it */
    int32_t *a = shmpool_value_data(s->val);
    a[1] = a[0];
    assert_int_equal(shmpool_lock_release(l), 0);
    assert_int_equal(shmpool_value_get(s->val, 1, &x), 0);
    assert_int_equal(x, 7);
    shmpool_lock_destroy(l); /* the value's own: ignored */
    shmpool_value_destroy(s->val);
    scratch_free(s);
}

/* ================================================================================== in a pool */

struct in_pool {
    shmpool_lock *lock;
    shmpool_value *hits;
    long counter;
};

static int count_under_lock(void *ctx, size_t begin, size_t end) {
    struct in_pool *p = ctx;
    for (size_t i = begin; i < end; i++) {
        int rc = shmpool_lock_acquire(p->lock, -1);
        if (rc)
            return rc;
        p->counter++;
        shmpool_lock_release(p->lock);
        if ((rc = shmpool_value_add(p->hits, 0, &(int64_t){1}, NULL)) != 0)
            return rc;
    }
    return 0;
}

static void test_sync_objects_in_pool_memory_work_in_its_workers(void **state) {
    (void)state;
    shmpool *pool;
    shmpool_options opt = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    assert_int_equal(shmpool_create(&pool, &opt), 0);
    struct in_pool *p = shmpool_alloc(pool, sizeof *p);
    assert_non_null(p);
    assert_int_equal(shmpool_lock_create(&p->lock, pool), 0);
    assert_int_equal(shmpool_value_create(&p->hits, pool, SHMPOOL_I8, 1, 0), 0);
    size_t n = running_on_valgrind() ? 2000 : 100000;
    assert_int_equal(shmpool_for(pool, count_under_lock, p, n, 64), 0);
    assert_int_equal(p->counter, (long)n);
    int64_t hits = 0;
    assert_int_equal(shmpool_value_get(p->hits, 0, &hits), 0);
    assert_int_equal(hits, (int64_t)n);
    shmpool_value_destroy(p->hits);
    shmpool_lock_destroy(p->lock);
    shmpool_sem *sm;
    shmpool_event *ev;
    shmpool_cond *cv;
    shmpool_barrier *br;
    shmpool_rlock *rl;
    assert_int_equal(shmpool_sem_create(&sm, pool, 1, 0), 0);
    assert_int_equal(shmpool_event_create(&ev, pool), 0);
    assert_int_equal(shmpool_cond_create(&cv, pool, NULL), 0);
    assert_int_equal(shmpool_barrier_create(&br, pool, 2), 0);
    assert_int_equal(shmpool_rlock_create(&rl, pool), 0);
    assert_true(shmpool_alloc_size(pool, sm) > 0 && shmpool_alloc_size(pool, br) > 0);
    shmpool_sem_destroy(sm);
    shmpool_event_destroy(ev);
    shmpool_cond_destroy(cv);
    shmpool_barrier_destroy(br);
    shmpool_rlock_destroy(rl);
    assert_int_equal(shmpool_alloc_size(pool, sm), 0); /* given back to the pool */
    shmpool_free(pool, p);
    assert_int_equal(shmpool_close(pool), 0);
    shmpool_lock *l;
    assert_int_equal(shmpool_lock_create(&l, pool), -ESHUTDOWN);
    assert_null(l);
    shmpool_destroy(pool);
}

#define T(f) cmocka_unit_test_teardown(f, end_kids)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_lock_acquire_release_locked_and_misuse_codes),
        T(test_sync_calls_reject_null_and_foreign_handles),
        T(test_lock_held_by_another_process_times_out_then_is_taken),
        T(test_lock_of_a_killed_holder_goes_to_the_next_with_eownerdead),
        T(test_lock_waiter_asleep_when_the_holder_dies_gets_eownerdead),
        T(test_lock_released_without_consistent_is_not_recoverable),
        T(test_lock_of_a_thread_that_ended_is_taken_over),
        T(test_lock_many_processes_hammering_one_counter_count_exactly),
        T(test_rlock_is_reentrant_and_released_as_often_as_taken),
        T(test_rlock_of_a_dead_holder_is_taken_over_at_depth_one),
        T(test_sem_counts_times_out_and_reports_its_value),
        T(test_bounded_sem_refuses_a_release_above_its_initial_value),
        T(test_sem_release_wakes_waiters_in_other_processes),
        T(test_event_set_clear_is_set_and_wait_timeouts),
        T(test_event_set_starts_every_waiting_process),
        T(test_cond_wait_times_out_holding_the_lock_and_needs_it),
        T(test_cond_notify_wakes_one_and_notify_all_every_waiter),
        T(test_cond_waiter_killed_inside_wait_does_not_hang_the_others),
        T(test_cond_waiter_gets_eownerdead_when_the_notifier_dies_holding_the_lock),
        T(test_barrier_trips_when_all_parties_arrive_with_distinct_indexes),
        T(test_barrier_timeout_breaks_it_until_reset),
        T(test_barrier_abort_and_reset_give_waiters_ebroken),
        T(test_barrier_party_killed_while_waiting_breaks_it),
        T(test_value_get_set_add_every_dtype_with_and_without_lock),
        T(test_value_create_rejects_bad_arguments),
        T(test_value_add_from_many_processes_is_exact),
        T(test_array_bulk_update_under_its_lock_and_a_holder_that_dies),
        T(test_sync_objects_in_pool_memory_work_in_its_workers),
    };
    return test_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
