/* The ring: capacity is exact, order is FIFO, a full ring refuses (back-pressure), many processes
   push and pop without losing or duplicating an item, and a consumer that died holding a cell is
   repaired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "ring.h"

static struct ring *shared_ring(uint32_t cap, size_t payload, size_t *bytes) {
    *bytes = shmpool__ring_bytes(cap, payload);
    assert_true(*bytes > 0);
    struct ring *r = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(r != MAP_FAILED);
    assert_int_equal(shmpool__ring_init(r, cap, payload), 0);
    return r;
}

static void test_ring_rejects_a_capacity_that_is_not_a_power_of_two(void **state) {
    (void)state;
    assert_int_equal(shmpool__ring_bytes(0, 8), 0);
    assert_int_equal(shmpool__ring_bytes(3, 8), 0);
    assert_int_equal(shmpool__ring_bytes(6, 8), 0);
    assert_int_equal(shmpool__ring_bytes(8, 0), 0);
    assert_true(shmpool__ring_bytes(8, 8) > 0);
}

static void test_ring_holds_exactly_its_capacity_and_keeps_fifo_order(void **state) {
    (void)state;
    size_t bytes;
    struct ring *r = shared_ring(8, sizeof(uint64_t), &bytes);
    for (int lap = 0; lap < 3; lap++) {
        for (uint64_t i = 0; i < 8; i++)
            assert_true(shmpool__ring_try_push(r, &i));
        uint64_t extra = 99;
        assert_false(shmpool__ring_try_push(r, &extra)); /* full: refused, not dropped */
        assert_int_equal(shmpool__ring_count(r), 8);
        for (uint64_t i = 0; i < 8; i++) {
            uint64_t v;
            assert_true(shmpool__ring_try_pop(r, &v, NULL));
            assert_int_equal(v, i);
        }
        uint64_t v;
        assert_false(shmpool__ring_try_pop(r, &v, NULL));
    }
    munmap(r, bytes);
}

static void test_ring_copies_payloads_of_any_size(void **state) {
    (void)state;
    size_t bytes;
    struct ring *r = shared_ring(4, 13, &bytes);
    unsigned char in[13], out[13];
    for (int i = 0; i < 13; i++)
        in[i] = (unsigned char)(i * 7 + 1);
    assert_true(shmpool__ring_try_push(r, in));
    assert_true(shmpool__ring_try_pop(r, out, NULL));
    assert_memory_equal(in, out, 13);
    munmap(r, bytes);
}

/* 3 producer processes and 3 consumer processes; every item arrives exactly once. */
static void test_ring_loses_and_duplicates_nothing_across_processes(void **state) {
    (void)state;
    struct resources before;
    resources_snapshot(&before);
    enum { PRODUCERS = 3, CONSUMERS = 3, PER = 20000 };
    size_t bytes;
    struct ring *r = shared_ring(64, sizeof(uint64_t), &bytes);
    size_t seen_bytes = PRODUCERS * PER;
    unsigned char *seen = mmap(NULL, seen_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    _Atomic uint64_t *taken = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[PRODUCERS + CONSUMERS];
    for (int p = 0; p < PRODUCERS; p++) {
        if ((pids[p] = fork()) == 0) {
            for (uint64_t i = 0; i < PER; i++) {
                uint64_t v = (uint64_t)p * PER + i;
                while (!shmpool__ring_try_push(r, &v))
                    ;
            }
            _exit(0);
        }
    }
    for (int c = 0; c < CONSUMERS; c++) {
        if ((pids[PRODUCERS + c] = fork()) == 0) {
            _Atomic uint64_t claim = 0;
            while (atomic_load(taken) < PRODUCERS * PER) {
                uint64_t v;
                if (shmpool__ring_try_pop(r, &v, &claim)) {
                    atomic_store(&claim, RING_NO_CLAIM);
                    __atomic_fetch_add(&seen[v], 1, __ATOMIC_RELAXED);
                    atomic_fetch_add(taken, 1);
                }
            }
            _exit(0);
        }
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (size_t i = 0; i < seen_bytes; i++)
        assert_int_equal(seen[i], 1);
    munmap(seen, seen_bytes);
    munmap((void *)taken, 4096);
    munmap(r, bytes);
    assert_true(resources_same(&before));
}

/* A consumer that won a cell but died before copying it: repair releases the cell and hands back
   the item, and producers can wrap past it again. */
static void test_ring_repair_releases_a_cell_a_dead_consumer_won(void **state) {
    (void)state;
    size_t bytes;
    struct ring *r = shared_ring(4, sizeof(uint64_t), &bytes);
    for (uint64_t i = 1; i <= 4; i++)
        assert_true(shmpool__ring_try_push(r, &i));
    /* Simulate the dead consumer: it recorded position 0 and won it (deq moved), nothing else. */
    _Atomic uint64_t dead_claim = 0 + 1;
    atomic_store(&r->deq, 1);
    uint64_t item = 0;
    _Atomic uint64_t live_claim = RING_NO_CLAIM;
    _Atomic uint64_t *others[] = {&live_claim};
    atomic_store(&live_claim, 1); /* a live consumer records the same position: wait */
    assert_int_equal(shmpool__ring_repair_claim(r, &dead_claim, others, 1, &item), RING_REPAIR_RETRY);
    atomic_store(&live_claim, RING_NO_CLAIM);
    assert_int_equal(shmpool__ring_repair_claim(r, &dead_claim, others, 1, &item), RING_REPAIR_REPUSH);
    assert_int_equal(item, 1);
    assert_int_equal(atomic_load(&dead_claim), RING_NO_CLAIM);
    assert_true(shmpool__ring_try_push(r, &item)); /* the released cell takes the next lap's item */
    for (uint64_t want = 2; want <= 4; want++) {
        uint64_t v;
        assert_true(shmpool__ring_try_pop(r, &v, NULL));
        assert_int_equal(v, want);
    }
    uint64_t v;
    assert_true(shmpool__ring_try_pop(r, &v, NULL));
    assert_int_equal(v, 1);
    munmap(r, bytes);
}

static void test_ring_repair_after_a_completed_pop_reports_taken(void **state) {
    (void)state;
    size_t bytes;
    struct ring *r = shared_ring(4, sizeof(uint64_t), &bytes);
    uint64_t x = 7, v;
    assert_true(shmpool__ring_try_push(r, &x));
    _Atomic uint64_t claim = 0;
    assert_true(shmpool__ring_try_pop(r, &v, &claim)); /* claim stays set: the caller had not cleared it */
    assert_int_equal(shmpool__ring_repair_claim(r, &claim, NULL, 0, &v), RING_REPAIR_TAKEN);
    assert_int_equal(atomic_load(&claim), RING_NO_CLAIM);
    munmap(r, bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_rejects_a_capacity_that_is_not_a_power_of_two),
        cmocka_unit_test(test_ring_holds_exactly_its_capacity_and_keeps_fifo_order),
        cmocka_unit_test(test_ring_copies_payloads_of_any_size),
        cmocka_unit_test(test_ring_loses_and_duplicates_nothing_across_processes),
        cmocka_unit_test(test_ring_repair_releases_a_cell_a_dead_consumer_won),
        cmocka_unit_test(test_ring_repair_after_a_completed_pop_reports_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
