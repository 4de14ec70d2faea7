/* The arena. Who writes what:
 *   - Only the parent changes the segment table, holding the pool lock, inside a seqlock:
 *     seg_gen goes odd, the entries change, seg_gen goes even (release). A reader copies the
 *     entries it needs and accepts the copy only if seg_gen was even and unchanged around it, so
 *     it never sees two live entries with overlapping ranges.
 *   - A segment's name is derived from its id and a per-pool secret, so readers never copy a
 *     string that could be torn.
 *   - Any process may remove a name once every live process has mapped it (each publishes the
 *     generation it has synced to). `unlinked` holds the id whose name is gone, stored only after
 *     the name was removed, so a process killed in between cannot hide a name from the others. */
#include "arena.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "align.h"
#include "clock.h"
#include "control.h"
#include "shmpool.h"
#include "siphash.h"
#include "tunables.h"

#define PAGE 4096u
#define BIG_ALIGN (2u << 20) /* big blocks start on 2 MiB so THP can back them where enabled */

struct range {
    uint64_t off, len;
};

struct arena {
    struct control *cb;
    struct range *free;  /* free ranges, sorted by offset, coalesced */
    size_t nfree, cap_free;
    uint32_t *free_slots; /* freed entries of the segment table */
    bool *internal;       /* internal[slot]: a staging block of the library's own */
    size_t nfree_slots;
    uint32_t never_used;  /* entries from here on were never used (not touched: no page faults) */
    uint64_t next_id;
};

struct seg_view {
    uint64_t synced;
    uint32_t missing; /* entries of the table at `synced` that could not be mapped */
    size_t bytes; /* of the mapping that holds e and snap */
    struct view_entry {
        uint64_t id, off, len;
    } *e, *snap;
};

void shmpool__seg_name(const struct control *cb, uint64_t id, char *buf, size_t len) {
    snprintf(buf, len, "/shmpool.%d.%d.%016llx", (int)cb->parent_pid,
             (int)atomic_load_explicit(&((struct control *)cb)->helper_pid, memory_order_relaxed),
             (unsigned long long)shmpool__siphash_u64(cb->seg_key, id));
}

static void *reserve_at(void *addr, size_t len) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (addr ? MAP_FIXED : 0);
    return mmap(addr, len, PROT_NONE, flags, -1, 0);
}

int shmpool__arena_create(struct arena **out, struct control *cb) {
    struct arena *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    void *base = reserve_at(NULL, cb->arena_bytes);
    if (base == MAP_FAILED) {
        free(a);
        return -ENOMEM;
    }
    a->cb = cb;
    a->cap_free = 64;
    a->free = malloc(a->cap_free * sizeof *a->free);
    a->free_slots = malloc(cb->nsegs * sizeof *a->free_slots);
    a->internal = calloc(cb->nsegs, sizeof *a->internal);
    if (!a->free || !a->free_slots || !a->internal ||
        getentropy(cb->seg_key, sizeof cb->seg_key)) {
        munmap(base, cb->arena_bytes);
        free(a->free);
        free(a->free_slots);
        free(a->internal);
        free(a);
        return -ENOMEM;
    }
    a->free[0] = (struct range){0, cb->arena_bytes};
    a->nfree = 1;
    a->next_id = 1;
    cb->arena_base = base;
    *out = a;
    return 0;
}

static struct seg_entry *entry_of(const struct arena *a, const void *p, int exact) {
    const char *base = a->cb->arena_base;
    if ((const char *)p < base || (const char *)p >= base + a->cb->arena_bytes)
        return NULL;
    uint64_t off = (uint64_t)((const char *)p - base);
    uint32_t hwm = atomic_load_explicit(&a->cb->seg_hwm, memory_order_relaxed);
    for (uint32_t i = 0; i < hwm; i++) {
        struct seg_entry *e = cb_seg(a->cb, i);
        if (!atomic_load_explicit(&e->id, memory_order_relaxed))
            continue;
        uint64_t eo = atomic_load_explicit(&e->offset, memory_order_relaxed);
        uint64_t el = atomic_load_explicit(&e->length, memory_order_relaxed);
        if (exact ? off == eo : (off >= eo && off < eo + el))
            return e;
    }
    return NULL;
}

