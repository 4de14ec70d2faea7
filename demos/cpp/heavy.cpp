// heavy in C++: the headline demo (../heavy.c) through shmpool.hpp. The data lives in a
// std::vector with shmpool::allocator (shared memory, zero-copy); a capturing lambda sums
// heavy_function over each chunk on the workers; the chunk sums are combined in chunk order
// (pool.reduce), so the result is bit-identical to the serial loop over the same chunks.
//
//     cpp_heavy [--n N] [--chunks C] [--workers W]
#include <shmpool.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

extern "C" {
#include "heavy_kernel.h"
}

static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char **argv) {
    size_t n = 40000000, chunks = 4;
    unsigned workers = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--n"))
            n = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--chunks"))
            chunks = std::strtoull(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--workers"))
            workers = unsigned(std::strtoul(argv[i + 1], nullptr, 10));
        else {
            std::fprintf(stderr, "usage: cpp_heavy [--n N] [--chunks C] [--workers W]\n");
            return 2;
        }
    }
    try {
        shmpool::pool pool(shmpool::options().workers(workers).flags(SHMPOOL_FLAG_QUIET));
        std::vector<double, shmpool::allocator<double>> x(n, 0.0, shmpool::allocator<double>(pool));
        uint64_t s = 1;
        for (auto &v : x) { // splitmix64, as heavy.c
            uint64_t z = (s += 0x9e3779b97f4a7c15u);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
            v = double((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
        }
        size_t chunk = (n + chunks - 1) / chunks;
        const double *data = x.data(); // captured by value: a pointer into shared memory

        auto t0 = std::chrono::steady_clock::now();
        double serial = 0;
        for (size_t b = 0; b < n; b += chunk)
            serial += heavy_sum(data + b, std::min(chunk, n - b));
        double t_serial = seconds_since(t0);

        t0 = std::chrono::steady_clock::now();
        double pooled = pool.reduce(n, 0.0, [=](size_t b, size_t e, double &acc) {
            acc += heavy_sum(data + b, e - b);
        }, std::plus<>(), chunk);
        double t_pool = seconds_since(t0);

        std::printf("heavy (C++): n=%zu, %zu chunks, %u workers, kernel %s\n", n, chunks,
                    pool.workers(), heavy_sum_clone());
        std::printf("  serial      %.6f s  sum %.17g\n", t_serial, serial);
        std::printf("  pool.reduce %.6f s  sum %.17g  (%.2fx the serial loop)\n", t_pool, pooled,
                    t_serial / t_pool);
        if (pooled != serial) {
            std::fprintf(stderr, "sums differ\n");
            return 1;
        }
        std::printf("  sums bit-identical\n");
    } catch (const shmpool::error &e) {
        std::fprintf(stderr, "cpp_heavy: %s\n", e.what());
        return 1;
    }
    return 0;
}
