#include "npy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Byte order of this host in numpy's notation: data is loaded and saved as is, so only this order
   (or a 1-byte type, where order is meaningless) can be supported. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE_ORDER '>'
#else
#define NATIVE_ORDER '<'
#endif

static const struct dtype_info {
    char kind; /* numpy's kind letter: f, i, u, b */
    unsigned char size;
    char descr[4]; /* what numpy writes: native order for multi-byte types, '|' for 1-byte */
} dtypes[] = {
    [SHMPOOL_F8] = {'f', 8, {NATIVE_ORDER, 'f', '8', 0}},
    [SHMPOOL_F4] = {'f', 4, {NATIVE_ORDER, 'f', '4', 0}},
    [SHMPOOL_I8] = {'i', 8, {NATIVE_ORDER, 'i', '8', 0}},
    [SHMPOOL_I4] = {'i', 4, {NATIVE_ORDER, 'i', '4', 0}},
    [SHMPOOL_I2] = {'i', 2, {NATIVE_ORDER, 'i', '2', 0}},
    [SHMPOOL_I1] = {'i', 1, "|i1"},
    [SHMPOOL_U8] = {'u', 8, {NATIVE_ORDER, 'u', '8', 0}},
    [SHMPOOL_U4] = {'u', 4, {NATIVE_ORDER, 'u', '4', 0}},
    [SHMPOOL_U2] = {'u', 2, {NATIVE_ORDER, 'u', '2', 0}},
    [SHMPOOL_U1] = {'u', 1, "|u1"},
    [SHMPOOL_BOOL] = {'b', 1, "|b1"},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

static const struct dtype_info *dtype_info(shmpool_dtype dtype) {
    if ((unsigned)dtype >= NDTYPES || dtypes[dtype].size == 0)
        return NULL;
    return &dtypes[dtype];
}

size_t shmpool__npy_dtype_size(shmpool_dtype dtype) {
    const struct dtype_info *d = dtype_info(dtype);
    return d ? d->size : 0;
}

const char *shmpool__npy_dtype_descr(shmpool_dtype dtype) {
    const struct dtype_info *d = dtype_info(dtype);
    return d ? d->descr : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing. A cursor over the dict text; every helper returns 0 or -EBADMSG and never reads past
 * `end`.
 */
struct cur {
    const unsigned char *p, *end;
};

static bool at(const struct cur *c, char ch) {
    return c->p < c->end && *c->p == (unsigned char)ch;
}

/* Python's whitespace between tokens; newlines are fine inside the braces and around the dict. */
static void skip_ws(struct cur *c) {
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r' || *c->p == '\f'))
        c->p++;
}

static int expect(struct cur *c, char ch) {
    skip_ws(c);
    if (!at(c, ch))
        return -EBADMSG;
    c->p++;
    return 0;
}

/* A plain 'x' or "x" string without escapes (no key or descr numpy writes has one). */
static int parse_string(struct cur *c, const unsigned char **s, size_t *n) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -EBADMSG;
    unsigned char q = *c->p++;
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n' || *c->p == '\r')
            return -EBADMSG;
        c->p++;
    }
    if (c->p >= c->end)
        return -EBADMSG;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    /* 'a' 'b' is one string in Python; a second quote right after is too clever for a header */
    skip_ws(c);
    if (at(c, '\'') || at(c, '"'))
        return -EBADMSG;
    return 0;
}

static bool is_ident_char(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch >= 0x80;
}

/* A Python keyword such as True, not followed by more identifier characters. */
static bool take_word(struct cur *c, const char *w) {
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
        return false;
    if ((size_t)(c->end - c->p) > n && is_ident_char(c->p[n]))
        return false;
    c->p += n;
    return true;
}

/* A non-negative decimal integer as Python writes it ("0", "42"; no "05"). *overflow is set when
   it does not fit in size_t; the digits are consumed anyway. `legacy_l`: Python 2's "3L", which
   numpy itself strips from 1.0 and 2.0 headers. */
