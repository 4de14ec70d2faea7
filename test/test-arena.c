/* shmpool_alloc / shmpool_free: one address everywhere, alignment, zero fill, early unlinking,
   bad frees, /dev/shm full, and no leak over many cycles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "control.h"
#include "helpers.h"
#include "shmpool.h"
#include "siphash.h"
#include "state.h"

static shmpool *new_pool(unsigned workers) {
    shmpool_options o = {.workers = workers, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p = NULL;
    assert_int_equal(shmpool_create(&p, &o), 0);
    return p;
}

static int count_shm(void) { return shm_segments_of(getpid()); }

/* A worker writes through the very pointer the parent got, and reports the address it saw. */
static int write_through(const void *in, void *out, void *ctx) {
    (void)ctx;
    uint64_t *block = *(uint64_t *const *)in;
    block[0] = 0xfeedfaceu;
    block[1] = (uint64_t)getpid();
    *(uintptr_t *)out = (uintptr_t)block;
    return 0;
}

static void test_alloc_gives_the_same_address_in_parent_and_workers(void **state) {
    (void)state;
    shmpool *p = new_pool(2);
    uint64_t *block = shmpool_alloc(p, 4096);
    assert_non_null(block);
    uintptr_t seen = 0;
    assert_int_equal(shmpool_apply(p, write_through, NULL, &block, sizeof block, &seen, sizeof seen), 0);
    assert_int_equal(seen, (uintptr_t)block);
    assert_int_equal(block[0], 0xfeedfaceu);
    assert_int_not_equal(block[1], (uint64_t)getpid()); /* written by another process */
    assert_int_equal(shmpool_free(p, block), 0);
    shmpool_destroy(p);
}

static void test_alloc_is_aligned_to_64_bytes_and_zero_filled(void **state) {
    (void)state;
    shmpool *p = new_pool(1);
    for (size_t sz = 1; sz < (8u << 20); sz = sz * 3 + 5) {
        unsigned char *m = shmpool_alloc(p, sz);
        assert_non_null(m);
        assert_int_equal((uintptr_t)m % 64, 0);
        assert_true(shmpool_alloc_size(p, m) >= sz);
        for (size_t i = 0; i < sz; i += 511)
            assert_int_equal(m[i], 0);
        memset(m, 0xab, sz);
        assert_int_equal(shmpool_free(p, m), 0);
    }
    shmpool_destroy(p);
}

static void test_alloc_names_leave_dev_shm_once_workers_mapped_them(void **state) {
    (void)state;
    shmpool *p = new_pool(2);
    int before = count_shm();
    void *m = shmpool_alloc(p, 1 << 20);
    assert_non_null(m);
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) { /* idle workers are woken to map it */
        gone = count_shm() == before;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(gone);
    shmpool_free(p, m);
    shmpool_destroy(p);
}

static void test_free_rejects_double_free_foreign_and_interior_pointers(void **state) {
    (void)state;
    shmpool *p = new_pool(1);
    char *m = shmpool_alloc(p, 100);
    int local;
    assert_int_equal(shmpool_free(p, &local), -EINVAL);
    assert_int_equal(shmpool_free(p, m + 8), -EINVAL);
    assert_int_equal(shmpool_free(p, m), 0);
    assert_int_equal(shmpool_free(p, m), -EINVAL);
    assert_int_equal(shmpool_free(p, NULL), 0);
    assert_int_equal(shmpool_free(NULL, m), -EINVAL);
    shmpool_destroy(p);
}

