// expect: bigger than SHMPOOL_MAX_CTX_BYTES
#include <shmpool.hpp>
struct big { char bytes[(1 << 20) + 1]; };
int main() {
    shmpool::pool pool(2);
    static big b;
    big copy = b; // by value: more than 1 MiB of captures
    pool.parallel_for(10, [=](size_t i, size_t) { (void)copy.bytes[i]; });
}