static int parse_uint(struct cur *c, size_t *v, bool *overflow, bool legacy_l) {
    skip_ws(c);
    const unsigned char *start = c->p;
    size_t x = 0;
    *overflow = false;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = *c->p - '0';
        if (x > (SIZE_MAX - d) / 10)
            *overflow = true;
        else
            x = x * 10 + d;
        c->p++;
    }
    size_t ndigits = (size_t)(c->p - start);
    if (ndigits == 0)
        return -EBADMSG;
    if (ndigits > 1 && *start == '0') {
        for (const unsigned char *q = start; q < c->p; q++)
            if (*q != '0')
                return -EBADMSG; /* "05" is a SyntaxError in Python 3; "00" is 0 */
    }
    if (legacy_l && (at(c, 'L') || at(c, 'l')))
        c->p++;
    if (c->p < c->end && is_ident_char(*c->p)) /* "5x", "1_000", "0x10" */
        return -EBADMSG;
    *v = x;
    return 0;
}

/* Skip any literal numpy could put in a structured descr: strings, integers, tuples, lists. Only
   needed to tell "structured dtype" (-ENOTSUP) from "garbage" (-EBADMSG). */
#define SKIP_DEPTH_MAX 16
static int skip_value(struct cur *c, int depth) {
    skip_ws(c);
    if (c->p >= c->end)
        return -EBADMSG;
    if (*c->p == '\'' || *c->p == '"') {
        const unsigned char *s;
        size_t n;
        return parse_string(c, &s, &n);
    }
    if (*c->p == '-') {
        c->p++;
        skip_ws(c);
    }
    if (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t v;
        bool ovf;
        return parse_uint(c, &v, &ovf, false);
    }
    if (take_word(c, "True") || take_word(c, "False") || take_word(c, "None"))
        return 0;
    if (*c->p != '(' && *c->p != '[')
        return -EBADMSG;
    if (depth >= SKIP_DEPTH_MAX)
        return -EBADMSG;
    char close = *c->p == '(' ? ')' : ']';
    c->p++;
    skip_ws(c);
    if (at(c, close)) {
        c->p++;
        return 0;
    }
    for (;;) {
        int rc = skip_value(c, depth + 1);
        if (rc)
            return rc;
        skip_ws(c);
        if (at(c, close)) {
            c->p++;
            return 0;
        }
        if (!at(c, ','))
            return -EBADMSG;
        c->p++;
        skip_ws(c);
        if (at(c, close)) {
            c->p++;
            return 0;
        }
    }
}

struct parsed {
    bool have_descr, have_fortran, have_shape;
    bool descr_structured; /* a list: a structured dtype */
    const unsigned char *descr;
    size_t descr_len;
    bool fortran;
    unsigned ndim; /* may exceed SHMPOOL_ARRAY_MAX_DIMS: only the first ones are kept */
    size_t shape[SHMPOOL_ARRAY_MAX_DIMS];
    bool dim_overflow;
};

/* (), (5,), (2, 3), (2, 3,): a tuple of integers. (5) is an int in Python, not a tuple. */
static int parse_shape(struct cur *c, struct parsed *ps, bool legacy_l) {
    int rc = expect(c, '(');
    if (rc)
        return rc;
    skip_ws(c);
    if (at(c, ')')) {
        c->p++;
        return 0;
    }
    for (;;) {
        size_t v;
        bool ovf;
        if (at(c, '-'))
            return -EBADMSG; /* a negative dimension */
        rc = parse_uint(c, &v, &ovf, legacy_l);
        if (rc)
            return rc;
        if (ovf)
            ps->dim_overflow = true;
        if (ps->ndim < SHMPOOL_ARRAY_MAX_DIMS)
            ps->shape[ps->ndim] = v;
        if (ps->ndim < UINT32_MAX)
            ps->ndim++;
        skip_ws(c);
        if (at(c, ')')) {
            if (ps->ndim == 1)
                return -EBADMSG; /* (5) */
            c->p++;
            return 0;
        }
        if (!at(c, ','))
            return -EBADMSG;
        c->p++;
        skip_ws(c);
        if (at(c, ')')) {
            c->p++;
            return 0;
        }
    }
}

static bool key_is(const unsigned char *s, size_t n, const char *k) {
    return n == strlen(k) && memcmp(s, k, n) == 0;
}

