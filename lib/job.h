/* A job: one map/starmap/for over n items cut into chunks, or one apply (one chunk of one item).
 *
 * Claiming: workers take chunk indices with fetch_add on `next`, like OpenMP's dynamic schedule;
 * a chunk whose worker died can be queued again in `retry`.
 *
 * Completion is derived, not counted: a job has ended when every chunk has been claimed, no chunk
 * waits for a retry, and no worker is in it (each worker publishes the job it is in, in its slot of
 * the worker table). Whoever leaves last and sees that wins a CAS on `completed` and posts `done`
 * once. Deriving it means a worker that dies anywhere cannot leave a count half-updated: its
 * reaper clears its slot and runs the same check.
 *
 * Reuse: the parent retires a slot by bumping its generation and waiting until no worker holds
 * the old descriptor in `job` or `posting` (hazard pointers), so a worker never acts on a job that
 * was replaced under it, and a stale descriptor still in the ring is dropped on sight. */
#ifndef SHMPOOL_JOB_H
#define SHMPOOL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"

enum job_exit { JOB_STAY = 0, JOB_WORKER_EXITS = 1 };

/* Worker: join the job of `desc` and run chunks until none is left. `tasks_left` counts down the
   worker's remaining tasks (UINT64_MAX: no limit); at 0 it leaves, records `desc` in its slot's
   `resume` for its replacement, and returns JOB_WORKER_EXITS. A worker whose initializer failed
   (broken_rc != 0) fails the first chunk it claims with that code and returns JOB_WORKER_EXITS. */
enum job_exit shmpool__job_run(struct control *cb, struct worker_slot *w, uint64_t desc,
                               uint64_t *tasks_left, int broken_rc);
/* Record that item `index` (NO_ITEM if unknown) failed with `code`; stops the job. */
void shmpool__job_fail(struct job *j, uint64_t index, int code);
/* Stop handing out chunks (failure or cancel) and drop pending retries. */
void shmpool__job_stop(struct job *j, enum job_stop why);
/* Queue chunk `c` to run again; false if no retry is left or the list is full. */
bool shmpool__job_retry(struct job *j, uint64_t c);
/* Leave the job of `desc`: clear *job_word, and if that ended the job, post its completion.
   `posting` is the caller's hazard word, held while it looks at the job after leaving. */
void shmpool__job_leave(struct control *cb, _Atomic uint64_t *job_word, _Atomic uint64_t *posting,
                        uint64_t desc);
/* Parent, while it holds the job's slot: end the job now if no worker is in it and nothing is left
   to claim (a cancelled job still queued in the ring ends without waiting for a free worker). */
void shmpool__job_end_if_idle(struct control *cb, uint64_t desc);
/* Parent, in a thread waiting for its own job (SHMPOOL_FLAG_CALLER_RUNS): run chunks of it
   until none is left to claim; the job does not end while a caller runs one. The caller's result
   holds the slot. */
void shmpool__job_run_caller(struct control *cb, uint64_t desc);
/* What shmpool_worker_index() says in this thread from now on. */
void shmpool__set_runner_index(int index);
/* Parent: start retiring a slot (its descriptors become stale). Returns the old descriptor. */
uint64_t shmpool__job_retire_begin(struct control *cb, uint32_t slot);
/* Parent: true once nobody holds the old descriptor; the slot is then reset for reuse. */
bool shmpool__job_retire_done(struct control *cb, uint64_t old_desc);

#endif
