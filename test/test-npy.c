/* The .npy header parser and formatter (lib/npy.c): pure functions, no pool needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "npy.h"

/* A header around `dict` as a given version writes it: magic, version, length, dict, '\n' (no
   padding: the parser must not care about alignment). Returns its length. */
static size_t make_header(unsigned char *buf, size_t cap, unsigned version, const char *dict) {
    size_t dn = strlen(dict), prefix = version == 1 ? 10 : 12, hlen = dn + 1;
    assert_true(prefix + hlen <= cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    for (size_t i = 0; i < prefix - 8; i++)
        buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + prefix, dict, dn);
    buf[prefix + dn] = '\n';
    return prefix + hlen;
}

/* The usual first two entries, so that cases fit on a line. */
#define F8 "{'descr': '<f8', 'fortran_order': False, "

static int parse_dict_v(unsigned version, const char *dict, struct shmpool__npy_header *h) {
    static unsigned char buf[1 << 17];
    size_t n = make_header(buf, sizeof buf, version, dict);
    return shmpool__npy_parse(buf, n, h);
}

static int parse_dict(const char *dict, struct shmpool__npy_header *h) {
    return parse_dict_v(1, dict, h);
}

struct dict_case {
    const char *dict;
    int rc;
};

static void check_cases(const struct dict_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct shmpool__npy_header h;
        int rc = parse_dict(cases[i].dict, &h);
        if (rc != cases[i].rc)
            fail_msg("%s: got %d (%s), want %d", cases[i].dict, rc, strerror(-rc), cases[i].rc);
    }
}

static const struct {
    shmpool_dtype dtype;
    const char *descr;
    size_t size;
} all_dtypes[] = {
    {SHMPOOL_F8, "<f8", 8}, {SHMPOOL_F4, "<f4", 4}, {SHMPOOL_I8, "<i8", 8},
    {SHMPOOL_I4, "<i4", 4}, {SHMPOOL_I2, "<i2", 2}, {SHMPOOL_I1, "|i1", 1},
    {SHMPOOL_U8, "<u8", 8}, {SHMPOOL_U4, "<u4", 4}, {SHMPOOL_U2, "<u2", 2},
    {SHMPOOL_U1, "|u1", 1}, {SHMPOOL_BOOL, "|b1", 1},
};
#define NALL (sizeof all_dtypes / sizeof all_dtypes[0])

static void test_every_supported_dtype_parses_with_its_size(void **state) {
    (void)state;
    for (size_t i = 0; i < NALL; i++) {
        char dict[200];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (7,), }",
                 all_dtypes[i].descr);
        struct shmpool__npy_header h;
        assert_int_equal(parse_dict(dict, &h), 0);
        assert_int_equal(h.dtype, all_dtypes[i].dtype);
        assert_int_equal(h.ndim, 1);
        assert_int_equal(h.shape[0], 7);
        assert_int_equal(h.count, 7);
        assert_int_equal(h.nbytes, 7 * all_dtypes[i].size);
        assert_int_equal(shmpool__npy_dtype_size(all_dtypes[i].dtype), all_dtypes[i].size);
        assert_string_equal(shmpool__npy_dtype_descr(all_dtypes[i].dtype), all_dtypes[i].descr);
    }
    assert_int_equal(shmpool__npy_dtype_size(0), 0);
    assert_int_equal(shmpool__npy_dtype_size((shmpool_dtype)99), 0);
    assert_null(shmpool__npy_dtype_descr(0));
    assert_null(shmpool__npy_dtype_descr((shmpool_dtype)-1));
}

static void test_versions_one_two_and_three_give_the_same_array(void **state) {
    (void)state;
    const char *dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }";
    for (unsigned v = 1; v <= 3; v++) {
        unsigned char buf[256];
        size_t n = make_header(buf, sizeof buf, v, dict);
        struct shmpool__npy_header h;
        assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);
        assert_int_equal(h.version, v);
        assert_int_equal(h.data_offset, n);
        assert_int_equal(h.dtype, SHMPOOL_I4);
        assert_int_equal(h.ndim, 2);
        assert_int_equal(h.count, 6);
        assert_int_equal(h.nbytes, 24);
        size_t size;
        assert_int_equal(shmpool__npy_header_size(buf, n, &size), 0);
        assert_int_equal(size, n);
    }
}