static void test_alloc_rejects_bad_arguments(void **state) {
    (void)state;
    errno = 0;
    assert_null(shmpool_alloc(NULL, 10));
    assert_int_equal(errno, EINVAL);
    shmpool *p = new_pool(1);
    errno = 0;
    assert_null(shmpool_alloc(p, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(shmpool_alloc(p, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    shmpool_close(p);
    errno = 0;
    assert_null(shmpool_alloc(p, 10));
    assert_int_equal(errno, ESHUTDOWN);
    shmpool_destroy(p);
}

static void test_alloc_and_free_many_times_leaves_nothing_behind(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    shmpool *p = new_pool(2);
    for (int i = 0; i < 2000; i++) {
        void *m = shmpool_alloc(p, 4096 * (1 + i % 7));
        assert_non_null(m);
        assert_int_equal(shmpool_free(p, m), 0);
    }
    shmpool_destroy(p);
    assert_true(resources_same(&before));
}

/* Item 0 publishes the staging address it was given, then waits a little. */
struct staged_probe {
    _Atomic uintptr_t seen;
};

static int record_and_wait(const void *in, void *out, void *ctx) {
    struct staged_probe *sp = ctx;
    if (*(const int *)in == 0) {
        atomic_store(&sp->seen, (uintptr_t)in);
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    *(int *)out = *(const int *)in + 1;
    return 0;
}

static void test_free_refuses_the_library_s_staging_blocks(void **state) {
    (void)state;
    shmpool *p = new_pool(2);
    struct staged_probe *sp = shmpool_alloc(p, sizeof *sp);
    int in[64], out[64];
    for (int i = 0; i < 64; i++)
        in[i] = i;
    shmpool_result *r;
    assert_int_equal(shmpool_map_async(p, record_and_wait, sp, in, sizeof in[0], out, sizeof out[0], 64, 1, &r), 0);
    while (!atomic_load(&sp->seen))
        ;
    void *staging = (void *)atomic_load(&sp->seen); /* the start of the staged copy of `in` */
    assert_true(staging != (void *)in);
    assert_true(shmpool_alloc_size(p, staging) > 0);
    assert_int_equal(shmpool_free(p, staging), -EINVAL); /* a running job uses it */
    assert_int_equal(shmpool_result_get(r, -1), 0);
    for (int i = 0; i < 64; i++)
        assert_int_equal(out[i], i + 1);
    shmpool_result_free(r);
    shmpool_free(p, sp);
    shmpool_destroy(p);
}

/* /dev/shm too small: in a private mount namespace with a 64 MiB tmpfs on /dev/shm (Docker's
   default), an allocation that does not fit is ENOSPC up front (never SIGBUS later), the message
   says how big /dev/shm is, and the pool stays usable. */
static int inc(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(int *)out = *(const int *)in + 1;
    return 0;
}

/* In a forked child: a private mount namespace with a 64 MiB tmpfs on /dev/shm. false where that
   needs a privilege we lack. */
static bool small_private_dev_shm(void) {
    return unshare(CLONE_NEWNS) == 0 &&
           mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) /* type ignored; not NULL, for valgrind */ == 0 &&
           mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64m") == 0;
}

static int enospc_child(void) {
    if (!small_private_dev_shm())
        return 77;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o) != 0)
        return 2;
    errno = 0;
    void *big = shmpool_alloc(p, 100u << 20);
    if (big || errno != ENOSPC)
        return 3;
    if (!strstr(shmpool_strerror(-ENOSPC), "64.0 MiB in all"))
        return 8;
    void *fits = shmpool_alloc(p, 16u << 20);
    if (!fits)
        return 4;
    /* a staged map that does not fit at once runs in pieces that do (40 MiB in and 40 out, with
       48 MiB free); one whose single chunk does not fit fails with ENOSPC */
    size_t n = (40u << 20) / sizeof(int);
    int *in = calloc(n, sizeof *in), *out = calloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        in[i] = (int)i;
    if (shmpool_map(p, inc, NULL, in, sizeof *in, out, sizeof *out, n, 0) != 0)
        return 5;
    for (size_t i = 0; i < n; i++)
        if (out[i] != (int)i + 1)
            return 9;
    if (shmpool_map(p, inc, NULL, in, sizeof *in, out, sizeof *out, n, n) != -ENOSPC)
        return 10;
    int a = 41, b = 0;
    if (shmpool_apply(p, inc, NULL, &a, sizeof a, &b, sizeof b) != 0 || b != 42)
        return 6;
    free(in);
    free(out);
    shmpool_free(p, fits);
    shmpool_destroy(p);
    return count_shm() == 0 ? 0 : 7;
}

static void test_alloc_beyond_dev_shm_is_enospc_and_the_pool_stays_usable(void **state) {
    (void)state;
    assert_child_passed(run_in_child(enospc_child, NULL)); /* 77: no CAP_SYS_ADMIN for a mount namespace */
    assert_true(strstr(shmpool_strerror(-ENOSPC), "/dev/shm") != NULL);
}

/* On a 64 MiB /dev/shm: 48 MiB, free, 48 MiB again, five times. Idle workers that kept the freed
   block mapped (they unmapped only at their next job) made the second alloc ENOSPC for ever. */
static int sum_first_page(const void *in, void *out, void *ctx) {
    (void)ctx;
    const uint64_t *block = *(const uint64_t *const *)in;
    uint64_t s = 0;
    for (size_t i = 0; i < 512; i++)
        s += block[i];
    *(uint64_t *)out = s;
    return 0;
}

static int realloc_child(void) {
    if (!small_private_dev_shm())
        return 77;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o) != 0)
        return 2;
    for (int round = 0; round < 5; round++) {
        uint64_t *big = shmpool_alloc(p, 48u << 20);
        if (!big)
            return 10 + round;
        big[0] = (uint64_t)round + 1;
        uint64_t s = 0;
        if (shmpool_apply(p, sum_first_page, NULL, &big, sizeof big, &s, sizeof s) != 0 ||
            s != (uint64_t)round + 1)
            return 3;
        if (shmpool_free(p, big) != 0)
            return 4;
    }
    shmpool_destroy(p);
    return count_shm() == 0 ? 0 : 5;
}

