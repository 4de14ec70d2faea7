/* Results as they complete, chunk by chunk (Python's imap / imap_unordered): which chunks of a
 * job have finished, and handing them to the caller in input or finishing order.
 *
 * Completion per chunk is one bit in a bitmap in shared memory (an arena block made at
 * submission, for jobs submitted by shmpool_imap/_starmap/_for only). A worker sets chunk c's bit
 * with one fetch_or after the chunk ran to its end without failing; nothing else is written per
 * chunk, and nothing at all for other jobs (job.done_bits is NULL). The bit is the only record, so
 * a worker killed anywhere leaves either a set bit (the chunk's outputs are complete) or none: no
 * count can be half-updated (the same reason completion of a job is derived, job.h).
 *
 * The bitmap is exact while the job runs, except for a chunk whose worker died after it finished
 * and before it set the bit. Once the job ended it is completed from the outcome, when the result
 * is harvested: a job that succeeded ran every chunk; one that failed ran every chunk below the
 * failing index's (the serial loop's break).
 *
 * Memory ordering: a worker writes a chunk's outputs with plain stores, then sets its bit with a
 * seq_cst fetch_or (a release: it publishes the outputs), then reads the event word (events.h).
 * The parent reads the bit (seq_cst, an acquire) before it copies or hands out the outputs. */
#ifndef SHMPOOL_IMAP_H
#define SHMPOOL_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "state.h"

struct imap {
    _Atomic uint64_t *bits; /* finished chunks: the shared block, or `own` for other results */
    uint64_t *taken;        /* chunks next() has handed out (the parent's only), or &own_taken */
    size_t n, chunk, nchunks, out_size;
    size_t low;             /* every chunk below it is taken */
    bool shared;            /* bits is an arena block (imap jobs) */
    bool final;             /* the result was harvested: bits is the whole finished set */
    _Atomic uint64_t own;   /* results not submitted as imap: one chunk, the whole job */
    uint64_t own_taken;
};

/* Worker: chunk c of the job whose bitmap is `bits` ran to its end without failing. */
void shmpool__imap_mark(struct control *cb, _Atomic uint64_t *bits, uint64_t c);
/* Under the lock, at submission (before a slot is taken): give r a bitmap for nchunks chunks.
   0; -EOVERFLOW (more than SHMPOOL_IMAP_MAX_CHUNKS); -ENOMEM, -ENOSPC. */
int shmpool__imap_prepare(shmpool_result *r, size_t n, size_t chunk, size_t nchunks,
                          size_t out_size);
/* What the job's done_bits must be: r's shared bitmap, or NULL. */
_Atomic uint64_t *shmpool__imap_bits(const shmpool_result *r);
/* Under the lock, at harvest, r->imap set: copy back to the caller's `out` what next() has not
   handed out yet (what it handed out was copied then, and may have been changed since). */
void shmpool__imap_copy_back(shmpool_result *r);
/* Under the lock, at harvest, after the outcome was read: complete the finished set from it. */
void shmpool__imap_freeze(shmpool_result *r, const struct job *j);
/* Under the lock: free r's imap state (the result is recycled). */
void shmpool__imap_drop(shmpool_result *r);

#endif