static void test_header_size_asks_for_more_bytes_until_it_can_tell(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_header(buf, sizeof buf, 2,
                           "{'descr': '<i4', 'fortran_order': False, 'shape': (), }");
    size_t size = 0;
    assert_int_equal(shmpool__npy_header_size(buf, 0, &size), -EAGAIN);
    assert_int_equal(size, 10);
    assert_int_equal(shmpool__npy_header_size(buf, 3, &size), -EAGAIN);
    assert_int_equal(shmpool__npy_header_size(buf, 10, &size), -EAGAIN);
    assert_int_equal(size, 12);
    assert_int_equal(shmpool__npy_header_size(buf, 12, &size), 0);
    assert_int_equal(size, n);

    n = make_header(buf, sizeof buf, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }");
    assert_int_equal(shmpool__npy_header_size(buf, 10, &size), 0);
    assert_int_equal(size, n);
}

static void test_a_wrong_magic_is_malformed_and_an_unknown_version_unsupported(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_header(buf, sizeof buf, 1,
                           "{'descr': '<i4', 'fortran_order': False, 'shape': (), }");
    struct shmpool__npy_header h;
    size_t size;

    buf[0] = 0x92;
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -EBADMSG);
    assert_int_equal(shmpool__npy_header_size(buf, 2, &size), -EBADMSG);
    buf[0] = 0x93;
    buf[3] = 'm';
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -EBADMSG);
    buf[3] = 'M';

    buf[6] = 4; /* 4.0 */
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -ENOTSUP);
    buf[6] = 0;
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -ENOTSUP);
    buf[6] = 1;
    buf[7] = 1; /* 1.1 */
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -ENOTSUP);
    buf[7] = 0;
    assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);

    assert_int_equal(shmpool__npy_parse("PK\x03\x04", 4, &h), -EBADMSG); /* an .npz */
    assert_int_equal(shmpool__npy_parse("", 0, &h), -EBADMSG);
    assert_int_equal(shmpool__npy_parse(NULL, 0, &h), -EBADMSG);
    assert_int_equal(shmpool__npy_parse(buf, n, NULL), -EINVAL);
}

static void test_a_header_cut_short_is_malformed(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_header(buf, sizeof buf, 1,
                           "{'descr': '<i4', 'fortran_order': False, 'shape': (), }");
    struct shmpool__npy_header h;
    for (size_t len = 0; len < n; len++)
        assert_int_equal(shmpool__npy_parse(buf, len, &h), -EBADMSG);
    assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);
}

static void test_zero_one_and_three_dimensions_parse(void **state) {
    (void)state;
    struct shmpool__npy_header h;
    assert_int_equal(parse_dict(F8 "'shape': (), }", &h), 0);
    assert_int_equal(h.ndim, 0);
    assert_int_equal(h.count, 1);
    assert_int_equal(h.nbytes, 8);

    assert_int_equal(parse_dict(F8 "'shape': (5,), }", &h), 0);
    assert_int_equal(h.ndim, 1);
    assert_int_equal(h.shape[0], 5);
    assert_int_equal(h.count, 5);

    assert_int_equal(
        parse_dict("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3, 4), }", &h), 0);
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.shape[0], 2);
    assert_int_equal(h.shape[1], 3);
    assert_int_equal(h.shape[2], 4);
    assert_int_equal(h.count, 24);
    assert_int_equal(h.nbytes, 48);

    /* empty arrays: any zero dimension */
    assert_int_equal(parse_dict(F8 "'shape': (0,), }", &h), 0);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.nbytes, 0);
    assert_int_equal(parse_dict(F8 "'shape': (3, 0, 2), }", &h), 0);
    assert_int_equal(h.ndim, 3);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.nbytes, 0);
}

static void test_thirty_two_dimensions_parse_and_thirty_three_are_unsupported(void **state) {
    (void)state;
    char dict[512], *p = dict;
    p += sprintf(p, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 32; i++)
        p += sprintf(p, "%s", i % 2 ? "2, " : "1, ");
    strcpy(p, "), }");
    struct shmpool__npy_header h;
    assert_int_equal(parse_dict(dict, &h), 0);
    assert_int_equal(h.ndim, 32);
    assert_int_equal(h.count, 1u << 16);

    p = dict + sprintf(dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 33; i++)
        p += sprintf(p, "1, ");
    strcpy(p, "), }");
    assert_int_equal(parse_dict(dict, &h), -ENOTSUP);

    /* many more: still a clean -ENOTSUP, no overrun of shape[] */
    static char big[70000];
    p = big + sprintf(big, "{'descr': '|u1', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < 20000; i++)
        p += sprintf(p, "1,");
    strcpy(p, "), }");
    assert_int_equal(parse_dict_v(2, big, &h), -ENOTSUP);
}

static void test_whitespace_key_order_quotes_and_trailing_commas_do_not_matter(void **state) {
    (void)state;
    static const char *const dicts[] = {
        "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{'fortran_order': False, 'descr': '<f4', 'shape': (2,3,),}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
        "  {  'descr'  :  '<f4'  ,  'fortran_order'  :  False  ,  'shape'  :  ( 2 , 3 , )  ,  }  ",
        "{\n\t'descr':\n'<f4',\r\n 'fortran_order': False,\f 'shape': (\n2,\n3\n)\n}\n\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                    ",
    };
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
        struct shmpool__npy_header h;
        int rc = parse_dict(dicts[i], &h);
        if (rc)
            fail_msg("%s: %d", dicts[i], rc);
        assert_int_equal(h.dtype, SHMPOOL_F4);
        assert_int_equal(h.ndim, 2);
        assert_int_equal(h.shape[0], 2);
        assert_int_equal(h.shape[1], 3);
    }
}

