#include "shmpool.h"

unsigned shmpool_version(void) {
    return (SHMPOOL_VERSION_MAJOR << 16) | (SHMPOOL_VERSION_MINOR << 8) | SHMPOOL_VERSION_PATCH;
}
