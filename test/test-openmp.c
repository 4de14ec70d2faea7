/* OpenMP inside workers: a program that ran OpenMP before create (libgomp's thread pool started in
 * the parent; a forked child's copy of it names threads that do not exist) runs OpenMP regions in
 * its tasks without hanging, one thread per worker by default. */
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "shmpool.h"

static int omp_task(void *ctx, size_t b, size_t e) {
    long *out = ctx;
    long sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (long i = (long)b; i < (long)e; i++)
        sum += i;
    out[b / 1000] = sum;
    out[100 + b / 1000] = omp_get_max_threads();
    return 0;
}

static int openmp_before_create_then_in_tasks(void) {
    alarm(30); /* a hang is a failure, not a stuck suite */
    long warm = 0;
#pragma omp parallel num_threads(2) reduction(+ : warm)
    warm += 1;
    if (warm != 2)
        return 2;
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    if (shmpool_create(&p, &o))
        return 3;
    long *out = shmpool_alloc(p, 200 * sizeof *out);
    int rc = shmpool_for(p, omp_task, out, 10000, 1000);
    if (rc)
        return 4;
    for (long c = 0; c < 10; c++) {
        long want = 0;
        for (long i = c * 1000; i < (c + 1) * 1000; i++)
            want += i;
        if (out[c] != want)
            return 5;
        if (out[100 + c] != 1) /* one OpenMP thread per worker */
            return 6;
    }
    shmpool_destroy(p);
    return 0;
}

static void test_openmp_in_tasks_after_openmp_in_the_parent_does_not_hang(void **state) {
    (void)state;
    assert_child_passed(run_in_child(openmp_before_create_then_in_tasks, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openmp_in_tasks_after_openmp_in_the_parent_does_not_hang),
    };
    return test_exit_code(cmocka_run_group_tests(tests, NULL, NULL));
}
