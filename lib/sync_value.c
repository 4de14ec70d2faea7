/* shmpool_value_*: Python's Value and Array between processes: count elements of a dtype, with an
 * optional robust lock.
 *
 * Every dtype is 1, 2, 4 or 8 bytes wide and naturally aligned here (the elements start on a cache
 * line), so without a lock get and set are single atomic loads and stores of that width, and add is
 * one atomic fetch-and-add for integers (wrapping, two's complement) or a compare-and-swap loop on
 * the bits for floats. With SHMPOOL_VALUE_LOCK all three take the lock instead, so that a process
 * updating several elements through shmpool_value_data under shmpool_value_lock is never seen half
 * done, as with Python's get_lock(). */
#include "shmpool.h"

#include <errno.h>
#include <string.h>

#include "align.h"
#include "sync.h"

#define VALUE_MAGIC 0x56414c55u /* "VALU" */
#define VALUE_ALIGN 64u

struct shmpool_value {
    uint32_t magic;
    uint32_t dtype;
    uint32_t flags;
    uint32_t size; /* bytes per element */
    uint64_t count;
    uint64_t data_off;
    shmpool *pool;
    uint64_t bytes;
    struct shmpool_lock lock;
};

static bool valid(const shmpool_value *v) { return v && v->magic == VALUE_MAGIC; }

static unsigned char *elem(shmpool_value *v, size_t i) {
    return (unsigned char *)v + v->data_off + i * v->size;
}

int shmpool_value_create(shmpool_value **v, shmpool *pool, shmpool_dtype dtype, size_t count,
                         unsigned flags) {
    if (!v)
        return -EINVAL;
    *v = NULL;
    size_t size = shmpool_dtype_size(dtype);
    if (size == 0 || count == 0 || (flags & ~SHMPOOL_VALUE_LOCK))
        return -EINVAL;
    size_t head = align_up(sizeof(shmpool_value), VALUE_ALIGN);
    if (count > (SIZE_MAX - head) / size)
        return -EOVERFLOW;
    size_t bytes = head + count * size;
    shmpool_value *nv = shmpool__sync_alloc(pool, bytes);
    if (!nv)
        return errno ? -errno : -ENOMEM;
    nv->dtype = (uint32_t)dtype;
    nv->flags = flags;
    nv->size = (uint32_t)size;
    nv->count = count;
    nv->data_off = head;
    nv->pool = pool;
    nv->bytes = bytes;
    shmpool__lock_init(&nv->lock, SYNC_KIND_LOCK);
    nv->magic = VALUE_MAGIC;
    *v = nv;
    return 0;
}

void shmpool_value_destroy(shmpool_value *v) {
    if (!valid(v))
        return;
    v->magic = 0;
    v->lock.magic = 0;
    shmpool__sync_free(v->pool, v, (size_t)v->bytes);
}

void *shmpool_value_data(shmpool_value *v) { return valid(v) ? elem(v, 0) : NULL; }

shmpool_lock *shmpool_value_lock(shmpool_value *v) {
    return valid(v) && (v->flags & SHMPOOL_VALUE_LOCK) ? &v->lock : NULL;
}

size_t shmpool_value_count(const shmpool_value *v) { return valid(v) ? (size_t)v->count : 0; }

/* Take the lock if there is one. -EOWNERDEAD: the caller does its operation, then the lock is
   made consistent (one element written whole is consistent) and the code returned. */
static int enter(shmpool_value *v) {
    if (!(v->flags & SHMPOOL_VALUE_LOCK))
        return 0;
    return shmpool_lock_acquire(&v->lock, -1);
}

static int leave(shmpool_value *v, int rc) {
    if (!(v->flags & SHMPOOL_VALUE_LOCK))
        return rc;
    if (rc == -EOWNERDEAD)
        shmpool_lock_consistent(&v->lock);
    shmpool_lock_release(&v->lock);
    return rc;
}

static int check(shmpool_value *v, size_t i, const void *p) {
    if (!valid(v) || !p)
        return -EINVAL;
    return i < v->count ? 0 : -ERANGE;
}

