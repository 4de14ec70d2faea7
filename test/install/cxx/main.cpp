// A C++ consumer of the installed package: shmpool.hpp, a capturing lambda, a task's exception.
#include <shmpool.hpp>

#include <cstdio>
#include <stdexcept>

int main() {
    shmpool::pool pool(shmpool::options().workers(2).flags(SHMPOOL_FLAG_QUIET));
    auto x = pool.alloc<double>(1000);
    double step = 0.5;
    pool.parallel_for(x.size(), [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++)
            x[i] = step * double(i);
    });
    bool caught = false;
    try {
        pool.apply([] { throw std::runtime_error("expected"); });
    } catch (const shmpool::error &e) {
        caught = e.task_message() == "expected";
    }
    bool ok = x[999] == 499.5 && caught;
    std::printf("installed shmpool.hpp: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