static int parse_dict(struct cur *c, struct parsed *ps, bool legacy_l) {
    int rc = expect(c, '{');
    if (rc)
        return rc;
    for (;;) {
        skip_ws(c);
        if (at(c, '}')) {
            c->p++;
            break;
        }
        const unsigned char *k;
        size_t kn;
        if ((rc = parse_string(c, &k, &kn)) || (rc = expect(c, ':')))
            return rc;
        if (key_is(k, kn, "descr")) {
            if (ps->have_descr)
                return -EBADMSG;
            ps->have_descr = true;
            skip_ws(c);
            if (at(c, '[')) {
                ps->descr_structured = true;
                rc = skip_value(c, 0);
            } else {
                rc = parse_string(c, &ps->descr, &ps->descr_len);
            }
        } else if (key_is(k, kn, "fortran_order")) {
            if (ps->have_fortran)
                return -EBADMSG;
            ps->have_fortran = true;
            if (take_word(c, "True"))
                ps->fortran = true;
            else if (take_word(c, "False"))
                ps->fortran = false;
            else
                rc = -EBADMSG; /* numpy insists on a bool */
        } else if (key_is(k, kn, "shape")) {
            if (ps->have_shape)
                return -EBADMSG;
            ps->have_shape = true;
            rc = parse_shape(c, ps, legacy_l);
        } else {
            rc = -EBADMSG; /* numpy wants exactly these three keys */
        }
        if (rc)
            return rc;
        skip_ws(c);
        if (at(c, '}')) {
            c->p++;
            break;
        }
        if (!at(c, ','))
            return -EBADMSG;
        c->p++;
    }
    skip_ws(c);
    if (c->p != c->end)
        return -EBADMSG; /* anything after the dict but padding */
    if (!ps->have_descr || !ps->have_fortran || !ps->have_shape)
        return -EBADMSG;
    return 0;
}

/* '<f8' -> SHMPOOL_F8. 0 when the string names no dtype shmpool supports (-ENOTSUP). */
static shmpool_dtype descr_dtype(const unsigned char *s, size_t n) {
    char order = 0;
    if (n > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '=' || s[0] == '|')) {
        order = (char)s[0];
        s++;
        n--;
    }
    if (n != 2)
        return 0;
    for (unsigned t = 0; t < NDTYPES; t++) {
        if (dtypes[t].size == 0 || dtypes[t].kind != (char)s[0] ||
            (unsigned)(s[1] - '0') != dtypes[t].size)
            continue;
        /* The data is used as is: a multi-byte type must be in this host's order ('=' and '|'
           and no prefix all mean native to numpy). */
        if (dtypes[t].size > 1 && order != 0 && order != '=' && order != '|' &&
            order != NATIVE_ORDER)
            return 0;
        return (shmpool_dtype)t;
    }
    return 0;
}

int shmpool__npy_header_size(const void *buf, size_t len, size_t *size) {
    const unsigned char *b = buf;
    if (!b && len)
        return -EINVAL;
    size_t m = len < SHMPOOL__NPY_MAGIC_LEN ? len : SHMPOOL__NPY_MAGIC_LEN;
    if (memcmp(b ? (const void *)b : "", SHMPOOL__NPY_MAGIC, m) != 0)
        return -EBADMSG;
    if (len < 8) {
        *size = 10;
        return -EAGAIN;
    }
    unsigned major = b[6], minor = b[7];
    if (minor != 0 || major < 1 || major > 3)
        return -ENOTSUP;
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix) {
        *size = prefix;
        return -EAGAIN;
    }
    uint64_t hlen = major == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8
                               : (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 |
                                     (uint64_t)b[11] << 24;
    if (hlen > SIZE_MAX - prefix)
        return -EOVERFLOW; /* only on a 32-bit size_t */
    *size = prefix + (size_t)hlen;
    return 0;
}

