/* Failures: a worker that dies (signal in a task, _exit, SIGKILL from outside) fails only its job,
   with a code naming the signal and the item, quickly, and the pool goes on; retries; task time
   limits; cancel; a parent killed with SIGKILL takes its workers and segments with it, and so
   does a pool whose worker was killed while it removed a segment's name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "control.h"
#include "helper.h"
#include "helpers.h"
#include "state.h"
#include "shmpool.h"
#include "worker.h"

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

struct shared {
    _Atomic pid_t victim;   /* the worker running the item to kill */
    _Atomic int attempts;   /* how often the doomed item started */
    int64_t out[64];
};

static shmpool *new_pool(const shmpool_options *extra) {
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    if (extra)
        o = *extra;
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    return p;
}

static int inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int64_t *)out = *(const int64_t *)in + 1;
    return 0;
}

static void assert_pool_still_works(shmpool *p) {
    int64_t in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    assert_int_equal(shmpool_map(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], 100, 3), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(out[i], i + 1);
}

/* Item 13 dies in the way ctx says; the others return their index. */
enum how { BY_SEGV, BY_ABORT, BY_EXIT, BY_OUTSIDE_KILL };
struct doom {
    enum how how;
    struct shared *sh;
};

static int doomed(const void *in, void *out, void *ctx) {
    const struct doom *d = ctx;
    int64_t i = *(const int64_t *)in;
    if (i == 13) {
        atomic_fetch_add(&d->sh->attempts, 1);
        switch (d->how) {
        case BY_SEGV:
            raise(SIGSEGV);
            break;
        case BY_ABORT:
            abort();
        case BY_EXIT:
            _exit(7);
        case BY_OUTSIDE_KILL:
            atomic_store(&d->sh->victim, getpid());
            sleep(30);
            break;
        }
    }
    *(int64_t *)out = i * 10;
    return 0;
}

static void run_doomed(enum how how, int expect) {
    struct resources before;
    resources_snapshot(&before);
    shmpool *p = new_pool(NULL);
    struct shared *sh = shmpool_alloc(p, sizeof *sh);
    struct doom *d = shmpool_alloc(p, sizeof *d);
    int64_t *in = shmpool_alloc(p, 64 * sizeof *in);
    d->how = how;
    d->sh = sh;
    for (int i = 0; i < 64; i++)
        in[i] = i, sh->out[i] = -1;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, doomed, d, in, sizeof *in, sh->out, sizeof sh->out[0], 64, 1, &r), 0);
    uint64_t killed_at = 0;
    if (how == BY_OUTSIDE_KILL) { /* the OOM killer's way */
        while (!atomic_load(&sh->victim))
            sleep_ms(1);
        killed_at = now_ms();
        kill(atomic_load(&sh->victim), SIGKILL);
    }
    int rc = shmpool_result_get(r, 10000);
    if (killed_at)
        assert_true(now_ms() - killed_at < 200); /* noticed within 200 ms, never a hang */
    assert_int_equal(rc, expect);
    size_t index;
    assert_int_equal(shmpool_result_error(r, &index), expect);
    assert_int_equal(index, 13);
    shmpool_result_free(r);
    for (int i = 0; i < 13; i++) /* chunks are claimed in order: everything before ran */
        assert_int_equal(sh->out[i], i * 10);
    assert_int_equal(sh->out[13], -1);
    assert_pool_still_works(p); /* the worker was replaced */
    shmpool_destroy(p);
    assert_true(resources_same(&before));
}

static void test_a_task_that_segfaults_fails_its_job_with_sigsegv_and_the_pool_goes_on(void **state) {
    (void)state;
    run_doomed(BY_SEGV, SHMPOOL_EKILLED(SIGSEGV));
}

static void test_a_task_that_aborts_fails_its_job_with_sigabrt(void **state) {
    (void)state;
    run_doomed(BY_ABORT, SHMPOOL_EKILLED(SIGABRT));
}

static void test_a_task_that_calls_exit_fails_its_job_with_its_status(void **state) {
    (void)state;
    run_doomed(BY_EXIT, SHMPOOL_EEXITED(7));
}

static void test_a_worker_killed_from_outside_is_noticed_within_200ms(void **state) {
    (void)state;
    run_doomed(BY_OUTSIDE_KILL, SHMPOOL_EKILLED(SIGKILL));
}

