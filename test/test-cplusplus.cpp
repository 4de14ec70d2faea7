// The public header compiles as C++ and its functions link with C linkage.
#include <shmpool.h>

#include <cstdio>
#include <vector>

static int twice(const void *in, void *out, void *) {
    *static_cast<double *>(out) = 2 * *static_cast<const double *>(in);
    return 0;
}

int main() {
    shmpool_options o{};
    o.workers = 2;
    o.flags = SHMPOOL_FLAG_QUIET;
    shmpool *p = nullptr;
    if (shmpool_create(&p, &o) != 0)
        return 1;
    std::vector<double> x(100), y(100);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = double(i);
    int rc = shmpool_map(p, twice, nullptr, x.data(), sizeof(double), y.data(), sizeof(double), x.size(), 0);
    shmpool_destroy(p);
    if (rc != 0 || y[99] != 198.0) {
        std::fprintf(stderr, "map from C++: %s\n", shmpool_strerror(rc));
        return 1;
    }
    return 0;
}
