/* The lifetime of a pool's processes outside the happy path: the program exec()s without destroy,
 * its whole process group is killed, the helper dies (under a child subreaper, with a worker's pid
 * taken by a stranger), a worker is stopped or killed at the wrong moment, the helper cannot fork.
 * Most cases run in a forked child, which reports by its exit status, so that what it does to its
 * limits, ids or signals stays there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "helpers.h"
#include "shmpool.h"
#include "state.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int nap_task(const void *in, void *out, void *ctx) {
    (void)out, (void)ctx;
    sleep_ms(*(const int *)in);
    return 0;
}

static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int *)out = 2 * *(const int *)in;
    return 0;
}

/* Polls up to `ms` for every pid in `pids` to be gone and no /dev/shm name of `parent` to be left. */
static int all_gone_within(const pid_t *pids, int n, pid_t parent, int ms) {
    for (int t = 0; t < ms; t += 10) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += pids[i] > 0 && !process_gone(pids[i]);
        if (!alive && shm_segments_of(parent) == 0)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

/* Names a failed test would leave: removed, so the suite leaves nothing. */
static void remove_names_of(pid_t parent) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -f /dev/shm/shmpool.%d.*", (int)parent);
    if (system(cmd) != 0)
        fprintf(stderr, "could not run: %s\n", cmd);
}

struct pool_pids {
    pid_t helper, workers[2];
};

/* A child that makes a pool with one busy worker (so a block it allocates keeps its name), sends
   the pool's pids up `fd`, then does `then`. */
static void child_with_busy_pool(int fd, void (*then)(shmpool *)) {
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o) != 0)
        _exit(2);
    shmpool_result *r;
    int ms = 30000;
    if (shmpool_apply_async(p, nap_task, NULL, &ms, sizeof ms, NULL, 0, &r) != 0)
        _exit(3);
    sleep_ms(50);
    if (!shmpool_alloc(p, 1 << 20)) /* its name stays: the worker cannot map it while busy */
        _exit(4);
    struct pool_pids pp = {atomic_load(&p->helper_pid), {atomic_load(&cb_worker(p->cb, 0)->pid), 0}};
    if (write(fd, &pp, sizeof pp) != (ssize_t)sizeof pp)
        _exit(5);
    then(p);
    _exit(6);
}

static void exec_sleep(shmpool *p) {
    (void)p;
    execl("/bin/sleep", "sleep", "5", (char *)NULL);
    _exit(7);
}

static void wait_for_ever(shmpool *p) {
    (void)p;
    for (;;)
        pause();
}

/* exec() without destroy: the helper sees its lifeline cut, ends the workers and removes every
   name, although the parent's pid lives on (before: helper and workers lived on under the new
   image, holding /dev/shm, and a wait() there blocked for ever). */
static void test_exec_without_destroy_ends_the_pool(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        child_with_busy_pool(fds[1], exec_sleep);
    }
    close(fds[1]);
    struct pool_pids pp;
    assert_int_equal(read(fds[0], &pp, sizeof pp), sizeof pp);
    close(fds[0]);
    pid_t pids[2] = {pp.helper, pp.workers[0]};
    int gone = all_gone_within(pids, 2, child, 3000);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (!gone) {
        kill(pp.helper, SIGKILL);
        kill(pp.workers[0], SIGKILL);
        remove_names_of(child);
    }
    assert_true(gone);
}

/* SIGKILL to the program's whole process group (a shell's job control, a supervisor): the helper
   runs in a group of its own, outlives the parent and cleans up (before: it died with the group and
   the names stayed until `shmpool clean`). */
static void test_a_sigkill_to_the_program_s_process_group_leaves_nothing(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        setpgid(0, 0);
        child_with_busy_pool(fds[1], wait_for_ever);
    }
    close(fds[1]);
    setpgid(child, child); /* either may run first */
    struct pool_pids pp;
    assert_int_equal(read(fds[0], &pp, sizeof pp), sizeof pp);
    close(fds[0]);
    assert_int_equal(shm_segments_of(child) > 0, 1);
    assert_int_equal(kill(-child, SIGKILL), 0);
    waitpid(child, NULL, 0);
    pid_t pids[2] = {pp.helper, pp.workers[0]};
    int gone = all_gone_within(pids, 2, child, 3000);
    if (!gone)
        remove_names_of(child);
    assert_true(gone);
}

/* The helper dies: the next call says SHMPOOL_EHELPER at once, the workers (our children here: we
   are a child subreaper) are reaped, and a stranger that took a worker's pid is never signalled.
   Before: zombies kept kill() succeeding for a second, stayed zombies, and the pid was SIGKILLed
   whoever had it. Exit codes say what failed. */