static void test_freed_dev_shm_space_comes_back_while_workers_idle(void **state) {
    (void)state;
    assert_child_passed(run_in_child(realloc_child, NULL)); /* 77: no CAP_SYS_ADMIN for a mount namespace */
}

/* Under `ulimit -v` (here 4 GiB more than the process maps) the default arena (twice the RAM)
   does not fit: create takes half of what is left instead of failing with ENOMEM, and the pool
   works. Not in sanitizer builds (their shadow memory does not fit under such a limit). */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static int ulimit_v_child(void) {
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu", &pages) != 1)
        return 2;
    fclose(f);
    rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)4 << 30);
    struct rlimit as = {limit, limit};
    if (setrlimit(RLIMIT_AS, &as) != 0)
        return 3;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    int rc = shmpool_create(&p, &o);
    if (rc != 0)
        return rc == -ENOMEM ? 4 : 5;
    uint64_t *block = shmpool_alloc(p, 64u << 20);
    if (!block)
        return 6;
    uintptr_t seen = 0;
    if (shmpool_apply(p, write_through, NULL, &block, sizeof block, &seen, sizeof seen) != 0 ||
        block[0] != 0xfeedfaceu)
        return 7;
    shmpool_free(p, block);
    shmpool_destroy(p);
    return 0;
}

static void test_create_under_ulimit_v_reserves_what_fits(void **state) {
    (void)state;
    if (running_on_valgrind())
        test_skip(); /* valgrind's own reservations do not fit under the limit */
    assert_child_passed(run_in_child(ulimit_v_child, NULL));
}
#endif

/* The reference vector of SipHash-2-4: key 00..0f, message 00..07. */
static void test_segment_names_hash_with_siphash_2_4(void **state) {
    (void)state;
    uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
    assert_int_equal(shmpool__siphash_u64(key, 0x0706050403020100ull), 0x93f5f5799a932462ull);
}

/* Another local user creates the pool's next names before it does (names are unpredictable now;
   the test computes them from inside): alloc skips them instead of failing EEXIST, and leaves
   them alone. */
static void test_an_alloc_skips_names_someone_else_created(void **state) {
    (void)state;
    shmpool *p = new_pool(2);
    uint64_t *first = shmpool_alloc(p, 4096);
    assert_non_null(first);
    uint64_t last_id = 0;
    for (uint32_t i = 0; i < atomic_load(&p->cb->seg_hwm); i++)
        if (atomic_load(&cb_seg(p->cb, i)->id) > last_id)
            last_id = atomic_load(&cb_seg(p->cb, i)->id);
    char squatted[3][SEG_NAME_MAX];
    for (int k = 0; k < 3; k++) {
        shmpool__seg_name(p->cb, last_id + 1 + (uint64_t)k, squatted[k], sizeof squatted[k]);
        int fd = shm_open(squatted[k], O_RDWR | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    uint64_t *block = shmpool_alloc(p, 4096);
    assert_non_null(block);
    uintptr_t seen = 0;
    assert_int_equal(shmpool_apply(p, write_through, NULL, &block, sizeof block, &seen, sizeof seen), 0);
    assert_int_equal(block[0], 0xfeedfaceu); /* the workers mapped the block under its new name */
    for (int k = 0; k < 3; k++) {
        struct stat st;
        int fd = shm_open(squatted[k], O_RDONLY, 0);
        assert_true(fd >= 0); /* still there: not ours to remove */
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, 0);
        close(fd);
        shm_unlink(squatted[k]);
    }
    assert_int_equal(shmpool_free(p, block), 0);
    assert_int_equal(shmpool_free(p, first), 0);
    shmpool_destroy(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_gives_the_same_address_in_parent_and_workers),
        cmocka_unit_test(test_alloc_is_aligned_to_64_bytes_and_zero_filled),
        cmocka_unit_test(test_alloc_names_leave_dev_shm_once_workers_mapped_them),
        cmocka_unit_test(test_free_rejects_double_free_foreign_and_interior_pointers),
        cmocka_unit_test(test_alloc_rejects_bad_arguments),
        cmocka_unit_test(test_free_refuses_the_library_s_staging_blocks),
        cmocka_unit_test(test_alloc_and_free_many_times_leaves_nothing_behind),
        cmocka_unit_test(test_alloc_beyond_dev_shm_is_enospc_and_the_pool_stays_usable),
        cmocka_unit_test(test_freed_dev_shm_space_comes_back_while_workers_idle),
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        cmocka_unit_test(test_create_under_ulimit_v_reserves_what_fits),
#endif
        cmocka_unit_test(test_segment_names_hash_with_siphash_2_4),
        cmocka_unit_test(test_an_alloc_skips_names_someone_else_created),
    };
    return test_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
