/* shmpool_cpu_count: logical, physical and usable counts, and the cgroup v2 quota walk run
   against a fake /sys/fs/cgroup tree in a temporary directory. */
#include <errno.h>
#include <ftw.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpu.h"
#include "helpers.h"
#include "shmpool.h"

static void test_cpu_counts_are_ordered_logical_usable_one(void **state) {
    (void)state;
    /* The first calls may grow the heap (new mappings that stay): warm up before counting. */
    for (int kind = SHMPOOL_CPU_LOGICAL; kind <= SHMPOOL_CPU_USABLE; kind++)
        shmpool_cpu_count(kind);
    struct resources before;
    resources_snapshot(&before);
    int logical = shmpool_cpu_count(SHMPOOL_CPU_LOGICAL);
    int physical = shmpool_cpu_count(SHMPOOL_CPU_PHYSICAL);
    int usable = shmpool_cpu_count(SHMPOOL_CPU_USABLE);
    assert_true(logical >= 1);
    assert_true(physical >= 1);
    assert_true(physical <= logical);
    assert_true(usable >= 1);
    assert_true(usable <= logical);
    assert_true(resources_same(&before));
}

static void test_cpu_count_rejects_an_unknown_kind(void **state) {
    (void)state;
    assert_int_equal(shmpool_cpu_count(3), -EINVAL);
    assert_int_equal(shmpool_cpu_count(-1), -EINVAL);
}

static void test_cpu_usable_is_one_with_an_affinity_mask_of_one_cpu(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        if (sched_getaffinity(0, sizeof set, &set) != 0)
            _exit(2);
        int first = -1;
        for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
            if (CPU_ISSET(c, &set))
                first = c;
        CPU_ZERO(&set);
        CPU_SET(first, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            _exit(3);
        _exit(shmpool_cpu_count(SHMPOOL_CPU_USABLE) == 1 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(resources_same(&before));
}

/* A fake cgroup tree: <dir>/cgroup holds cpu.max files, <dir>/proc-cgroup the process's line. */
struct fake {
    char dir[64];
    char root[96];
    char proc[96];
};

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void fake_make(struct fake *fk, const char *proc_cgroup) {
    snprintf(fk->dir, sizeof fk->dir, "/tmp/shmpool-cpu-XXXXXX");
    assert_non_null(mkdtemp(fk->dir));
    snprintf(fk->root, sizeof fk->root, "%s/cgroup", fk->dir);
    snprintf(fk->proc, sizeof fk->proc, "%s/proc-cgroup", fk->dir);
    assert_int_equal(mkdir(fk->root, 0700), 0);
    write_file(fk->proc, proc_cgroup);
}

/* Writes <root>/<rel>/cpu.max, making the directories on the way. */
static void fake_cpu_max(struct fake *fk, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fk->root, rel);
    for (char *p = path + strlen(fk->root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    }
    mkdir(path, 0700);
    strcat(path, "/cpu.max");
    write_file(path, text);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fake_remove(struct fake *fk) {
    assert_int_equal(nftw(fk->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_cpu_quota_of_one_and_a_half_cpus_gives_two(void **state) {
    (void)state;
    struct fake fk;
    fake_make(&fk, "0::/job\n");
    fake_cpu_max(&fk, "job", "150000 100000\n");
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 2);
    fake_remove(&fk);
}

static void test_cpu_quota_max_means_no_limit(void **state) {
    (void)state;
    struct fake fk;
    fake_make(&fk, "0::/a/b\n");
    fake_cpu_max(&fk, "a", "max 100000\n");
    fake_cpu_max(&fk, "a/b", "max 100000\n");
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 0);
    fake_remove(&fk);
}

static void test_cpu_quota_nested_limits_take_the_minimum(void **state) {
    (void)state;
    struct fake fk;
    /* v1 lines come first on hybrid systems: only the 0:: line counts. */
    fake_make(&fk, "4:memory:/x\n1:cpu:/y\n0::/a/b/c\n");
    fake_cpu_max(&fk, "a", "300000 100000\n");
    fake_cpu_max(&fk, "a/b", "100000 100000\n");
    fake_cpu_max(&fk, "a/b/c", "max 100000\n");
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 1);
    fake_cpu_max(&fk, "a/b", "800000 100000\n");
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 3);
    fake_remove(&fk);
}

static void test_cpu_quota_at_the_namespace_root_counts(void **state) {
    (void)state;
    struct fake fk;
    fake_make(&fk, "0::/\n");
    fake_cpu_max(&fk, "", "50000 100000\n"); /* half a CPU rounds up to one */
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 1);
    fake_remove(&fk);
}

static void test_cpu_quota_without_cgroup_v2_is_no_limit(void **state) {
    (void)state;
    struct fake fk;
    fake_make(&fk, "1:cpu:/a\n");
    fake_cpu_max(&fk, "a", "100000 100000\n");
    assert_int_equal(shmpool__cpu_quota_from(fk.root, fk.proc), 0);
    fake_remove(&fk);
    assert_int_equal(shmpool__cpu_quota_from("/nonexistent", "/nonexistent"), 0);
    assert_int_equal(shmpool__cpu_quota_from(NULL, NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_counts_are_ordered_logical_usable_one),
        cmocka_unit_test(test_cpu_count_rejects_an_unknown_kind),
        cmocka_unit_test(test_cpu_usable_is_one_with_an_affinity_mask_of_one_cpu),
        cmocka_unit_test(test_cpu_quota_of_one_and_a_half_cpus_gives_two),
        cmocka_unit_test(test_cpu_quota_max_means_no_limit),
        cmocka_unit_test(test_cpu_quota_nested_limits_take_the_minimum),
        cmocka_unit_test(test_cpu_quota_at_the_namespace_root_counts),
        cmocka_unit_test(test_cpu_quota_without_cgroup_v2_is_no_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