static int helper_death_child(void) {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return 77;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o) != 0)
        return 2;
    struct worker_slot *w1 = cb_worker(p->cb, 1);
    pid_t w0 = atomic_load(&cb_worker(p->cb, 0)->pid), w1_pid = atomic_load(&w1->pid);
    /* What the helper's table would say had worker 1 died and its pid gone to `stranger`: */
    kill(w1_pid, SIGKILL);
    sleep_ms(100); /* the helper reaps it and starts a replacement */
    /* Start times count in clock ticks (10 ms): a real pid reuse comes far later than that. */
    pid_t stranger = fork();
    if (stranger == 0) {
        for (;;)
            pause();
    }
    kill(atomic_load(&p->helper_pid), SIGKILL);
    sleep_ms(50);
    atomic_store(&w1->pid, stranger); /* start_ticks stays the replacement's: not the stranger's */
    int x = 1, y = 0;
    uint64_t t0 = now_ms();
    int rc = shmpool_apply(p, twice, NULL, &x, sizeof x, &y, sizeof y);
    uint64_t took = now_ms() - t0;
    int code = 0;
    if (rc != SHMPOOL_EHELPER)
        code = 3;
    else if (took > (running_on_valgrind() ? 5000u : 800u)) /* before: the 1 s kill loop */
        code = 4;
    else if (process_gone(stranger))
        code = 5;
    else if (!process_gone(w0))
        code = 6;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)w0);
    if (!code && access(path, F_OK) == 0)
        code = 8; /* a zombie of ours left unreaped */
    kill(stranger, SIGKILL);
    waitpid(stranger, NULL, 0);
    shmpool_destroy(p);
    while (waitpid(-1, NULL, WNOHANG) > 0) /* what else was reparented to us */
        ;
    return code;
}

static void test_a_dead_helper_is_noticed_at_once_and_strangers_are_never_signalled(void **state) {
    (void)state;
    pid_t child;
    int status = run_in_child(helper_death_child, &child);
    remove_names_of(child);
    assert_child_passed(status);
}

/* A worker SIGSTOPped while it sleeps takes the next wake-up and sleeps on: the helper sees the
   work still queued at its next tick and wakes the other (before: the job waited for ever). */
static void test_a_worker_stopped_while_idle_does_not_hold_up_work(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET | SHMPOOL_FLAG_NO_SPIN};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    sleep_ms(50);
    pid_t stopped[2];
    for (int i = 0; i < 2; i++)
        stopped[i] = atomic_load(&cb_worker(p->cb, i)->pid);
    assert_int_equal(kill(stopped[0], SIGSTOP), 0); /* the first a waker claims */
    for (int round = 0; round < 3; round++) {
        int x = round, y = -1;
        shmpool_result *r;
        assert_int_equal(shmpool_apply_async(p, twice, NULL, &x, sizeof x, &y, sizeof y, &r), 0);
        int rc = shmpool_result_get(r, 3000);
        shmpool_result_free(r);
        if (rc != 0)
            kill(stopped[0], SIGCONT);
        assert_int_equal(rc, 0);
        assert_int_equal(y, 2 * round);
        sleep_ms(20);
    }
    kill(stopped[0], SIGCONT);
    shmpool_destroy(p);
}

/* A worker killed while it spins: the helper takes it out of the spinner count (before: the count
   stayed up, so fewer workers than allowed spun for the pool's life and wake-ups counted a spinner
   that was not there). */
static void test_a_worker_killed_while_spinning_is_taken_out_of_the_spinner_count(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .spin_us = 2000000, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    int x = 1, y = 0;
    assert_int_equal(shmpool_apply(p, twice, NULL, &x, sizeof x, &y, sizeof y), 0);
    pid_t spinner = 0;
    for (int t = 0; t < 2000 && !spinner; t++) {
        for (unsigned i = 0; i < 2; i++)
            if (atomic_load(&cb_worker(p->cb, i)->spinning) && atomic_load(&p->cb->spinners))
                spinner = atomic_load(&cb_worker(p->cb, i)->pid);
        if (!spinner)
            sleep_ms(1);
    }
    assert_true(spinner > 0);
    assert_int_equal(kill(spinner, SIGKILL), 0);
    /* Past every live spin (2 s) and the helper's reaping, nobody spins. */
    uint32_t left = 1;
    for (int t = 0; t < 400 && left; t++) {
        sleep_ms(10);
        left = atomic_load(&p->cb->spinners);
    }
    assert_int_equal(left, 0);
    shmpool_destroy(p);
}

/* The helper cannot fork a replacement (RLIMIT_NPROC) and no worker is left: queued work fails
   with the fork's code instead of waiting for ever. Root ignores RLIMIT_NPROC: as root the child
   becomes nobody first. */
static int nproc_child(void) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 77;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o) != 0)
        return 2;
    struct rlimit none = {0, 0};
    if (prlimit(atomic_load(&p->helper_pid), RLIMIT_NPROC, &none, NULL) != 0)
        return 77;
    kill(atomic_load(&cb_worker(p->cb, 0)->pid), SIGKILL);
    int x = 3, y = 0;
    shmpool_result *r;
    if (shmpool_apply_async(p, twice, NULL, &x, sizeof x, &y, sizeof y, &r) != 0)
        return 3;
    int rc = shmpool_result_get(r, 5000);
    shmpool_result_free(r);
    shmpool_destroy(p);
    return rc == -EAGAIN ? 0 : rc == -ETIMEDOUT ? 4 : 5;
}

static void test_a_helper_that_cannot_fork_fails_queued_work_instead_of_hanging(void **state) {
    (void)state;
    pid_t child;
    int status = run_in_child(nproc_child, &child);
    remove_names_of(child);
    assert_child_passed(status);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_without_destroy_ends_the_pool),
        cmocka_unit_test(test_a_sigkill_to_the_program_s_process_group_leaves_nothing),
        cmocka_unit_test(test_a_dead_helper_is_noticed_at_once_and_strangers_are_never_signalled),
        cmocka_unit_test(test_a_worker_stopped_while_idle_does_not_hold_up_work),
        cmocka_unit_test(test_a_worker_killed_while_spinning_is_taken_out_of_the_spinner_count),
        cmocka_unit_test(test_a_helper_that_cannot_fork_fails_queued_work_instead_of_hanging),
    };
    return test_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