static void on_segv_program(int sig) {
    (void)sig;
    _exit(0); /* would hide the crash from the pool if a worker ran it */
}

/* The helper resets every disposition the program set, once, for itself and the workers it
   forks: a crash still kills the worker with its signal, and a SIGCHLD the program ignores still
   reaches the helper (ignored, the kernel would reap the workers and their deaths go unseen). */
static void test_a_program_ignoring_sigchld_and_handling_sigsegv_still_sees_a_crash(void **state) {
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, segv = {.sa_handler = on_segv_program}, old_chld,
                     old_segv;
    sigemptyset(&ign.sa_mask);
    sigemptyset(&segv.sa_mask);
    sigaction(SIGCHLD, &ign, &old_chld);
    sigaction(SIGSEGV, &segv, &old_segv);
    run_doomed(BY_SEGV, SHMPOOL_EKILLED(SIGSEGV));
    sigaction(SIGCHLD, &old_chld, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
}

static int die_in_apply(const void *in, void *out, void *ctx) {
    (void)in, (void)out, (void)ctx;
    raise(SIGBUS);
    return 0;
}

static int die_in_range(void *ctx, size_t b, size_t e) {
    (void)ctx;
    if (b <= 70 && 70 < e)
        raise(SIGFPE);
    return 0;
}

static int die_in_star(const void *const args[], void *out, void *ctx) {
    (void)out, (void)ctx;
    if (*(const int64_t *)args[0] == 3)
        raise(SIGILL);
    return 0;
}

static void test_deaths_in_apply_for_and_starmap_fail_only_their_job(void **state) {
    (void)state;
    shmpool *p = new_pool(NULL);
    assert_int_equal(shmpool_apply(p, die_in_apply, NULL, NULL, 0, NULL, 0), SHMPOOL_EKILLED(SIGBUS));
    assert_pool_still_works(p);
    shmpool_result *r;
    assert_int_equal(shmpool_for_async(p, die_in_range, NULL, 100, 10, &r), 0);
    assert_int_equal(shmpool_result_get(r, -1), SHMPOOL_EKILLED(SIGFPE));
    size_t index;
    shmpool_result_error(r, &index);
    assert_int_equal(index, 70); /* the item the worker was running */
    shmpool_result_free(r);
    int64_t col[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const void *cols[] = {col};
    size_t sizes[] = {sizeof col[0]};
    assert_int_equal(shmpool_starmap(p, die_in_star, NULL, 1, cols, sizes, NULL, 0, 8, 1), SHMPOOL_EKILLED(SIGILL));
    /* a job running beside the dying one is not touched */
    int64_t in[1000], out[1000];
    for (int i = 0; i < 1000; i++)
        in[i] = i;
    shmpool_result *ok;
    assert_int_equal(shmpool_map_async(p, inc, NULL, in, sizeof in[0], out, sizeof out[0], 1000, 1, &ok), 0);
    assert_int_equal(shmpool_apply(p, die_in_apply, NULL, NULL, 0, NULL, 0), SHMPOOL_EKILLED(SIGBUS));
    assert_int_equal(shmpool_result_get(ok, -1), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(out[i], i + 1);
    shmpool_result_free(ok);
    assert_pool_still_works(p);
    shmpool_destroy(p);
}

/* Dies the first time only (the attempt count lives in shared memory). */
static int dies_once(const void *in, void *out, void *ctx) {
    struct shared *sh = ctx;
    int64_t i = *(const int64_t *)in;
    if (i == 5 && atomic_fetch_add(&sh->attempts, 1) == 0)
        raise(SIGKILL);
    *(int64_t *)out = i * 10;
    return 0;
}

static void test_task_retries_run_a_chunk_again_when_its_worker_died(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .task_retries = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p = new_pool(&o);
    struct shared *sh = shmpool_alloc(p, sizeof *sh);
    int64_t in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = i;
    assert_int_equal(shmpool_map(p, dies_once, sh, in, sizeof in[0], out, sizeof out[0], 20, 1), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(out[i], i * 10);
    assert_int_equal(atomic_load(&sh->attempts), 2);
    /* without retries the same death fails the job */
    shmpool_destroy(p);
    p = new_pool(NULL);
    sh = shmpool_alloc(p, sizeof *sh);
    assert_int_equal(shmpool_map(p, dies_once, sh, in, sizeof in[0], out, sizeof out[0], 20, 1), SHMPOOL_EKILLED(SIGKILL));
    shmpool_destroy(p);
}

static int sleepy(const void *in, void *out, void *ctx) {
    (void)out, (void)ctx;
    if (*(const int64_t *)in == 2)
        sleep(30);
    return 0;
}

static void test_get_times_out_leaves_the_job_running_and_cancel_stops_it(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *p = new_pool(NULL);
    int64_t in[64];
    for (int i = 0; i < 64; i++)
        in[i] = i;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, sleepy, NULL, in, sizeof in[0], NULL, 0, 64, 1, &r), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_result_get(r, 100), -ETIMEDOUT);
    assert_true(now_ms() - t0 >= 95);
    assert_int_equal(shmpool_result_ready(r), 0);
    assert_int_equal(shmpool_result_get(r, 0), -ETIMEDOUT); /* can be called again */
    t0 = now_ms();
    assert_int_equal(shmpool_result_cancel(r), 0);
    assert_true(now_ms() - t0 < 1000); /* the sleeping worker was ended, not waited for */
    assert_int_equal(shmpool_result_get(r, 0), -ECANCELED);
    shmpool_result_free(r);
    assert_pool_still_works(p);
    shmpool_destroy(p);
    assert_true(resources_same(&before));
}

static void test_freeing_a_pending_result_cancels_it(void **state) {
    (void)state;
    shmpool *p = new_pool(NULL);
    int64_t in[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, sleepy, NULL, in, sizeof in[0], NULL, 0, 8, 1, &r), 0);
    sleep_ms(20);
    uint64_t t0 = now_ms();
    shmpool_result_free(r);
    assert_true(now_ms() - t0 < 1000);
    assert_pool_still_works(p);
    shmpool_destroy(p);
}

static void test_a_task_past_its_time_limit_is_killed_and_fails_with_etime(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .task_timeout_ms = 100, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p = new_pool(&o);
    int64_t in[4] = {0, 1, 2, 3};
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_map(p, sleepy, NULL, in, sizeof in[0], NULL, 0, 4, 1), -ETIME);
    assert_true(now_ms() - t0 < 2000);
    assert_pool_still_works(p);
    shmpool_destroy(p);
}

