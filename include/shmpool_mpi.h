/*
 * shmpool_mpi: one shmpool over the ranks of an MPI communicator (libshmpool_mpi).
 *
 * Every rank runs its own pool: forked workers on its own shared memory, as the core does. After
 * shmpool_mpi_create (or shmpool_mpi_attach on a pool made before MPI_Init), the ordinary
 * shmpool_map, shmpool_starmap and shmpool_for on that pool are collective, SPMD style: every
 * rank calls them in the same order with the same n and chunk and its own function, context and
 * pointers (valid in its own processes). Each chunk runs exactly once, on some rank; only chunk
 * indices travel between ranks, never code or data. A rank claims blocks of chunks from a counter
 * in an MPI window (MPI_Fetch_and_op) and its workers split each block with the core's atomic
 * counter, so a slow rank takes fewer chunks. Outputs stay where they were computed: a rank's
 * `out` holds the items it ran, until shmpool_mpi_gather assembles them.
 *
 * Not collective: shmpool_apply and the _async calls run on the calling rank's workers only.
 * shmpool_destroy is collective while MPI is still initialised (it frees the window); after
 * MPI_Finalize it ends the local pool only, and the collective calls return -ESHUTDOWN.
 *
 * Functions return 0 or a negative errno (see shmpool_strerror), never an MPI error code.
 */
#ifndef SHMPOOL_MPI_H
#define SHMPOOL_MPI_H

#include <mpi.h>

