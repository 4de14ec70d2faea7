/* The .npy header: parse and format. Pure functions over bytes, no I/O, so the parser can be
 * fuzzed on its own (test/fuzz/fuzz-npy.c).
 *
 * A .npy file is "\x93NUMPY", two version bytes (1.0, 2.0 or 3.0), the header length (u16 little
 * endian for 1.0, u32 for 2.0 and 3.0), then a Python dict literal padded with spaces and ending in
 * '\n', e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }. The data follows. The
 * parser accepts what Python's ast.literal_eval would give numpy for that dict, restricted to what
 * shmpool can load: keys in any order, whitespace anywhere between tokens, a trailing comma, ' or "
 * quotes. It rejects what numpy rejects (missing or extra keys, `(5)` for a shape, a
 * fortran_order that is not True/False) and, to keep the grammar small, a few things only
 * literal_eval would take (escapes in strings, comments, `+5`, duplicate keys).
 */
#ifndef SHMPOOL_NPY_H
#define SHMPOOL_NPY_H

#include <stddef.h>

#include "shmpool.h"

#define SHMPOOL__NPY_MAGIC "\x93NUMPY"
#define SHMPOOL__NPY_MAGIC_LEN 6
/* A header that needs more bytes than this is refused by the loader (-EBADMSG): numpy's own
   limit is 10000 characters, and a header of a dtype shmpool supports is under 1 KiB. */
#define SHMPOOL__NPY_HEADER_MAX (1u << 20)
/* Room enough for any header shmpool__npy_format writes (32 dims of 20 digits: under 1 KiB). */
#define SHMPOOL__NPY_FORMAT_MAX 2048

struct shmpool__npy_header {
    unsigned version;   /* 1, 2 or 3 (the major byte; the minor byte is always 0) */
    size_t data_offset; /* where the data starts: the length of the whole header */
    shmpool_dtype dtype;
    unsigned ndim;
    size_t shape[SHMPOOL_ARRAY_MAX_DIMS];
    size_t count;  /* product of shape, 1 for 0-d */
    size_t nbytes; /* count * element size */
};

/* The length of the whole header (magic up to and including the '\n': the data offset), from the
   first `len` bytes of a file.
   @return 0 with *size set; -EAGAIN when `len` is too short to tell: *size gets the number of bytes
   needed (10 for the magic, version and a 1.0 length; 12 for 2.0 and 3.0), call again with that
   many; -EBADMSG (not a .npy file); -ENOTSUP (a version other than 1.0, 2.0, 3.0). */
int shmpool__npy_header_size(const void *buf, size_t len, size_t *size);

/* Parse the header at the start of buf; `len` may run past the header (the data is ignored).
   @return 0 with *h filled; -EBADMSG (not .npy, header cut short, malformed dict, a key missing,
   extra or repeated, bad value types, negative dimension); -ENOTSUP (a version other than 1.0, 2.0,
   3.0; big-endian multi-byte dtype; a dtype shmpool does not support, structured ones included;
   fortran_order True; more than SHMPOOL_ARRAY_MAX_DIMS dimensions); -EOVERFLOW (a dimension or the
   size in bytes does not fit in size_t). h is untouched on error. */
int shmpool__npy_parse(const void *buf, size_t len, struct shmpool__npy_header *h);

/* Write the header numpy's np.save writes for a C-order array of that dtype and shape, byte for
   byte: keys sorted, room for the first axis to grow to 21 digits, padded with spaces and a final
   '\n' so the data starts at a multiple of 64; version 1.0 when it fits, else 2.0.
   @return 0 with *len = the header's length; -ENOBUFS when cap is too small (*len still gets the
   length needed, so buf NULL with cap 0 asks for it); -EINVAL (unknown dtype, ndim over the
   maximum, shape NULL with ndim > 0, len NULL). */
int shmpool__npy_format(char *buf, size_t cap, shmpool_dtype dtype, unsigned ndim,
                        const size_t *shape, size_t *len);

/* Wrap a dict text (dict_len bytes, not padded) into a full header as numpy's _wrap_header does:
   magic, version 1.0 if the result's length fits in 16 bits else 2.0, the dict, spaces, '\n'.
   Split out of shmpool__npy_format so the 2.0 case can be tested with a large dict.
   @return 0 with *len = the header's length; -ENOBUFS when cap is too small (*len gets the length
   needed); -EOVERFLOW (too large even for 2.0). */
int shmpool__npy_wrap(char *buf, size_t cap, const char *dict, size_t dict_len, size_t *len);

/* The one function here that does I/O (array_io.c): read the header of the .npy file open on fd
   (st: its fstat) and, for a regular file, check that the data is exactly as long as the header
   says. @return 0; -EBADMSG, -ENOTSUP, -EOVERFLOW as shmpool__npy_parse; -EPROTO (the data is
   shorter or longer); a read's -errno. */
struct stat;
int shmpool__npy_read_header(int fd, const struct stat *st, struct shmpool__npy_header *h);
/* Also array_io.c: create a new file beside `target` for writing, to be renamed over it at the
   end; *tmp gets its malloc'd name. @return the fd (O_WRONLY|O_CLOEXEC), or -errno. */
int shmpool__npy_create_temp(const char *target, mode_t mode, char **tmp);

/* Element size of dtype, 0 when unknown. */
size_t shmpool__npy_dtype_size(shmpool_dtype dtype);
/* numpy's descr string for dtype ("<f8"), NULL when unknown. */
const char *shmpool__npy_dtype_descr(shmpool_dtype dtype);

#endif
