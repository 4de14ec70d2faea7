/* The arena: one virtual range reserved (PROT_NONE) before the first fork, so it exists at the
 * same address in every process; each shmpool_alloc block is a /dev/shm segment mapped MAP_FIXED
 * inside it. The parent owns the bookkeeping; workers and the helper keep a private view of what
 * they have mapped and sync it with the shared segment table before they run a task. */
#ifndef SHMPOOL_ARENA_H
#define SHMPOOL_ARENA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control;
struct arena;    /* the parent's: free ranges and live blocks */
struct seg_view; /* a worker's or the helper's: what it has mapped */

/* Reserve the range (cb->arena_bytes) and record it in cb. Parent, before the first fork. */
int shmpool__arena_create(struct arena **out, struct control *cb);
/* Unmap every block, remove every name still in /dev/shm, release the range. */
void shmpool__arena_destroy(struct arena *a);
/* A new zero-filled block of at least `bytes`; NULL with errno set. `internal` blocks (staging)
   belong to the library: shmpool_free refuses them. */
void *shmpool__arena_alloc(struct arena *a, size_t bytes, bool internal);
/* 0, or -EINVAL when p is not the start of a live block (or, from the program, of an internal
   one: a guessed pointer must not free memory a running job uses). */
int shmpool__arena_free(struct arena *a, void *p, bool internal);
/* 1 if [p, p + len) lies inside one live block; 0 if p lies outside the arena; -EINVAL if p lies
   inside the arena but the range is not inside one live block. */
int shmpool__arena_contains(const struct arena *a, const void *p, size_t len);
/* Bytes from p to the end of its live block, 0 if none. */
size_t shmpool__arena_usable(const struct arena *a, const void *p);
/* The name of segment `id` (for tools and tests): "/shmpool.<parent>.<helper>.<hex>". */
void shmpool__seg_name(const struct control *cb, uint64_t id, char *buf, size_t len);

/* Worker/helper side. */
struct seg_view *shmpool__seg_view_create(struct control *cb);
void shmpool__seg_view_destroy(struct seg_view *v);
/* Map what was added and unmap what was freed since the last call, then publish the generation
   seen in *seen and remove the names everybody has mapped. Cheap when nothing changed. 0, or
   SHMPOOL_EMAP while a live segment could not be mapped (its name was removed by someone else, or
   no fd or address space was left): a task would fault on it, so the caller must not run one.
   Nothing is published then, and the mapping is tried again when the table next changes. */
int shmpool__arena_sync(struct control *cb, struct seg_view *v, _Atomic uint64_t *seen);
/* The table generation the view has caught up with (mapped or not). */
uint64_t shmpool__seg_view_synced(const struct seg_view *v);
/* True when every live worker and the helper has synced to the table as it is now: nobody maps a
   freed segment any more, so its /dev/shm space is back. */
bool shmpool__arena_all_synced(struct control *cb);
/* Remove from /dev/shm the names of segments every live process has mapped. Any process. With
   `all`, remove every name still there (the parent is gone, or nobody else is left). */
void shmpool__arena_unlink_ready(struct control *cb, int all);

/* Remove every /dev/shm name of this pool, published or not (the helper, after the parent died). */
void shmpool__arena_unlink_prefix(struct control *cb);

#endif