static void test_one_byte_types_accept_any_byte_order_mark(void **state) {
    (void)state;
    static const struct dict_case cases[] = {
        {"{'descr': '<i1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '>i1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '=u1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '>u1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '<b1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '>b1', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': 'b1', 'fortran_order': False, 'shape': ()}", 0},
        /* '=' and '|' mean native to numpy: little-endian here */
        {"{'descr': '=f8', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': '|i4', 'fortran_order': False, 'shape': ()}", 0},
        {"{'descr': 'u8', 'fortran_order': False, 'shape': ()}", 0},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
    struct shmpool__npy_header h;
    assert_int_equal(parse_dict("{'descr': '>i1', 'fortran_order': False, 'shape': ()}", &h), 0);
    assert_int_equal(h.dtype, SHMPOOL_I1);
}

static void test_big_endian_fortran_order_and_other_dtypes_are_unsupported(void **state) {
    (void)state;
    static const struct dict_case cases[] = {
        {"{'descr': '>f8', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '>i2', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '>u4', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<f8', 'fortran_order': True, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<f16', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<U5', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '|S3', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<f08', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<f8 ', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': '<', 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        /* structured dtypes are well-formed but not ours */
        {"{'descr': [('a', '<f8'), ('b', '<i4', (2, 3))], 'fortran_order': False, 'shape': (3,)}",
         -ENOTSUP},
        {"{'descr': [], 'fortran_order': False, 'shape': (3,)}", -ENOTSUP},
        {"{'descr': [('', '|V4')], 'fortran_order': False, 'shape': (3,),}", -ENOTSUP},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_sizes_that_overflow_size_t_are_refused(void **state) {
    (void)state;
    static const struct dict_case cases[] = {
        /* one dimension past SIZE_MAX */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551616,)}", -EOVERFLOW},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999999,)}",
         -EOVERFLOW},
        /* the product */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", -EOVERFLOW},
        /* count fits, bytes do not */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,)}", -EOVERFLOW},
        /* as numpy: a zero dimension does not excuse the others */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296)}",
         -EOVERFLOW},
        /* the largest that fits */
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (18446744073709551615,)}", 0},
        {"{'descr': '<u2', 'fortran_order': False, 'shape': (0, 9223372036854775807)}", 0},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_malformed_dicts_are_refused_as_bad_messages(void **state) {
    (void)state;
    static const struct dict_case cases[] = {
        {"", -EBADMSG},
        {"   ", -EBADMSG},
        {"{", -EBADMSG},
        {"{}", -EBADMSG},
        {"{,}", -EBADMSG},
        {"[]", -EBADMSG},
        {"None", -EBADMSG},
        /* missing, extra and repeated keys */
        {"{'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}", -EBADMSG},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'fortran_order': False, 'shape': (3,)}",
         -EBADMSG},
        {"{'Descr': '<f8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{descr: '<f8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        /* shapes */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (5)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': 5}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [5]}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (5,,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (,5)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (5 6)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (+1,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (05,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (0x10,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1_000,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': ('3',)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': ((3,),)}", -EBADMSG},
        /* fortran_order must be a bool */
        {"{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': 'False', 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': None, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': false, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': Falsey, 'shape': (3,)}", -EBADMSG},
        /* descr */
        {"{'descr': <f8, 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8, 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8\", 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '\\x3cf8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': 8, 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': [('a', '<f8'), 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f' '8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        /* punctuation */
        {"{'descr' '<f8', 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8',, 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,),,}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}}", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} x", -EBADMSG},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}\n# comment", -EBADMSG},
        {"{{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}}", -EBADMSG},
        {"{'descr': '<f8'; 'fortran_order': False, 'shape': (3,)}", -EBADMSG},
    };
    check_cases(cases, sizeof cases / sizeof cases[0]);

    /* a NUL inside the header */
    unsigned char buf[256];
    size_t n = make_header(buf, sizeof buf, 1, F8 "'shape': (3,)}  ");
    struct shmpool__npy_header h;
    assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);
    buf[n - 2] = 0;
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -EBADMSG);
}