/* The parent dies with SIGKILL: its workers exit within a second and no segment is left. */
struct pids {
    _Atomic int ready;
    pid_t parent;
    pid_t helper;
    pid_t workers[2];
};

static int report_pid(const void *in, void *out, void *ctx) {
    (void)in, (void)ctx;
    *(pid_t *)out = getpid();
    return 0;
}

/* Item 5's worker dies once (a retry is queued); item 12 fails at once. The retry of chunk 5 lies
   below the failing index, so it still runs: the serial loop's `break` at 12, out[0 .. 12) whole. */
static int dies_at_5_fails_at_12(const void *in, void *out, void *ctx) {
    struct shared *sh = ctx;
    int64_t i = *(const int64_t *)in;
    if (i == 5 && atomic_fetch_add(&sh->attempts, 1) == 0) {
        sleep_ms(30); /* let item 12 fail first */
        raise(SIGKILL);
    }
    if (i == 12)
        return -EDOM;
    *(int64_t *)out = i * 10;
    return 0;
}

static void test_a_chunk_retried_below_a_failing_item_still_runs(void **state) {
    (void)state;
    shmpool_options o = {.workers = 2, .task_retries = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p = new_pool(&o);
    struct shared *sh = shmpool_alloc(p, sizeof *sh);
    for (int round = 0; round < 3; round++) {
        atomic_store(&sh->attempts, 0);
        int64_t in[40], out[40];
        for (int i = 0; i < 40; i++)
            in[i] = i, out[i] = -1;
        shmpool_result *r;
        assert_int_equal(shmpool_map_async(p, dies_at_5_fails_at_12, sh, in, sizeof in[0], out,
                                           sizeof out[0], 40, 1, &r), 0);
        assert_int_equal(shmpool_result_get(r, -1), -EDOM);
        size_t index;
        assert_int_equal(shmpool_result_error(r, &index), -EDOM);
        assert_int_equal(index, 12);
        shmpool_result_free(r);
        for (int i = 0; i < 12; i++)
            assert_int_equal(out[i], i * 10);
    }
    shmpool_destroy(p);
}

static int blocks_forever(const void *in, void *out, void *ctx) {
    (void)in, (void)out;
    atomic_store(&((struct shared *)ctx)->victim, getpid());
    pause();
    return 0;
}

static void test_cancel_of_a_queued_job_does_not_wait_for_a_free_worker(void **state) {
    (void)state;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p = new_pool(&o);
    struct shared *sh = shmpool_alloc(p, sizeof *sh);
    shmpool_result *busy, *queued;
    assert_int_equal(shmpool_apply_async(p, blocks_forever, sh, NULL, 0, NULL, 0, &busy), 0);
    while (!atomic_load(&sh->victim))
        sleep_ms(1);
    int64_t in = 1, out = 0;
    assert_int_equal(shmpool_apply_async(p, inc, NULL, &in, sizeof in, &out, sizeof out, &queued), 0);
    uint64_t t0 = now_ms();
    assert_int_equal(shmpool_result_cancel(queued), 0);
    assert_true(now_ms() - t0 < 500); /* no worker was ever free: it ended where it stood */
    assert_int_equal(shmpool_result_get(queued, 0), -ECANCELED);
    shmpool_result_free(queued);
    shmpool_result_free(busy);
    assert_pool_still_works(p);
    shmpool_destroy(p);
}

/* A task that blocks the cancel signal, and one that is stopped: cancel still returns. */
static int ignores_cancel(const void *in, void *out, void *ctx) {
    (void)in, (void)out;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    atomic_store(&((struct shared *)ctx)->victim, getpid());
    sleep(60);
    return 0;
}

static int stops_itself(const void *in, void *out, void *ctx) {
    (void)in, (void)out;
    atomic_store(&((struct shared *)ctx)->victim, getpid());
    raise(SIGSTOP);
    sleep(60);
    return 0;
}

static void test_cancel_ends_a_task_that_blocks_the_signal_or_is_stopped(void **state) {
    (void)state;
    shmpool_fn tasks[] = {ignores_cancel, stops_itself};
    for (int k = 0; k < 2; k++) {
        struct resources before;
        resources_snapshot(&before);
        shmpool *p = new_pool(NULL);
        struct shared *sh = shmpool_alloc(p, sizeof *sh);
        shmpool_result *r;
        assert_int_equal(shmpool_apply_async(p, tasks[k], sh, NULL, 0, NULL, 0, &r), 0);
        while (!atomic_load(&sh->victim))
            sleep_ms(1);
        sleep_ms(20);
        uint64_t t0 = now_ms();
        assert_int_equal(shmpool_result_cancel(r), 0);
        assert_true(now_ms() - t0 < 5000); /* the grace period, then SIGKILL: never a hang */
        assert_int_equal(shmpool_result_get(r, 0), -ECANCELED);
        shmpool_result_free(r);
        assert_pool_still_works(p);
        shmpool_destroy(p);
        assert_true(resources_same(&before));
    }
}

static void test_a_parent_killed_with_sigkill_takes_its_workers_and_segments_along(void **state) {
    (void)state;
    struct pids *pp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t child = fork();
    if (child == 0) {
        shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
        shmpool *p;
        if (shmpool_create(&p, &o))
            _exit(1);
        for (int i = 0; i < 5; i++) /* segments, some mapped by everybody, the last maybe not */
            shmpool_alloc(p, 1 << 20);
        int in[2] = {0};
        shmpool_map(p, report_pid, NULL, in, sizeof in[0], pp->workers, sizeof pp->workers[0], 2, 1);
        shmpool_alloc(p, 1 << 20);
        atomic_store(&pp->ready, 1);
        pause();
        _exit(0);
    }
    while (!atomic_load(&pp->ready))
        sleep_ms(1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    uint64_t t0 = now_ms();
    while ((!process_gone(pp->workers[0]) || !process_gone(pp->workers[1]) || shm_segments_of(child)) && now_ms() - t0 < 3000)
        sleep_ms(5);
    assert_true(process_gone(pp->workers[0]) && process_gone(pp->workers[1]));
    assert_int_equal(shm_segments_of(child), 0);
    assert_true(now_ms() - t0 < 1000);
    munmap(pp, 4096);
}

static void test_a_parent_that_exits_without_destroy_leaves_nothing(void **state) {
    (void)state;
    pid_t child = fork();
    if (child == 0) {
        shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
        shmpool *p;
        if (shmpool_create(&p, &o))
            _exit(1);
        shmpool_alloc(p, 1 << 20);
        exit(0); /* no destroy */
    }
    int st;
    waitpid(child, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    uint64_t t0 = now_ms();
    while (shm_segments_of(child) && now_ms() - t0 < 2000)
        sleep_ms(5);
    assert_int_equal(shm_segments_of(child), 0);
}

/* The parent is killed inside the segment table's seqlock (between seqlock_begin and _end of an
   alloc or free): the table stays odd for good. The helper used to spin on it forever, with its
   workers, and never removed the segments. */
static void test_a_parent_killed_while_changing_the_segment_table_leaves_nothing(void **state) {
    (void)state;
    struct pids *pp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(pp != MAP_FAILED);
    pid_t child = fork();
    if (child == 0) {
        shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
        shmpool *p;
        if (shmpool_create(&p, &o))
            _exit(1);
        int in[2] = {0};
        shmpool_map(p, report_pid, NULL, in, sizeof in[0], pp->workers, sizeof pp->workers[0], 2, 1);
        pp->helper = p->helper_pid;
        shmpool_alloc(p, 1 << 20);
        atomic_fetch_add(&p->cb->seg_gen, 1); /* what seqlock_begin does; _end never comes */
        shmpool__wake_workers(p->cb, WAKE_ALL);
        shmpool__helper_kick(p->cb);
        sleep_ms(20); /* let them find it odd */
        atomic_store(&pp->ready, 1);
        kill(getpid(), SIGKILL);
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_int_equal(atomic_load(&pp->ready), 1);
    pid_t helper = pp->helper;
    uint64_t t0 = now_ms();
    while ((!process_gone(helper) || !process_gone(pp->workers[0]) ||
            !process_gone(pp->workers[1]) || shm_segments_of(child)) && now_ms() - t0 < 2000)
        sleep_ms(5);
    int all_gone = process_gone(helper) && process_gone(pp->workers[0]) &&
                   process_gone(pp->workers[1]);
    int left = shm_segments_of(child);
    if (!all_gone) { /* do not leave them spinning */
        kill(helper, SIGKILL);
        kill(pp->workers[0], SIGKILL);
        kill(pp->workers[1], SIGKILL);
    }
    munmap(pp, 4096);
    assert_true(all_gone);
    assert_int_equal(left, 0);
}

/* shm_unlink, interposed for this whole binary (the library is linked in statically): while
   `trap` is armed, the first process other than the test that removes a segment name is killed
   just before it does, as terminate's SIGKILL (or the OOM killer) may kill a syncing worker. */
static _Atomic int *trap;
static pid_t test_pid;

int shm_unlink(const char *name) {
    if (trap && getpid() != test_pid && atomic_exchange(trap, 0))
        kill(getpid(), SIGKILL);
    char path[512];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return unlink(path);
}

/* The fuzz step once left a 4 KiB segment behind: a worker had marked the name as removed, then
   was killed by terminate before removing it, and every later sweep trusted the mark. */
static void test_a_process_killed_while_removing_a_name_leaves_no_segment(void **state) {
    (void)state;
    test_pid = getpid();
    trap = mmap(NULL, sizeof *trap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(trap != MAP_FAILED);
    shmpool *p = new_pool(NULL);
    atomic_store(trap, 1);
    assert_non_null(shmpool_alloc(p, 4096)); /* mapped by all, then removed by whoever is last */
    uint64_t t0 = now_ms();
    while (atomic_load(trap) && now_ms() - t0 < 5000)
        sleep_ms(1);
    assert_int_equal(atomic_load(trap), 0); /* somebody died removing it */
    shmpool_destroy(p);
    assert_int_equal(shm_segments_of(getpid()), 0);
    munmap((void *)trap, sizeof *trap);
    trap = NULL;
}

/* A segment a worker cannot map (its name removed by someone else: `shmpool clean` from another
   PID namespace, say; or the worker is out of fds) fails the job with SHMPOOL_EMAP. Before, the
   entry was recorded as mapped and the task touching it died of SIGSEGV. */
static int sleep_300ms(const void *in, void *out, void *ctx) {
    (void)in, (void)out, (void)ctx;
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}

static int read_first_word(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(uint64_t *)out = **(const uint64_t *const *)in;
    return 0;
}

static void test_a_segment_a_worker_cannot_map_fails_the_job_with_emap(void **state) {
    (void)state;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    shmpool_result *busy;
    assert_int_equal(shmpool_apply_async(p, sleep_300ms, NULL, NULL, 0, NULL, 0, &busy), 0);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL); /* the only worker is inside the task: it cannot map what comes next */
    uint64_t *block = shmpool_alloc(p, 4096);
    assert_non_null(block);
    block[0] = 42;
    uint64_t off = (uint64_t)((char *)block - p->cb->arena_base), id = 0;
    for (uint32_t i = 0; i < atomic_load(&p->cb->seg_hwm); i++)
        if (atomic_load(&cb_seg(p->cb, i)->id) && atomic_load(&cb_seg(p->cb, i)->offset) == off)
            id = atomic_load(&cb_seg(p->cb, i)->id);
    assert_true(id != 0);
    char name[SEG_NAME_MAX];
    shmpool__seg_name(p->cb, id, name, sizeof name);
    assert_int_equal(shm_unlink(name), 0); /* what a `clean` that cannot see us would do */
    uint64_t got = 0;
    assert_int_equal(shmpool_apply(p, read_first_word, NULL, &block, sizeof block, &got, sizeof got),
                     SHMPOOL_EMAP);
    assert_int_equal(shmpool_result_get(busy, -1), 0);
    shmpool_result_free(busy);
    assert_int_equal(shmpool_free(p, block), 0);
    uint64_t *fresh = shmpool_alloc(p, 4096); /* the pool goes on */
    assert_non_null(fresh);
    fresh[0] = 7;
    assert_int_equal(shmpool_apply(p, read_first_word, NULL, &fresh, sizeof fresh, &got, sizeof got), 0);
    assert_int_equal(got, 7);
    assert_int_equal(shmpool_free(p, fresh), 0);
    shmpool_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_task_that_segfaults_fails_its_job_with_sigsegv_and_the_pool_goes_on),
        cmocka_unit_test(test_a_task_that_aborts_fails_its_job_with_sigabrt),
        cmocka_unit_test(test_a_task_that_calls_exit_fails_its_job_with_its_status),
        cmocka_unit_test(test_a_worker_killed_from_outside_is_noticed_within_200ms),
        cmocka_unit_test(test_a_program_ignoring_sigchld_and_handling_sigsegv_still_sees_a_crash),
        cmocka_unit_test(test_deaths_in_apply_for_and_starmap_fail_only_their_job),
        cmocka_unit_test(test_task_retries_run_a_chunk_again_when_its_worker_died),
        cmocka_unit_test(test_get_times_out_leaves_the_job_running_and_cancel_stops_it),
        cmocka_unit_test(test_freeing_a_pending_result_cancels_it),
        cmocka_unit_test(test_a_chunk_retried_below_a_failing_item_still_runs),
        cmocka_unit_test(test_cancel_of_a_queued_job_does_not_wait_for_a_free_worker),
        cmocka_unit_test(test_cancel_ends_a_task_that_blocks_the_signal_or_is_stopped),
        cmocka_unit_test(test_a_task_past_its_time_limit_is_killed_and_fails_with_etime),
        cmocka_unit_test(test_a_parent_killed_with_sigkill_takes_its_workers_and_segments_along),
        cmocka_unit_test(test_a_parent_that_exits_without_destroy_leaves_nothing),
        cmocka_unit_test(test_a_process_killed_while_removing_a_name_leaves_no_segment),
        cmocka_unit_test(test_a_parent_killed_while_changing_the_segment_table_leaves_nothing),
        cmocka_unit_test(test_a_segment_a_worker_cannot_map_fails_the_job_with_emap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
