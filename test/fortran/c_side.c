/* The C side of the Fortran tests: what the C compiler says about the types and codes that the
 * module declares again (sizes, one field's offset, every library code by name). */
#include <stddef.h>
#include <string.h>

#include "shmpool.h"

size_t shmpool_test_sizeof(int which);
int shmpool_test_code(const char *name);
int shmpool_test_ncodes(void);

size_t shmpool_test_sizeof(int which) {
    switch (which) {
    case 0: return sizeof(shmpool_options);
    case 1: return offsetof(shmpool_options, reserved_);
    case 2: return sizeof(shmpool_chunk_id);
    case 3: return sizeof(shmpool_array);
    case 4: return offsetof(shmpool_options, arena_bytes);
    case 5: return sizeof(shmpool_stream_options);
    case 6: return offsetof(shmpool_stream_options, first_row);
    case 7: return offsetof(shmpool_stream_options, reserved_);
    default: return 0;
    }
}

#define CODE_(name, offset, msg)                                                                   \
    if (strcmp(n, #name) == 0)                                                                     \
        return SHMPOOL_##name;
int shmpool_test_code(const char *n) {
    SHMPOOL_ERRNO_MAP(CODE_)
    return 0;
}
#undef CODE_

#define COUNT_(name, offset, msg) +1
int shmpool_test_ncodes(void) { return 0 SHMPOOL_ERRNO_MAP(COUNT_); }
