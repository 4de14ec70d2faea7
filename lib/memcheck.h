/* Under valgrind's memcheck, bytes that a worker wrote into shared memory keep, in the parent's
 * shadow, whatever definedness the parent last gave them (memcheck sees one process): a staged
 * output begins as a copy of the caller's possibly uninitialised buffer. WORKERS_DEFINED says the
 * workers defined them. A no-op outside valgrind, and where valgrind's header is absent. */
#ifndef SHMPOOL_MEMCHECK_H
#define SHMPOOL_MEMCHECK_H

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define WORKERS_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef WORKERS_DEFINED
#define WORKERS_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#endif
