/* A tiny program built against the *installed* shmpool, through find_package and pkg-config. */
#include <shmpool.h>
#include <stdio.h>

static int twice(const void *in, void *out, void *ctx) {
    (void)ctx;
    *(double *)out = 2 * *(const double *)in;
    return 0;
}

int main(void) {
    shmpool_options o = {.workers = 2, .flags = SHMPOOL_FLAG_QUIET};
    shmpool *p;
    int rc = shmpool_create(&p, &o);
    if (rc) {
        fprintf(stderr, "create: %s\n", shmpool_strerror(rc));
        return 1;
    }
    size_t n = 1000;
    double *x = shmpool_alloc(p, n * sizeof *x), *y = shmpool_alloc(p, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i;
    rc = shmpool_map(p, twice, NULL, x, sizeof *x, y, sizeof *y, n, 0);
    int ok = rc == 0 && y[999] == 1998.0;
    shmpool_destroy(p);
    printf("installed shmpool %u.%u.%u: %s\n", shmpool_version() >> 16, (shmpool_version() >> 8) & 0xff,
           shmpool_version() & 0xff, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
