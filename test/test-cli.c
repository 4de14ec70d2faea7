/* The `shmpool` tool: `clean` removes the segments of pools whose parent and helper are both gone
   and whose liveness lock nobody holds, and only those (--dry-run lists them and removes nothing); `info` reports /dev/shm; bad usage
   exits 2. The tool's path comes from CMake (SHMPOOL_CLI_PATH).

   The fake segments live in a temporary directory of this test, which the tool is pointed at with
   SHMPOOL_SHM_DIR: a real `clean` of /dev/shm would also remove what other tests leaked, and hide
   it from the check CI makes after each step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "shmpool.h"
#include "state.h"

#ifndef SHMPOOL_CLI_PATH
#error "SHMPOOL_CLI_PATH must name the built shmpool tool"
#endif

/* A pid that no process has any more: a child that exited and was reaped. */
static pid_t dead_pid(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return pid;
}

static char dir[64]; /* this test's stand-in for /dev/shm */

struct fake {
    char name[96];  /* "/shmpool.P.H.hex" */
    char path[160]; /* dir + name */
};

static void make_file(const char *path) {
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
}

static void make_fake(struct fake *f, pid_t parent, pid_t helper, unsigned tag) {
    snprintf(f->name, sizeof f->name, "/shmpool.%d.%d.%016llx", (int)parent, (int)helper,
             0xc1ea000000000000ull | ((unsigned long long)getpid() << 8) | tag);
    snprintf(f->path, sizeof f->path, "%s%s", dir, f->name);
    make_file(f->path);
}

static int exists(const struct fake *f) { return access(f->path, F_OK) == 0; }

/* Runs the tool with args; its stdout (and stderr if want_err) into buf; returns its exit code. */
static int run_tool(const char *args, char *buf, size_t len, int want_err) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' %s%s", SHMPOOL_CLI_PATH, args, want_err ? " 2>&1" : " 2>/dev/null");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, len - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_clean_removes_only_segments_whose_parent_and_helper_are_gone(void **state) {
    (void)state;
    pid_t dead1 = dead_pid(), dead2 = dead_pid(), me = getpid();
    struct fake orphan, mine, parent_alive, helper_alive;
    make_fake(&orphan, dead1, dead2, 1);       /* both gone: removable */
    make_fake(&mine, me, me, 2);               /* both alive */
    make_fake(&parent_alive, me, dead2, 3);    /* the parent still owns it */
    make_fake(&helper_alive, dead1, me, 4);    /* the helper is about to remove it */

    static char out[1 << 16];
    assert_int_equal(run_tool("clean --dry-run", out, sizeof out, 0), 0);
    assert_non_null(strstr(out, orphan.name + 1));
    assert_null(strstr(out, mine.name + 1));
    assert_null(strstr(out, parent_alive.name + 1));
    assert_null(strstr(out, helper_alive.name + 1));
    assert_true(exists(&orphan) && exists(&mine) && exists(&parent_alive) && exists(&helper_alive));

    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_non_null(strstr(out, orphan.name + 1));
    assert_null(strstr(out, mine.name + 1));
    assert_false(exists(&orphan));
    assert_true(exists(&mine) && exists(&parent_alive) && exists(&helper_alive));

    /* Nothing left to do for it: a second run does not list it again. */
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_null(strstr(out, orphan.name + 1));

    unlink(mine.path);
    unlink(parent_alive.path);
    unlink(helper_alive.path);
}

static void test_clean_counts_a_zombie_as_gone(void **state) {
    (void)state;
    pid_t zombie = fork();
    assert_true(zombie >= 0);
    if (zombie == 0)
        _exit(0);
    /* Wait until it is a zombie, without reaping it. */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), 0);
    pid_t dead = dead_pid();
    struct fake f;
    make_fake(&f, zombie, dead, 5);
    static char out[1 << 16];
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_false(exists(&f));
    int st;
    assert_int_equal(waitpid(zombie, &st, 0), zombie);
}

static void test_clean_ignores_names_that_are_not_segment_names(void **state) {
    (void)state;
    pid_t dead = dead_pid();
    char path[160];
    /* looks close, but the hex part is not hex: not a name the library makes */
    snprintf(path, sizeof path, "%s/shmpool.%d.%d.not-hex-%d", dir, (int)dead, (int)dead,
             (int)getpid());
    make_file(path);
    static char out[1 << 16];
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
}

static void test_info_exits_0_and_reports_its_directory(void **state) {
    (void)state;
    static char out[1 << 16];
    assert_int_equal(run_tool("info", out, sizeof out, 0), 0);
    char line[80];
    snprintf(line, sizeof line, "\n%s: size ", dir); /* the directory it was pointed at */
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "cpus: logical "));
    assert_non_null(strstr(out, "io_uring: "));
}

