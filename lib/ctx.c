/* The workers' address space at create, and the ctx probe (ctx.h). */
#include "ctx.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "tunables.h"

struct range {
    uintptr_t start, end;
    bool shared; /* MAP_SHARED: the workers see it as it is now, as shmpool memory */
};

struct ctx_snapshot {
    size_t n;
    struct range r[];
};

/* Readable ranges of /proc/<pid>/maps, in address order, neighbours merged. */
static struct ctx_snapshot *read_maps(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 64;
    struct ctx_snapshot *s = malloc(sizeof *s + cap * sizeof s->r[0]);
    if (!s) {
        fclose(f);
        return NULL;
    }
    s->n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        uintptr_t a, b;
        char perms[8];
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s", &a, &b, perms) != 3 || perms[0] != 'r')
            continue;
        bool shared = perms[3] == 's';
        if (s->n && s->r[s->n - 1].end == a && s->r[s->n - 1].shared == shared) {
            s->r[s->n - 1].end = b;
            continue;
        }
        if (s->n == cap) {
            struct ctx_snapshot *t = realloc(s, sizeof *s + 2 * cap * sizeof s->r[0]);
            if (!t) {
                free(s);
                fclose(f);
                return NULL;
            }
            s = t;
            cap *= 2;
        }
        s->r[s->n++] = (struct range){a, b, shared};
    }
    fclose(f);
    return s;
}

int shmpool__ctx_snapshot(shmpool *p) {
    pid_t helper = atomic_load(&p->helper_pid);
    if (helper <= 0)
        return -ESRCH;
    struct ctx_snapshot *s = read_maps(helper);
    if (!s)
        return -errno ? -errno : -ENOMEM;
    free(p->snapshot);
    p->snapshot = s;
    return 0;
}

void shmpool__ctx_snapshot_free(shmpool *p) {
    free(p->snapshot);
    p->snapshot = NULL;
}

/* The probe reads up to 64 bytes from ctx, past the end of a smaller object but never past its
   page: defined for the hardware, not for AddressSanitizer, which would report the bytes beyond
   the object (and cannot look up the shadow of every address a ctx may hold). Hence plain byte
   loops that it does not instrument. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize_address)
#define NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#ifndef NO_ASAN
#define NO_ASAN
#endif

NO_ASAN void shmpool__probe_copy(unsigned char *to, const void *from, size_t len) {
    const volatile unsigned char *f = from;
    for (size_t i = 0; i < len; i++)
        to[i] = f[i];
}

NO_ASAN bool shmpool__probe_differs(const void *at, const unsigned char *probe, size_t len) {
    const volatile unsigned char *a = at;
    for (size_t i = 0; i < len; i++)
        if (a[i] != probe[i])
            return true;
    return false;
}

/* The range holding address a, or NULL. */
static const struct range *find(const struct ctx_snapshot *s, uintptr_t a) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < s->r[mid].start)
            hi = mid;
        else if (a >= s->r[mid].end)
            lo = mid + 1;
        else
            return &s->r[mid];
    }
    return NULL;
}

int shmpool__ctx_probe(const shmpool *p, const void *ctx, unsigned char *probe,
                       uint32_t *probe_len) {
    *probe_len = 0;
    if (!ctx || (p->opt.flags & SHMPOOL_FLAG_NO_CTX_CHECK) || !p->snapshot)
        return 0;
    if (shmpool__arena_contains(p->arena, ctx, 1) == 1)
        return 0; /* shared: the workers see it as it is */
    uintptr_t a = (uintptr_t)ctx;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const struct range *r = find(p->snapshot, a);
    if (!r) {
        /* Not memory of the workers. Memory of ours, then, made after create (a grown stack,
           malloc, mmap): a task would read garbage or fault. Or no memory at all: an integer
           passed as ctx, which the task never reads through, and which is fine. */
        unsigned char resident;
        bool ours = mincore((void *)(a & ~(uintptr_t)(page - 1)), 1, &resident) == 0;
        return ours ? SHMPOOL_ESTALE : 0;
    }
    if (r->shared)
        return 0; /* shared with the workers: they see it as it is */
    size_t len = SHMPOOL_CTX_PROBE_BYTES;
    size_t to_page_end = page - (a & (page - 1));
    if (len > to_page_end)
        len = to_page_end;
    if (len > r->end - a)
        len = r->end - a;
    shmpool__probe_copy(probe, ctx, len);
    *probe_len = (uint32_t)len;
    return 0;
}

/* The calling thread's stack, found once per thread (pthread_getattr_np reads /proc for the main
   thread: too slow for every call). */
static _Thread_local uintptr_t stack_lo, stack_hi;

static void find_stack(void) {
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        stack_lo = (uintptr_t)addr;
        stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
}

int shmpool__ctx_value_check(const shmpool *p, const void *ctx, size_t size) {
    if (p->opt.flags & SHMPOOL_FLAG_NO_CTX_CHECK)
        return 0;
    if (!stack_hi)
        find_stack();
    const unsigned char *at = ctx;
    size_t skew = (uintptr_t)at % sizeof(uintptr_t), i = skew ? sizeof(uintptr_t) - skew : 0;
    for (; i + sizeof(uintptr_t) <= size; i += sizeof(uintptr_t)) {
        uintptr_t v;
        memcpy(&v, at + i, sizeof v);
        if (v >= stack_lo && v < stack_hi)
            return SHMPOOL_ESTALE;
    }
    return 0;
}
