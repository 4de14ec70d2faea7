/* Streaming a file through the pool (stream.c): what libshmpool_mpi needs beyond the public calls.
 * These symbols are exported for libshmpool_mpi only: they are not API (the `shmpool__` prefix). */
#ifndef SHMPOOL_STREAM_H
#define SHMPOOL_STREAM_H

#include <stddef.h>

#include "shmpool.h"

/* Receives a piece's partials in chunk order: count partials of partial_size bytes, `stride`
   bytes apart, the first being chunk first_chunk of the stream (counted from opt->first_row). */
typedef void (*shmpool__stream_take_fn)(void *arg, const void *partials, size_t stride,
                                        size_t first_chunk, size_t count);

/* shmpool_stream_reduce, but each piece's partials go to take() instead of being combined: a
   distributor collects them and combines them across ranks in chunk order. */
SHMPOOL_EXTERN int shmpool__stream_reduce_parts(shmpool *p, const char *path,
                                                shmpool_stream_reduce_fn fn, void *ctx,
                                                size_t partial_size,
                                                const shmpool_stream_options *opt,
                                                shmpool__stream_take_fn take, void *take_arg,
                                                size_t *fail_index);

/* The rows of the first axis of a .npy file, or the elements of a raw one (opt->raw_dtype).
   @return 0, or what the stream would return opening it. */
SHMPOOL_EXTERN int shmpool__stream_rows(const char *path, const shmpool_stream_options *opt,
                                        size_t *rows);

#endif