static void test_unknown_command_or_option_prints_usage_and_exits_2(void **state) {
    (void)state;
    static char out[1 << 16];
    assert_int_equal(run_tool("frobnicate", out, sizeof out, 1), 2);
    assert_non_null(strstr(out, "usage: shmpool"));
    assert_int_equal(run_tool("clean --force", out, sizeof out, 1), 2);
    assert_int_equal(run_tool("", out, sizeof out, 1), 2);
    assert_int_equal(run_tool("--help", out, sizeof out, 0), 0);
    assert_non_null(strstr(out, "usage: shmpool"));
    assert_non_null(strstr(out, "SHMPOOL_SHM_DIR"));
}

/* A segment of a dead pool in the real /dev/shm stays: the tool looks only at its directory. */
static void test_clean_leaves_dev_shm_alone_when_pointed_elsewhere(void **state) {
    (void)state;
    pid_t dead1 = dead_pid(), dead2 = dead_pid();
    char name[96], path[112];
    snprintf(name, sizeof name, "/shmpool.%d.%d.%016llx", (int)dead1, (int)dead2,
             0xd0d0000000000000ull | ((unsigned long long)getpid() << 8));
    snprintf(path, sizeof path, "/dev/shm%s", name);
    make_file(path);
    static char out[1 << 16];
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    int kept = access(path, F_OK) == 0;
    unlink(path);
    assert_true(kept);
    assert_null(strstr(out, name + 1));
}

/* A pool whose processes clean cannot see (another PID namespace sharing /dev/shm): its pids look
   gone, but its helper and workers hold its liveness lock, so its names stay; once nobody holds
   the lock, the names and the lock file go. (Before, clean removed a live pool's names and its
   workers' next maps failed.) */
static void test_clean_keeps_the_names_of_a_pool_that_holds_its_lock_unseen(void **state) {
    (void)state;
    pid_t parent = dead_pid(), helper = dead_pid();
    struct fake seg;
    make_fake(&seg, parent, helper, 5);
    char lock_path[160];
    snprintf(lock_path, sizeof lock_path, "%s/shmpool.%d.%d.lock", dir, (int)parent, (int)helper);
    make_file(lock_path);
    int held = open(lock_path, O_RDWR | O_CLOEXEC);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_SH), 0);

    static char out[1 << 16];
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_null(strstr(out, seg.name + 1));
    assert_true(exists(&seg));
    assert_int_equal(access(lock_path, F_OK), 0);

    close(held); /* the pool has ended */
    assert_int_equal(run_tool("clean", out, sizeof out, 0), 0);
    assert_non_null(strstr(out, seg.name + 1));
    assert_false(exists(&seg));
    assert_int_equal(access(lock_path, F_OK), -1);
}

/* A real pool holds its lock in /dev/shm for its life, and destroy removes it. */
static void test_a_live_pool_holds_its_liveness_lock_and_destroy_removes_it(void **state) {
    (void)state;
    shmpool_options o = {.workers = 1, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    assert_int_equal(shmpool_create(&p, &o), 0);
    char path[96];
    snprintf(path, sizeof path, "/dev/shm/shmpool.%d.%d.lock", (int)getpid(),
             (int)atomic_load(&p->helper_pid));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    close(fd);
    shmpool_destroy(p);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/shmpool-test-cli.XXXXXX");
    if (!mkdtemp(dir) || setenv("SHMPOOL_SHM_DIR", dir, 1)) {
        perror("test-cli: a temporary directory");
        return 1;
    }
    struct resources before;
    resources_snapshot(&before);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_removes_only_segments_whose_parent_and_helper_are_gone),
        cmocka_unit_test(test_clean_counts_a_zombie_as_gone),
        cmocka_unit_test(test_clean_ignores_names_that_are_not_segment_names),
        cmocka_unit_test(test_clean_leaves_dev_shm_alone_when_pointed_elsewhere),
        cmocka_unit_test(test_info_exits_0_and_reports_its_directory),
        cmocka_unit_test(test_unknown_command_or_option_prints_usage_and_exits_2),
        cmocka_unit_test(test_clean_keeps_the_names_of_a_pool_that_holds_its_lock_unseen),
        cmocka_unit_test(test_a_live_pool_holds_its_liveness_lock_and_destroy_removes_it),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!failed && !resources_same(&before))
        failed = 1;
    if (rmdir(dir) != 0) { /* a test that failed half-way left its fakes: say so */
        perror(dir);
        failed = 1;
    }
    return failed;
}