#include "shmpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Its codes are rows of shmpool.h's table of codes (SHMPOOL_ERRNO_MAP):
   SHMPOOL_EPEER: a rank of the communicator stopped answering during a collective call (the
   message of shmpool_mpi_strerror names it; with Open MPI's defaults, mpirun ends the job first).
   SHMPOOL_EMISMATCH: ranks disagree on a collective call's n, chunk or kind (calls not SPMD). */
/** shmpool_mpi_gather's root meaning "every rank". */
#define SHMPOOL_MPI_ALL (-1)

/**
 * Collective over comm: create a pool on every rank (shmpool_create with opt) and join them.
 * MPI must be initialised. @return 0; what shmpool_create returns (on any rank: every rank then
 * returns an error and *pool is NULL); -EINVAL (NULL pool, MPI_COMM_NULL, MPI not initialised).
 */
SHMPOOL_EXTERN int shmpool_mpi_create(shmpool **pool, MPI_Comm comm, const shmpool_options *opt);
/**
 * Collective over comm: join pools that already exist (made with shmpool_create, possibly before
 * MPI_Init: the safest order, since the workers are then forked before MPI starts threads or
 * opens sockets). comm is duplicated. @return 0; -EINVAL (NULL pool, MPI_COMM_NULL, MPI not
 * initialised); -EBUSY (already attached); -ENOMEM; -EIO (an MPI call failed).
 */
SHMPOOL_EXTERN int shmpool_mpi_attach(shmpool *pool, MPI_Comm comm);
/** This rank and the number of ranks of the pool's communicator (either may be NULL).
 *  @return 0, -EINVAL (not an MPI pool). */
SHMPOOL_EXTERN int shmpool_mpi_rank(const shmpool *pool, int *rank, int *size);
/** Workers over all ranks. 0 if pool is not an MPI pool. */
SHMPOOL_EXTERN unsigned shmpool_mpi_total_workers(const shmpool *pool);

/**
 * Where the last collective job's chunks ran: owner[c] = the rank that ran chunk c, for
 * c < nchunks (owner may be NULL to ask only for the count). Collective. @return the number of
 * chunks of the last job (>= 0), or -EINVAL, -ENOMEM, -EIO.
 */
SHMPOOL_EXTERN long shmpool_mpi_owners(shmpool *pool, int *owner, size_t nchunks);
/** Claims (round trips to the shared chunk counter) this rank made in the last collective job,
 *  the one that found the counter past the end included; 0 if not an MPI pool. */
SHMPOOL_EXTERN unsigned long shmpool_mpi_last_claims(const shmpool *pool);
/**
 * Collective: assemble the output of the last collective job. buf holds one element of
 * elem_size bytes per item of that job (per_chunk 0: map/starmap's out, or any per-item array a
 * shmpool_for filled) or per chunk (per_chunk 1: e.g. one partial result per chunk). Each rank's
 * elements for the chunks it ran are copied into the same positions of buf on root (a rank), or
 * on every rank (SHMPOOL_MPI_ALL). Elements on other ranks are not touched.
 * @return 0; -EINVAL (NULL buf, elem_size 0, bad root, no job yet); -EOVERFLOW (a block too large
 *         for MPI's int counts); -ENOMEM; -EIO.
 */
SHMPOOL_EXTERN int shmpool_mpi_gather(shmpool *pool, void *buf, size_t elem_size, int per_chunk,
                                      int root);
/**
 * Collective: the sum of one double per chunk of the last collective job, partial[c] written by
 * the rank that ran chunk c. partial is gathered on every rank and added in chunk order, so *sum
 * is bit-identical whatever the schedule and the number of ranks, and equal to a serial loop
 * `for (c = 0; c < nchunks; c++) s += partial[c];`. @return as shmpool_mpi_gather.
 */
SHMPOOL_EXTERN int shmpool_mpi_sum(shmpool *pool, double *partial, double *sum);

/**
 * Collective: load a .npy file on every rank into its shared memory. rows NULL: the whole array
 * on every rank. Else each rank loads only its share of the first axis (rank r of s gets rows
 * [r*N/s, (r+1)*N/s)): arr->shape[0] is that count and *first_row its first row. The file must be
 * readable at the same path on every rank. @return as shmpool_array_load; the first error of any
 * rank on all (then nothing is loaded anywhere).
 */
SHMPOOL_EXTERN int shmpool_mpi_array_load(shmpool *pool, const char *path, shmpool_array *arr,
                                          size_t *first_row);

/**
 * Collective: shmpool_stream_reduce over a file split between the ranks by rows. The rows
 * [opt->first_row, opt->end_row) are cut into chunks of opt->chunk rows (required here, the same on
 * every rank: the automatic chunk would depend on each rank's budget and workers); rank r of s
 * streams chunks [r*C/s, (r+1)*C/s) of the C chunks through its own pool, in pieces that fit its
 * budget, and keeps each chunk's partial. The partials of all ranks are then gathered on every
 * rank and folded into *acc in chunk order, so *acc is the same on every rank and bit for bit what
 * shmpool_stream_reduce gives on one machine with the same chunk, whatever the number of ranks.
 * The file must be readable at the same path on every rank. `combine` gets partials partial_size
 * bytes apart in a malloc'd buffer (aligned as malloc aligns only if partial_size is a multiple of
 * 16).
 * @return as shmpool_stream_reduce, on every rank: a failing item's code with *fail_index its row
 *         (the lowest over the ranks), else the lowest error code of any rank; -EINVAL also for
 *         opt NULL or opt->chunk 0; -EOVERFLOW (the partials exceed MPI's int counts); -EIO (an
 *         MPI call failed). On error *acc is left as it was.
 */
SHMPOOL_EXTERN int shmpool_mpi_stream_reduce(shmpool *pool, const char *path,
                                             shmpool_stream_reduce_fn fn,
                                             shmpool_combine_fn combine, void *ctx, void *acc,
                                             size_t partial_size,
                                             const shmpool_stream_options *opt,
                                             size_t *fail_index);

/** A message for code that names the rank and host where the last collective job failed, or
 *  shmpool_strerror(code) when the failure was not a job's (thread-local buffer). */
SHMPOOL_EXTERN const char *shmpool_mpi_strerror(const shmpool *pool, int code);
/** Where the last collective job failed: *rank (-1 if it did not), *item (SIZE_MAX if unknown).
 *  @return the job's code (0 if it succeeded), or -EINVAL. */
SHMPOOL_EXTERN int shmpool_mpi_last_error(const shmpool *pool, int *rank, size_t *item);

#ifdef __cplusplus
}
#endif
#endif /* SHMPOOL_MPI_H */
