/* Callbacks on results (Python's callback / error_callback): a success and an error function a
 * result runs once its outcome is known, always in the parent, in a thread of the program that
 * calls into the pool, never under the pool's lock and never in a worker.
 *
 * A result with callbacks sits in the pool's list of pending callbacks (FIFO: jobs end roughly in
 * submission order, so the due ones are found near the head). A callback is due once its result
 * settles (events.h); whoever finds it due takes it off the list (state RUNNING, under the lock),
 * runs it with the lock dropped, and marks it RAN: exactly once, in one thread. */
#ifndef SHMPOOL_CALLBACKS_H
#define SHMPOOL_CALLBACKS_H

#include <stdbool.h>

#include "state.h"

enum cb_state { CB_NONE = 0, CB_PENDING, CB_RUNNING, CB_RAN };

/* Without the lock: run the due callbacks, r's only (r not NULL; a no-op for a result without one)
   or every one of p's (r NULL). Returns how many ran. */
int shmpool__callbacks_run(shmpool *p, shmpool_result *r);
/* Without the lock, after terminate or join: wake every waiter and run every callback left (every
   result settles now: its job ended or nothing will end it). */
void shmpool__callbacks_flush(shmpool *p);
/* Under the lock, in shmpool_result_free once r's outcome is known: run r's callback if it has not
   run (dropping the lock meanwhile), or wait for another thread that runs it. False if the
   caller is r's own callback: r must not be freed then. */
bool shmpool__callbacks_before_free(shmpool_result *r);
/* Under the lock: take r off the pending list (the result is recycled). */
void shmpool__callbacks_forget(shmpool_result *r);

#endif
