// Captures that are allowed: numbers, pointers and spans into shmpool memory, small structs.
#include <shmpool.hpp>
#include <array>
#include <functional>
struct params { double a, b; int n; };
int main() {
    shmpool::pool pool(2);
    auto x = pool.alloc<double>(10);
    params p{1, 2, 3};
    std::array<float, 64> table{};
    double *raw = x.data();
    pool.parallel_for(10, [=](size_t b, size_t e) {
        for (size_t i = b; i < e; i++) raw[i] = x[i] + p.a * table[i] + p.n;
    });
    double s = pool.reduce(10, 0.0, [=](double &acc, size_t i) { acc += x[i]; }, std::plus<>());
    return s == 0 ? 0 : 1;
}