int shmpool__arena_contains(const struct arena *a, const void *p, size_t len) {
    const char *base = a->cb->arena_base;
    if ((const char *)p < base || (const char *)p >= base + a->cb->arena_bytes)
        return 0;
    struct seg_entry *e = entry_of(a, p, 0);
    if (!e)
        return -EINVAL;
    uint64_t end = atomic_load_explicit(&e->offset, memory_order_relaxed) +
                   atomic_load_explicit(&e->length, memory_order_relaxed);
    uint64_t off = (uint64_t)((const char *)p - base);
    return len <= end - off ? 1 : -EINVAL;
}

size_t shmpool__arena_usable(const struct arena *a, const void *p) {
    struct seg_entry *e = entry_of(a, p, 0);
    if (!e)
        return 0;
    uint64_t end = atomic_load_explicit(&e->offset, memory_order_relaxed) +
                   atomic_load_explicit(&e->length, memory_order_relaxed);
    return (size_t)(end - (uint64_t)((const char *)p - a->cb->arena_base));
}

/* First fit, aligned; splits the free range it takes. */
static int take_range(struct arena *a, uint64_t len, uint64_t align, uint64_t *off) {
    for (size_t i = 0; i < a->nfree; i++) {
        struct range r = a->free[i];
        uint64_t start = align_up(r.off, align);
        if (start < r.off || start - r.off > r.len || r.len - (start - r.off) < len)
            continue;
        uint64_t head = start - r.off, tail = r.len - head - len;
        if (head && tail) {
            if (a->nfree == a->cap_free) {
                struct range *n = realloc(a->free, 2 * a->cap_free * sizeof *n);
                if (!n)
                    return -ENOMEM;
                a->free = n;
                a->cap_free *= 2;
            }
            memmove(&a->free[i + 2], &a->free[i + 1], (a->nfree - i - 1) * sizeof *a->free);
            a->free[i] = (struct range){r.off, head};
            a->free[i + 1] = (struct range){start + len, tail};
            a->nfree++;
        } else if (head) {
            a->free[i] = (struct range){r.off, head};
        } else if (tail) {
            a->free[i] = (struct range){start + len, tail};
        } else {
            memmove(&a->free[i], &a->free[i + 1], (a->nfree - i - 1) * sizeof *a->free);
            a->nfree--;
        }
        *off = start;
        return 0;
    }
    return -ENOMEM;
}

static void give_range(struct arena *a, uint64_t off, uint64_t len) {
    size_t i = 0;
    while (i < a->nfree && a->free[i].off < off)
        i++;
    int join_prev = i > 0 && a->free[i - 1].off + a->free[i - 1].len == off;
    int join_next = i < a->nfree && off + len == a->free[i].off;
    if (join_prev && join_next) {
        a->free[i - 1].len += len + a->free[i].len;
        memmove(&a->free[i], &a->free[i + 1], (a->nfree - i - 1) * sizeof *a->free);
        a->nfree--;
    } else if (join_prev) {
        a->free[i - 1].len += len;
    } else if (join_next) {
        a->free[i].off = off;
        a->free[i].len += len;
    } else {
        if (a->nfree == a->cap_free) {
            struct range *n = realloc(a->free, 2 * a->cap_free * sizeof *n);
            if (!n)
                return; /* the range is lost to the arena, nothing else breaks */
            a->free = n;
            a->cap_free *= 2;
        }
        memmove(&a->free[i + 1], &a->free[i], (a->nfree - i) * sizeof *a->free);
        a->free[i] = (struct range){off, len};
        a->nfree++;
    }
}