static void test_python_2_long_suffixes_are_accepted_only_where_numpy_strips_them(void **state) {
    (void)state;
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 4L), }";
    struct shmpool__npy_header h;
    assert_int_equal(parse_dict_v(1, dict, &h), 0);
    assert_int_equal(h.count, 12);
    assert_int_equal(parse_dict_v(2, dict, &h), 0);
    assert_int_equal(parse_dict_v(3, dict, &h), -EBADMSG);
}

static void test_a_failed_parse_leaves_the_result_untouched(void **state) {
    (void)state;
    struct shmpool__npy_header h;
    memset(&h, 0xab, sizeof h);
    assert_int_equal(parse_dict("{'descr': '>f8', 'fortran_order': False, 'shape': (3,)}", &h),
                     -ENOTSUP);
    assert_int_equal(h.ndim, 0xabababab);
}

static void test_format_writes_exactly_what_numpy_writes(void **state) {
    (void)state;
    /* np.save(f, np.zeros(3)) and friends, from numpy 1.24 */
    static const struct {
        shmpool_dtype dtype;
        unsigned ndim;
        size_t shape[3];
        const char *dict;
    } cases[] = {
        {SHMPOOL_F8, 1, {3}, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"},
        {SHMPOOL_I1, 0, {0}, "{'descr': '|i1', 'fortran_order': False, 'shape': (), }"},
        {SHMPOOL_U2, 3, {2, 3, 4},
         "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3, 4), }"},
        {SHMPOOL_BOOL, 1, {0}, "{'descr': '|b1', 'fortran_order': False, 'shape': (0,), }"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[256], got[SHMPOOL__NPY_FORMAT_MAX];
        size_t wn = 0, gn = 0;
        memcpy(want, "\x93NUMPY\x01\x00v\x00", 10);
        wn = 10 + (size_t)sprintf(want + 10, "%s", cases[i].dict);
        while (wn < 127)
            want[wn++] = ' ';
        want[wn++] = '\n';
        assert_int_equal(shmpool__npy_format(got, sizeof got, cases[i].dtype, cases[i].ndim,
                                             cases[i].shape, &gn),
                         0);
        assert_int_equal(gn, 128);
        assert_memory_equal(got, want, 128);
    }
}

static void test_format_then_parse_gives_back_the_same_array(void **state) {
    (void)state;
    static const size_t shapes[][4] = {
        {0}, {1, 5}, {1, 0}, {3, 2, 3, 4}, {2, 1000000, 1000000}, {1, 18446744073709551615u},
    };
    for (size_t d = 0; d < NALL; d++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            unsigned ndim = (unsigned)shapes[s][0];
            const size_t *shape = &shapes[s][1];
            if (all_dtypes[d].size > 1 && shape[0] == 18446744073709551615u)
                continue;
            char buf[SHMPOOL__NPY_FORMAT_MAX];
            size_t n;
            assert_int_equal(
                shmpool__npy_format(buf, sizeof buf, all_dtypes[d].dtype, ndim, shape, &n), 0);
            assert_int_equal(n % 64, 0);
            assert_int_equal(buf[n - 1], '\n');
            assert_int_equal(buf[6], 1);
            struct shmpool__npy_header h;
            assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);
            assert_int_equal(h.data_offset, n);
            assert_int_equal(h.dtype, all_dtypes[d].dtype);
            assert_int_equal(h.ndim, ndim);
            size_t count = 1;
            for (unsigned i = 0; i < ndim; i++) {
                assert_int_equal(h.shape[i], shape[i]);
                count *= shape[i];
            }
            assert_int_equal(h.count, count);
            assert_int_equal(h.nbytes, count * all_dtypes[d].size);
        }
    }

    /* 32 dimensions of the widest numbers still fit the formatter's bound and version 1.0 */
    size_t shape[SHMPOOL_ARRAY_MAX_DIMS];
    for (unsigned i = 0; i < SHMPOOL_ARRAY_MAX_DIMS; i++)
        shape[i] = i == 5 ? 0 : 18446744073709551615u;
    char buf[SHMPOOL__NPY_FORMAT_MAX];
    size_t n;
    assert_int_equal(
        shmpool__npy_format(buf, sizeof buf, SHMPOOL_U1, SHMPOOL_ARRAY_MAX_DIMS, shape, &n), 0);
    struct shmpool__npy_header h;
    /* well-formed, but the nonzero dimensions overflow, as numpy would also say */
    assert_int_equal(shmpool__npy_parse(buf, n, &h), -EOVERFLOW);
}

