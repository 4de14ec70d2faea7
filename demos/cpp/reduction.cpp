// A deterministic reduction in C++: mean, variance, min and max of a signal in one pass, with a
// struct as the accumulator and Chan's pairwise merge as the combine. The partials are combined in
// chunk order, so 1 worker and all of them give bit-identical statistics; a task that meets a bad
// sample throws, and the caller gets the exception's text back as shmpool::error.
//
//     cpp_reduction [--n N] [--workers W]
#include <shmpool.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

struct stats {
    double n = 0, mean = 0, m2 = 0; // Welford within a chunk; Chan et al. across chunks
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
};

static stats merge(const stats &a, const stats &b) {
    if (b.n == 0)
        return a;
    if (a.n == 0)
        return b;
    stats r;
    r.n = a.n + b.n;
    double d = b.mean - a.mean;
    r.mean = a.mean + d * b.n / r.n;
    r.m2 = a.m2 + b.m2 + d * d * a.n * b.n / r.n;
    r.lo = std::min(a.lo, b.lo);
    r.hi = std::max(a.hi, b.hi);
    return r;
}

static stats run(shmpool::pool &pool, const double *x, size_t n) {
    return pool.reduce(n, stats{}, [=](size_t b, size_t e, stats &s) {
        for (size_t i = b; i < e; i++) {
            if (!std::isfinite(x[i]))
                throw std::domain_error("sample " + std::to_string(i) + " is not finite");
            s.n += 1;
            double d = x[i] - s.mean;
            s.mean += d / s.n;
            s.m2 += d * (x[i] - s.mean);
            s.lo = std::min(s.lo, x[i]);
            s.hi = std::max(s.hi, x[i]);
        }
    }, merge);
}

int main(int argc, char **argv) {
    size_t n = 20000000;
    unsigned workers = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--n"))
            n = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--workers"))
            workers = unsigned(std::strtoul(argv[i + 1], nullptr, 10));
        else {
            std::fprintf(stderr, "usage: cpp_reduction [--n N] [--workers W]\n");
            return 2;
        }
    }
    try {
        shmpool::pool one(shmpool::options().workers(1).flags(SHMPOOL_FLAG_QUIET));
        shmpool::pool all(shmpool::options().workers(workers).flags(SHMPOOL_FLAG_QUIET));
        auto x = all.alloc<double>(n); // shmpool memory of `all`: `one` reads it through a copy
        for (size_t i = 0; i < n; i++)
            x[i] = std::sin(0.001 * double(i)) + 1e-3 * double(i % 97);
        auto y = one.alloc<double>(n);
        std::copy(x.begin(), x.end(), y.begin());

        auto t0 = std::chrono::steady_clock::now();
        stats s1 = run(one, y.data(), n);
        double t1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        t0 = std::chrono::steady_clock::now();
        stats sn = run(all, x.data(), n);
        double tn = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("reduction (C++): n=%zu: mean %.17g, variance %.17g, min %.17g, max %.17g\n", n,
                    sn.mean, sn.m2 / (sn.n - 1), sn.lo, sn.hi);
        std::printf("  1 worker   %.6f s\n  %u workers %.6f s  (%.2fx 1 worker)\n", t1,
                    all.workers(), tn, t1 / tn);
        if (std::memcmp(&s1, &sn, sizeof s1) != 0) {
            std::fprintf(stderr, "1 worker and %u workers disagree\n", all.workers());
            return 1;
        }
        std::printf("  bit-identical for 1 and %u workers\n", all.workers());

        x[n / 2] = std::nan(""); // a bad sample: the task throws, the caller learns where and why
        try {
            run(all, x.data(), n);
            std::fprintf(stderr, "a NaN went unnoticed\n");
            return 1;
        } catch (const shmpool::error &e) {
            std::printf("  a bad sample: %s\n", e.task_message().c_str());
        }
    } catch (const shmpool::error &e) {
        std::fprintf(stderr, "cpp_reduction: %s\n", e.what());
        return 1;
    }
    return 0;
}
