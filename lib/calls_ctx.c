/* The calls that take ctx by value (ctx_size bytes copied into the job) and the range calls told
 * their chunk and worker (shmpool_for_with_id): requests for submit.c, as the plain calls build. */
#include "dist.h"

#define CTX_REQ(kind_, fn_, ctx_, ctx_size_, n_, chunk_)                                           \
    .kind = (kind_), .fn = (void (*)(void))(fn_), .ctx = (void *)(ctx_), .ctx_size = (ctx_size_),  \
    .n = (n_), .chunk = (chunk_)

int shmpool_for_ctx(shmpool *p, shmpool_range_fn fn, const void *ctx, size_t ctx_size, size_t n,
                    size_t chunk) {
    struct request q = {CTX_REQ(JOB_FOR, fn, ctx, ctx_size, n, chunk)};
    return shmpool__run_sync(p, &q);
}

int shmpool_for_ctx_async(shmpool *p, shmpool_range_fn fn, const void *ctx, size_t ctx_size,
                          size_t n, size_t chunk, shmpool_result **r) {
    struct request q = {CTX_REQ(JOB_FOR, fn, ctx, ctx_size, n, chunk)};
    return shmpool__submit(p, &q, r);
}

int shmpool_for_with_id(shmpool *p, shmpool_range_id_fn fn, const void *ctx, size_t ctx_size,
                        size_t n, size_t chunk) {
    struct request q = {CTX_REQ(JOB_FOR_ID, fn, ctx, ctx_size, n, chunk)};
    return shmpool__run_sync(p, &q);
}

int shmpool_for_with_id_async(shmpool *p, shmpool_range_id_fn fn, const void *ctx,
                              size_t ctx_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = {CTX_REQ(JOB_FOR_ID, fn, ctx, ctx_size, n, chunk)};
    return shmpool__submit(p, &q, r);
}

#define MAP_CTX_REQ(fn_, ctx_, ctx_size_, in_, in_size_, out_, out_size_, n_, chunk_)              \
    {CTX_REQ(JOB_MAP, fn_, ctx_, ctx_size_, n_, chunk_), .in = (in_), .in_size = (in_size_),       \
     .out = (out_), .out_size = (out_size_)}

int shmpool_map_ctx(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size, const void *in,
                    size_t in_size, void *out, size_t out_size, size_t n, size_t chunk) {
    struct request q = MAP_CTX_REQ(fn, ctx, ctx_size, in, in_size, out, out_size, n, chunk);
    return shmpool__run_sync(p, &q);
}

int shmpool_map_ctx_async(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size,
                          const void *in, size_t in_size, void *out, size_t out_size, size_t n,
                          size_t chunk, shmpool_result **r) {
    struct request q = MAP_CTX_REQ(fn, ctx, ctx_size, in, in_size, out, out_size, n, chunk);
    return shmpool__submit(p, &q, r);
}

#define STAR_CTX_REQ(fn_, ctx_, ctx_size_, k_, cols_, sizes_, out_, out_size_, n_, chunk_)         \
    {CTX_REQ(JOB_STARMAP, fn_, ctx_, ctx_size_, n_, chunk_), .k = (k_), .cols = (cols_),           \
     .sizes = (sizes_), .out = (out_), .out_size = (out_size_)}

int shmpool_starmap_ctx(shmpool *p, shmpool_star_fn fn, const void *ctx, size_t ctx_size, size_t k,
                        const void *const cols[], const size_t sizes[], void *out,
                        size_t out_size, size_t n, size_t chunk) {
    struct request q = STAR_CTX_REQ(fn, ctx, ctx_size, k, cols, sizes, out, out_size, n, chunk);
    return shmpool__run_sync(p, &q);
}

int shmpool_starmap_ctx_async(shmpool *p, shmpool_star_fn fn, const void *ctx, size_t ctx_size,
                              size_t k, const void *const cols[], const size_t sizes[], void *out,
                              size_t out_size, size_t n, size_t chunk, shmpool_result **r) {
    struct request q = STAR_CTX_REQ(fn, ctx, ctx_size, k, cols, sizes, out, out_size, n, chunk);
    return shmpool__submit(p, &q, r);
}

#define APPLY_CTX_REQ(fn_, ctx_, ctx_size_, args_, args_size_, out_, out_size_)                    \
    {CTX_REQ(JOB_APPLY, fn_, ctx_, ctx_size_, 1, 1), .in = (args_), .in_size = (args_size_),       \
     .out = (out_), .out_size = (out_size_)}

int shmpool_apply_ctx(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size,
                      const void *args, size_t args_size, void *out, size_t out_size) {
    struct request q = APPLY_CTX_REQ(fn, ctx, ctx_size, args, args_size, out, out_size);
    return shmpool__run_sync(p, &q);
}

int shmpool_apply_ctx_async(shmpool *p, shmpool_fn fn, const void *ctx, size_t ctx_size,
                            const void *args, size_t args_size, void *out, size_t out_size,
                            shmpool_result **r) {
    struct request q = APPLY_CTX_REQ(fn, ctx, ctx_size, args, args_size, out, out_size);
    return shmpool__submit(p, &q, r);
}
