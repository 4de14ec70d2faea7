// The C++ interface (shmpool.hpp): capturing lambdas copied into the job, exceptions from tasks
// back as shmpool::error with their what(), the allocator, spans, RAII, results, reduce.
#include <shmpool.hpp>

#include <array>
#include <cmath>
#include <csetjmp>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

extern "C" {
#include <cmocka.h>

#include "helpers.h"
}

static shmpool::pool *pool;
static struct resources before_all;

static int setup(void **) {
    resources_snapshot(&before_all);
    pool = new shmpool::pool(shmpool::options().workers(2).flags(SHMPOOL_FLAG_QUIET));
    return 0;
}

static int teardown(void **) {
    delete pool;
    return resources_same_but_mappings(&before_all) ? 0 : -1;
}

static void test_a_capturing_lambda_runs_on_the_workers_with_its_captures(void **) {
    size_t n = 10007;
    auto x = pool->alloc<double>(n);
    double scale = 2.5, shift = -1; // on the stack, after the pool was made: copied by value
    pool->parallel_for(n, [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            x[i] = scale * double(i) + shift;
    });
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] == 2.5 * double(i) - 1);
    // captures bigger than a job slot's inline room travel in a staging block
    std::array<double, 1000> table;
    for (size_t i = 0; i < table.size(); i++)
        table[i] = double(i * i);
    pool->parallel_for(n, [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            x[i] = table[i % 1000];
    }, 100);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] == double((i % 1000) * (i % 1000)));
    // with_id: each chunk knows its index and its worker
    auto seen = pool->alloc<int>(n);
    pool->parallel_for_with_id(n, [=](size_t b, size_t e, const shmpool_chunk_id &id) {
        for (size_t i = b; i < e; i++)
            seen[i] = int(id.index) * 100 + (id.worker < id.workers ? 1 : 0);
    }, 1000);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], int(i / 1000) * 100 + 1);
    pool->free(x);
    pool->free(seen);
}

static void test_an_exception_in_a_task_comes_back_with_its_message_and_the_pool_goes_on(void **) {
    size_t n = 1000;
    try {
        pool->parallel_for(n, [=](size_t b, size_t) {
            if (b >= 300)
                throw std::out_of_range("chunk at " + std::to_string(b) + " is out of range");
        }, 10);
        fail_msg("no exception came back");
    } catch (const shmpool::error &e) {
        assert_int_equal(e.library_code(), SHMPOOL_ETASKEXC);
        assert_int_equal(e.index(), 300);
        assert_string_equal(e.task_message().c_str(), "chunk at 300 is out of range");
        assert_non_null(std::strstr(e.what(), "chunk at 300 is out of range"));
        assert_true(e.code().category() == shmpool::category());
    }
    // a very long what() is cut at the bound; a non-std exception says so
    try {
        pool->apply([] {
            throw std::runtime_error(std::string(5000, 'y'));
            return 0;
        });
        fail();
    } catch (const shmpool::error &e) {
        assert_int_equal(e.task_message().size(), SHMPOOL_TASK_MESSAGE_MAX - 1);
    }
    try {
        pool->apply([] { throw 42; });
        fail();
    } catch (const shmpool::error &e) {
        assert_non_null(std::strstr(e.task_message().c_str(), "not derived from std::exception"));
    }
    // the workers survived: same pool, same processes, work runs
    auto x = pool->alloc<long>(n);
    pool->parallel_for(n, [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            x[i] = long(i);
    });
    assert_int_equal(x[n - 1], long(n - 1));
    assert_int_equal(pool->workers(), 2);
    pool->free(x);
}

static void test_a_task_returning_an_int_status_fails_with_that_code_and_index(void **) {
    try {
        pool->parallel_for(100, [](size_t b, size_t) { return b == 40 ? -EDOM : 0; }, 1);
        fail();
    } catch (const shmpool::error &e) {
        assert_int_equal(e.library_code(), -EDOM);
        assert_int_equal(e.index(), 40);
        assert_true(e.code() == std::errc::argument_out_of_domain);
        assert_string_equal(e.code().message().c_str(), shmpool_strerror(-EDOM));
    }
}

static void test_a_vector_with_the_allocator_lives_in_shared_memory(void **) {
    shmpool::allocator<double> a(*pool);
    std::vector<double, shmpool::allocator<double>> v(5000, 0.0, a);
    assert_true(shmpool_alloc_size(pool->native(), v.data()) >= v.size() * sizeof(double));
    double *d = v.data();
    pool->parallel_for(v.size(), [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            d[i] = std::sqrt(double(i)); // written by the workers, read by the parent
    });
    for (size_t i = 0; i < v.size(); i++)
        assert_true(v[i] == std::sqrt(double(i)));
    v.push_back(1); // growth: a new block, the old one given back
    assert_true(shmpool_alloc_size(pool->native(), v.data()) >= v.size() * sizeof(double));
    shmpool::allocator<int> b(a);
    assert_true(a == b);
    shmpool::pool other(shmpool::options().workers(1).flags(SHMPOOL_FLAG_QUIET));
    assert_true(a != shmpool::allocator<double>(other));
}