static void seqlock_begin(struct control *cb) {
    atomic_fetch_add_explicit(&cb->seg_gen, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}
static uint64_t seqlock_end(struct control *cb) {
    return atomic_fetch_add_explicit(&cb->seg_gen, 1, memory_order_release) + 1;
}

/* Remove the name of entry e (holding id) unless it is known to be gone. The mark is set only
   after shm_unlink: a process killed in between (terminate SIGKILLs workers while they sync)
   leaves the mark unset and the next caller removes the name. Marking first, as a claim, left the
   name behind for good: every later caller trusted the mark. Two callers may both unlink; the
   second gets ENOENT. */
static void unlink_once(struct control *cb, struct seg_entry *e, uint64_t id) {
    if (atomic_load_explicit(&e->unlinked, memory_order_acquire) == id)
        return;
    char name[SEG_NAME_MAX];
    shmpool__seg_name(cb, id, name, sizeof name);
    shm_unlink(name);
    atomic_store_explicit(&e->unlinked, id, memory_order_release);
}

/* A new /dev/shm segment of len bytes, filled in (a full /dev/shm is ENOSPC now, not SIGBUS later)
   and mapped at arena offset off; its id in *id. NULL with errno set, and nothing left. */
static void *create_segment(struct arena *a, uint64_t off, uint64_t len, uint64_t *id_out) {
    struct control *cb = a->cb;
    /* A name someone else created (another user squatting it) is skipped: ids need not be
       consecutive, readers take each entry's id from the table. */
    uint64_t id;
    char name[SEG_NAME_MAX];
    int fd, tries = 0;
    do {
        id = a->next_id++;
        shmpool__seg_name(cb, id, name, sizeof name);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    } while (fd < 0 && errno == EEXIST && ++tries < SHMPOOL_MAX_NAME_TRIES);
    int err = fd < 0 ? errno : 0;
    if (!err && ftruncate(fd, (off_t)len))
        err = errno;
    /* tmpfs accepts any ftruncate; without this the pages that do not fit turn into SIGBUS on
       first touch. posix_fallocate makes a full /dev/shm an error now. */
    if (!err)
        err = posix_fallocate(fd, 0, (off_t)len);
    void *p = NULL;
    if (!err) {
        /* populated: the program usually fills what it allocates (see map_entry) */
        p = mmap(cb->arena_base + off, len, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            err = errno;
    }
    if (fd >= 0)
        close(fd);
    if (err) {
        if (fd >= 0)
            shm_unlink(name);
        errno = err == EFBIG ? ENOSPC : err;
        return NULL;
    }
    *id_out = id;
    return p;
}

void *shmpool__arena_alloc(struct arena *a, size_t bytes, bool internal) {
    struct control *cb = a->cb;
    if (bytes == 0 || bytes > cb->arena_bytes) {
        errno = bytes ? ENOMEM : EINVAL;
        return NULL;
    }
    uint64_t len = align_up(bytes, PAGE);
    if (a->nfree_slots == 0 && a->never_used == cb->nsegs) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t off;
    if (take_range(a, len, len >= BIG_ALIGN ? BIG_ALIGN : PAGE, &off)) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t id;
    void *p = create_segment(a, off, len, &id);
    if (!p) {
        give_range(a, off, len);
        return NULL;
    }
    uint32_t slot = a->nfree_slots ? a->free_slots[--a->nfree_slots] : a->never_used++;
    a->internal[slot] = internal;
    struct seg_entry *e = cb_seg(cb, slot);
    seqlock_begin(cb);
    atomic_store_explicit(&e->offset, off, memory_order_relaxed);
    atomic_store_explicit(&e->length, len, memory_order_relaxed);
    atomic_store_explicit(&e->gen, atomic_load(&cb->seg_gen) + 1, memory_order_relaxed);
    atomic_store_explicit(&e->id, id, memory_order_relaxed);
    if (slot >= atomic_load_explicit(&cb->seg_hwm, memory_order_relaxed))
        atomic_store_explicit(&cb->seg_hwm, slot + 1, memory_order_relaxed);
    seqlock_end(cb);
    return p;
}

int shmpool__arena_free(struct arena *a, void *p, bool internal) {
    struct control *cb = a->cb;
    struct seg_entry *e = entry_of(a, p, 1);
    if (!e || a->internal[e - cb_seg(cb, 0)] != internal)
        return -EINVAL;
    uint64_t id = atomic_load_explicit(&e->id, memory_order_relaxed);
    uint64_t off = atomic_load_explicit(&e->offset, memory_order_relaxed);
    uint64_t len = atomic_load_explicit(&e->length, memory_order_relaxed);
    /* Out of the table first, then the name: a worker whose map of it fails must see the table
       moved (freed meanwhile), or it would report SHMPOOL_EMAP for a block nobody uses. */
    seqlock_begin(cb);
    atomic_store_explicit(&e->id, 0, memory_order_relaxed);
    seqlock_end(cb);
    unlink_once(cb, e, id);
    reserve_at(cb->arena_base + off, len); /* back to PROT_NONE: the range stays reserved */
    a->free_slots[a->nfree_slots++] = (uint32_t)(e - cb_seg(cb, 0));
    give_range(a, off, len);
    return 0;
}

void shmpool__arena_destroy(struct arena *a) {
    if (!a)
        return;
    struct control *cb = a->cb;
    uint32_t hwm = atomic_load(&cb->seg_hwm);
    for (uint32_t i = 0; i < hwm; i++) {
        struct seg_entry *e = cb_seg(cb, i);
        uint64_t id = atomic_load(&e->id);
        if (id)
            unlink_once(cb, e, id);
    }
    munmap(cb->arena_base, cb->arena_bytes);
    free(a->free);
    free(a->free_slots);
    free(a->internal);
    free(a);
}

struct seg_view *shmpool__seg_view_create(struct control *cb) {
    struct seg_view *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    /* Its own mapping, not the heap: zero pages that cost nothing until an entry is used (the
       parent makes the helper's and frees its copy right after the fork). */
    v->bytes = 2 * (size_t)cb->nsegs * sizeof *v->e;
    void *m = mmap(NULL, v->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(v);
        return NULL;
    }
    v->e = m;
    v->snap = v->e + cb->nsegs;
    return v;
}

void shmpool__seg_view_destroy(struct seg_view *v) {
    if (!v)
        return;
    munmap(v->e, v->bytes);
    free(v);
}

/* Read one byte of every page. On some VMs a process's first access to a page costs ~10 us even
   when MAP_POPULATE has filled its page tables (measured here: a forked child's first pass over
   320 MB of populated shared memory took 0.9 s, its second 3 ms; no page fault is counted, so the
   cost is below the guest kernel). Paying it at sync, off the job's critical path, is what gives
   workers the warm view that threads of one process share for free. On other machines it is a
   pass over page-table entries that MAP_POPULATE has just filled. */
static void touch_pages(const void *p, size_t len) {
    const volatile char *c = p;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < len; off += (size_t)page)
        (void)c[off];
}

/* Page faults are the dominant cost of first touching a big shared array (on some VMs ~40 us per
   fault): a worker that maps a segment populates its page tables in one go, at sync time, which
   happens when shmpool_alloc wakes it, before any job that uses the memory. The helper only passes
   its mappings on to replacements, so it does not populate. */
static bool map_entry(struct control *cb, const struct view_entry *s, bool populate) {
    char name[SEG_NAME_MAX];
    shmpool__seg_name(cb, s->id, name, sizeof name);
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return false; /* freed meanwhile (the caller sees the table move), removed, or no fd */
    void *p = mmap(cb->arena_base + s->off, s->len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0), fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return false;
    if (populate)
        touch_pages(p, s->len);
    return true;
}

uint64_t shmpool__seg_view_synced(const struct seg_view *v) { return v->synced; }

int shmpool__arena_sync(struct control *cb, struct seg_view *v, _Atomic uint64_t *seen) {
    bool helper = seen == &cb->helper_seg_seen;
    for (;;) {
        uint64_t g = atomic_load_explicit(&cb->seg_gen, memory_order_acquire);
        if (g == v->synced)
            return v->missing ? SHMPOOL_EMAP : 0;
        if (g & 1) {
            /* A parent killed inside the seqlock leaves it odd for good: the helper must not wait
               for it but go on to clean up (the workers it kills may wait). */
            if (helper && getppid() != cb->parent_pid)
                return 0;
            shmpool__cpu_relax();
            continue;
        }
        /* Entries at or past the high-water mark were never used (it only grows): not even
           read, so a big table that is mostly unused costs no page faults. */
        uint32_t hwm = atomic_load_explicit(&cb->seg_hwm, memory_order_relaxed);
        for (uint32_t i = 0; i < hwm; i++) {
            struct seg_entry *e = cb_seg(cb, i);
            v->snap[i].id = atomic_load_explicit(&e->id, memory_order_relaxed);
            v->snap[i].off = atomic_load_explicit(&e->offset, memory_order_relaxed);
            v->snap[i].len = atomic_load_explicit(&e->length, memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&cb->seg_gen, memory_order_relaxed) != g)
            continue; /* changed while we copied: copy again */
        /* Unmap everything stale before mapping anything new: the copy has no overlaps, but our
           old mappings may overlap the new ones. */
        for (uint32_t i = 0; i < hwm; i++) {
            if (v->e[i].id && v->e[i].id != v->snap[i].id) {
                reserve_at(cb->arena_base + v->e[i].off, v->e[i].len);
                v->e[i].id = 0;
            }
        }
        uint32_t missing = 0;
        for (uint32_t i = 0; i < hwm; i++) {
            if (v->snap[i].id && v->e[i].id != v->snap[i].id) {
                if (map_entry(cb, &v->snap[i], !helper))
                    v->e[i] = v->snap[i];
                else
                    missing++; /* left PROT_NONE; tried again when the table next changes */
            }
        }
        /* A segment freed while we mapped it is gone from the next copy: not a failure. */
        if (missing && atomic_load_explicit(&cb->seg_gen, memory_order_acquire) != g)
            continue;
        v->synced = g;
        v->missing = missing;
        if (missing)
            return SHMPOOL_EMAP; /* not published: the names stay for a process that can map them */
        atomic_store_explicit(seen, g, memory_order_release);
        shmpool__arena_unlink_ready(cb, 0);
        return 0;
    }
}

static int live_process(uint32_t state) { return state != W_EMPTY; }

/* The oldest segment generation a live process (helper or worker) has synced to. */
static uint64_t oldest_seen(struct control *cb) {
    uint64_t min_seen = atomic_load_explicit(&cb->helper_seg_seen, memory_order_acquire);
    for (unsigned i = 0; i < cb->nworkers; i++) {
        struct worker_slot *w = cb_worker(cb, i);
        if (atomic_load_explicit(&w->pid, memory_order_acquire) > 0 &&
            live_process(atomic_load_explicit(&w->state, memory_order_acquire))) {
            uint64_t s = atomic_load_explicit(&w->seg_seen, memory_order_acquire);
            if (s < min_seen)
                min_seen = s;
        }
    }
    return min_seen;
}

bool shmpool__arena_all_synced(struct control *cb) {
    return oldest_seen(cb) >= atomic_load_explicit(&cb->seg_gen, memory_order_acquire);
}

void shmpool__arena_unlink_ready(struct control *cb, int all) {
    uint64_t min_seen = all ? UINT64_MAX : oldest_seen(cb);
    struct {
        uint32_t slot;
        uint64_t id;
    } cand[64];
    for (uint32_t from = 0;;) {
        /* Read the entries under the seqlock so that an id is never paired with the generation of
           the entry it replaced. With `all` nobody changes the table any more. */
        uint64_t g = atomic_load_explicit(&cb->seg_gen, memory_order_acquire);
        if (!all && (g & 1))
            return; /* the parent is changing the table (or died doing so): whoever syncs to
                       the change comes back here; the helper does within a tick */
        uint32_t hwm = atomic_load_explicit(&cb->seg_hwm, memory_order_acquire);
        size_t n = 0;
        uint32_t i = from;
        for (; i < hwm && n < 64; i++) {
            struct seg_entry *e = cb_seg(cb, i);
            uint64_t id = atomic_load_explicit(&e->id, memory_order_relaxed);
            if (id && atomic_load_explicit(&e->unlinked, memory_order_relaxed) != id &&
                atomic_load_explicit(&e->gen, memory_order_relaxed) <= min_seen)
                cand[n++] = (__typeof__(cand[0])){i, id};
        }
        atomic_thread_fence(memory_order_acquire);
        if (!all && atomic_load_explicit(&cb->seg_gen, memory_order_relaxed) != g)
            continue;
        for (size_t k = 0; k < n; k++)
            unlink_once(cb, cb_seg(cb, cand[k].slot), cand[k].id);
        if (i >= hwm)
            return;
        from = i;
    }
}

/* Every name this pool could have created, found in /dev/shm itself: also the ones whose owner died
   between creating a segment and publishing it. Used by the helper once the parent is gone. */
void shmpool__arena_unlink_prefix(struct control *cb) {
    char prefix[SEG_NAME_MAX];
    int len = snprintf(prefix, sizeof prefix, "shmpool.%d.%d.", (int)cb->parent_pid,
                       (int)atomic_load(&cb->helper_pid));
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, (size_t)len) == 0) {
            char name[sizeof de->d_name + 2];
            snprintf(name, sizeof name, "/%s", de->d_name);
            shm_unlink(name);
        }
    }
    closedir(d);
}
