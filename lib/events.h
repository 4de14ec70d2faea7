/* The pool's event word: how a parent thread sleeps until "something ended" without a semaphore
 * per thing, so one thread can wait for any of many results (shmpool_wait_any), for the next
 * finished chunk of an imap job (imap.h), or for a callback to become due (callbacks.h).
 *
 * Protocol (a futex with a waiters bit, as in Drepper's "Futexes are tricky"): a thread about to
 * sleep sets bit 0 of cb->events (fetch_or, seq_cst), then looks under the pool's lock at what it
 * waits for, then FUTEX_WAITs on the value it set. Whoever makes something ready (a worker whose
 * imap chunk finished, whoever ends a job) first publishes it with a seq_cst store or RMW, then
 * reads the word (seq_cst); only when bit 0 is set does it bump the word (clearing the bit, by CAS:
 * one notifier per sleep) and FUTEX_WAKE everyone. Dekker: either the sleeper's look sees the new
 * state, or the notifier sees the bit and the sleeper's FUTEX_WAIT finds the value changed. With
 * nobody asleep a notifier pays one load of a line it shares read-only: no syscall, no store. */
#ifndef SHMPOOL_EVENTS_H
#define SHMPOOL_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "state.h"

/* Anyone, after publishing what became ready: wake the parent's sleepers if there are any. */
void shmpool__events_notify(struct control *cb);
/* Parent: wake every sleeper now (terminate: what they wait for will never end by itself). */
void shmpool__events_wake_all(struct control *cb);
/* True once nothing will run or end a job of p any more (helper lost, or terminated and every
   process gone): waiters then settle what is left (harvest reports -ECANCELED/SHMPOOL_EHELPER). */
bool shmpool__events_pool_gone(shmpool *p);
/* Under the pool's lock: true if r's outcome is known, or will be at once (get would not block):
   r is then harvested (its parent-memory out filled), if it was not already. */
bool shmpool__result_settle(shmpool_result *r);
/* Under the pool's lock: call check(arg), under the lock, until it returns nonzero, and return
   that value; in between, spin for spin_us, then sleep on the event word with the lock dropped,
   checking the helper's health every SHMPOOL_HEALTH_SLICE_NS. -ETIMEDOUT once `deadline_ns`
   (CLOCK_MONOTONIC, UINT64_MAX: none) has passed. check must count shmpool__events_pool_gone as
   settled, or a wait on a dead pool lasts until its deadline. */
int shmpool__events_wait(shmpool *p, int (*check)(void *arg), void *arg, uint64_t deadline_ns);

#endif
