/* How a task's ctx reaches the workers. Workers are forked at create: they see shmpool_alloc
 * memory as it is now, and the rest of the program's memory as it was then. So a ctx passed by
 * value (ctx_size > 0) is copied into the job; a ctx passed by pointer into parent memory must lie
 * in memory that existed at create (else SHMPOOL_ESTALE at once), and its first bytes travel with
 * the job so that each worker compares them with its own view (job.c: a difference fails the job
 * with SHMPOOL_ESTALE instead of computing from stale data). */
#ifndef SHMPOOL_CTX_H
#define SHMPOOL_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

/* At create, once the helper runs: record which ranges of memory the workers have (the helper's
   readable mappings; workers are its forks). 0 or -errno (none recorded: every check passes). */
int shmpool__ctx_snapshot(shmpool *p);
/* Free the record. */
void shmpool__ctx_snapshot_free(shmpool *p);
/* Under the lock: what to send for a ctx passed by pointer. 0 with *probe_len bytes copied into
   probe (0 bytes: nothing to compare: NULL, shmpool memory, or checks disabled), or SHMPOOL_ESTALE
   if the memory did not exist in the workers. */
int shmpool__ctx_probe(const shmpool *p, const void *ctx, unsigned char *probe,
                       uint32_t *probe_len);

/* Copy / compare len probe bytes at a ctx (bytes past the ctx object, within its page: not
   instrumented by AddressSanitizer). */
void shmpool__probe_copy(unsigned char *to, const void *from, size_t len);
bool shmpool__probe_differs(const void *at, const unsigned char *probe, size_t len);
/* A ctx passed by value: SHMPOOL_ESTALE if one of its aligned words holds an address in the calling
   thread's stack (a pointer to a local, a C++ lambda's [&] capture): the workers would read their
   snapshot of that stack, not the caller's locals. 0 otherwise, or with SHMPOOL_FLAG_NO_CTX_CHECK. */
int shmpool__ctx_value_check(const shmpool *p, const void *ctx, size_t size);

#endif