int shmpool__npy_parse(const void *buf, size_t len, struct shmpool__npy_header *h) {
    if ((!buf && len) || !h)
        return -EINVAL;
    size_t total;
    int rc = shmpool__npy_header_size(buf, len, &total);
    if (rc == -EAGAIN)
        return -EBADMSG; /* cut short */
    if (rc)
        return rc;
    if (total > len)
        return -EBADMSG;
    const unsigned char *b = buf;
    unsigned version = b[6];
    size_t prefix = version == 1 ? 10 : 12;

    struct parsed ps;
    memset(&ps, 0, sizeof ps);
    struct cur c = {b + prefix, b + total};
    if ((rc = parse_dict(&c, &ps, version <= 2)))
        return rc;

    shmpool_dtype dtype = 0;
    if (!ps.descr_structured)
        dtype = descr_dtype(ps.descr, ps.descr_len);
    if (!dtype || ps.fortran || ps.ndim > SHMPOOL_ARRAY_MAX_DIMS)
        return -ENOTSUP;
    if (ps.dim_overflow)
        return -EOVERFLOW;
    /* As numpy: the product of the nonzero dimensions, in bytes, must fit even when a zero
       dimension makes the array empty. */
    size_t esize = dtypes[dtype].size, bytes = esize;
    bool empty = false;
    for (unsigned i = 0; i < ps.ndim; i++) {
        if (ps.shape[i] == 0) {
            empty = true;
            continue;
        }
        if (bytes > SIZE_MAX / ps.shape[i])
            return -EOVERFLOW;
        bytes *= ps.shape[i];
    }
    size_t count = empty ? 0 : bytes / esize;

    h->version = version;
    h->data_offset = total;
    h->dtype = dtype;
    h->ndim = ps.ndim;
    memset(h->shape, 0, sizeof h->shape);
    memcpy(h->shape, ps.shape, ps.ndim * sizeof ps.shape[0]);
    h->count = count;
    h->nbytes = empty ? 0 : bytes;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Formatting, after numpy's _write_array_header and _wrap_header.
 */
#define ARRAY_ALIGN 64
#define GROWTH_AXIS_MAX_DIGITS 21

int shmpool__npy_wrap(char *buf, size_t cap, const char *dict, size_t dict_len, size_t *len) {
    if ((!dict && dict_len) || !len || (!buf && cap))
        return -EINVAL;
    if (dict_len > UINT32_MAX)
        return -EOVERFLOW;
    uint64_t hlen = (uint64_t)dict_len + 1; /* the final '\n' */
    unsigned version = 1;
    uint64_t prefix = 10;
    uint64_t pad = ARRAY_ALIGN - (prefix + hlen) % ARRAY_ALIGN; /* 1..64, as numpy: never 0 */
    if (hlen + pad > UINT16_MAX) {
        version = 2;
        prefix = 12;
        pad = ARRAY_ALIGN - (prefix + hlen) % ARRAY_ALIGN;
        if (hlen + pad > UINT32_MAX)
            return -EOVERFLOW;
    }
    uint64_t total = prefix + hlen + pad;
    if (total > SIZE_MAX)
        return -EOVERFLOW;
    *len = (size_t)total;
    if (cap < total)
        return -ENOBUFS;
    uint64_t stored = hlen + pad;
    memcpy(buf, SHMPOOL__NPY_MAGIC, SHMPOOL__NPY_MAGIC_LEN);
    buf[6] = (char)version;
    buf[7] = 0;
    for (unsigned i = 0; i < prefix - 8; i++)
        buf[8 + i] = (char)(stored >> (8 * i) & 0xff);
    memcpy(buf + prefix, dict, dict_len);
    memset(buf + prefix + dict_len, ' ', (size_t)pad);
    buf[total - 1] = '\n';
    return 0;
}

int shmpool__npy_format(char *buf, size_t cap, shmpool_dtype dtype, unsigned ndim,
                        const size_t *shape, size_t *len) {
    const struct dtype_info *d = dtype_info(dtype);
    if (!d || ndim > SHMPOOL_ARRAY_MAX_DIMS || (!shape && ndim) || !len || (!buf && cap))
        return -EINVAL;
    /* repr() of the shape tuple: (), (5,), (2, 3) */
    char shp[SHMPOOL_ARRAY_MAX_DIMS * 22 + 4];
    size_t n = 0;
    int first_len = 0;
    shp[n++] = '(';
    for (unsigned i = 0; i < ndim; i++) {
        int w = snprintf(shp + n, sizeof shp - n, "%s%zu", i ? ", " : "", shape[i]);
        if (i == 0)
            first_len = w;
        n += (size_t)w;
    }
    if (ndim == 1)
        shp[n++] = ',';
    shp[n++] = ')';
    shp[n] = 0;

    char dict[sizeof shp + 128];
    int m = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     d->descr, shp);
    size_t dn = (size_t)m;
    /* numpy leaves room for the first axis to grow to GROWTH_AXIS_MAX_DIGITS digits in place */
    if (ndim > 0 && first_len < GROWTH_AXIS_MAX_DIGITS) {
        memset(dict + dn, ' ', (size_t)(GROWTH_AXIS_MAX_DIGITS - first_len));
        dn += (size_t)(GROWTH_AXIS_MAX_DIGITS - first_len);
    }
    return shmpool__npy_wrap(buf, cap, dict, dn, len);
}
