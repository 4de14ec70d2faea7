/* What every test may use: a snapshot of the resources a process holds, to prove that a test left
   nothing behind (fds, mappings, child processes, /dev/shm entries). */
#ifndef SHMPOOL_TEST_HELPERS_H
#define SHMPOOL_TEST_HELPERS_H

#include <stddef.h>
#include <sys/types.h>

struct resources {
    int fds;        /* open file descriptors of this process */
    int mappings;   /* lines in /proc/self/maps */
    int children;   /* processes whose parent is this process, or whose parent's parent is */
    int shm;        /* entries in /dev/shm of this process's pools ("shmpool.<pid>.") */
};

void resources_snapshot(struct resources *r);
/* Polls for up to a second for the counts to come back to `before` (children exit asynchronously);
   returns 1 if they did, else prints what differs and returns 0. */
int resources_same(const struct resources *before);
/* The same, ignoring the mapping count: for tests that started threads (glibc keeps their stacks
   and malloc arenas mapped after they end). */
int resources_same_but_mappings(const struct resources *before);
/* Descendants of this process that are still alive (zombies excluded). */
int count_descendants(void);
/* 1 if pid no longer runs (gone, or a zombie nobody reaped yet). */
int process_gone(pid_t pid);
/* Entries in /dev/shm of the pools whose parent is `parent` ("shmpool.<parent>."). */
int shm_segments_of(pid_t parent);

/* cmocka's skip() reports a test as SKIPPED, but cmocka_run_group_tests counts it as passed and
   ctest would say "Passed". Tests skip with test_skip(), and main returns test_exit_code(failed):
   77, ctest's "skipped" (SKIP_RETURN_CODE), when nothing failed but a test was skipped. */
extern int tests_skipped;
#define test_skip()                                                                                \
    do {                                                                                           \
        tests_skipped++;                                                                           \
        skip();                                                                                    \
    } while (0)
int test_exit_code(int failed);
/* Runs fn in a forked child, so that what it does to its limits, ids, mounts or signals stays
   there, and returns its exit status (-1 if it did not exit); *pid (if not NULL) gets its pid.
   The test then checks it with assert_child_passed: 77 from the child is a skip. */
int run_in_child(int (*fn)(void), pid_t *pid);
#define assert_child_passed(status)                                                                \
    do {                                                                                           \
        if ((status) == 77)                                                                        \
            test_skip();                                                                           \
        assert_int_equal((status), 0);                                                             \
    } while (0)
/* 1 when run under valgrind. */
int running_on_valgrind(void);

#endif