/* Atomic load and store of one element's bits, whatever its width. */
static uint64_t load_bits(const void *p, uint32_t size) {
    switch (size) {
    case 1: return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
    case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
    case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
    default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
    }
}

static void store_bits(void *p, uint32_t size, uint64_t bits) {
    switch (size) {
    case 1: __atomic_store_n((uint8_t *)p, (uint8_t)bits, __ATOMIC_RELEASE); break;
    case 2: __atomic_store_n((uint16_t *)p, (uint16_t)bits, __ATOMIC_RELEASE); break;
    case 4: __atomic_store_n((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELEASE); break;
    default: __atomic_store_n((uint64_t *)p, bits, __ATOMIC_RELEASE); break;
    }
}

static bool cas_bits(void *p, uint32_t size, uint64_t *expect, uint64_t want) {
    if (size == 4) {
        uint32_t e = (uint32_t)*expect;
        bool ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)want, true,
                                              __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        *expect = e;
        return ok;
    }
    return __atomic_compare_exchange_n((uint64_t *)p, expect, want, true, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* The bits of `old + delta` in the element's type (integers wrap: added as unsigned). */
static uint64_t sum_bits(uint32_t dtype, uint64_t old, uint64_t delta) {
    if (dtype == SHMPOOL_F8) {
        double a, d;
        memcpy(&a, &old, 8);
        memcpy(&d, &delta, 8);
        a += d;
        memcpy(&old, &a, 8);
        return old;
    }
    if (dtype == SHMPOOL_F4) {
        float a, d;
        uint32_t ob = (uint32_t)old, db = (uint32_t)delta;
        memcpy(&a, &ob, 4);
        memcpy(&d, &db, 4);
        a += d;
        memcpy(&ob, &a, 4);
        return ob;
    }
    return old + delta;
}

static uint64_t fetch_add_bits(void *p, uint32_t size, uint64_t delta) {
    switch (size) {
    case 1: return __atomic_fetch_add((uint8_t *)p, (uint8_t)delta, __ATOMIC_ACQ_REL);
    case 2: return __atomic_fetch_add((uint16_t *)p, (uint16_t)delta, __ATOMIC_ACQ_REL);
    case 4: return __atomic_fetch_add((uint32_t *)p, (uint32_t)delta, __ATOMIC_ACQ_REL);
    default: return __atomic_fetch_add((uint64_t *)p, delta, __ATOMIC_ACQ_REL);
    }
}

int shmpool_value_get(shmpool_value *v, size_t i, void *out) {
    int rc = check(v, i, out);
    if (rc)
        return rc;
    if ((rc = enter(v)) != 0 && rc != -EOWNERDEAD)
        return rc;
    uint64_t bits = load_bits(elem(v, i), v->size);
    memcpy(out, &bits, v->size); /* little-endian: the low bytes are the element */
    return leave(v, rc);
}

int shmpool_value_set(shmpool_value *v, size_t i, const void *in) {
    int rc = check(v, i, in);
    if (rc)
        return rc;
    uint64_t bits = 0;
    memcpy(&bits, in, v->size);
    if ((rc = enter(v)) != 0 && rc != -EOWNERDEAD)
        return rc;
    store_bits(elem(v, i), v->size, bits);
    return leave(v, rc);
}

int shmpool_value_add(shmpool_value *v, size_t i, const void *delta, void *old) {
    int rc = check(v, i, delta);
    if (rc)
        return rc;
    if (v->dtype == SHMPOOL_BOOL)
        return -EINVAL;
    uint64_t d = 0, prev;
    memcpy(&d, delta, v->size);
    if ((rc = enter(v)) != 0 && rc != -EOWNERDEAD)
        return rc;
    void *p = elem(v, i);
    if (v->dtype != SHMPOOL_F8 && v->dtype != SHMPOOL_F4) {
        prev = fetch_add_bits(p, v->size, d);
    } else {
        prev = load_bits(p, v->size);
        while (!cas_bits(p, v->size, &prev, sum_bits(v->dtype, prev, d)))
            ;
    }
    if (old)
        memcpy(old, &prev, v->size);
    return leave(v, rc);
}
