// expect: must be trivially copyable. Capture BY VALUE only numbers
#include <shmpool.hpp>
#include <vector>
int main() {
    shmpool::pool pool(2);
    std::vector<double> v(10); // owns heap memory: not trivially copyable
    pool.parallel_for(10, [=](size_t b, size_t) { (void)v[b]; });
}