static void test_format_reports_the_size_it_needs_and_refuses_bad_arguments(void **state) {
    (void)state;
    size_t shape[1] = {3}, n = 0, n2 = 0;
    char buf[SHMPOOL__NPY_FORMAT_MAX];
    assert_int_equal(shmpool__npy_format(NULL, 0, SHMPOOL_F8, 1, shape, &n), -ENOBUFS);
    assert_int_equal(n, 128);
    assert_int_equal(shmpool__npy_format(buf, 127, SHMPOOL_F8, 1, shape, &n2), -ENOBUFS);
    assert_int_equal(n2, 128);
    assert_int_equal(shmpool__npy_format(buf, 128, SHMPOOL_F8, 1, shape, &n2), 0);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, 0, 1, shape, &n), -EINVAL);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, (shmpool_dtype)12, 1, shape, &n),
                     -EINVAL);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, SHMPOOL_F8, 33, shape, &n), -EINVAL);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, SHMPOOL_F8, 1, NULL, &n), -EINVAL);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, SHMPOOL_F8, 1, shape, NULL), -EINVAL);
    assert_int_equal(shmpool__npy_format(buf, sizeof buf, SHMPOOL_F8, 0, NULL, &n), 0);
}

static void test_a_header_too_long_for_sixteen_bits_is_written_as_version_two(void **state) {
    (void)state;
    /* the dict plus padding: just below, at, and above 65535 bytes of header */
    static char dict[70000], buf[70200];
    const char *base = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    for (size_t dn = 65400; dn < 65600; dn += 7) {
        size_t bn = strlen(base);
        memcpy(dict, base, bn);
        memset(dict + bn, ' ', dn - bn);
        size_t n;
        assert_int_equal(shmpool__npy_wrap(buf, sizeof buf, dict, dn, &n), 0);
        assert_int_equal(n % 64, 0);
        size_t hlen = dn + 1, pad1 = 64 - (10 + hlen) % 64;
        unsigned want_version = hlen + pad1 <= 65535 ? 1 : 2;
        assert_int_equal(buf[6], want_version);
        assert_int_equal(buf[n - 1], '\n');
        struct shmpool__npy_header h;
        assert_int_equal(shmpool__npy_parse(buf, n, &h), 0);
        assert_int_equal(h.version, want_version);
        assert_int_equal(h.data_offset, n);
        assert_int_equal(h.count, 3);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_supported_dtype_parses_with_its_size),
        cmocka_unit_test(test_versions_one_two_and_three_give_the_same_array),
        cmocka_unit_test(test_header_size_asks_for_more_bytes_until_it_can_tell),
        cmocka_unit_test(test_a_wrong_magic_is_malformed_and_an_unknown_version_unsupported),
        cmocka_unit_test(test_a_header_cut_short_is_malformed),
        cmocka_unit_test(test_zero_one_and_three_dimensions_parse),
        cmocka_unit_test(test_thirty_two_dimensions_parse_and_thirty_three_are_unsupported),
        cmocka_unit_test(test_whitespace_key_order_quotes_and_trailing_commas_do_not_matter),
        cmocka_unit_test(test_one_byte_types_accept_any_byte_order_mark),
        cmocka_unit_test(test_big_endian_fortran_order_and_other_dtypes_are_unsupported),
        cmocka_unit_test(test_sizes_that_overflow_size_t_are_refused),
        cmocka_unit_test(test_malformed_dicts_are_refused_as_bad_messages),
        cmocka_unit_test(test_python_2_long_suffixes_are_accepted_only_where_numpy_strips_them),
        cmocka_unit_test(test_a_failed_parse_leaves_the_result_untouched),
        cmocka_unit_test(test_format_writes_exactly_what_numpy_writes),
        cmocka_unit_test(test_format_then_parse_gives_back_the_same_array),
        cmocka_unit_test(test_format_reports_the_size_it_needs_and_refuses_bad_arguments),
        cmocka_unit_test(test_a_header_too_long_for_sixteen_bits_is_written_as_version_two),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