static void test_map_starmap_apply_async_and_reduce_give_exact_results(void **) {
    size_t n = 3001;
    auto x = pool->alloc<double>(n);
    std::vector<int> k(n); // parent memory: staged
    for (size_t i = 0; i < n; i++)
        x[i] = double(i) / 7, k[i] = int(i % 5);
    std::vector<double> y(n);
    double c = 3;
    pool->map(shmpool::span<const double>(x.data(), n), shmpool::span<double>(y),
              [=](double v) { return c * v; });
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == 3 * (double(i) / 7));
    std::vector<double> z(n);
    pool->starmap(shmpool::span<double>(z), [](double a, int b) { return a * b; },
                  shmpool::span<const double>(x.data(), n), shmpool::span<const int>(k));
    for (size_t i = 0; i < n; i++)
        assert_true(z[i] == (double(i) / 7) * int(i % 5));
    auto r = pool->apply_async([=] { return x[14] + c; });
    shmpool::result<double> moved = std::move(r); // move-only; the output stays put
    assert_false(bool(r));
    assert_true(moved.get() == 2.0 + 3);
    // reduce: item and range folds, bit-identical to the chunk-ordered serial sum
    double s1 = pool->reduce(n, 0.0, [=](double &acc, size_t i) { acc += x[i] * x[i]; },
                             std::plus<>());
    double s2 = pool->reduce(n, 0.0, [=](size_t b, size_t e, double &acc) {
        for (size_t i = b; i < e; i++)
            acc += x[i] * x[i];
    }, [](double a, double b) { return a + b; });
    auto [csize, nchunks] = pool->chunking(n, 0, true);
    double serial = 0;
    for (size_t ch = 0; ch < nchunks; ch++) {
        double part = 0;
        for (size_t i = ch * csize; i < std::min(n, (ch + 1) * csize); i++)
            part += x[i] * x[i];
        serial += part;
    }
    assert_true(s1 == serial && s2 == serial);
    shmpool::pool three(shmpool::options().workers(3).flags(SHMPOOL_FLAG_QUIET));
    auto x3 = three.alloc<double>(n);
    std::copy(x.begin(), x.end(), x3.begin());
    assert_true(three.reduce(n, 0.0, [=](double &acc, size_t i) { acc += x3[i] * x3[i]; },
                             std::plus<>()) == serial);
    pool->free(x);
}

static void test_errors_are_shmpool_errors_with_the_library_code(void **) {
    auto x = pool->alloc<double>(10);
    std::vector<double> y(9);
    try {
        pool->map(shmpool::span<const double>(x.data(), 10), shmpool::span<double>(y),
                  [](double v) { return v; });
        fail();
    } catch (const shmpool::error &e) {
        assert_int_equal(e.library_code(), -EINVAL);
        assert_true(e.code() == std::errc::invalid_argument);
    }
    try {
        pool->alloc<char>(SIZE_MAX / 2); // bigger than the arena
        fail();
    } catch (const shmpool::error &e) {
        assert_true(e.library_code() == -ENOMEM || e.library_code() == -ENOSPC);
    }
    try {
        pool->free(y.data()); // not shmpool memory
        fail();
    } catch (const shmpool::error &e) {
        assert_int_equal(e.library_code(), -EINVAL);
    }
    try {
        shmpool::pool bad(shmpool::options().flags(0x80000000u));
        fail();
    } catch (const shmpool::error &e) {
        assert_int_equal(e.library_code(), -EINVAL);
    }
    pool->free(x);
}

// A [&] capture is a pointer into this thread's stack: the workers would read their snapshot of
// it, so it is refused when submitted, not run on stale data.
static void test_a_reference_capture_is_refused_as_stale(void **) {
    double factor = 2.0;
    auto x = pool->alloc<double>(100);
    bool thrown = false;
    try {
        pool->parallel_for(100, [&](size_t b, size_t e) {
            for (size_t i = b; i < e; i++)
                x[i] = factor * double(i);
        });
    } catch (const shmpool::error &e) {
        thrown = true;
        assert_int_equal(e.library_code(), SHMPOOL_ESTALE);
    }
    assert_true(thrown);
}

static void test_raii_leaves_no_process_or_segment(void **) {
    struct resources before;
    resources_snapshot(&before);
    {
        shmpool::pool p(shmpool::options().workers(3).flags(SHMPOOL_FLAG_QUIET));
        shmpool::pool moved = std::move(p); // the pool moves, its processes do not change
        assert_null(p.native());
        // what uses the pool is declared after it, so it ends first
        auto x = moved.alloc<double>(1 << 20);
        std::vector<int, shmpool::allocator<int>> v(1000, 1, shmpool::allocator<int>(moved));
        auto slow = moved.parallel_for_async(4, [=](size_t, size_t) { usleep(20000); });
        (void)x;
        (void)slow; // destroyed first: cancels its job
    }
    assert_true(resources_same_but_mappings(&before));
}

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_capturing_lambda_runs_on_the_workers_with_its_captures),
        cmocka_unit_test(test_an_exception_in_a_task_comes_back_with_its_message_and_the_pool_goes_on),
        cmocka_unit_test(test_a_task_returning_an_int_status_fails_with_that_code_and_index),
        cmocka_unit_test(test_a_vector_with_the_allocator_lives_in_shared_memory),
        cmocka_unit_test(test_map_starmap_apply_async_and_reduce_give_exact_results),
        cmocka_unit_test(test_errors_are_shmpool_errors_with_the_library_code),
        cmocka_unit_test(test_a_reference_capture_is_refused_as_stale),
        cmocka_unit_test(test_raii_leaves_no_process_or_segment),
    };
    return test_exit_code(cmocka_run_group_tests(tests, setup, teardown));
}
